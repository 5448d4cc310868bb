"""The data that flows between stages: Frame → [Pose] → messages. Plain dataclasses, no behaviour."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

Image = NDArray[np.uint8]
"""An H×W×3 uint8 image in OpenCV's BGR channel order (what cameras and decoders hand us)."""

Keypoints = NDArray[np.float32]
"""A K×3 float32 array of (x, y, score); x and y normalised to [0, 1] of the full frame."""


@dataclass(slots=True)
class Frame:
    """One camera or file frame. `timestamp_ns` is the frame's own time: every stage uses it, never the
    wall clock, so replays of recorded video behave like the live camera. `new_pass` marks the first
    frame of a looped file's next pass: the picture jumps back to the file's start, so nobody in it
    continues from the frame before (the pipeline ends open events and forgets per-person state)."""

    image: Image
    timestamp_ns: int
    source: str
    index: int
    new_pass: bool = False

    @property
    def width(self) -> int:
        """Frame width in pixels."""
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        """Frame height in pixels."""
        return int(self.image.shape[0])

    @property
    def ts(self) -> float:
        """Frame time in seconds."""
        return self.timestamp_ns / 1e9


@dataclass(slots=True)
class Pose:
    """One person's keypoints in full-frame normalised coordinates, in `layout` order.

    `track_id` is None until a tracker (or a single-pose estimator that tracks its one person)
    assigns one. `origin` says how this frame's keypoints were measured: "model" (the estimator ran on
    this person this frame; every single-model estimator), and for the multi-person front-end "crop"
    (the person's own Lightning crop), "discovery" (MultiPose keypoints, not refined yet) or "coast"
    (not measured this frame under the compute budget: the last keypoints moved on at the track's
    velocity; the rules skip these)."""

    keypoints: Keypoints
    score: float
    layout: str = "coco17"
    track_id: int | None = None
    bbox: tuple[float, float, float, float] = field(default=(0.0, 0.0, 0.0, 0.0))
    origin: str = "model"


def keypoint_bbox(keypoints: Keypoints, min_score: float) -> tuple[float, float, float, float]:
    """Box (x0, y0, x1, y1) around keypoints scoring at least `min_score` (all of them if none do),
    clipped to the frame."""
    rows = keypoints.tolist()  # a few dozen points: plain Python beats tiny numpy calls here
    pts = [p for p in rows if p[2] >= min_score] or rows
    xs = [min(max(p[0], 0.0), 1.0) for p in pts]
    ys = [min(max(p[1], 0.0), 1.0) for p in pts]
    return min(xs), min(ys), max(xs), max(ys)
