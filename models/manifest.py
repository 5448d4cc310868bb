"""Write models/manifest.json from catalogue.py and the .tflite files present (runtime venv).

Tensor names, shapes and dtypes are read from each file with the TFLite interpreter, so the
manifest always describes the bytes that are committed. Models whose file is missing are left out.

Usage: manifest.py --deb-root DIR
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import calibration
import catalogue
import numpy as np
from sources import SOURCES, sha256_file
from tflite_runtime_shim import Model
from verify import MANIFEST, MODELS_DIR

SCHEMA = 1


def _output_index(spec: catalogue.ModelSpec, name: str, position: int) -> int:
    """Index into spec.output_meanings for the output tensor called `name`."""
    match = re.fullmatch(r"(?:Stateful)?PartitionedCall:(\d+)", name)
    if spec.route == "tfjs" and match:  # the wrapper's i-th return value
        return int(match.group(1))
    names = spec.extra.get("output_names")
    if names:
        return names.index(name)
    return position


def entry(spec: catalogue.ModelSpec, deb_root: Path) -> dict:
    """One manifest entry (see the brief for the shape; keys are read by edge/)."""
    path = MODELS_DIR / spec.file
    model = Model(str(path))
    inp = model.input
    outputs = []
    for position, out in enumerate(model.outputs):
        i = _output_index(spec, out["name"], position)
        item = {
            "name": out["name"],
            "shape": [int(d) for d in out["shape"]],
            "dtype": np.dtype(out["dtype"]).name,
            "meaning": spec.output_meanings[i] if i < len(spec.output_meanings) else "",
        }
        if spec.output_roles:
            item["role"] = spec.output_roles[i]
        outputs.append(item)
    package = spec.package.removeprefix("npm:")
    pins = SOURCES["npm"][package]["files"]
    quantized = spec.quantization.startswith("int8")
    result = {
        "name": spec.name,
        "file": spec.file,
        "sha256": sha256_file(path),
        "bytes": path.stat().st_size,
        "family": spec.family,
        "quantization": spec.quantization,
        "input": {
            "name": inp["name"],
            "shape": [int(d) for d in inp["shape"]],
            "dtype": np.dtype(inp["dtype"]).name,
            "range": list(spec.input_range),
            "channels": "RGB",
        },
        "outputs": outputs,
        "layout": spec.layout,
        "reference": spec.reference,
        "source": {
            "package": spec.package,
            "version": spec.version,
            "files": list(spec.source_files),
            "sha256": {f: pins[f] for f in spec.source_files},
            "upstream": spec.upstream,
        },
        "licence": spec.licence,
        "converter": dict(catalogue.CONVERTER_VERSIONS) if spec.route == "tfjs" else None,
        "calibration": calibration.describe(deb_root, spec.size) if quantized else None,
        "notes": spec.notes,
    }
    result.update({k: v for k, v in spec.extra.items() if k != "output_names"})
    return result


def front_end_entry(front_end: catalogue.FrontEnd, refiner: dict) -> dict:
    """A front-end's manifest entry: its refiner's file and tensors under the front-end's name."""
    return {
        **refiner,
        "name": front_end.name,
        "family": front_end.family,
        "refiner": front_end.refiner,
        "detector": front_end.detector,
        "reference": None,
        "notes": front_end.notes,
    }


def with_front_ends(entries: list[dict]) -> list[dict]:
    """`entries` plus the front-ends whose refiner and detector are among them."""
    by_name = {e["name"]: e for e in entries}
    return entries + [
        front_end_entry(f, by_name[f.refiner])
        for f in catalogue.FRONT_ENDS
        if f.refiner in by_name and f.detector in by_name
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deb-root", type=Path, required=True, help="unpacked opencv-doc .deb")
    parser.add_argument(
        "--experiments", action="store_true", help="describe catalogue.EXPERIMENTS (unshipped trials) instead"
    )
    args = parser.parse_args()
    specs = catalogue.MODELS
    if args.experiments:  # the trials plus the shipped files they are compared with
        refs = {s.reference for s in catalogue.EXPERIMENTS}
        specs = catalogue.EXPERIMENTS + tuple(catalogue.by_name(r) for r in sorted(refs))
    entries = [entry(s, args.deb_root) for s in specs if (MODELS_DIR / s.file).is_file()]
    if not args.experiments:
        entries = with_front_ends(entries)
    doc = {"schema": SCHEMA, "models": entries}
    # the fall models are built by models/fall/train.py (make fall-model): kept as they are
    if MANIFEST.is_file():
        fall_models = json.loads(MANIFEST.read_text()).get("fall_models")
        if fall_models:
            doc["fall_models"] = fall_models
    MANIFEST.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"manifest: {len(entries)} models -> {MANIFEST}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
