"""MoveNet MultiPose with tracking on vtest.avi (pedestrians in a hall, 768×576, 10 fps): people found
per frame and identity switches per minute of tracked people.

Counting method (no identity ground truth exists for this clip): an identity switch is
  - a fragmentation: a new track id appears within 1.5 s of, and closer than one box height to,
    the last position of a track that is not in the current frame (the same walker, re-labelled), or
  - a jump: a track's box centre moves more than one box height between frames at most 0.2 s apart
    (the id passed to another person).
Minutes of tracked people = (sum over frames of the poses reported) / fps / 60."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.capture.media_file import probe, read_frames
from edge.pose.registry import load_estimator
from edge.types import Pose

FRAGMENT_WINDOW_S = 1.5
JUMP_WINDOW_S = 0.2


def _centre_height(pose: Pose) -> tuple[np.ndarray, float]:
    x0, y0, x1, y1 = pose.bbox
    return np.array([(x0 + x1) / 2, (y0 + y1) / 2]), max(y1 - y0, 1e-3)


def count_identity_switches(frames: list[tuple[float, list[Pose]]]) -> tuple[int, int]:
    """(fragmentations, jumps) over (time s, poses) per frame, by the method in the module docstring."""
    last: dict[int, tuple[float, np.ndarray]] = {}
    fragmentations = jumps = 0
    for t, poses in frames:
        present = {p.track_id for p in poses}
        for pose in poses:
            assert pose.track_id is not None
            centre, height = _centre_height(pose)
            if pose.track_id in last:
                lt, lc = last[pose.track_id]
                if t - lt <= JUMP_WINDOW_S and np.linalg.norm(centre - lc) > height:
                    jumps += 1
            elif any(
                tid not in present
                and 0 < t - lt <= FRAGMENT_WINDOW_S
                and np.linalg.norm(centre - lc) < height
                for tid, (lt, lc) in last.items()
            ):
                fragmentations += 1
            last[pose.track_id] = (t, centre)
    return fragmentations, jumps


@pytest.mark.parametrize(
    ("name", "max_per_minute"), [("movenet_multipose", 18.0), ("movenet_multipose_fp16", 6.0)]
)
def test_vtest_people_per_frame_and_identity_switches(
    name: str, max_per_minute: float, data_dir: Path
) -> None:
    info = probe(str(data_dir / "opencv_samples" / "vtest.avi"))
    estimator = load_estimator(name)
    frames = [(f.ts, estimator.estimate(f)) for f in read_frames(info)]
    counts = np.array([len(p) for _, p in frames])
    fragmentations, jumps = count_identity_switches(frames)
    minutes = counts.sum() / info.fps / 60
    per_minute = (fragmentations + jumps) / minutes
    ids = {p.track_id for _, poses in frames for p in poses}
    print(
        f"{name}: {len(frames)} frames, people per frame mean {counts.mean():.2f} median {np.median(counts):.0f} "
        f"max {counts.max()}, {len(ids)} track ids, {fragmentations} fragmentations + {jumps} jumps over "
        f"{minutes:.2f} tracked-person minutes = {per_minute:.1f} identity switches per minute"
    )
    assert np.median(counts) >= 3  # 3-8 walkers are in view throughout
    assert counts.max() <= 6
    assert per_minute <= max_per_minute
