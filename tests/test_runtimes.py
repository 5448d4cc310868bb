"""Both TFLite runtimes run the shipped model through the one shim: ai-edge-litert (default, this venv)
and tflite-runtime 2.14 (the design card's package, in .venv-tflite with numpy<2, made by `make test`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TFLITE_VENV = REPO / ".venv-tflite"


def replay(python: Path, runtime: str, images: list[Path], out: Path) -> list[dict]:
    env = {**os.environ, "EDGE_POSE_RUNTIME": runtime}
    r = subprocess.run(
        # single-pose Lightning open loop: the same model file and inputs through both runtimes
        [str(python), "-m", "edge", "replay", *map(str, images), "--out", str(out), "--model", "movenet_lightning",
         "--no-smart-crop"],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=600,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return [json.loads(line)["payload"] for line in out.read_text().splitlines()]


def test_tflite_runtime_and_litert_agree(data_dir: Path, tmp_path: Path) -> None:
    python = TFLITE_VENV / "bin/python"
    assert python.exists(), "make test creates .venv-tflite (tflite-runtime==2.14.0, numpy<2)"
    version = subprocess.run(
        [str(python), "-c", "import tflite_runtime, numpy; print(tflite_runtime.__version__, numpy.__version__)"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert version[0] == "2.14.0" and version[1].startswith("1.")
    images = [data_dir / "opencv_samples/messi5.jpg", data_dir / "person_ambianic_edge/person-couch.jpg"]
    images += sorted((data_dir / "fall_detection_dataset_subset/not-fall").glob("rgb_*.png"))[:6]
    a = replay(Path(sys.executable), "litert", images, tmp_path / "litert.jsonl")
    b = replay(python, "tflite", images, tmp_path / "tflite.jsonl")
    distances: list[float] = []
    for pa, pb in zip(a, b, strict=True):
        assert pa["source"] == pb["source"]
        assert bool(pa["poses"]) == bool(pb["poses"])
        if not pa["poses"]:
            continue
        ka = np.array(pa["poses"][0]["keypoints"])
        kb = np.array(pb["poses"][0]["keypoints"])
        scale = 192 / max(pa["width"], pa["height"])  # frame pixels → model input pixels (padded square)
        both = (ka[:, 2] > 0.3) & (kb[:, 2] > 0.3)
        px = (ka[:, :2] - kb[:, :2]) * [pa["width"], pa["height"]] * scale
        distances += np.linalg.norm(px, axis=1)[both].tolist()
    median = float(np.median(distances))
    print(
        f"\ntflite-runtime vs ai-edge-litert: median {median:.2f} px at the 192 input over {len(distances)} keypoints"
    )
    assert len(distances) > 50 and median <= 3.0
