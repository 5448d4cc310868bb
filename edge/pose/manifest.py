"""The model manifest (`models/manifest.json`): which model files exist, their checksums and tensors.

Every model is chosen by name; its file is checked against the manifest's sha256 before it is loaded,
so a corrupt or swapped file is refused with a message naming the file and both checksums."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from edge.errors import ModelError

MANIFEST_NAME = "manifest.json"


def default_model_dir() -> Path:
    """Where model files live: $EDGE_POSE_MODEL_DIR, else the models a wheel install carries
    (`edge/model_files/`, copied from `models/` by setup.py), else the source checkout's `models/` (an
    editable install), else the installed data directory (`<prefix>/share/edge-pose/models`), else
    /usr/share/edge-pose/models."""
    env = os.environ.get("EDGE_POSE_MODEL_DIR")
    if env:
        return Path(env)
    package = Path(__file__).resolve().parents[1]
    candidates = [
        package / "model_files",
        package.parent / "models",
        Path(sys.prefix) / "share" / "edge-pose" / "models",
        Path("/usr/share/edge-pose/models"),
    ]
    for candidate in candidates:
        if (candidate / MANIFEST_NAME).is_file():
            return candidate
    return candidates[1]


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One manifest entry: a model file and what its tensors mean."""

    name: str
    path: Path
    sha256: str
    family: str
    quantization: str
    input_shape: tuple[int, ...]
    input_dtype: str
    layout: str
    reference: str | None
    licence: str
    raw: dict[str, Any] = field(repr=False, compare=False, hash=False)

    @property
    def input_size(self) -> tuple[int, int]:
        """(height, width) of the image input."""
        return self.input_shape[1], self.input_shape[2]

    @property
    def bytes(self) -> int:
        """File size in bytes (0 if missing)."""
        return self.path.stat().st_size if self.path.exists() else 0


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


@cache
def load_manifest(model_dir: Path) -> dict[str, ModelSpec]:
    """All models in `model_dir`'s manifest, by name."""
    path = model_dir / MANIFEST_NAME
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelError(f"{path}: model manifest not found (set EDGE_POSE_MODEL_DIR or model.dir)") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: unreadable model manifest: {exc}") from None
    specs: dict[str, ModelSpec] = {}
    for entry in doc.get("models", []):
        try:
            specs[entry["name"]] = ModelSpec(
                name=entry["name"],
                path=model_dir / entry["file"],
                sha256=entry["sha256"],
                family=entry["family"],
                quantization=entry["quantization"],
                input_shape=tuple(int(d) for d in entry["input"]["shape"]),
                input_dtype=entry["input"]["dtype"],
                layout=entry.get("layout", "coco17"),
                reference=entry.get("reference"),
                licence=entry.get("licence", ""),
                raw=entry,
            )
        except (KeyError, TypeError) as exc:
            raise ModelError(f"{path}: malformed entry {entry.get('name', '?')!r}: missing {exc}") from None
    return specs


def find_model(name: str, model_dir: Path | None = None) -> ModelSpec:
    """The manifest entry for `name`, with an error listing the known names if there is none."""
    specs = load_manifest(model_dir or default_model_dir())
    if name not in specs:
        known = ", ".join(sorted(specs)) or "none"
        raise ModelError(f"unknown model {name!r} (known: {known})")
    return specs[name]


def verify_model_file(spec: ModelSpec) -> None:
    """Raise ModelError unless the model file exists and its sha256 matches the manifest."""
    if not spec.path.is_file():
        raise ModelError(f"{spec.path}: model file for {spec.name!r} is missing")
    actual = file_sha256(spec.path)
    if actual != spec.sha256:
        raise ModelError(
            f"{spec.path}: sha256 {actual} does not match the manifest's {spec.sha256} "
            f"(corrupt or replaced model file; run `make models` or reinstall)"
        )
