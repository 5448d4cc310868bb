"""MoveNet decoded in numpy from the model's heads (edge/pose/movenet_heads.py, models/cut_decoder.py):
the numpy decoder reproduces the float model's own in-graph decoder, the fast per-frame decoder equals
the plain one on the shipped INT8 heads. (The output guard runs on the decoded keypoints as before;
tests/test_movenet.py poisons a float model's output.)"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import cv2
import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from edge.pose.manifest import default_model_dir
from edge.pose.movenet import MoveNetSinglePose
from edge.pose.movenet_heads import HEAD_NAMES, HeadDecoder, decode_heads, has_heads
from edge.pose.registry import load_estimator

MODELS = default_model_dir()


def _cut_decoder() -> ModuleType:
    """models/cut_decoder.py (a build script next to the models, importing models/catalogue.py)."""
    sys.path.insert(0, str(MODELS))
    spec = importlib.util.spec_from_file_location("cut_decoder", MODELS / "cut_decoder.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _images(data_dir: Path, size: int) -> list[np.ndarray]:
    """Real photos letterboxed to the model input, RGB."""
    paths = [data_dir / "opencv_samples/messi5.jpg", data_dir / "person_ambianic_edge/person-couch.jpg"]
    paths += sorted((data_dir / "fall_detection_dataset_subset/fall").glob("*.png"))[:10]
    paths += sorted((data_dir / "crowdpose").glob("*.jpg")) + sorted((data_dir / "mpii").glob("*.jpg"))
    out = []
    for path in paths:
        image = cv2.imread(str(path))
        assert image is not None, path
        h, w = image.shape[:2]
        side = max(h, w)
        padded = cv2.copyMakeBorder(image, 0, side - h, 0, side - w, cv2.BORDER_CONSTANT)
        out.append(
            cv2.cvtColor(cv2.resize(padded, (size, size), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
        )
    assert len(out) >= 15
    return out


def _interpreter(model: bytes | Path) -> Any:
    it = Interpreter(model_content=model) if isinstance(model, bytes) else Interpreter(model_path=str(model))
    it.allocate_tensors()
    return it


def _run(it: Any, image: np.ndarray) -> list[np.ndarray]:
    it.set_tensor(it.get_input_details()[0]["index"], image[None])
    it.invoke()
    outs = []
    for detail in it.get_output_details():
        values = it.get_tensor(detail["index"])
        scale, zero = detail["quantization"]
        outs.append((values.astype(np.float32) - zero) * scale if scale else values)
    return outs


@pytest.mark.parametrize("name", ["movenet_lightning_fp16", "movenet_thunder_fp16"])
def test_numpy_decoder_reproduces_the_models_own_decoder(data_dir: Path, name: str) -> None:
    """Cut the float reference (which keeps its in-graph decoder) and decode its heads in numpy: the
    keypoints match the graph's own output (0.05 px measured) on real photos."""
    path = MODELS / f"{name.removesuffix('_fp16')}_fp16.tflite"
    full = _interpreter(path)
    cut = _interpreter(_cut_decoder().cut(path.read_bytes()))
    assert [d["name"] for d in cut.get_output_details()] == list(HEAD_NAMES)
    size = int(full.get_input_details()[0]["shape"][1])
    worst_px, worst_score = 0.0, 0.0
    for image in _images(data_dir, size):
        reference = _run(full, image)[0][0, 0]
        ours = decode_heads(*(o[0] for o in _run(cut, image)))
        worst_px = max(worst_px, float(np.abs(ours[:, :2] - reference[:, :2]).max()) * size)
        worst_score = max(worst_score, float(np.abs(ours[:, 2] - reference[:, 2]).max()))
    assert worst_px < 0.25, worst_px
    assert worst_score < 1e-3, worst_score


@pytest.mark.parametrize("name", ["movenet_lightning", "movenet_thunder"])
def test_shipped_int8_files_end_at_their_heads_and_decode_alike(data_dir: Path, name: str) -> None:
    """The per-frame decoder (integer views, no copies) gives what the plain decoder gives on the
    dequantized heads, and the cut is idempotent (the build can run it twice)."""
    est = load_estimator(name, threads=1)
    assert isinstance(est, MoveNetSinglePose)
    path = est.spec.path
    assert _cut_decoder().is_cut(path.read_bytes())
    it = _interpreter(path)
    assert has_heads(it.get_output_details())
    fast = HeadDecoder(it, it.get_output_details())
    size = int(it.get_input_details()[0]["shape"][1])
    for image in _images(data_dir, size):
        plain = decode_heads(*(o[0] for o in _run(it, image)))
        np.testing.assert_allclose(fast.decode(), plain, atol=1e-5)
