"""`edge-pose models`: every model in the manifest with its file size, input, layout, quantisation,
licence and whether the file's sha256 matches the manifest (what a plant engineer checks before
choosing `--model` or rolling out a model directory)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from edge.errors import EX_DATAERR
from edge.pose.manifest import ModelSpec, default_model_dir, file_sha256, load_manifest
from edge.pose.registry import DEFAULT_MODEL
from edge.rules.config import FallConfig
from edge.rules.fall_model import fall_model_entries

COLUMNS = ("model", "family", "input", "layout", "quant", "size", "licence", "checksum")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `models` subcommand."""
    p = subparsers.add_parser(
        "models",
        help="list the models (size, input, layout, quantisation, licence, checksum)",
        description="One row per model in the manifest. The checksum column says whether the file's "
        "sha256 matches the manifest ('ok', 'MISMATCH' or 'missing'). With --check the exit code is "
        f"{EX_DATAERR} when any file fails.",
    )
    p.add_argument("--model-dir", type=Path, metavar="DIR", help="model directory (default: installed)")
    p.add_argument("--json", action="store_true", help="one JSON object per model instead of a table")
    p.add_argument("--check", action="store_true", help=f"exit {EX_DATAERR} if any checksum fails")
    p.set_defaults(func=run)


def checksum_state(spec: ModelSpec) -> str:
    """'ok', 'MISMATCH' or 'missing' for the model's file."""
    if not spec.path.is_file():
        return "missing"
    return "ok" if file_sha256(spec.path) == spec.sha256 else "MISMATCH"


def describe(spec: ModelSpec) -> dict[str, Any]:
    """One model's row as plain data."""
    h, w = spec.input_size
    return {
        "model": spec.name,
        "family": spec.family,
        "file": str(spec.path),
        "bytes": spec.bytes,
        "input": f"{h}x{w} {spec.input_dtype}",
        "layout": spec.layout,
        "quantization": spec.quantization,
        "reference": spec.reference,
        "licence": spec.licence,
        "checksum": checksum_state(spec),
        "default": spec.name == DEFAULT_MODEL,
    }


def describe_fall_model(entry: dict[str, Any], model_dir: Path) -> dict[str, Any]:
    """One fall model's row (the manifest's `fall_models`): same columns, its checksum checked too."""
    path = model_dir / str(entry.get("file", ""))
    state = (
        "missing" if not path.is_file() else "ok" if file_sha256(path) == entry.get("sha256") else "MISMATCH"
    )
    return {
        "model": str(entry.get("name", "?")),
        "family": str(entry.get("kind", "fall_model")),
        "file": str(path),
        "bytes": path.stat().st_size if path.is_file() else 0,
        "input": f"features of {entry.get('pose_model', '?')} tracks",
        "layout": "none",
        "quantization": "float64",
        "reference": entry.get("provenance"),
        "licence": entry.get("licence", ""),
        "checksum": state,
        "default": FallConfig().detector == "model" and entry.get("name") == FallConfig().model,
    }


def _cells(row: dict[str, Any]) -> tuple[str, ...]:
    mark = " *" if row["default"] else ""
    size = f"{row['bytes'] / 1e6:.1f} MB" if row["bytes"] else "-"
    licence = str(row["licence"]).split(" (")[0] or "?"
    layout = row["layout"] if row["layout"] != "none" else "-"
    return (row["model"] + mark, row["family"], row["input"], layout, row["quantization"], size, licence,
            row["checksum"])  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Print the table (or JSON lines); with --check, fail when a file does not verify."""
    model_dir = args.model_dir or default_model_dir()
    rows = [describe(spec) for spec in load_manifest(model_dir).values()]
    rows += [describe_fall_model(entry, model_dir) for entry in fall_model_entries(model_dir)]
    if args.json:
        for row in rows:
            print(json.dumps(row))
    else:
        table = [COLUMNS, *(_cells(r) for r in rows)]
        widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
        for line in table:
            print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
        print(f"\n{model_dir}: {len(rows)} models; * = default. Licences in full: --json.")
    bad = [r["model"] for r in rows if r["checksum"] != "ok"]
    if bad:
        print(f"edge-pose models: checksum fails for {', '.join(bad)}", file=sys.stderr)
        if args.check:
            return EX_DATAERR
    return 0
