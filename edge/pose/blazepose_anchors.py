"""BlazePose person detector decoding: SSD anchors, box/keypoint regression, weighted NMS.

The detector (224×224) regresses, per anchor, a box and 4 keypoints relative to the anchor centre
plus one score logit. Constants are MediaPipe's pose_detection graph options (SsdAnchorsCalculator,
TensorsToDetectionsCalculator, NonMaxSuppressionCalculator); the code is ours. Pure functions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

DETECTOR_INPUT_SIZE: Final = 224  # pixels, square, letterboxed
ANCHOR_STRIDES: Final = (8, 16, 32, 32, 32)  # layers with equal strides share one grid
ANCHORS_PER_LAYER: Final = 2  # aspect ratio 1.0 plus the interpolated-scale anchor
NUM_ANCHORS: Final = 2254  # 28²·2 + 14²·2 + 7²·6
COORD_SCALE: Final = 224.0  # x/y/w/h_scale: raw regressions are in input pixels
SCORE_CLIP: Final = 100.0  # score_clipping_thresh on the logit
MIN_DETECTION_SCORE: Final = 0.5  # min_score_thresh (after sigmoid)
NMS_MIN_IOU: Final = 0.3  # min_suppression_threshold: boxes overlapping more are one person
NUM_KEYPOINTS: Final = 4  # 0 hip centre, 1 full-body circle point, 2 shoulder centre, 3 upper-body point


@dataclass(frozen=True, slots=True)
class Detection:
    """One detected person in detector-input-normalised coordinates (0..1 of the 224 square)."""

    score: float
    box: NDArray[np.float64]  # (x_min, y_min, x_max, y_max)
    keypoints: NDArray[np.float64]  # 4 × (x, y)


def ssd_anchor_centres(size: int = DETECTOR_INPUT_SIZE) -> NDArray[np.float64]:
    """NUM_ANCHORS × (x, y) anchor centres, normalised, in the order the detector emits them:
    per stride group, row by row, cell by cell, anchor by anchor. Anchors have a fixed size 1×1."""
    centres: list[NDArray[np.float64]] = []
    i = 0
    while i < len(ANCHOR_STRIDES):
        stride = ANCHOR_STRIDES[i]
        layers = 0
        while i < len(ANCHOR_STRIDES) and ANCHOR_STRIDES[i] == stride:
            layers += 1
            i += 1
        cells = -(-size // stride)  # ceil
        ys, xs = np.meshgrid(
            (np.arange(cells) + 0.5) / cells, (np.arange(cells) + 0.5) / cells, indexing="ij"
        )
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(grid, layers * ANCHORS_PER_LAYER, axis=0))
    return np.concatenate(centres)


def decode_detections(
    raw_boxes: NDArray[np.float32],
    raw_scores: NDArray[np.float32],
    anchors: NDArray[np.float64],
    min_score: float = MIN_DETECTION_SCORE,
) -> list[Detection]:
    """Detections scoring at least `min_score`, best first, overlapping ones merged (weighted NMS).

    `raw_boxes` is N×12 (x, y, w, h, then 4 × (x, y)), `raw_scores` N logits."""
    scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores.astype(np.float64), -SCORE_CLIP, SCORE_CLIP)))
    keep = np.flatnonzero(scores >= min_score)
    if len(keep) == 0:
        return []
    raw = raw_boxes[keep].astype(np.float64) / COORD_SCALE
    a = anchors[keep]
    cx, cy = raw[:, 0] + a[:, 0], raw[:, 1] + a[:, 1]
    half_w, half_h = raw[:, 2] / 2, raw[:, 3] / 2
    boxes = np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=1)
    kps = raw[:, 4 : 4 + 2 * NUM_KEYPOINTS].reshape(-1, NUM_KEYPOINTS, 2) + a[:, None, :]
    return weighted_nms(scores[keep], boxes, kps)


def _iou(box: NDArray[np.float64], boxes: NDArray[np.float64]) -> NDArray[np.float64]:
    ix = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = ix * iy
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def weighted_nms(
    scores: NDArray[np.float64], boxes: NDArray[np.float64], keypoints: NDArray[np.float64]
) -> list[Detection]:
    """MediaPipe's WEIGHTED non-max suppression: each cluster of boxes overlapping the best remaining
    one by more than NMS_MIN_IOU becomes one detection, its box and keypoints the score-weighted mean
    of the cluster's (steadier than keeping only the best box)."""
    order = np.argsort(-scores)
    out: list[Detection] = []
    while len(order):
        best = order[0]
        overlap = _iou(boxes[best], boxes[order]) > NMS_MIN_IOU
        cluster = order[overlap]
        weights = scores[cluster] / scores[cluster].sum()
        out.append(
            Detection(
                score=float(scores[best]),
                box=(boxes[cluster] * weights[:, None]).sum(axis=0),
                keypoints=(keypoints[cluster] * weights[:, None, None]).sum(axis=0),
            )
        )
        order = order[~overlap]
    return out
