"""Fixtures for the pose-model tests: a tiny TFLite model that emits invalid output on demand,
written with the TFLite flatbuffer schema bindings that ship with ai-edge-litert."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import flatbuffers
import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as tfl

from edge.pose.manifest import default_model_dir, file_sha256

GARBAGE_SIZE = 192
GARBAGE_SCALE = 2.0 / 255.0  # pixel 0 → NaN (0/0), 1..127 → valid (< 1), 192..255 → out of range


def _tensor(name: str, shape: list[int], ttype: int, buffer: int) -> tfl.TensorT:
    t = tfl.TensorT()
    t.name, t.shape, t.type, t.buffer = name.encode(), shape, ttype, buffer
    return t


def _buffer(data: bytes | None = None) -> tfl.BufferT:
    b = tfl.BufferT()
    if data is not None:
        b.data = list(data)
    return b


def _op(opcode: int, inputs: list[int], outputs: list[int]) -> tfl.OperatorT:
    op = tfl.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = opcode, inputs, outputs
    return op


def write_garbage_model(path: Path) -> None:
    """A MoveNet-shaped model, uint8 [1,192,192,3] → float32 [1,1,17,3], whose output is the first 17
    pixels of the image's first row times 2/255, computed as (x·s·x)/x so that black pixels give NaN
    and bright ones values above 1 (out of range). The test steers it with the image it feeds."""
    codes = []
    for builtin in (tfl.BuiltinOperator.SLICE, tfl.BuiltinOperator.CAST, tfl.BuiltinOperator.MUL,
                    tfl.BuiltinOperator.DIV):  # fmt: skip
        c = tfl.OperatorCodeT()
        c.builtinCode, c.deprecatedBuiltinCode, c.version = builtin, builtin, 1
        codes.append(c)
    slice_, cast, mul, div = range(4)
    u8, f32, i32 = tfl.TensorType.UINT8, tfl.TensorType.FLOAT32, tfl.TensorType.INT32
    out_shape = [1, 1, 17, 3]
    tensors = [
        _tensor("image", [1, GARBAGE_SIZE, GARBAGE_SIZE, 3], u8, 0),  # 0
        _tensor("begin", [4], i32, 1),  # 1
        _tensor("size", [4], i32, 2),  # 2
        _tensor("row", out_shape, u8, 0),  # 3
        _tensor("x", out_shape, f32, 0),  # 4
        _tensor("scale", [], f32, 3),  # 5
        _tensor("xs", out_shape, f32, 0),  # 6
        _tensor("xsx", out_shape, f32, 0),  # 7
        _tensor("keypoints", out_shape, f32, 0),  # 8
    ]
    graph = tfl.SubGraphT()
    graph.tensors, graph.inputs, graph.outputs, graph.name = tensors, [0], [8], b"main"
    graph.operators = [
        _op(slice_, [0, 1, 2], [3]),
        _op(cast, [3], [4]),
        _op(mul, [4, 5], [6]),
        _op(mul, [6, 4], [7]),
        _op(div, [7, 4], [8]),
    ]
    model = tfl.ModelT()
    model.version, model.description = 3, b"edge-pose test: garbage-emitting MoveNet stand-in"
    model.operatorCodes, model.subgraphs = codes, [graph]
    model.buffers = [
        _buffer(),
        _buffer(np.array([0, 0, 0, 0], "<i4").tobytes()),
        _buffer(np.array(out_shape, "<i4").tobytes()),
        _buffer(np.array(GARBAGE_SCALE, "<f4").tobytes()),
    ]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(builder.Output())


@pytest.fixture
def garbage_model_dir(tmp_path: Path) -> Path:
    """A model directory whose manifest holds `garbage` (the model above), `broken` (a file whose
    checksum does not match) and the real `movenet_lightning` (by absolute path, not copied)."""
    real = json.loads((default_model_dir() / "manifest.json").read_text())
    lightning = next(m for m in real["models"] if m["name"] == "movenet_lightning")
    lightning = {**lightning, "file": str((default_model_dir() / lightning["file"]).resolve())}
    garbage = tmp_path / "garbage.tflite"
    write_garbage_model(garbage)
    shutil.copy(garbage, tmp_path / "broken.tflite")
    entry = {
        "family": "movenet_singlepose",
        "quantization": "float32",
        "input": {"shape": [1, GARBAGE_SIZE, GARBAGE_SIZE, 3], "dtype": "uint8"},
        "layout": "coco17",
        "licence": "test",
    }
    models = [
        {**entry, "name": "garbage", "file": "garbage.tflite", "sha256": file_sha256(garbage)},
        {**entry, "name": "broken", "file": "broken.tflite", "sha256": "0" * 64},
        lightning,
    ]
    (tmp_path / "manifest.json").write_text(json.dumps({"schema": 1, "models": models}))
    return tmp_path
