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

import numpy as np
from numpy.typing import NDArray

HEAD_NAMES = ("center", "heatmaps", "regression", "offsets")  # output tensor names of a cut model
DISTANCE_BIAS = 1.8  # cells; the constant the TF Hub graph adds to the distance before dividing


def decode_heads(
    center: NDArray[Any], heatmaps: NDArray[Any], regression: NDArray[Any], offsets: NDArray[Any]
) -> NDArray[np.float32]:
    """Keypoints [K, 3] as (y, x, score), y and x normalised to the model input, from float heads
    center [H, W, 1], heatmaps [H, W, K], regression and offsets [H, W, 2K] (one image, no batch)."""
    h, w, k = heatmaps.shape
    cy, cx = divmod(int(np.argmax(center)), w)
    rough = regression[cy, cx].reshape(k, 2).astype(np.float32)
    dy = np.arange(h, dtype=np.float32)[:, None, None] - (cy + rough[:, 0])
    dx = np.arange(w, dtype=np.float32)[None, :, None] - (cx + rough[:, 1])
    weighted = heatmaps / (np.sqrt(dy * dy + dx * dx) + DISTANCE_BIAS)
    ys, xs = np.divmod(weighted.reshape(-1, k).argmax(0), w)
    joints = np.arange(k)
    fine = offsets[ys, xs].reshape(k, k, 2)[joints, joints]
    out = np.empty((k, 3), dtype=np.float32)
    out[:, 0] = (ys + fine[:, 0]) / h
    out[:, 1] = (xs + fine[:, 1]) / w
    out[:, 2] = heatmaps[ys, xs, joints]
    return out


class HeadDecoder:
    """Decodes one interpreter's head outputs after each invoke, without copying the heads or
    allocating heatmap-sized arrays per frame. The heatmaps are read as integers and weighted one
    keypoint per row (contiguous argmax); argmax does not care about their positive scale."""

    def __init__(self, interpreter: Any, outputs: list[dict[str, Any]]) -> None:
        by_name = {o["name"]: o for o in outputs}
        self._views = {n: interpreter.tensor(int(by_name[n]["index"])) for n in HEAD_NAMES}
        self._quant = {n: _scale_zero(by_name[n]) for n in HEAD_NAMES}
        _, h, w, k = (int(d) for d in by_name["heatmaps"]["shape"])
        self._rows = np.arange(h, dtype=np.float32)
        self._cols = np.arange(w, dtype=np.float32)
        self._distance = np.empty((k, h, w), dtype=np.float32)
        self._weighted = np.empty((k, h * w), dtype=np.float32)
        self._joints = np.arange(k)
        self._h, self._w, self._k = h, w, k

    def _float(self, name: str, values: NDArray[Any]) -> NDArray[np.float32]:
        scale, zero = self._quant[name]
        return ((values.astype(np.float32) - zero) * scale).astype(np.float32, copy=False)

    def decode(self) -> NDArray[np.float32]:
        """Keypoints [K, 3] (y, x, score) normalised to the model input, from the last invoke."""
        h, w, k = self._h, self._w, self._k
        cy, cx = divmod(int(np.argmax(self._views["center"]()[0])), w)
        rough = self._float("regression", self._views["regression"]()[0, cy, cx]).reshape(k, 2)
        dy = self._rows - (cy + rough[:, 0:1])  # [K, H]
        dx = self._cols - (cx + rough[:, 1:2])  # [K, W]
        distance = np.add((dy * dy)[:, :, None], (dx * dx)[:, None, :], out=self._distance)
        np.sqrt(distance, out=distance)
        distance += DISTANCE_BIAS
        heat_raw = self._views["heatmaps"]()[0]
        scale, zero = self._quant["heatmaps"]
        weighted = np.subtract(
            heat_raw.reshape(h * w, k).T, np.float32(zero), out=self._weighted, dtype=np.float32
        )
        weighted /= distance.reshape(k, h * w)
        ys, xs = np.divmod(weighted.argmax(1), w)
        joints = self._joints
        fine = self._float("offsets", self._views["offsets"]()[0][ys, xs].reshape(k, k, 2)[joints, joints])
        out = np.empty((k, 3), dtype=np.float32)
        out[:, 0] = (ys + fine[:, 0]) / h
        out[:, 1] = (xs + fine[:, 1]) / w
        out[:, 2] = (heat_raw[ys, xs, joints].astype(np.float32) - zero) * scale
        return out


def _scale_zero(detail: dict[str, Any]) -> tuple[float, float]:
    """(scale, zero point) of a quantized tensor; (1, 0) for a float one."""
    scale, zero = detail.get("quantization", (0.0, 0))
    return (float(scale), float(zero)) if scale else (1.0, 0.0)


def has_heads(outputs: list[dict[str, Any]]) -> bool:
    """Whether a model's outputs are the four heads (a cut model) rather than decoded keypoints."""
    return sorted(o["name"] for o in outputs) == sorted(HEAD_NAMES)
