"""The training command end to end on a tiny fold (8 clips of URFD and Le2i): extraction into a cache,
feature recording through the real rules engine, nested threshold selection, a held-out evaluation of
every candidate (gbt and rules, as `make fall-model`), and (into a copy of models/) the shipped model
with its manifest entry and provenance. It runs in the training venv (.venv-train: edge-pose + scikit-learn), as `make fall-model` does."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edge.rules.fall_model import find_fall_model


@pytest.mark.slow
def test_train_tiny_fold_end_to_end(repo_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    python = repo_dir / ".venv-train" / "bin" / "python"
    if not python.is_file():
        pytest.fail(f"{python} missing: `make train-venv` (make unit builds it)")
    out = tmp_path / "models"
    out.mkdir()
    shutil.copy(repo_dir / "models" / "manifest.json", out / "manifest.json")
    report = tmp_path / "report.md"
    proc = subprocess.run(
        [str(python), str(repo_dir / "models" / "fall" / "train.py"), "--tiny", "--data", str(data_dir),
         "--cache", str(tmp_path / "cache"), "--out", str(out), "--report", str(report)],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = report.read_text()
    assert text == proc.stdout.rstrip("\n") + "\n" or text.strip() in proc.stdout
    for candidate in ("gbt", "rules"):  # make fall-model's candidates
        assert f"### {candidate}: held-out folds" in text
    row = next(line for line in text.splitlines() if line.startswith("| test Le2i (tiny) |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:3] == ["2", "2"]  # two falls, two daily activities held out
    manifest = json.loads((out / "manifest.json").read_text())
    (entry,) = manifest["fall_models"]
    model = find_fall_model(entry["name"], out)  # the written file verifies against its manifest entry
    assert model.kind == "gbt" and 0.5 <= model.threshold < 1.0
    assert "non-commercial" in (out / entry["provenance"]).read_text()
    assert sys.version_info >= (3, 11)
