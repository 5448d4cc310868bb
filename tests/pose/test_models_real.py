"""Every shipped pose model on real images: skeletons land on the annotated bodies, and each INT8
model agrees with its float reference. Figures print with `pytest -s`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pose_scoring import agreement_px, mpii_people, pck, still, whole_body_images

from edge.pose.manifest import find_model
from edge.pose.movenet import MoveNetSinglePose
from edge.pose.movenet_multipose import MoveNetMultiPose
from edge.pose.posenet import PoseNet
from edge.pose.registry import PoseEstimator, load_estimator
from edge.pose.settings import MultiPoseSettings, PoseNetSettings, SinglePoseSettings

SINGLE_POSE = ["movenet_lightning", "movenet_thunder", "posenet", "blazepose_lite", "blazepose_full"]
MULTI_POSE = ["movenet_multipose", "movenet_multipose_fp16"]
# Median INT8-vs-float distance allowed, in model-input pixels: the models build's gate for Lightning
# (models/catalogue.py LIGHTNING_MAX_MEDIAN_PX), applied to every INT8 model we ship.
MAX_MEDIAN_PX = 3.0


# MPII images whose annotated person is the one a single-person model follows (the main person in
# view). In 005808361 and 052475643 only one of two equally prominent people is annotated and the
# single-pose models follow the other one (seen in the annotated PNGs), so they are left out here.
SINGLE_PERSON_MPII = ("004645041.jpg", "051423444.jpg", "060754485.jpg")


@pytest.mark.parametrize("name", SINGLE_POSE)
def test_single_pose_lands_on_the_annotated_body(name: str, data_dir: Path) -> None:
    """On each single-person MPII image the reported pose matches the annotated person (PCK@0.2)."""
    people = mpii_people(data_dir)
    estimator = load_estimator(name)
    found = []
    for image in SINGLE_PERSON_MPII:
        estimator.reset()
        frame = still(data_dir / "mpii" / image)
        poses = estimator.estimate(frame)
        assert len(poses) == 1, image
        found.append(max(pck(poses[0], g, frame.width, frame.height) for g in people[image]))
    print(f"{name}: PCK@0.2 on {SINGLE_PERSON_MPII}: {np.round(found, 2).tolist()}")
    assert min(found) >= 0.5
    assert np.mean(found) >= 0.75  # PoseNet, the weakest, scores 0.77


@pytest.mark.parametrize("name", MULTI_POSE)
def test_multipose_finds_the_annotated_people(name: str, data_dir: Path) -> None:
    """Every annotated MPII person is matched by one of MultiPose's poses (PCK@0.2 over people)."""
    estimator = load_estimator(name)
    scores = []
    for image, persons in sorted(mpii_people(data_dir).items()):
        estimator.reset()
        frame = still(data_dir / "mpii" / image)
        poses = estimator.estimate(frame)
        assert len({p.track_id for p in poses}) == len(poses)
        scores += [max((pck(p, g, frame.width, frame.height) for p in poses), default=0.0) for g in persons]
    print(f"{name}: PCK@0.2 per annotated MPII person {np.round(scores, 2).tolist()}")
    assert np.mean(scores) >= 0.8


def _whole_frame(name: str) -> PoseEstimator:
    """`name` with no crop feedback and no filter, so INT8 and float see the same input."""
    spec = find_model(name)
    if spec.family == "movenet_singlepose":
        return MoveNetSinglePose(spec, 2, SinglePoseSettings(smart_crop=False, filter=False))
    if spec.family == "movenet_multipose":
        return MoveNetMultiPose(spec, 2, MultiPoseSettings(min_person_score=0.2, filter=False))
    return PoseNet(spec, 2, PoseNetSettings(filter=False))


@pytest.mark.parametrize("name", ["movenet_lightning", "movenet_thunder", "movenet_multipose", "posenet"])
def test_int8_agrees_with_float_reference(name: str, data_dir: Path) -> None:
    spec = find_model(name)
    assert spec.quantization.startswith("int8") and spec.reference
    images = whole_body_images(data_dir)
    assert len(images) >= 50
    dists = agreement_px(_whole_frame(name), _whole_frame(spec.reference), images, spec.input_size[0])
    median = float(np.median(dists))
    print(
        f"{name} vs {spec.reference}: median {median:.2f} px, p90 {np.percentile(dists, 90):.2f} px "
        f"at {spec.input_size[0]} px input, {len(dists)} keypoints on {len(images)} images"
    )
    assert len(dists) >= 10 * len(images)  # most images contribute (same person found by both)
    assert median <= MAX_MEDIAN_PX
