"""The one place the build imports a TFLite runtime: ai-edge-litert, else tflite-runtime.

`EDGE_POSE_RUNTIME=tflite-runtime` (or `ai-edge-litert`) forces one of them.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np


def _interpreter_class() -> tuple[str, Any]:
    wanted = os.environ.get("EDGE_POSE_RUNTIME", "")
    if wanted in ("", "ai-edge-litert"):
        try:
            from ai_edge_litert.interpreter import Interpreter

            return "ai-edge-litert", Interpreter
        except ImportError:
            if wanted:
                raise
    from tflite_runtime.interpreter import Interpreter

    return "tflite-runtime", Interpreter


RUNTIME_NAME, _Interpreter = _interpreter_class()


def runtime_version() -> str:
    """'<runtime> <version>' of the imported runtime."""
    from importlib.metadata import version

    return f"{RUNTIME_NAME} {version(RUNTIME_NAME)}"


class Model:
    """An allocated interpreter with set-input / invoke / read-outputs."""

    def __init__(self, path: str, threads: int = 1) -> None:
        self.interpreter = _Interpreter(model_path=path, num_threads=threads)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.outputs = self.interpreter.get_output_details()

    def run(self, image: np.ndarray) -> list[np.ndarray]:
        """One invoke on `image` (already the input's shape without the batch axis); quantized
        outputs (the cut MoveNet heads) come back dequantized to float32."""
        x = image[None].astype(self.input["dtype"], copy=False)
        self.interpreter.set_tensor(self.input["index"], x)
        self.interpreter.invoke()
        return [self._float(o, self.interpreter.get_tensor(o["index"])) for o in self.outputs]

    @staticmethod
    def _float(detail: dict, values: np.ndarray) -> np.ndarray:
        scale, zero = detail.get("quantization", (0.0, 0))
        if values.dtype.kind == "f" or not scale:
            return values.copy()
        return (values.astype(np.float32) - zero) * np.float32(scale)

    def invoke(self) -> None:
        self.interpreter.invoke()
