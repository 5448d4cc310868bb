"""MoveNet single-pose decoding in numpy, from the model's four output heads.

The shipped INT8 Lightning and Thunder files end at their heads (`models/cut_decoder.py` removes
the post-processing the TF Hub graph carries): that graph's argmax / gather / distance ops run
outside XNNPACK, split the model into eight delegate partitions and cost about a third of the
invoke. The same arithmetic done here on the heads costs about 0.2 ms (docs/benchmarks.md).

The decoding is MoveNet's own (the ops of the TF Hub v4 graph, checked against the float model's
in-graph output to 0.05 px by tests/pose/test_movenet_heads.py):
1. the person centre is the argmax of the centre heatmap (already weighted towards the image
   centre inside the model);
2. the regression head at that cell gives each keypoint's rough position;
3. each keypoint is the argmax of its heatmap divided by (distance to that rough position + 1.8);
4. the offset head at that cell refines it; the heatmap value there is its score.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

HEAD_NAMES = ("center", "heatmaps", "regression", "offsets")  # output tensor names of a cut model
DISTANCE_BIAS = 1.8  # cells; the constant the TF Hub graph adds to the distance before dividing


Quant = dict[str, tuple[float, float]]
"""(scale, zero point) per head name; a float head is (1, 0)."""
FLOAT_HEADS: Quant = dict.fromkeys(HEAD_NAMES, (1.0, 0.0))


def decode_heads(
    center: NDArray[Any],
    heatmaps: NDArray[Any],
    regression: NDArray[Any],
    offsets: NDArray[Any],
    quant: Quant = FLOAT_HEADS,
    work: tuple[NDArray[np.float32], NDArray[np.float32], NDArray[Any]] | None = None,
) -> NDArray[np.float32]:
    """Keypoints [K, 3] as (y, x, score), y and x normalised to the model input, from the heads of one
    image: center [H, W, 1], heatmaps [H, W, K], regression and offsets [H, W, 2K], float or quantized
    (`quant`). `work` lends two float32 buffers, [K, H, W] and [K, H*W], and a [K, H*W] buffer of the
    heatmaps' dtype, so a per-frame caller allocates nothing heatmap-sized. The heatmaps are weighted as integers, one keypoint per row (a contiguous
    argmax); their positive scale does not move the argmax."""
    h, w, k = heatmaps.shape
    distance, weighted, rows = work or (
        np.empty((k, h, w), np.float32),
        np.empty((k, h * w), np.float32),
        np.empty((k, h * w), heatmaps.dtype),
    )
    cy, cx = divmod(int(np.argmax(center)), w)
    rough = _float(regression[cy, cx], quant["regression"]).reshape(k, 2)
    dy = np.arange(h, dtype=np.float32) - (cy + rough[:, 0:1])  # [K, H]
    dx = np.arange(w, dtype=np.float32) - (cx + rough[:, 1:2])  # [K, W]
    np.add((dy * dy)[:, :, None], (dx * dx)[:, None, :], out=distance)
    np.sqrt(distance, out=distance)
    distance += DISTANCE_BIAS
    # one keypoint per row: OpenCV's transpose is several times cheaper than numpy's strided cast
    weighted[:] = cv2.transpose(heatmaps.reshape(h * w, k), dst=rows)
    weighted -= np.float32(quant["heatmaps"][1])
    weighted /= distance.reshape(k, h * w)
    ys, xs = np.divmod(weighted.argmax(1), w)
    joints = np.arange(k)
    fine = _float(offsets[ys, xs].reshape(k, k, 2)[joints, joints], quant["offsets"])
    out = np.empty((k, 3), dtype=np.float32)
    out[:, 0] = (ys + fine[:, 0]) / h
    out[:, 1] = (xs + fine[:, 1]) / w
    out[:, 2] = _float(heatmaps[ys, xs, joints], quant["heatmaps"])
    return out


def _float(values: NDArray[Any], scale_zero: tuple[float, float]) -> NDArray[np.float32]:
    scale, zero = scale_zero
    return ((values.astype(np.float32) - zero) * scale).astype(np.float32, copy=False)


class HeadDecoder:
    """Decodes one interpreter's heads after each invoke: read through views (no copies), into
    buffers allocated once."""

    def __init__(self, interpreter: Any, outputs: list[dict[str, Any]]) -> None:
        by_name = {o["name"]: o for o in outputs}
        self._views = [interpreter.tensor(int(by_name[n]["index"])) for n in HEAD_NAMES]
        self._quant = {n: _scale_zero(by_name[n]) for n in HEAD_NAMES}
        _, h, w, k = (int(d) for d in by_name["heatmaps"]["shape"])
        dtype = np.dtype(by_name["heatmaps"]["dtype"])
        self._work = (
            np.empty((k, h, w), np.float32),
            np.empty((k, h * w), np.float32),
            np.empty((k, h * w), dtype),
        )

    def decode(self) -> NDArray[np.float32]:
        """Keypoints [K, 3] (y, x, score) normalised to the model input, from the last invoke."""
        # views into the interpreter's buffers, released on return: it refuses to invoke while one is held
        center, heatmaps, regression, offsets = (view()[0] for view in self._views)
        return decode_heads(center, heatmaps, regression, offsets, self._quant, self._work)


def _scale_zero(detail: dict[str, Any]) -> tuple[float, float]:
    """(scale, zero point) of a quantized tensor; (1, 0) for a float one."""
    scale, zero = detail.get("quantization", (0.0, 0))
    return (float(scale), float(zero)) if scale else (1.0, 0.0)


def has_heads(outputs: list[dict[str, Any]]) -> bool:
    """Whether a model's outputs are the four heads (a cut model) rather than decoded keypoints."""
    return sorted(o["name"] for o in outputs) == sorted(HEAD_NAMES)
