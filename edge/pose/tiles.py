"""Where discovery looks: the whole frame and overlapping square tiles of it, and how the people found
in several views of one frame are merged. Pure functions (the scheduler decides which views run when).

MoveNet MultiPose sees its 256-px input; letterboxed, a 1920×1080 frame shrinks 7.5× and people
60–200 px tall become 8–27 px, too small for the model (PoseTrack18 PCK 0.07, docs/models.md). A tile
of side S shows its part of the frame at 256/S, so smaller tiles find smaller people, at one invoke
per tile; the study in docs/models.md ("Discovery") measured which tile size pays."""

from __future__ import annotations

import math

from edge.pose.smart_crop import MIN_CROP_KEYPOINT_SCORE, CropRegion, padded_square_region
from edge.track.similarity import box_iou
from edge.types import Keypoints, Pose

# Neighbouring tiles overlap by this share of their side, so a person cut by one tile's edge is whole
# in the next one (a walker ~0.4 of a tile wide is whole in at least one of two tiles overlapping by
# 0.25; the study tried 0.25 and 0.33, docs/models.md).
TILE_OVERLAP = 0.25
# Two detections of one person from different views: boxes overlapping by more than this IoU, or the
# smaller box mostly (MAX_CONTAINMENT) inside the larger (a tile's edge cut the person: an upper body
# inside the whole-body box from the neighbouring tile). MultiPose's own duplicate rule, docs/models.md.
MAX_DUPLICATE_IOU = 0.5
MAX_CONTAINMENT = 0.7
# ... and only when their keypoints agree: median distance of corresponding keypoints at most this share
# of the person's height. The INT8 model's duplicate slots agree to 0.00-0.06 (vtest.avi, PoseTrack18
# frames); a spectator inside a near person's box, or the second of two dancers, is 0.2-3 away.
MAX_SAME_KEYPOINT_DISTANCE = 0.15


def tile_grid(width: int, height: int, side_px: float, overlap: float = TILE_OVERLAP) -> list[CropRegion]:
    """Square tiles of `side_px` pixels covering a `width`×`height` frame, neighbours overlapping by
    `overlap` of a side, spread evenly from edge to edge (row by row, top left first). A side at least
    the frame's short side gives the whole frame padded to a square (one view)."""
    if side_px >= min(width, height):
        return [padded_square_region(height, width)]
    step = side_px * (1.0 - overlap)
    cols = max(1, math.ceil((width - side_px) / step) + 1)
    rows = max(1, math.ceil((height - side_px) / step) + 1)
    xs = [(width - side_px) * i / (cols - 1) if cols > 1 else (width - side_px) / 2 for i in range(cols)]
    ys = [(height - side_px) * j / (rows - 1) if rows > 1 else (height - side_px) / 2 for j in range(rows)]
    return [
        CropRegion(x / width, y / height, (x + side_px) / width, (y + side_px) / height)
        for y in ys
        for x in xs
    ]


def square_around(
    box: tuple[float, float, float, float], width: int, height: int, scale: float
) -> CropRegion:
    """A square view centred on `box` (frame-normalised), its side `scale` × the box's longer side in
    pixels: a discovery tile placed where a person is or may be."""
    cx, cy = (box[0] + box[2]) / 2 * width, (box[1] + box[3]) / 2 * height
    half = max((box[2] - box[0]) * width, (box[3] - box[1]) * height) * scale / 2
    return CropRegion((cx - half) / width, (cy - half) / height, (cx + half) / width, (cy + half) / height)


def overlap_of_smaller(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over the smaller box's area (1 when one box lies inside the other)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return ix * iy / smaller if smaller > 0 else 0.0


def same_person(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    """Whether two person boxes may be one person seen twice (by overlap, see MAX_DUPLICATE_IOU)."""
    return box_iou(a, b) > MAX_DUPLICATE_IOU or overlap_of_smaller(a, b) > MAX_CONTAINMENT


def keypoint_distance(a: Keypoints, b: Keypoints, min_score: float = MIN_CROP_KEYPOINT_SCORE) -> float:
    """Median distance between two poses' corresponding keypoints (those both score at least
    `min_score`, or all 17 when fewer than three do), in units of the shorter of the two keypoint boxes'
    heights (frame-normalised input)."""
    rows_a: list[list[float]] = a.tolist()
    rows_b: list[list[float]] = b.tolist()
    pairs = [(p, q) for p, q in zip(rows_a, rows_b, strict=True) if p[2] >= min_score and q[2] >= min_score]
    if len(pairs) < 3:
        pairs = list(zip(rows_a, rows_b, strict=True))
    distances = sorted(math.hypot(p[0] - q[0], p[1] - q[1]) for p, q in pairs)
    height = min(max(p[1] for p in rows) - min(p[1] for p in rows) for rows in (rows_a, rows_b))
    return distances[len(distances) // 2] / max(height, 1e-6)


def same_pose(a: Pose, b: Pose) -> bool:
    """Whether two detected (or tracked) poses are one person: their boxes overlap (`same_person`) and
    their keypoints agree (`MAX_SAME_KEYPOINT_DISTANCE`). A box overlap alone is not enough: a small
    person in front of or behind a large one lies wholly inside the large one's box, and two dancers
    share one."""
    return (
        same_person(a.bbox, b.bbox)
        and keypoint_distance(a.keypoints, b.keypoints) <= MAX_SAME_KEYPOINT_DISTANCE
    )


def merge_detections(poses: list[Pose]) -> list[Pose]:
    """Greedy suppression across views: of detections that are one person (`same_pose`), keep the
    best-scoring one."""
    kept: list[Pose] = []
    for pose in sorted(poses, key=lambda p: p.score, reverse=True):
        if not any(same_pose(pose, k) for k in kept):
            kept.append(pose)
    return kept
