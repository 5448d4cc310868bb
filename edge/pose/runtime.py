"""The one place that imports a TFLite runtime: ai-edge-litert by default, tflite-runtime as well.

Set EDGE_POSE_RUNTIME=litert or =tflite to force one (both must give the same results; the tests
and `make models` check that every shipped model loads in both)."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from edge.errors import ModelError

RUNTIME_MODULES = {
    "litert": "ai_edge_litert.interpreter",
    "tflite": "tflite_runtime.interpreter",
}


class Interpreter(Protocol):
    """The part of the TFLite Interpreter API edge-pose uses (identical in both runtimes)."""

    def allocate_tensors(self) -> None: ...
    def get_input_details(self) -> list[dict[str, Any]]: ...
    def get_output_details(self) -> list[dict[str, Any]]: ...
    def set_tensor(self, tensor_index: int, value: NDArray[Any]) -> None: ...
    def get_tensor(self, tensor_index: int) -> NDArray[Any]: ...
    def tensor(self, tensor_index: int) -> Callable[[], NDArray[Any]]: ...
    def invoke(self) -> None: ...


def runtime_name() -> str:
    """The runtime in use: EDGE_POSE_RUNTIME if set, else the first of litert, tflite that imports."""
    wanted = os.environ.get("EDGE_POSE_RUNTIME", "").strip().lower()
    if wanted:
        if wanted not in RUNTIME_MODULES:
            raise ModelError(f"EDGE_POSE_RUNTIME={wanted!r}: expected one of {', '.join(RUNTIME_MODULES)}")
        return wanted
    for name, module in RUNTIME_MODULES.items():
        try:
            importlib.import_module(module)
        except ImportError:
            continue
        return name
    raise ModelError("no TFLite runtime: install ai-edge-litert (default) or tflite-runtime")


def load_interpreter(path: Path, threads: int) -> Interpreter:
    """Load a .tflite file with `threads` CPU threads and allocate its tensors once."""
    name = runtime_name()
    try:
        module: Any = importlib.import_module(RUNTIME_MODULES[name])
    except ImportError as exc:
        raise ModelError(f"TFLite runtime {name!r} is not installed ({exc})") from None
    try:
        interpreter: Interpreter = module.Interpreter(model_path=str(path), num_threads=threads)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path}: cannot load model with {name}: {first_line}") from None
    return interpreter


def zeros_like_input(detail: dict[str, Any]) -> NDArray[Any]:
    """A preallocated array matching an input tensor's shape and dtype (filled once per frame)."""
    return np.zeros(tuple(int(d) for d in detail["shape"]), dtype=detail["dtype"])
