"""The MoveNet single-pose model runner: one crop of a frame in, 17 keypoints out, no memory of the past.

One runner serves the single-person path (`movenet.MoveNetSinglePose`) and every tracked person of
the multi-person front-end (`multi_person.MultiPersonLightning`) alike: the interpreter, its input
buffers and the head decoder are allocated once, and per call the runner only crops and resizes into
the input tensor, invokes, decodes and maps the keypoints back to the frame (STYLE.md, "Composing
models": runner, per-person state and scheduler live in separate files)."""

from __future__ import annotations

import logging

import numpy as np
from numpy.typing import NDArray

from edge.errors import ModelError
from edge.pose.crop_resize import bgr_to_input, crop_resize_into
from edge.pose.manifest import ModelSpec, verify_model_file
from edge.pose.movenet_heads import HeadDecoder, has_heads
from edge.pose.output_guard import OutputStats, keypoints_valid
from edge.pose.runtime import Interpreter, load_interpreter
from edge.pose.smart_crop import CropRegion
from edge.types import Image, Keypoints

logger = logging.getLogger(__name__)


class LightningRunner:
    """MoveNet Lightning (or Thunder) on one square region of a frame. `stats` counts invokes and the
    outputs the guard rejected."""

    def __init__(self, spec: ModelSpec, threads: int = 2) -> None:
        verify_model_file(spec)
        self.spec = spec
        self.name = spec.name
        self.interpreter: Interpreter = load_interpreter(spec.path, threads)
        inputs = self.interpreter.get_input_details()
        outputs = self.interpreter.get_output_details()
        decoded = len(outputs) == 1 and tuple(outputs[0]["shape"][-2:]) == (17, 3)
        if len(inputs) != 1 or not (decoded or has_heads(outputs)):
            raise ModelError(f"{spec.path}: not a MoveNet single-pose model (tensors {inputs} → {outputs})")
        self._input_index = int(inputs[0]["index"])
        self._output_index = int(outputs[0]["index"])
        self.heads = None if decoded else HeadDecoder(self.interpreter, outputs)
        self.input_view = self.interpreter.tensor(self._input_index)  # written in place, no set_tensor copy
        self.size = int(inputs[0]["shape"][1])
        self.warped: Image = np.zeros((self.size, self.size, 3), dtype=np.uint8)
        self.stats = OutputStats()

    def infer(self, image: Image, region: CropRegion) -> Keypoints | None:
        """Run the model once on `region` of `image`: unfiltered full-frame keypoints (x, y, score), or
        None when the guard rejects the output (counted in `stats`)."""
        shown = crop_resize_into(image, region, self.warped)
        bgr_to_input(self.warped, self.input_view())  # the view is dropped before invoke
        self.interpreter.invoke()
        self.stats.invokes += 1
        raw: NDArray[np.float32] = (
            self.heads.decode() if self.heads else self.interpreter.get_tensor(self._output_index)[0, 0]
        )
        rows = raw.tolist()  # 17 points: plain floats from here, one array at the end
        if not keypoints_valid(rows):
            self.stats.invalid_outputs += 1
            self.stats.consecutive_invalid += 1
            logger.debug("%s: invalid output dropped (%d so far)", self.name, self.stats.invalid_outputs)
            return None
        self.stats.consecutive_invalid = 0
        # crop-normalised (y, x) → frame-normalised (x, y), as smart_crop.crop_to_frame does
        x0, y0, sx, sy = shown.x_min, shown.y_min, shown.width, shown.height
        return np.array([(x * sx + x0, y * sy + y0, s) for y, x, s in rows], dtype=np.float32)
