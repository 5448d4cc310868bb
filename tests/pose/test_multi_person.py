"""The multi-person front-end (movenet_lightning_multi) on real multi-person images and clips: everyone
found on a still (no cap of six, discovery on tiles), the compute budget (round-robin crops, the rest
reported), stable ids on vtest.avi against MultiPose alone, and events per person."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from test_multipose_video import count_identity_switches

from edge.capture.media_file import probe, read_frames
from edge.pipeline import Pipeline
from edge.pose.manifest import find_model
from edge.pose.multi_person import MultiPersonLightning
from edge.pose.multipose_runner import MultiPoseRunner
from edge.pose.registry import DEFAULT_MODEL, load_estimator
from edge.pose.settings import MultiPersonSettings, PoseConfig
from edge.pose.smart_crop import padded_square_region
from edge.rules.engine import RulesEngine
from edge.types import Frame, Pose

CROWD_STILL = "posetrack18/images/val/012834_mpii_test/000000.jpg"  # 1920×1080, a crowd on a square


def front_end(**settings: object) -> MultiPersonLightning:
    pose = PoseConfig(multi_person=MultiPersonSettings(**settings))  # type: ignore[arg-type]
    est = load_estimator(DEFAULT_MODEL, threads=1, pose=pose)
    assert isinstance(est, MultiPersonLightning)
    return est


def still(path: Path) -> Frame:
    image = cv2.imread(str(path))
    assert image is not None, path
    return Frame(image=image, timestamp_ns=0, source=str(path), index=0)


def test_default_model_is_the_front_end() -> None:
    assert DEFAULT_MODEL == "movenet_lightning_multi"


def test_still_with_a_crowd_reports_everyone_tiles_find_more(data_dir: Path) -> None:
    """A 1080p still of a crowd: tiles find people the letterboxed frame cannot see, more than MultiPose's
    six slots, and every one of them is reported with its own track id."""
    frame = still(data_dir / CROWD_STILL)
    whole_only = front_end(tile_fractions=[1.0]).estimate(frame)
    tiled = front_end().estimate(frame)
    print(f"crowd still: whole frame {len(whole_only)} people, with tiles {len(tiled)}")
    assert len(tiled) > 6 and len(tiled) >= len(whole_only) + 3
    assert len({p.track_id for p in tiled}) == len(tiled)
    assert {p.origin for p in tiled} <= {"crop", "discovery"}


def test_budget_refines_some_and_reports_the_rest(data_dir: Path) -> None:
    """With a budget of two crops per frame, a still still reports everyone discovery found (the rest
    with their discovery keypoints); on video the crops go round-robin and the others coast."""
    frame = still(data_dir / CROWD_STILL)
    est = front_end(max_crops_per_frame=2)
    poses = est.estimate(frame)
    origins = [p.origin for p in poses]
    assert origins.count("crop") <= 2 and origins.count("discovery") >= 4, origins
    est = front_end(max_crops_per_frame=2)
    clip = list(read_frames(probe(str(data_dir / "opencv_samples" / "vtest.avi"))))[:60]
    refined_at: dict[int, list[float]] = {}
    reported = []
    for f in clip:
        poses = est.estimate(f)
        assert est.front_end.last_crops <= 2
        reported.append(len(poses))
        for p in poses:
            if p.origin == "crop":
                refined_at.setdefault(p.track_id or 0, []).append(f.ts)
    print(f"budget 2 crops: people per frame {np.mean(reported[10:]):.2f}, {len(refined_at)} tracks refined")
    assert np.mean(reported[10:]) > 2.0  # more people followed than crops per frame
    assert est.front_end.people_coasting > 0
    # round-robin: the two crops went to many people in turn, not to the first two for good
    assert len(refined_at) >= 6 and sum(len(v) >= 3 for v in refined_at.values()) >= 4


@pytest.mark.slow
def test_vtest_more_people_than_multipose_with_no_more_switches(data_dir: Path) -> None:
    """vtest.avi (795 frames): more people per frame than MultiPose alone (3.26, docs/models.md) with at
    most its identity switches per tracked-person minute (12.5), counted the same way."""
    info = probe(str(data_dir / "opencv_samples" / "vtest.avi"))
    est = front_end()
    frames: list[tuple[float, list[Pose]]] = [(f.ts, est.estimate(f)) for f in read_frames(info)]
    counts = np.array([len(p) for _, p in frames])
    fragmentations, jumps = count_identity_switches(frames)
    per_minute = (fragmentations + jumps) / (counts.sum() / info.fps / 60)
    invokes = est.front_end.discovery_invokes / est.front_end.frames
    print(
        f"front-end on vtest.avi: people per frame {counts.mean():.2f} (max {counts.max()}), "
        f"{fragmentations} + {jumps} switches = {per_minute:.1f} per minute, {invokes:.2f} discovery invokes/frame"
    )
    assert counts.mean() >= 4.5
    assert per_minute <= 12.5
    assert invokes <= 2.0


def test_a_fall_by_one_of_two_people_is_that_persons_event(data_dir: Path) -> None:
    """Two real people side by side in one frame, one lying on the floor, one standing: person_down is
    raised for the lying person's track only."""
    subset = data_dir / "fall_detection_dataset_subset"
    lying = cv2.imread(str(subset / "fall" / "split10_029.png"))
    standing = cv2.imread(str(subset / "not-fall" / "rgb_0001.png"))
    assert lying is not None and standing is not None
    standing = cv2.resize(standing, (lying.shape[0] * standing.shape[1] // standing.shape[0], lying.shape[0]))
    image = np.ascontiguousarray(np.hstack([lying, standing]))
    split = lying.shape[1] / image.shape[1]
    pipeline = Pipeline(front_end(), device="test", rules=RulesEngine())
    pipeline.reset()
    events, tracks = [], {}
    for i in range(35):  # 7 s at 5 fps: a camera watching a motionless scene
        result = pipeline.process(Frame(image, i * 200_000_000, "two.png", i))
        for p in result.poses:
            tracks[p.track_id] = (p.bbox[0] + p.bbox[2]) / 2
        events += [m.payload for m in result.messages if m.kind == "event"]
    events += [m.payload for m in pipeline.finish()]
    starts = [e for e in events if e["state"] == "start" and e["type"] in ("fall", "person_down")]
    assert len(tracks) >= 2, tracks
    assert [e["type"] for e in starts] == ["person_down"], events
    assert tracks[starts[0]["track_id"]] < split  # the lying person, in the left half


# URFD bedroom clips: an empty room, then someone walks in through the door at the back (frame by eye).
WALK_INS = [
    ("urfd_adl-40-cam0_rgb.mp4", 28),
    ("urfd_adl-30-cam0_rgb.mp4", 24),
    ("urfd_adl-02-cam0_rgb.mp4", 30),
]


@pytest.mark.parametrize(("clip", "appears"), WALK_INS)
def test_a_person_who_walks_in_is_followed_within_a_second(data_dir: Path, clip: str, appears: int) -> None:
    """Nobody is reported while the room is empty, and the person who walks in is followed within 1 s of
    the first frame MultiPose on the whole frame can see them (run on every frame here as the reference)."""
    info = probe(str(data_dir / "fall_clips" / clip))
    est = front_end()
    reference = MultiPoseRunner(find_model("movenet_multipose"), threads=1)
    first_seen = first_followed = None
    for f in read_frames(info):
        poses = est.estimate(f)
        if f.index < appears - 2:
            assert not poses, f"{clip}: someone reported in the empty room at frame {f.index}"
        if first_seen is None and reference.detect(f.image, padded_square_region(f.height, f.width), 0.2):
            first_seen = f.index
        if first_followed is None and poses:
            first_followed = f.index
        if first_seen is not None and first_followed is not None:
            break
    assert first_seen is not None and first_followed is not None, (first_seen, first_followed)
    print(f"{clip}: appears ~{appears}, MultiPose sees from {first_seen}, followed from {first_followed}")
    assert first_followed - first_seen <= info.fps  # within one second
