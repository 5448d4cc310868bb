"""The learned fall model, evaluated with numpy alone (no training library on the device).

A model file (JSON, listed with its sha256 in `models/manifest.json` under `fall_models`) holds the
feature names it expects (checked against `fall_features.FEATURE_NAMES`), the decision threshold chosen
on the training folds, and one of two model kinds written by `models/fall/train.py`:

- `gbt`: gradient-boosted decision trees (scikit-learn's GradientBoostingClassifier): per tree the node
  arrays `feature` (-1 at a leaf), `threshold`, `left`, `right` and `value` (leaf values already
  multiplied by the learning rate); probability = sigmoid(init + Σ leaf values).
- `logistic`: standardised features (`mean`, `scale`) and `coef`, `intercept`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edge.errors import ModelError
from edge.pose.manifest import file_sha256
from edge.rules.fall_features import FEATURE_NAMES

FORMAT = "edge-pose-fall-model"
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class FallModel:
    """A loaded fall model: `probability(features)` in 0..1, and the threshold tuned with it."""

    name: str
    kind: str
    threshold: float
    trees: (
        tuple[
            NDArray[np.int32], NDArray[np.float64], NDArray[np.int32], NDArray[np.int32], NDArray[np.float64]
        ]
        | None
    )
    depth: int
    init: float
    mean: NDArray[np.float64] | None
    scale: NDArray[np.float64] | None
    coef: NDArray[np.float64] | None
    intercept: float
    info: dict[str, Any]

    def margin(self, x: NDArray[np.float64]) -> float:
        """The raw score (log-odds) of one feature vector."""
        if self.trees is not None:
            feature, threshold, left, right, value = self.trees
            rows = np.arange(feature.shape[0])
            node = np.zeros(feature.shape[0], dtype=np.int32)
            for _ in range(self.depth):
                f = feature[rows, node]
                leaf = f < 0
                go_left = x[np.where(leaf, 0, f)] <= threshold[rows, node]
                node = np.where(leaf, node, np.where(go_left, left[rows, node], right[rows, node]))
            return self.init + float(value[rows, node].sum())
        assert self.mean is not None and self.scale is not None and self.coef is not None
        return self.intercept + float(((x - self.mean) / self.scale) @ self.coef)

    def probability(self, x: NDArray[np.float64]) -> float:
        """The probability that the window ends at a fall's impact."""
        m = self.margin(x)
        return 1.0 / (1.0 + math.exp(-m)) if m > -700 else 0.0


def _pad(rows: list[list[float]], fill: float, dtype: type) -> NDArray[Any]:
    width = max(len(r) for r in rows)
    out: NDArray[Any] = np.full((len(rows), width), fill, dtype=dtype)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def parse_fall_model(doc: dict[str, Any], name: str) -> FallModel:
    """A model from its JSON document; ModelError naming `name` when it does not fit this code."""
    if doc.get("format") != FORMAT or doc.get("version") != FORMAT_VERSION:
        raise ModelError(f"{name}: not an {FORMAT} v{FORMAT_VERSION} file")
    if tuple(doc.get("features", ())) != FEATURE_NAMES:
        raise ModelError(f"{name}: trained on other features than this version computes (retrain it)")
    kind = doc.get("kind")
    try:
        if kind == "gbt":
            t = doc["trees"]
            trees = (
                _pad(t["feature"], -1, np.int32),
                _pad(t["threshold"], 0.0, np.float64),
                _pad(t["left"], 0, np.int32),
                _pad(t["right"], 0, np.int32),
                _pad(t["value"], 0.0, np.float64),
            )
            return FallModel(
                name,
                kind,
                float(doc["threshold"]),
                trees,
                int(t["depth"]),
                float(t["init"]),
                None,
                None,
                None,
                0.0,
                doc.get("info", {}),
            )
        if kind == "logistic":
            lg = doc["logistic"]
            return FallModel(
                name,
                kind,
                float(doc["threshold"]),
                None,
                0,
                0.0,
                np.asarray(lg["mean"], np.float64),
                np.asarray(lg["scale"], np.float64),
                np.asarray(lg["coef"], np.float64),
                float(lg["intercept"]),
                doc.get("info", {}),
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{name}: malformed {kind} model: {exc!r}") from None
    raise ModelError(f"{name}: unknown fall model kind {kind!r}")


@cache
def load_fall_model(path: Path) -> FallModel:
    """Read and parse a model file (cached per path: every track shares one)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: cannot read the fall model: {exc}") from None
    return parse_fall_model(doc, str(path))


MANIFEST_KEY = "fall_models"  # the manifest's list of fall models (pose models are under "models")


def fall_model_entries(model_dir: Path) -> list[dict[str, Any]]:
    """The manifest's fall-model entries (name, file, sha256, bytes, kind, licence, provenance)."""
    path = model_dir / "manifest.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: unreadable model manifest: {exc}") from None
    entries = doc.get(MANIFEST_KEY, [])
    if not isinstance(entries, list):
        raise ModelError(f"{path}: {MANIFEST_KEY} must be a list")
    return [e for e in entries if isinstance(e, dict)]


def find_fall_model(name: str, model_dir: Path) -> FallModel:
    """The fall model `name` from `model_dir`'s manifest, its sha256 verified; ModelError naming the file
    (and both checksums) when it is unknown, missing or corrupt."""
    entries = {str(e.get("name")): e for e in fall_model_entries(model_dir)}
    if name not in entries:
        known = ", ".join(sorted(entries)) or "none"
        raise ModelError(f"unknown fall model {name!r} in {model_dir / 'manifest.json'} (known: {known})")
    entry = entries[name]
    path = model_dir / str(entry.get("file", ""))
    if not path.is_file():
        raise ModelError(f"{path}: fall model file for {name!r} is missing")
    actual = file_sha256(path)
    if actual != entry.get("sha256"):
        raise ModelError(
            f"{path}: sha256 {actual} does not match the manifest's {entry.get('sha256')} "
            "(corrupt or replaced model file; run `make fall-model` or reinstall)"
        )
    return load_fall_model(path)
