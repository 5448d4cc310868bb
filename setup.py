"""Build step that puts the pose models into the wheel (everything else is in pyproject.toml).

The models stay where the project keeps them, in `models/` beside their manifest and the scripts that
rebuild them. Building a wheel copies `models/manifest.json`, the licences (`LICENSES.md`) and every file
the manifest lists into the package as `edge/model_files/`, where `edge.pose.manifest.default_model_dir()`
finds them, and checks each file's sha256 on the way, so a wheel never carries a model its manifest does
not describe. The file list comes from the manifest itself: a model added to it is carried without
touching this file. The sdist carries the whole of `models/` (MANIFEST.in), so a wheel built from the
sdist is the same. Editable installs skip the copy and read the checkout's `models/` in place.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path, PurePosixPath

from setuptools import setup
from setuptools.command.build_py import build_py

MODELS_SRC = Path(__file__).resolve().parent / "models"
MANIFEST = "manifest.json"
LICENCES = "LICENSES.md"  # the models' terms travel with them
PACKAGED_DIR = PurePosixPath("edge", "model_files")  # keep in step with edge/pose/manifest.py


def manifest_entries() -> list[dict[str, str]]:
    """Every entry of the manifest: the pose models and the fall models (`fall_models`, the learned fall
    detector that `rules.fall.detector: model` loads and `edge-pose models --check` verifies)."""
    doc = json.loads((MODELS_SRC / MANIFEST).read_text())
    return [*doc["models"], *doc.get("fall_models", [])]


def manifest_files() -> list[str]:
    """manifest.json and every file its entries name, relative to models/ (refusing paths that leave it)."""
    files = [MANIFEST, LICENCES]
    for entry in manifest_entries():
        name = PurePosixPath(entry["file"])
        if name.is_absolute() or ".." in name.parts:
            raise SystemExit(f"models/{MANIFEST}: {entry['name']}: file {entry['file']!r} is outside models/")
        files.append(str(name))
    return files


class BuildPyWithModels(build_py):
    """build_py, plus the manifest's model files copied into the package (not for editable installs)."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        dest = Path(self.build_lib) / PACKAGED_DIR
        shutil.rmtree(dest, ignore_errors=True)  # a model dropped from the manifest must not linger
        expected = {e["file"]: e["sha256"] for e in manifest_entries()}
        for name in manifest_files():
            src = MODELS_SRC / name
            if not src.is_file():
                raise SystemExit(f"models/{MANIFEST} lists {name}, which is missing from models/")
            if name in expected:
                with src.open("rb") as fh:
                    digest = hashlib.file_digest(fh, "sha256").hexdigest()
                if digest != expected[name]:
                    raise SystemExit(
                        f"models/{name}: sha256 {digest} does not match the manifest's {expected[name]}"
                    )
            self.mkpath(str((dest / name).parent))
            self.copy_file(str(src), str(dest / name))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        """What build_py writes, the model files included (for the install record)."""
        outputs = list(super().get_outputs(include_bytecode))
        if not self.editable_mode:
            outputs += [str(Path(self.build_lib) / PACKAGED_DIR / name) for name in manifest_files()]
        return outputs


setup(cmdclass={"build_py": BuildPyWithModels})
