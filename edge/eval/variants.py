"""The hard cases real footage brings, made from a recorded sequence (pure functions: a
`TrackedSequence` in, a new one out). None of them is a fall unless the clip already shows one.

- `track_lost`: the track is lost for a while (motion blur during the fall) and re-acquired under a
  new id.
- `legs_occluded`: everything below the hips is hidden (a table, a bed end): those keypoints score 0.
- `bumped`: the camera is knocked: from a moment on the picture is shifted and tilted.
- `frozen`: the stream freezes (the same picture keeps coming) and then jumps to the present.
- `stalled`: no frames at all for a while, then the present.
- `cut`: a recording with a shot cut: the first part of one clip, then another clip, the track ids
  carried across (the worst case: the tracker does not notice)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from edge.eval.track_cache import TrackedSequence
from edge.rules.geometry import L_HIP, R_HIP

NEW_ID_OFFSET = 1000  # track ids after a simulated loss, or from the second clip of a cut


def _keep_frames(seq: TrackedSequence, keep: NDArray[np.bool_]) -> TrackedSequence:
    new_index = np.cumsum(keep) - 1
    pose_keep = keep[seq.pose_row]
    return replace(
        seq,
        ts=seq.ts[keep],
        frame=seq.frame[keep],
        held=seq.held[keep],
        pose_row=new_index[seq.pose_row[pose_keep]].astype(np.int32),
        track=seq.track[pose_keep],
        keypoints=seq.keypoints[pose_keep],
        score=seq.score[pose_keep],
        bbox=seq.bbox[pose_keep],
        origin=seq.origin[pose_keep],
    )


def track_lost(seq: TrackedSequence, start_s: float, duration_s: float) -> TrackedSequence:
    """No pose from `start_s` for `duration_s`; afterwards every track has a new id."""
    pose_ts = seq.ts[seq.pose_row]
    gone = (pose_ts >= start_s) & (pose_ts < start_s + duration_s)
    after = pose_ts >= start_s + duration_s
    keep = ~gone
    track = np.where(after, seq.track + NEW_ID_OFFSET, seq.track)[keep]
    return replace(
        seq,
        pose_row=seq.pose_row[keep],
        track=track.astype(np.int32),
        keypoints=seq.keypoints[keep],
        score=seq.score[keep],
        bbox=seq.bbox[keep],
        origin=seq.origin[keep],
    )


def legs_occluded(seq: TrackedSequence) -> TrackedSequence:
    """Keypoints below the hip centre (in the image) score 0, in every frame."""
    kp = seq.keypoints.copy()
    hip_y = kp[:, [L_HIP, R_HIP], 1].mean(axis=1, keepdims=True)
    below = kp[:, :, 1] > hip_y + 0.02
    below[:, [L_HIP, R_HIP]] = False
    kp[:, :, 2] = np.where(below, 0.0, kp[:, :, 2])
    return replace(seq, keypoints=kp)


def bumped(seq: TrackedSequence, at_s: float, dx: float, dy: float, tilt_deg: float) -> TrackedSequence:
    """From `at_s` on, the picture is shifted by (dx, dy) (fractions of the frame) and turned by
    `tilt_deg` about the frame centre."""
    kp = seq.keypoints.copy()
    box = seq.bbox.copy()
    moved = seq.ts[seq.pose_row] >= at_s
    a = math.radians(tilt_deg)
    aspect = seq.width / max(1, seq.height)
    x = (kp[:, :, 0] - 0.5) * aspect
    y = kp[:, :, 1] - 0.5
    xr = (x * math.cos(a) - y * math.sin(a)) / aspect + 0.5 + dx
    yr = x * math.sin(a) + y * math.cos(a) + 0.5 + dy
    kp[moved, :, 0] = xr[moved]
    kp[moved, :, 1] = yr[moved]
    box[moved] += np.array([dx, dy, dx, dy], dtype=np.float32)
    return replace(seq, keypoints=kp, bbox=box)


def frozen(seq: TrackedSequence, at_s: float, duration_s: float) -> TrackedSequence:
    """From `at_s` for `duration_s` every frame repeats the poses of the frame at `at_s` (a frozen
    picture, time going on); then the poses of the present again."""
    at_row = int(np.searchsorted(seq.ts, at_s))
    if at_row >= len(seq.ts):
        return seq
    in_freeze = (seq.ts >= seq.ts[at_row]) & (seq.ts < seq.ts[at_row] + duration_s)
    source_row = np.where(in_freeze, at_row, np.arange(len(seq.ts)))
    starts = np.searchsorted(seq.pose_row, np.arange(len(seq.ts) + 1))
    take: list[int] = []
    rows: list[int] = []
    for row, src in enumerate(source_row.tolist()):
        idx = list(range(int(starts[src]), int(starts[src + 1])))
        take += idx
        rows += [row] * len(idx)
    t = np.array(take, dtype=np.int64)
    return replace(
        seq,
        pose_row=np.array(rows, dtype=np.int32),
        track=seq.track[t],
        keypoints=seq.keypoints[t],
        score=seq.score[t],
        bbox=seq.bbox[t],
        origin=seq.origin[t],
    )


def stalled(seq: TrackedSequence, at_s: float, duration_s: float) -> TrackedSequence:
    """No frames from `at_s` for `duration_s` (a stalled stream), then the present."""
    keep = ~((seq.ts >= at_s) & (seq.ts < at_s + duration_s))
    return _keep_frames(seq, keep)


def cut(first: TrackedSequence, second: TrackedSequence, at_s: float, from_s: float) -> TrackedSequence:
    """`first` up to `at_s`, then `second` from `from_s` on, its times continuing and its track ids
    mapped onto the first clip's (as a tracker that does not notice the cut would); keypoints are
    normalised, so the frame sizes need not match (the first clip's size is kept)."""
    a = _keep_frames(first, (first.ts < at_s) & ~first.held)
    b = _keep_frames(second, (second.ts >= from_s) & ~second.held)
    step = 1.0 / first.fps
    shift = (a.ts[-1] + step if len(a.ts) else 0.0) - (b.ts[0] if len(b.ts) else 0.0)
    last_id = int(a.track[-1]) if len(a.track) else 0
    first_b = int(b.track[0]) if len(b.track) else 0
    b_track = np.where(b.track == first_b, last_id, b.track + NEW_ID_OFFSET).astype(np.int32)
    frame_shift = (int(a.frame[-1]) + 1 if len(a.frame) else 0) - (int(b.frame[0]) if len(b.frame) else 0)
    return replace(
        a,
        name=f"{first.name}+{second.name}",
        ts=np.concatenate([a.ts, b.ts + shift]),
        frame=np.concatenate([a.frame, b.frame + frame_shift]).astype(np.int32),
        held=np.concatenate([a.held, b.held]),
        pose_row=np.concatenate([a.pose_row, b.pose_row + len(a.ts)]).astype(np.int32),
        track=np.concatenate([a.track, b_track]).astype(np.int32),
        keypoints=np.concatenate([a.keypoints, b.keypoints]),
        score=np.concatenate([a.score, b.score]),
        bbox=np.concatenate([a.bbox, b.bbox]),
        origin=np.concatenate([a.origin, b.origin]),
    )
