"""Measures shared by the pose-model tests: PCK against the MPII annotations and INT8-vs-float
keypoint agreement at the model input scale (the brief's measure: median distance in input pixels of
keypoints scoring > 0.3 in both models, same person)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from edge.layouts import to_coco17
from edge.pose.registry import PoseEstimator
from edge.track.similarity import box_iou
from edge.types import Frame, Pose

# MPII joint index of each COCO-17 body joint 5..16 (shoulders, elbows, wrists, hips, knees, ankles),
# as in ../shared/tools/score_replay.py.
MPII_BODY = (13, 12, 14, 11, 15, 10, 3, 2, 4, 1, 5, 0)
AGREEMENT_MIN_SCORE = 0.3


def mpii_people(data_dir: Path) -> dict[str, list[NDArray[np.float64]]]:
    """Image name → annotated people as 12 × (x px, y px, visible) body joints."""
    out: dict[str, list[NDArray[np.float64]]] = {}
    for a in json.loads((data_dir / "mpii" / "test_mpii.json").read_text()):
        joints = np.c_[np.array(a["joints"], float), np.array(a["joints_vis"], float)]
        out.setdefault(a["image"], []).append(joints[list(MPII_BODY)])
    return out


def pck(pose: Pose, person: NDArray[np.float64], width: int, height: int) -> float:
    """PCK@0.2 (torso = longest labelled shoulder-hip distance) of `pose`'s body joints."""
    kps = pose.keypoints[list(to_coco17(pose.layout))][5:, :2] * (width, height)
    vis = person[:, 2] > 0
    torso = max(np.linalg.norm(person[s, :2] - person[h, :2]) for s, h in ((0, 6), (1, 7)))
    d = np.linalg.norm(kps - person[:, :2], axis=1)[vis]
    return float((d <= 0.2 * torso).mean())


def still(path: Path) -> Frame:
    image = cv2.imread(str(path))
    assert image is not None, path
    return Frame(image=image, timestamp_ns=0, source=str(path), index=0)


def whole_body_images(data_dir: Path) -> list[Path]:
    """Real images of whole people (single and several per image)."""
    d = data_dir
    patterns = [
        ("opencv_samples", "messi5.jpg"),
        ("person_ambianic_edge", "person-couch.jpg"),
        ("mpii", "*.jpg"),
        ("crowdpose", "*.jpg"),
        ("aic", "*.jpg"),
        ("fall_detection_dataset_subset/not-fall", "*.png"),
        ("fall_detection_images_small", "*.jpg"),
    ]
    return sorted(p for folder, pattern in patterns for p in (d / folder).glob(pattern))


def agreement_px(
    quantised: PoseEstimator, reference: PoseEstimator, images: list[Path], input_size: int
) -> NDArray[np.float64]:
    """Distances (model-input pixels) between the two models' keypoints on each image, for keypoints
    scoring > 0.3 in both, each quantised pose paired with the reference pose of the same person
    (highest box IoU). Both estimators must see the whole frame (no crop feedback, no filter)."""
    dists: list[float] = []
    for path in images:
        frame = still(path)
        quantised.reset()
        reference.reset()
        ref_poses = reference.estimate(frame)
        scale = np.array([frame.width, frame.height]) * input_size / max(frame.width, frame.height)
        for pose in quantised.estimate(frame):
            if not ref_poses:
                break
            ref = max(ref_poses, key=lambda r: box_iou(r.bbox, pose.bbox))
            if len(ref_poses) > 1 and box_iou(ref.bbox, pose.bbox) < 0.3:
                continue  # nobody in the reference output is this person
            both = (pose.keypoints[:, 2] > AGREEMENT_MIN_SCORE) & (ref.keypoints[:, 2] > AGREEMENT_MIN_SCORE)
            diff = (pose.keypoints[both, :2] - ref.keypoints[both, :2]) * scale
            dists.extend(np.linalg.norm(diff, axis=1).tolist())
    return np.asarray(dists)
