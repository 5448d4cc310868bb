"""Crop and resize in one step: the part of a crop region that lies in the frame is resized straight
into the model's input buffer, and the part outside the frame is black padding.

A bilinear `cv2.resize` of a view is about half the cost of an equivalent `cv2.warpAffine` (0.14–0.18
vs 0.34 ms into 192×192 on the CI-class machine). When it shrinks it uses INTER_AREA, which averages
so a large frame does not alias, at about 1 ms (docs/benchmarks.md). The visible part is snapped to whole source pixels; the
function returns the region the buffer shows exactly, which is what keypoints must be mapped back
through."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from edge.pose.smart_crop import CropRegion, crop_to_input_matrix
from edge.types import Image

SHRINK_INTERPOLATION = cv2.INTER_AREA  # averages: no aliasing from large frames


def _span(lo: float, hi: float, size: int, out_size: int) -> tuple[int, int, int, int, float, float]:
    """One axis: visible source [s0, s1), output [o0, o1), and the exact region edges it shows."""
    scale = out_size / (hi - lo)  # output pixels per source pixel
    s0, s1 = min(max(round(lo), 0), size), min(max(round(hi), 0), size)
    o0, o1 = min(max(round((s0 - lo) * scale), 0), out_size), min(max(round((s1 - lo) * scale), 0), out_size)
    if s1 <= s0 or o1 <= o0:
        return 0, 0, 0, 0, lo, hi
    step = (s1 - s0) / (o1 - o0)  # source pixels per output pixel, as resized
    start = s0 - o0 * step
    return s0, s1, o0, o1, start, start + out_size * step


def crop_resize_into(image: Image, region: CropRegion, out: Image) -> CropRegion:
    """Fill `out` (H×W×3, preallocated) with `region` of `image`; returns the region `out` shows."""
    h, w = image.shape[:2]
    oh, ow = out.shape[:2]
    sx0, sx1, ox0, ox1, x_lo, x_hi = _span(region.x_min * w, region.x_max * w, w, ow)
    sy0, sy1, oy0, oy1, y_lo, y_hi = _span(region.y_min * h, region.y_max * h, h, oh)
    if ox1 <= ox0 or oy1 <= oy0:
        out[:] = 0
        return region
    out[:oy0] = 0
    out[oy1:] = 0
    out[oy0:oy1, :ox0] = 0
    out[oy0:oy1, ox1:] = 0
    # INTER_AREA averages when shrinking but zooms like NEAREST: bilinear for a crop smaller than the input.
    shrinking = (sx1 - sx0) > (ox1 - ox0)
    interpolation = SHRINK_INTERPOLATION if shrinking else cv2.INTER_LINEAR
    cv2.resize(
        image[sy0:sy1, sx0:sx1],
        (ox1 - ox0, oy1 - oy0),
        dst=out[oy0:oy1, ox0:ox1],
        interpolation=interpolation,
    )
    return CropRegion(x_lo / w, y_lo / h, x_hi / w, y_hi / h)


def warp_into(image: Image, region: CropRegion, out: Image) -> None:
    """Fill `out` with `region` of `image` by one bilinear affine warp, black outside the frame (the
    letterbox step of MultiPose and PoseNet; MoveNet single-pose uses `crop_resize_into`)."""
    h, w = image.shape[:2]
    size = out.shape[0]
    cv2.warpAffine(
        image,
        crop_to_input_matrix(region, h, w, size),
        (size, size),
        dst=out,
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )


def bgr_to_input(bgr: Image, tensor: NDArray[np.generic]) -> None:
    """Write a BGR image into a [1, H, W, 3] input tensor as RGB: in place for uint8 models, as 0..255
    values for a float reference model."""
    if tensor.dtype == np.uint8:
        cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB, dst=tensor[0])
    else:
        tensor[0] = bgr[:, :, ::-1]
