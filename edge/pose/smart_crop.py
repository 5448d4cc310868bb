"""MoveNet smart crop: where the model looks in the next frame, from this frame's keypoints.

Pure functions (the estimator owns the state). The algorithm follows tfjs-models' MoveNet
crop_utils: centre on the hips, make the square big enough for the torso (×1.9) and every confident
keypoint (×1.2), and fall back to the whole frame padded to a square when the torso is not visible.
Unlike the TF-Lite Raspberry Pi example, every keypoint counts for the body range."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from edge.layouts import COCO17_INDEX
from edge.types import Keypoints

MIN_CROP_KEYPOINT_SCORE = 0.2  # tfjs movenet constants: keypoints that count for the crop and pose score
TORSO_EXPANSION_RATIO = 1.9  # tfjs: half side >= 1.9 × the torso's reach from the hip centre
BODY_EXPANSION_RATIO = 1.2  # tfjs: half side >= 1.2 × the farthest confident keypoint

_TORSO = tuple(COCO17_INDEX[n] for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip"))
_HIPS = (COCO17_INDEX["left_hip"], COCO17_INDEX["right_hip"])
_SHOULDERS = (COCO17_INDEX["left_shoulder"], COCO17_INDEX["right_shoulder"])


@dataclass(frozen=True, slots=True)
class CropRegion:
    """A box in frame-normalised coordinates; it may reach past the frame (padding is black)."""

    x_min: float
    y_min: float
    x_max: float
    y_max: float

    @property
    def width(self) -> float:
        """Width as a fraction of the frame width."""
        return self.x_max - self.x_min

    @property
    def height(self) -> float:
        """Height as a fraction of the frame height."""
        return self.y_max - self.y_min

    def as_tuple(self) -> tuple[float, float, float, float]:
        """(x_min, y_min, x_max, y_max), for filtering; `CropRegion(*values)` is the inverse."""
        return self.x_min, self.y_min, self.x_max, self.y_max


@dataclass(frozen=True, slots=True)
class CropBox:
    """Where a model looked on a frame (for annotation): `region`, and the track it was run for (the
    multi-person front-end's per-person crops; None for a search of the frame or a single-pose crop)."""

    region: CropRegion
    track_id: int | None = None


def padded_square_region(height: int, width: int) -> CropRegion:
    """The whole frame padded to a square around its centre: nobody in view is cut off."""
    if width > height:
        pad = (width - height) / 2 / height
        return CropRegion(0.0, -pad, 1.0, 1.0 + pad)
    pad = (height - width) / 2 / width
    return CropRegion(-pad, 0.0, 1.0 + pad, 1.0)


def torso_visible(keypoints: Keypoints, min_score: float = MIN_CROP_KEYPOINT_SCORE) -> bool:
    """True when at least one hip and one shoulder score above `min_score`."""
    scores = keypoints[:, 2].tolist()
    return bool(max(scores[i] for i in _HIPS) > min_score and max(scores[i] for i in _SHOULDERS) > min_score)


def determine_crop_region(
    keypoints: Keypoints, height: int, width: int, min_score: float = MIN_CROP_KEYPOINT_SCORE
) -> CropRegion:
    """The square crop (in pixels) for the next frame, from this frame's full-frame keypoints.

    Falls back to `padded_square_region` when the torso is not visible or the square would be larger
    than the frame."""
    if not torso_visible(keypoints, min_score):
        return padded_square_region(height, width)
    # 17 points: plain Python on one list is cheaper than a dozen tiny numpy calls right after an
    # invoke has pushed numpy out of the CPU caches (docs/benchmarks.md)
    points = [(x * width, y * height, score) for x, y, score in keypoints.tolist()]
    cx = (points[_HIPS[0]][0] + points[_HIPS[1]][0]) / 2
    cy = (points[_HIPS[0]][1] + points[_HIPS[1]][1]) / 2

    def reach(indices: Iterable[int]) -> float:
        return max((max(abs(cx - points[i][0]), abs(cy - points[i][1])) for i in indices), default=0.0)

    torso_range = reach(_TORSO)
    body_range = reach(i for i, p in enumerate(points) if p[2] > min_score)
    half = max(TORSO_EXPANSION_RATIO * torso_range, BODY_EXPANSION_RATIO * body_range)
    half = min(half, max(cx, width - cx, cy, height - cy))
    if half > max(width, height) / 2 or half <= 0:
        return padded_square_region(height, width)
    return CropRegion((cx - half) / width, (cy - half) / height, (cx + half) / width, (cy + half) / height)


def crop_to_input_matrix(region: CropRegion, height: int, width: int, size: int) -> NDArray[np.float64]:
    """2×3 affine matrix taking frame pixels to a `size`×`size` model input showing `region`
    (pixel-centre convention, so crop and keypoint mapping agree to the sub-pixel)."""
    x0, y0 = region.x_min * width, region.y_min * height
    sx = size / (region.width * width)
    sy = size / (region.height * height)
    return np.array([[sx, 0.0, (0.5 - x0) * sx - 0.5], [0.0, sy, (0.5 - y0) * sy - 0.5]], dtype=np.float64)


def crop_to_frame(points_yx: NDArray[np.floating], region: CropRegion) -> NDArray[np.float64]:
    """Map crop-normalised (y, x) model output to frame-normalised (x, y)."""
    xy = np.asarray(points_yx, dtype=np.float64)[..., 1::-1] * (region.width, region.height)
    xy += (region.x_min, region.y_min)
    return xy
