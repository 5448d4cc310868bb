"""The shipped fall model file: listed in the manifest with its sha256, verified before use (a corrupt
file is refused naming the file and both checksums, `edge-pose models --check` fails on it), evaluated
with numpy alone, and carrying its provenance and licence."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edge.cli import main
from edge.errors import ModelError
from edge.rules.config import FallConfig
from edge.rules.fall_features import FEATURE_NAMES
from edge.rules.fall_model import fall_model_entries, find_fall_model, parse_fall_model


def test_shipped_model_is_listed_verified_and_documented(repo_dir: Path) -> None:
    models = repo_dir / "models"
    (entry,) = [e for e in fall_model_entries(models) if e["name"] == FallConfig().model]
    model = find_fall_model(entry["name"], models)
    assert model.threshold == pytest.approx(entry["threshold"]) and 0.0 < model.threshold < 1.0
    provenance = (models / entry["provenance"]).read_text()
    assert "non-commercial" in provenance and "make fall-model" in provenance
    assert "non-commercial" in entry["licence"].lower()
    info = model.info
    assert (
        info["versions"]["scikit-learn"] and info["seed"] and info["features"]["names"] == list(FEATURE_NAMES)
    )
    p = model.probability(np.zeros(len(FEATURE_NAMES)))
    assert 0.0 <= p <= 1.0


def test_corrupt_fall_model_is_refused(
    repo_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = tmp_path / "models"
    shutil.copytree(
        repo_dir / "models", models, ignore=shutil.ignore_patterns("*.tflite", "fall", "*.py", "*.sh")
    )
    for tflite in (repo_dir / "models").glob("*.tflite"):
        (models / tflite.name).symlink_to(tflite)
    name = FallConfig().model
    assert main(["models", "--model-dir", str(models), "--check"]) == 0
    capsys.readouterr()
    (entry,) = [e for e in fall_model_entries(models) if e["name"] == name]
    path = models / entry["file"]
    path.write_text(path.read_text().replace('"threshold":', '"threshold": ', 1))
    with pytest.raises(
        ModelError, match=f"{path}: sha256 .* does not match the manifest's {entry['sha256']}"
    ):
        find_fall_model(name, models)
    assert main(["models", "--model-dir", str(models), "--check"]) == 65
    out = capsys.readouterr()
    assert name in out.out and "MISMATCH" in out.out and name in out.err


def test_model_trained_on_other_features_is_refused() -> None:
    doc = {"format": "edge-pose-fall-model", "version": 1, "kind": "logistic", "threshold": 0.5,
           "features": ["hip_drop_tl"], "logistic": {"mean": [0], "scale": [1], "coef": [1], "intercept": 0}}  # fmt: skip
    with pytest.raises(ModelError, match="other features"):
        parse_fall_model(doc, "x.json")
    doc["features"] = list(FEATURE_NAMES)
    doc["kind"] = "svm"
    with pytest.raises(ModelError, match="unknown fall model kind"):
        parse_fall_model(doc, "x.json")


def test_tree_evaluation_by_hand() -> None:
    """Two stumps on hip_drop_tl: the numpy traversal picks the leaf a reader would."""
    n = len(FEATURE_NAMES)
    doc = {
        "format": "edge-pose-fall-model", "version": 1, "kind": "gbt", "threshold": 0.5,
        "features": list(FEATURE_NAMES),
        "trees": {"depth": 1, "init": 0.0, "feature": [[0, -1, -1], [2, -1, -1]], "threshold": [[0.5, 0, 0], [1.0, 0, 0]],
                  "left": [[1, 0, 0], [1, 0, 0]], "right": [[2, 0, 0], [2, 0, 0]],
                  "value": [[0, -1.0, 1.0], [0, -0.5, 2.0]]},
    }  # fmt: skip
    model = parse_fall_model(doc, "stumps")
    x = np.zeros(n)
    assert model.margin(x) == pytest.approx(-1.5)
    x[0], x[2] = 0.8, 3.0
    assert model.margin(x) == pytest.approx(3.0)
    assert json.dumps(doc)  # the format is plain JSON
