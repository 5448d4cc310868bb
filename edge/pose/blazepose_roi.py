"""BlazePose region of interest: a rotated square around the body, from two alignment points.

The detector's (and later the landmark model's auxiliary) hip centre and a point on the body's
circle give the centre, the size (twice their distance) and the rotation (the body axis turned to
point up); the square is then enlarged 1.25× (MediaPipe AlignmentPointsRectsCalculator and
RectTransformationCalculator options of the pose graphs). Pure functions, in frame pixels."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from edge.pose.smart_crop import CropRegion

ROI_TARGET_ANGLE: Final = math.pi / 2  # rotation_vector_target_angle_degrees 90: body axis up
ROI_SCALE: Final = 1.25  # scale_x = scale_y = 1.25, square_long


@dataclass(frozen=True, slots=True)
class RotatedRoi:
    """A square of side `size` px centred at (`cx`, `cy`) px, turned by `rotation` radians
    (clockwise in image coordinates, y down)."""

    cx: float
    cy: float
    size: float
    rotation: float

    def bounding_region(self, width: int, height: int) -> CropRegion:
        """The axis-aligned box around the square, frame-normalised (for drawing)."""
        corners = roi_to_frame_px(np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]), self)
        (x0, y0), (x1, y1) = corners.min(axis=0), corners.max(axis=0)
        return CropRegion(x0 / width, y0 / height, x1 / width, y1 / height)


def normalize_radians(angle: float) -> float:
    """`angle` wrapped to [-π, π)."""
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


def roi_from_alignment(centre: NDArray[np.floating], end: NDArray[np.floating]) -> RotatedRoi | None:
    """The enlarged rotated ROI from the hip centre and the body-circle point (both px), or None
    when they coincide (no size)."""
    dx, dy = float(end[0] - centre[0]), float(end[1] - centre[1])
    size = 2.0 * math.hypot(dx, dy) * ROI_SCALE
    if not math.isfinite(size) or size < 1.0:
        return None
    rotation = normalize_radians(ROI_TARGET_ANGLE - math.atan2(-dy, dx))
    return RotatedRoi(float(centre[0]), float(centre[1]), size, rotation)


def roi_to_frame_px(points: NDArray[np.floating], roi: RotatedRoi) -> NDArray[np.float64]:
    """Map ROI-normalised (u, v) points (0..1 across the square) to frame pixels."""
    c, s = math.cos(roi.rotation), math.sin(roi.rotation)
    u = (np.asarray(points[..., 0], dtype=np.float64) - 0.5) * roi.size
    v = (np.asarray(points[..., 1], dtype=np.float64) - 0.5) * roi.size
    return np.stack([roi.cx + c * u - s * v, roi.cy + s * u + c * v], axis=-1)


def roi_input_matrix(roi: RotatedRoi, input_size: int) -> NDArray[np.float64]:
    """2×3 affine matrix taking model-input pixel indices to frame pixel indices (use with
    cv2.WARP_INVERSE_MAP); pixel centres at +0.5, as in smart_crop.crop_to_input_matrix."""
    c, s = math.cos(roi.rotation), math.sin(roi.rotation)
    k = roi.size / input_size
    # frame = centre + R · ((i + 0.5)·k − size/2), then −0.5 for the frame's pixel index.
    off = 0.5 * k - roi.size / 2
    tx = roi.cx + c * off - s * off - 0.5
    ty = roi.cy + s * off + c * off - 0.5
    return np.array([[c * k, -s * k, tx], [s * k, c * k, ty]], dtype=np.float64)
