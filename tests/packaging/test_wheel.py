"""The wheel works on its own: `python -m build` gives an sdist and a wheel that carry every file of
models/manifest.json, and the wheel installed into a fresh venv far from any checkout finds its models,
replays an image and passes `edge-pose models --check`. The `[tflite]` extra resolves without pip
backtracking to an OpenCV that accepts numpy<2."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MANIFEST = json.loads((REPO / "models" / "manifest.json").read_text())
PACKAGED = "edge/model_files"  # where setup.py puts the models inside the wheel
BACKTRACKING = "pip is looking at multiple versions"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything that could point the installed package back at this checkout."""
    drop = ("PYTHONPATH", "EDGE_POSE_MODEL_DIR", "EDGE_POSE_RUNTIME", "VIRTUAL_ENV", "PYTHONHOME")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(extra)
    return env


def run_in(home: Path, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `tool` of the venv in `home`, from `home` (no checkout beside it), with clean_env()."""
    return subprocess.run(
        [str(home / "venv/bin" / tool), *args],
        cwd=home,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@pytest.fixture(scope="module")
def dist() -> Iterator[tuple[Path, Path]]:
    """(sdist, wheel) from `python -m build` (the wheel is built from the unpacked sdist)."""
    out = Path(tempfile.mkdtemp(prefix="edge-pose-dist-"))
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(REPO)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (sdist,) = out.glob("edge_pose-*.tar.gz")
    (wheel,) = out.glob("edge_pose-*.whl")
    yield sdist, wheel
    shutil.rmtree(out, ignore_errors=True)


@pytest.fixture(scope="module")
def fresh_venv(dist: tuple[Path, Path]) -> Iterator[Path]:
    """A new venv in a directory of its own with only the wheel installed (`pip install edge_pose-*.whl`)."""
    home = Path(tempfile.mkdtemp(prefix="edge-pose-wheel-venv-"))
    venv.create(home / "venv", with_pip=True)
    proc = run_in(home, "pip", "install", "--no-input", str(dist[1]))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    yield home
    shutil.rmtree(home, ignore_errors=True)


def manifest_entries() -> list[dict[str, str]]:
    """The pose models and the fall models (`fall_models`): the wheel carries both."""
    return [*MANIFEST["models"], *MANIFEST.get("fall_models", [])]


def manifest_files() -> list[str]:
    return ["manifest.json", "LICENSES.md", *(entry["file"] for entry in manifest_entries())]


def test_sdist_carries_models_and_build_step(dist: tuple[Path, Path]) -> None:
    sdist, _ = dist
    with tarfile.open(sdist) as tf:
        top = sdist.name.removesuffix(".tar.gz")
        names = {m.name.removeprefix(f"{top}/") for m in tf.getmembers()}
    for name in manifest_files():
        assert f"models/{name}" in names, name
    assert {"setup.py", "MANIFEST.in", "pyproject.toml", "models/build.sh"} <= names
    assert not any("__pycache__" in n for n in names)


def test_wheel_carries_every_manifest_file_with_its_checksum(dist: tuple[Path, Path]) -> None:
    _, wheel = dist
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        for name in manifest_files():
            assert f"{PACKAGED}/{name}" in names, name
        for entry in manifest_entries():
            digest = hashlib.sha256(zf.read(f"{PACKAGED}/{entry['file']}")).hexdigest()
            assert digest == entry["sha256"], entry["file"]
        # The carried manifest is the checkout's, byte for byte; the rebuild scripts stay in the sdist.
        assert zf.read(f"{PACKAGED}/manifest.json") == (REPO / "models/manifest.json").read_bytes()
        assert not [n for n in names if n.startswith(PACKAGED) and n.endswith((".py", ".sh"))]
        # the live view's page (package data; the wheel is built from the sdist, so both carry it)
        assert {f"edge/preview/static/{f}" for f in ("index.html", "app.js", "style.css")} <= names


def test_installed_wheel_replays_an_image_on_its_own(fresh_venv: Path, data_dir: Path) -> None:
    where = run_in(fresh_venv, "python", "-c", "import edge; print(edge.__file__)").stdout.strip()
    assert where.startswith(str(fresh_venv / "venv")), where  # the installed copy, not this checkout
    out = fresh_venv / "messi.jsonl"
    proc = run_in(
        fresh_venv, "edge-pose", "replay", str(data_dir / "opencv_samples/messi5.jpg"), "--out", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    (message,) = [json.loads(line) for line in out.read_text().splitlines()]
    poses = message["payload"]["poses"]
    assert len(poses) == 1 and len(poses[0]["keypoints"]) == 17
    assert sum(score > 0.3 for _, _, score in poses[0]["keypoints"]) >= 10


def test_installed_wheel_models_check_passes(fresh_venv: Path) -> None:
    proc = run_in(fresh_venv, "edge-pose", "models", "--check", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert str(fresh_venv / "venv") in proc.stdout  # the models inside the installed package
    for entry in manifest_entries():
        assert entry["name"] in proc.stdout


def test_tflite_extra_resolves_without_backtracking(fresh_venv: Path, dist: tuple[Path, Path]) -> None:
    report = fresh_venv / "tflite-report.json"
    proc = run_in(
        fresh_venv, "pip", "install", "--dry-run", "--ignore-installed", "--no-input", "--report", str(report),
        f"{dist[1]}[tflite]",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert BACKTRACKING not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    chosen = {
        item["metadata"]["name"].lower(): item["metadata"]["version"]
        for item in json.loads(report.read_text())["install"]
    }
    assert chosen["tflite-runtime"] == "2.14.0"
    assert int(chosen["numpy"].split(".")[0]) < 2, chosen["numpy"]
    assert "opencv-python-headless" in chosen
