"""How alike a detected pose and a track's last pose are: keypoint similarity (OKS) or box IoU.

Pure functions on normalised keypoints; the tracker picks one (tfjs-models calculators/tracker.md)."""

from __future__ import annotations

from typing import Final

import numpy as np

from edge.types import Keypoints

# COCO per-keypoint falloffs (sigmas), COCO-17 order: how far a keypoint may stray relative to the
# person's size and still count as the same place (COCO keypoint evaluation; tfjs keypoint tracker).
COCO17_FALLOFFS: Final[tuple[float, ...]] = (
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
    0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089,
)  # fmt: skip
OKS_MIN_KEYPOINT_SCORE = 0.3  # tfjs keypoint tracker keypointThreshold: only these keypoints count
OKS_MIN_KEYPOINTS = 4  # tfjs minNumberOfKeypoints: fewer shared confident keypoints → similarity 0


def object_keypoint_similarity(detection: Keypoints, track: Keypoints, width: int, height: int) -> float:
    """OKS in [0, 1] between two COCO-17 poses (normalised x, y, score), measured in pixels of a
    `width`×`height` frame, the person's scale being the area of the track's confident keypoints' box."""
    both = (detection[:, 2] > OKS_MIN_KEYPOINT_SCORE) & (track[:, 2] > OKS_MIN_KEYPOINT_SCORE)
    if int(both.sum()) < OKS_MIN_KEYPOINTS:
        return 0.0
    scale = np.array([width, height], dtype=np.float64)
    ref = track[track[:, 2] > OKS_MIN_KEYPOINT_SCORE, :2] * scale
    area = float(np.prod(ref.max(axis=0) - ref.min(axis=0))) + 1e-6
    d2 = (((detection[both, :2] - track[both, :2]) * scale) ** 2).sum(axis=1)
    k = 2.0 * np.asarray(COCO17_FALLOFFS)[both]
    return float(np.exp(-d2 / (2.0 * area * k**2)).mean())


def box_iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes (0 when either is empty)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
