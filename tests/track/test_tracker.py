"""Tracker behaviour on keypoint sequences: ids stay with people, tracks expire, filters reset."""

from __future__ import annotations

import numpy as np
import pytest

from edge.pose.settings import OneEuroSettings
from edge.track.similarity import box_iou, object_keypoint_similarity
from edge.track.tracker import PoseTracker, TrackerSettings
from edge.types import Pose, keypoint_bbox

W, H = 640, 480
# A standing person's COCO-17 keypoints (normalised, about 0.1 wide × 0.4 tall), centred on x = 0.
_BODY = np.array(
    [
        [0.0, -0.18], [-0.01, -0.19], [0.01, -0.19], [-0.02, -0.18], [0.02, -0.18],
        [-0.04, -0.12], [0.04, -0.12], [-0.05, -0.04], [0.05, -0.04], [-0.05, 0.03], [0.05, 0.03],
        [-0.03, 0.02], [0.03, 0.02], [-0.03, 0.11], [0.03, 0.11], [-0.03, 0.2], [0.03, 0.2],
    ]
)  # fmt: skip


def person(x: float, y: float = 0.5, score: float = 0.8) -> Pose:
    kps = np.zeros((17, 3), dtype=np.float32)
    kps[:, 0] = _BODY[:, 0] + x
    kps[:, 1] = _BODY[:, 1] + y
    kps[:, 2] = score
    return Pose(keypoints=kps, score=score, bbox=keypoint_bbox(kps, 0.3))


def ids(poses: list[Pose]) -> dict[float, int | None]:
    """Track id by the pose's (rounded) nose x."""
    return {round(float(p.keypoints[0, 0]), 2): p.track_id for p in poses}


@pytest.mark.parametrize("similarity", ["oks", "iou"])
def test_two_walkers_keep_their_ids(similarity: str) -> None:
    tracker = PoseTracker(TrackerSettings(similarity=similarity))  # type: ignore[arg-type]
    seen: dict[int, list[float]] = {}
    for i in range(30):
        t = i / 10
        a, b = person(0.2 + 0.005 * i), person(0.8 - 0.005 * i, score=0.6)
        for pose in tracker.update([b, a] if i % 2 else [a, b], t, W, H):
            assert pose.track_id is not None
            seen.setdefault(pose.track_id, []).append(float(pose.keypoints[0, 0]))
    assert sorted(seen) == [1, 2]
    assert all(len(xs) == 30 for xs in seen.values())
    assert np.all(np.diff(seen[1]) > 0) and np.all(np.diff(seen[2]) < 0)  # no swap


def test_track_expires_after_max_age_and_gets_a_new_id() -> None:
    tracker = PoseTracker(TrackerSettings(max_age_s=1.0))
    assert tracker.update([person(0.5)], 0.0, W, H)[0].track_id == 1
    assert tracker.update([], 0.5, W, H) == []
    assert tracker.update([person(0.5)], 0.9, W, H)[0].track_id == 1  # gap 0.9 s: same person
    assert tracker.update([person(0.5)], 2.5, W, H)[0].track_id == 2  # gap 1.6 s: a new track
    assert [t.track_id for t in tracker.tracks] == [2]


def test_far_jump_starts_new_track() -> None:
    tracker = PoseTracker()
    tracker.update([person(0.2)], 0.0, W, H)
    assert tracker.update([person(0.7)], 0.1, W, H)[0].track_id == 2


def test_filter_state_dropped_with_track() -> None:
    tracker = PoseTracker(TrackerSettings(max_age_s=0.5, keypoint_filter=OneEuroSettings().params))
    tracker.update([person(0.3)], 0.0, W, H)
    moved = tracker.update([person(0.32)], 0.1, W, H)[0]
    assert 0.3 < moved.keypoints[0, 0] < 0.32  # filtered: lags behind the raw 0.32
    # After expiry the new track starts unfiltered at the raw position.
    fresh = tracker.update([person(0.32)], 1.0, W, H)[0]
    assert fresh.track_id == 2
    assert fresh.keypoints[0, 0] == pytest.approx(0.32)


def test_max_tracks_keeps_the_most_recent() -> None:
    tracker = PoseTracker(TrackerSettings(max_tracks=3))
    poses = [person(0.1 + 0.12 * i) for i in range(6)]
    out = tracker.update(poses, 0.0, W, H)
    assert len({p.track_id for p in out}) == 6
    assert len(tracker.tracks) == 3


def test_similarity_edges() -> None:
    a = person(0.5)
    assert object_keypoint_similarity(a.keypoints, a.keypoints, W, H) == pytest.approx(1.0)
    low = a.keypoints.copy()
    low[:, 2] = 0.1
    assert object_keypoint_similarity(low, a.keypoints, W, H) == 0.0  # under 4 confident keypoints
    assert box_iou(a.bbox, a.bbox) == pytest.approx(1.0)
    assert box_iou(a.bbox, person(0.9).bbox) == 0.0
    assert box_iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0


def test_walker_missed_for_a_few_frames_keeps_id_via_velocity() -> None:
    """A small walker (box ~0.1 wide) moving 0.02/frame, missed for 4 frames: the last box no
    longer overlaps, but the predicted one does."""
    tracker = PoseTracker(TrackerSettings(similarity="iou"))
    for i in range(5):
        assert tracker.update([person(0.2 + 0.02 * i)], i / 10, W, H)[0].track_id == 1
    back = tracker.update([person(0.2 + 0.02 * 9)], 0.9, W, H)[0]
    assert box_iou(person(0.28).bbox, person(0.38).bbox) < 0.15  # last box alone would not match
    assert back.track_id == 1


def test_weak_pose_continues_a_track_but_never_starts_one() -> None:
    tracker = PoseTracker(TrackerSettings(similarity="iou"))
    assert tracker.update([person(0.3, score=0.12)], 0.0, W, H, min_new_score=0.2) == []
    assert tracker.update([person(0.3, score=0.5)], 0.1, W, H, min_new_score=0.2)[0].track_id == 1
    weak = tracker.update([person(0.31, score=0.12), person(0.8, score=0.12)], 0.2, W, H, min_new_score=0.2)
    assert [p.track_id for p in weak] == [1]  # the followed person stays; the new weak one is not admitted
