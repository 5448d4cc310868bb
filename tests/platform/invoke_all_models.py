"""Load and invoke every model of the installed package's manifest; print one JSON line per model.

    VENV/bin/python invoke_all_models.py OUTPUTS.npz

Run with the Python of an installed edge-pose, on the platform
under test: the arm64 check runs it under each emulated Raspberry Pi core and on x86 for reference. Each
model is checked against its manifest sha256, loaded through edge-pose's runtime shim (EDGE_POSE_RUNTIME
picks the runtime), fed the same pseudo-random input and invoked twice; the outputs must be finite and
the same both times. The outputs go to OUTPUTS.npz (`<model>/<i>`), so the caller can compare platforms."""

from __future__ import annotations

import hashlib
import json
import sys

import numpy as np

from edge.pose.manifest import default_model_dir, load_manifest, verify_model_file
from edge.pose.runtime import load_interpreter, runtime_name

SEED = 16  # issue 16; any fixed seed: the same input on every platform


def main(out_path: str) -> int:
    arrays: dict[str, np.ndarray] = {}
    specs = load_manifest(default_model_dir())
    failures = 0
    for name, spec in sorted(specs.items()):
        record: dict[str, object] = {"model": name, "runtime": runtime_name()}
        try:
            verify_model_file(spec)
            interpreter = load_interpreter(spec.path, threads=2)
            rng = np.random.default_rng(SEED)
            for detail in interpreter.get_input_details():
                shape = tuple(int(d) for d in detail["shape"])
                if np.issubdtype(detail["dtype"], np.integer):
                    info = np.iinfo(detail["dtype"])
                    value = rng.integers(info.min, int(info.max) + 1, size=shape).astype(detail["dtype"])
                else:
                    value = rng.uniform(-1.0, 1.0, size=shape).astype(detail["dtype"])
                interpreter.set_tensor(detail["index"], value)
            runs = []
            for _ in range(2):
                interpreter.invoke()
                runs.append(
                    [interpreter.get_tensor(d["index"]).copy() for d in interpreter.get_output_details()]
                )
            finite = all(np.isfinite(out.astype(np.float64)).all() for out in runs[0])
            repeatable = all(np.array_equal(a, b) for a, b in zip(runs[0], runs[1], strict=True))
            digest = hashlib.sha256(
                b"".join(np.ascontiguousarray(out).tobytes() for out in runs[0])
            ).hexdigest()
            record.update(ok=finite and repeatable, finite=finite, repeatable=repeatable, digest=digest)
            arrays.update({f"{name}/{i}": out for i, out in enumerate(runs[0])})
        except Exception as exc:  # report every model, then fail
            record.update(ok=False, error=f"{type(exc).__name__}: {exc}")
        failures += not record["ok"]
        print(json.dumps(record), flush=True)
    np.savez(out_path, **arrays)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
