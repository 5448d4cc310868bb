"""`edge-pose models` and model choice by name: every manifest model loads through the registry and\nits pose messages validate against the pose message schema."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from edge.cli import main
from edge.errors import EX_DATAERR
from edge.pose.manifest import default_model_dir, load_manifest
from edge.pose.registry import DEFAULT_MODEL, create_estimator
from edge.publish.messages import pose_message
from edge.types import Frame

POSE_SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "edge" / "schemas" / "pose.json").read_text())


def test_table_lists_every_model_verified(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--check"]) == 0
    out = capsys.readouterr().out
    names = set(load_manifest(default_model_dir()))
    assert {"movenet_lightning", "movenet_thunder", "movenet_multipose", "blazepose_lite", "posenet"} <= names
    rows = [line for line in out.splitlines() if line.split() and line.split()[0] in names]
    assert len(rows) == len(names)
    assert all(row.rstrip().endswith("ok") for row in rows)
    assert f"{DEFAULT_MODEL} *" in out and "blazepose33" in out and "int8" in out and "MB" in out


def test_corrupt_file_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = default_model_dir()
    manifest = json.loads((src / "manifest.json").read_text())
    manifest["models"] = [m for m in manifest["models"] if m["name"] in ("movenet_lightning", "posenet")]
    for m in manifest["models"]:
        shutil.copy(src / m["file"], tmp_path / m["file"])
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with (tmp_path / manifest["models"][1]["file"]).open("r+b") as fh:
        fh.seek(1000)
        fh.write(b"\xff\xfe")
    assert main(["models", "--model-dir", str(tmp_path), "--json"]) == 0
    rows = {r["model"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rows["movenet_lightning"]["checksum"] == "ok"
    assert rows["posenet"]["checksum"] == "MISMATCH"
    assert rows["posenet"]["licence"].startswith("Apache-2.0")
    assert main(["models", "--model-dir", str(tmp_path), "--check"]) == EX_DATAERR
    assert "checksum fails for posenet" in capsys.readouterr().err


def test_every_model_is_chosen_by_name_and_runs(data_dir: Path) -> None:
    import cv2

    image = cv2.imread(str(data_dir / "person_ambianic_edge" / "person-couch.jpg"))
    frame = Frame(image=image, timestamp_ns=0, source="person-couch.jpg", index=0)
    for spec in load_manifest(default_model_dir()).values():
        if spec.family == "blazepose_detector":
            continue  # a stage of blazepose_*, not a pose model of its own
        estimator = create_estimator(spec.name, fallback=None)
        assert estimator.name == spec.name
        poses = estimator.estimate(frame)
        assert len(poses) >= 1, spec.name
        assert poses[0].layout == spec.layout
        assert estimator.stats.invalid_outputs == 0
        payload = pose_message(frame, poses, estimator.name, "test", "edge-pose").payload
        jsonschema.validate(json.loads(json.dumps(payload, allow_nan=False)), POSE_SCHEMA)
