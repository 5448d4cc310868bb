"""What the fall model sees: one track's recent motion as a fixed-length feature vector, independent
of the frame rate and the person's size.

Each frame adds a `FallSample` (hip and head height, trunk angle, box shape, keypoint confidence) to
the track's window. `features()` resamples the last `WINDOW_S` seconds onto a fixed grid of
`GRID_STEP_S` (linear interpolation: a track missed for a few frames is bridged, and 5 fps and 30 fps
give the same grid) and measures heights in torso lengths (TL) of the window's largest torso, speeds
in TL/s, angles in degrees. The same code computes the training features (`models/fall/train.py`
replays the cached real sequences through the rules engine) and the daemon's, so they cannot drift."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from edge.rules.geometry import Body

WINDOW_S: Final = 1.5  # the fall (loss of balance → impact) takes 0.4-1.2 s in the labelled clips
GRID_STEP_S: Final = 0.1
GRID: Final = np.linspace(-WINDOW_S, 0.0, round(WINDOW_S / GRID_STEP_S) + 1)
# The context before it: how high the person was over the last 4 s, and how long ago (a fall drops from
# standing height within about a second; kneeling first and then lying down on purpose does not)
CONTEXT_S: Final = 4.0
CONTEXT_GRID: Final = np.linspace(-CONTEXT_S, 0.0, round(CONTEXT_S / 0.2) + 1)
LAG: Final = 2  # grid steps over which a speed is measured (0.2 s)
RECENT: Final = 3  # grid steps that make "now" (0.3 s): the settling after an impact

FEATURE_NAMES: Final[tuple[str, ...]] = (
    "hip_drop_tl",  # hip now below its highest point in the window
    "head_drop_tl",
    "hip_speed_max_tl_s",  # fastest downward hip speed over 0.2 s
    "head_speed_max_tl_s",
    "hip_speed_now_tl_s",  # downward hip speed over the last 0.3 s (about 0 after an impact)
    "hip_still_tl",  # spread of the hip over the last 0.3 s
    "horizontal_speed_max_tl_s",
    "trunk_now_deg",
    "trunk_turn_deg",  # trunk now minus its most upright in the window
    "trunk_rate_max_deg_s",
    "head_over_hip_tl",  # head height above the hip now (negative: head at or below hip level)
    "head_over_hip_start_tl",
    "aspect_now",  # box width / height now
    "aspect_change",  # now minus the window's smallest
    "box_height_ratio",  # box height now over the window's largest
    "score_drop",  # the window's highest mean keypoint score minus now
    "hip_drop_context_tl",  # hip now below its highest point in the last CONTEXT_S
    "head_drop_context_tl",
    "highest_hip_age_s",  # how long ago the hip was at that highest point
    "head_below_start_hip_tl",  # head now below where the hip was at the window's start
    "ankle_drop_now_tl",  # 0 when unseen (legs_seen says which)
    "knee_drop_now_tl",
    "legs_seen",
    "coverage",  # share of the context window since the track's first sample
    "max_gap_s",  # longest gap between samples in the window (a track lost and re-acquired)
)
N_FEATURES: Final = len(FEATURE_NAMES)


@dataclass(frozen=True, slots=True)
class FallSample:
    """One frame of one track, in pixels (y grows downwards)."""

    ts: float
    hip_x: float
    hip_y: float
    head_y: float  # the head joints' centre, else the shoulder centre
    scale_px: float
    trunk_deg: float
    box_w: float
    box_h: float
    score: float
    seen: float
    ankle_drop_tl: float | None
    knee_drop_tl: float | None

    @classmethod
    def of(cls, body: Body, ts: float) -> FallSample:
        """The sample of a measured body."""
        head_y = body.head[1] if body.head is not None else body.shoulder[1]
        x0, y0, x1, y1 = body.box
        return cls(
            ts,
            body.hip[0],
            body.hip[1],
            head_y,
            body.scale_px,
            body.trunk_deg,
            x1 - x0,
            y1 - y0,
            body.keypoint_score,
            body.seen_fraction,
            body.ankle_drop_tl,
            body.knee_drop_tl,
        )


class FallWindow:
    """The last CONTEXT_S of one track's samples (the features look at the last WINDOW_S of them, and at
    the highest the person was over all of it)."""

    def __init__(self) -> None:
        self.samples: deque[FallSample] = deque()
        self.first_ts: float | None = None

    def add(self, sample: FallSample) -> None:
        """Append a sample (non-increasing times are ignored) and forget what left the window."""
        if self.samples and sample.ts <= self.samples[-1].ts:
            return
        if self.first_ts is None:
            self.first_ts = sample.ts
        self.samples.append(sample)
        # keep one sample older than the window, so interpolation spans all of it
        while len(self.samples) > 2 and sample.ts - self.samples[1].ts >= CONTEXT_S:
            self.samples.popleft()

    def clear(self) -> None:
        """Forget everything (a shot cut, a jump of the picture: the motion before it means nothing)."""
        self.samples.clear()
        self.first_ts = None

    def features(self) -> NDArray[np.float64] | None:
        """The feature vector (FEATURE_NAMES order) at the last sample; None before two samples."""
        if len(self.samples) < 2 or self.first_ts is None:
            return None
        s = self.samples
        now = s[-1].ts
        t = np.fromiter((x.ts for x in s), np.float64, len(s))
        scale = max(x.scale_px for x in s if x.ts >= now - WINDOW_S)
        grid = GRID + now

        def series(values: list[float]) -> NDArray[np.float64]:
            return np.interp(grid, t, np.asarray(values, np.float64))

        hip = series([x.hip_y for x in s]) / scale
        head = series([x.head_y for x in s]) / scale
        hip_x = series([x.hip_x for x in s]) / scale
        trunk = series([x.trunk_deg for x in s])
        box_w = series([x.box_w for x in s])
        box_h = np.maximum(series([x.box_h for x in s]), 1.0)
        score = series([x.score for x in s])
        long_grid = CONTEXT_GRID + now
        hip_long = np.interp(long_grid, t, np.asarray([x.hip_y for x in s], np.float64)) / scale
        head_long = np.interp(long_grid, t, np.asarray([x.head_y for x in s], np.float64)) / scale
        highest = int(np.argmin(hip_long))
        lag_s = LAG * GRID_STEP_S
        hip_speed = (hip[LAG:] - hip[:-LAG]) / lag_s
        head_speed = (head[LAG:] - head[:-LAG]) / lag_s
        aspect = box_w / box_h
        last = s[-1]
        in_window = t >= now - WINDOW_S
        gaps = np.diff(t[in_window]) if in_window.sum() > 1 else np.zeros(1)
        legs = last.ankle_drop_tl is not None or last.knee_drop_tl is not None
        return np.array(
            [
                hip[-1] - hip.min(),
                head[-1] - head.min(),
                hip_speed.max(),
                head_speed.max(),
                (hip[-1] - hip[-1 - RECENT]) / (RECENT * GRID_STEP_S),
                float(np.ptp(hip[-1 - RECENT :])),
                float(np.abs(hip_x[LAG:] - hip_x[:-LAG]).max()) / lag_s,
                trunk[-1],
                trunk[-1] - trunk.min(),
                float((trunk[LAG:] - trunk[:-LAG]).max()) / lag_s,
                hip[-1] - head[-1],
                hip[0] - head[0],
                aspect[-1],
                aspect[-1] - aspect.min(),
                box_h[-1] / box_h.max(),
                score.max() - score[-1],
                hip_long[-1] - hip_long.min(),
                head_long[-1] - head_long.min(),
                -float(CONTEXT_GRID[highest]),
                head[-1] - hip[0],
                last.ankle_drop_tl or 0.0,
                last.knee_drop_tl or 0.0,
                float(legs),
                min(1.0, (now - self.first_ts) / CONTEXT_S),
                float(gaps.max()) if gaps.size else 0.0,
            ],
            dtype=np.float64,
        )
