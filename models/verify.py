"""Check the committed models against models/manifest.json (run in a runtime venv).

verify.py check            sha256 + size vs the manifest; each file loads, its tensors match
                           the manifest, one invoke runs (in whichever runtime this venv has)
verify.py agree --deb-root DIR
                           each quantized model vs its float reference on the calibration
                           photos; fails if Lightning's median distance > 3 px
verify.py bench            median ms per invoke, 1 and 2 threads
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import catalogue
import numpy as np
from sources import sha256_file
from tflite_runtime_shim import Model, runtime_version

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # edge/pose/movenet_heads.py (numpy only)
from edge.pose.movenet_heads import decode_heads

# EDGE_POSE_MODELS_DIR points the tools at another directory (build.sh's experiments).
MODELS_DIR = Path(os.environ.get("EDGE_POSE_MODELS_DIR", Path(__file__).resolve().parent))
MANIFEST = MODELS_DIR / "manifest.json"
BENCH_WARMUP = 3  # invokes before timing
BENCH_MIN_RUNS, BENCH_MAX_RUNS, BENCH_BUDGET_S = 5, 50, 3.0


def load_manifest() -> dict:
    return json.loads(MANIFEST.read_text())


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def to_input(entry: dict, image: np.ndarray) -> np.ndarray:
    """uint8 RGB image -> the model's input dtype and range (from the manifest)."""
    if entry["input"]["dtype"] == "uint8":
        return image
    lo, hi = entry["input"]["range"]
    return (image.astype(np.float32) * ((hi - lo) / 255.0) + lo).astype(np.float32)


def keypoints(entry: dict, outputs: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(xy pixels at the model input [K,2], score [K])] per person, best person first."""
    size = entry["input"]["shape"][1]
    family = entry["family"]
    if family == "movenet_singlepose":
        cut = len(outputs) == 4  # a cut file: the heads, in catalogue.MOVENET_HEAD_NAMES order
        kp = decode_heads(*(o[0] for o in outputs)) if cut else outputs[0].reshape(17, 3)
        return [(kp[:, [1, 0]] * size, kp[:, 2])]
    if family == "movenet_multipose":
        people = outputs[0].reshape(-1, 56)
        people = people[np.argsort(-people[:, 55])]
        return [(p[:51].reshape(17, 3)[:, [1, 0]] * size, p[:51].reshape(17, 3)[:, 2]) for p in people]
    if family == "posenet":
        by_role = {o["role"]: i for i, o in enumerate(entry["outputs"])}
        heat = outputs[by_role["heatmap"]][0]
        offsets = outputs[by_role["offsets"]][0]
        stride = entry["output_stride"]
        _, w, k = heat.shape
        flat = heat.reshape(-1, k).argmax(0)
        ys, xs = np.divmod(flat, w)
        oy = offsets[ys, xs, np.arange(k)]
        ox = offsets[ys, xs, k + np.arange(k)]
        xy = np.stack([xs * stride + ox, ys * stride + oy], 1)
        return [(xy, _sigmoid(heat[ys, xs, np.arange(k)]))]
    if family == "blazepose_landmark":
        by_role = {o["role"]: i for i, o in enumerate(entry["outputs"])}
        ld = outputs[by_role["landmarks"]].reshape(-1, 5)[:33]
        return [(ld[:, :2], _sigmoid(ld[:, 3]))]
    raise ValueError(f"no keypoint decoder for family {family}")


def cmd_check(_: argparse.Namespace) -> int:
    """sha256/size/tensors/one invoke for every manifest entry."""
    manifest = load_manifest()
    failures = 0
    print(f"[{runtime_version()}]")
    for entry in manifest["models"]:
        path = MODELS_DIR / entry["file"]
        problems = []
        if not path.is_file():
            problems.append("missing")
        else:
            if path.stat().st_size != entry["bytes"]:
                problems.append(f"bytes {path.stat().st_size} != {entry['bytes']}")
            if sha256_file(path) != entry["sha256"]:
                problems.append("sha256 differs from manifest")
            try:
                model = Model(str(path))
                inp = model.input
                if (
                    list(inp["shape"]) != entry["input"]["shape"]
                    or np.dtype(inp["dtype"]).name != entry["input"]["dtype"]
                ):
                    problems.append(f"input {inp['shape']} {inp['dtype']} differs from manifest")
                for o, want in zip(model.outputs, entry["outputs"], strict=True):
                    if list(o["shape"]) != want["shape"] or o["name"] != want["name"]:
                        problems.append(f"output {o['name']} {o['shape']} differs from manifest")
                zero = np.zeros(inp["shape"][1:], inp["dtype"])
                outs = model.run(zero)
                if not all(np.isfinite(x).all() for x in outs if x.dtype.kind == "f"):
                    problems.append("non-finite output")
            except Exception as exc:
                problems.append(f"load/invoke failed: {exc}")
        status = "ok" if not problems else "FAIL " + "; ".join(problems)
        failures += bool(problems)
        print(f"  {entry['name']:<28} {status}")
    return 1 if failures else 0


# BlazePose landmark models expect a crop around one person (MediaPipe's ROI), not a whole
# scene: their agreement images are person crops found with the float MultiPose model.
PERSON_FINDER = "movenet_multipose_fp16.tflite"
PERSON_FINDER_SIZE = 256
PERSON_MIN_SCORE = 0.3
PERSON_MIN_HEIGHT = 0.08  # keypoint box height as a fraction of the letterboxed image
PERSON_CROP_SCALE = 1.5  # crop side / longer side of the keypoint box (the ROI includes margins)


def person_crops(deb_root: Path, size: int) -> np.ndarray:
    """uint8 [N, size, size, 3]: square crops around each person MultiPose finds."""
    import calibration

    finder = Model(str(Path(__file__).resolve().parent / PERSON_FINDER))
    crops = []
    for _, rgb in calibration.source_images(deb_root):
        h, w = rgb.shape[:2]
        scale = max(h, w) / PERSON_FINDER_SIZE
        pad_y, pad_x = (max(h, w) - h) / 2, (max(h, w) - w) / 2
        people = finder.run(calibration.letterbox(rgb, PERSON_FINDER_SIZE))[0].reshape(-1, 56)
        for person in people[people[:, 55] > PERSON_MIN_SCORE]:
            kp = person[:51].reshape(17, 3)
            kp = kp[kp[:, 2] > PERSON_MIN_SCORE]
            if len(kp) < 5:
                continue
            y0, x0 = kp[:, :2].min(0)
            y1, x1 = kp[:, :2].max(0)
            if y1 - y0 < PERSON_MIN_HEIGHT:
                continue
            side = PERSON_CROP_SCALE * max(y1 - y0, x1 - x0) * PERSON_FINDER_SIZE * scale
            cx = (x0 + x1) / 2 * PERSON_FINDER_SIZE * scale - pad_x
            cy = (y0 + y1) / 2 * PERSON_FINDER_SIZE * scale - pad_y
            crops.append(calibration.square_crop(rgb, cx, cy, side, size))
    return np.stack(crops)


def _model_input(entry: dict, images: dict, deb_root: Path) -> np.ndarray:
    import calibration

    size = entry["input"]["shape"][1]
    key = (entry["family"] == "blazepose_landmark", size)
    if key not in images:
        images[key] = person_crops(deb_root, size) if key[0] else calibration.agreement_set(deb_root, size)
    return images[key]


def agreement(entry: dict, ref: dict, images: np.ndarray) -> dict:
    """Median keypoint distance (px at the model input) where the reference score > 0.3."""
    model = Model(str(MODELS_DIR / entry["file"]))
    reference = Model(str(MODELS_DIR / ref["file"]))
    dists, score_diffs, extra_people = [], [], []
    for image in images:
        ref_people = keypoints(ref, reference.run(to_input(ref, image)))
        got_people = keypoints(entry, model.run(to_input(entry, image)))
        ref_xy, ref_s = ref_people[0]
        keep = ref_s > catalogue.AGREEMENT_MIN_SCORE
        if entry["family"] == "movenet_multipose":
            # Compare the reference's best person with the closest INT8 person.
            got_xy, got_s = min(got_people, key=lambda p, k=keep, r=ref_xy: _median_distance(p[0], r, k))
            extra_people.append(_count_people(model, entry, image) - _count_people(reference, ref, image))
        else:
            got_xy, got_s = got_people[0]
        if keep.any():
            dists.extend(np.linalg.norm(got_xy[keep] - ref_xy[keep], axis=1).tolist())
            score_diffs.extend(np.abs(got_s[keep] - ref_s[keep]).tolist())
    result = {
        "images": len(images),
        "keypoints": len(dists),
        "median_px": round(float(np.median(dists)), 2) if dists else None,
        "p90_px": round(float(np.percentile(dists, 90)), 2) if dists else None,
        "median_score_diff": round(float(np.median(score_diffs)), 3) if score_diffs else None,
    }
    if extra_people:
        result["people_above_0.3_int8_minus_float"] = int(sum(extra_people))
    return result


def _median_distance(xy: np.ndarray, ref_xy: np.ndarray, keep: np.ndarray) -> float:
    """Median distance between the kept keypoints of two poses (0 if none is kept)."""
    return float(np.median(np.linalg.norm(xy[keep] - ref_xy[keep], axis=1))) if keep.any() else 0.0


def _count_people(model: Model, entry: dict, image: np.ndarray) -> int:
    """MultiPose: people with a person score above 0.3."""
    out = model.run(to_input(entry, image))[0].reshape(-1, 56)
    return int((out[:, 55] > catalogue.AGREEMENT_MIN_SCORE).sum())


def cmd_agree(args: argparse.Namespace) -> int:
    """INT8-vs-float table; non-zero exit when Lightning is off by more than 3 px."""
    manifest = load_manifest()
    entries = {e["name"]: e for e in manifest["models"]}
    images: dict = {}
    failed = False
    if args.pair:  # ad-hoc comparison of two manifest entries, e.g. lite vs full
        name, ref = args.pair
        res = agreement(entries[name], entries[ref], _model_input(entries[name], images, args.deb_root))
        print(f"  {name:<28} vs {ref:<28} {json.dumps(res)}")
        return 0
    print(
        f"[{runtime_version()}] agreement with the float reference, keypoints with reference "
        f"score > {catalogue.AGREEMENT_MIN_SCORE}, px at the model input"
    )
    for entry in manifest["models"]:
        if not entry.get("reference") or entry["reference"] not in entries:
            continue
        res = agreement(entry, entries[entry["reference"]], _model_input(entry, images, args.deb_root))
        print(f"  {entry['name']:<28} vs {entry['reference']:<28} {json.dumps(res)}")
        if entry["name"] == "movenet_lightning" and (
            res["median_px"] is None or res["median_px"] > catalogue.LIGHTNING_MAX_MEDIAN_PX
        ):
            print(
                f"FAIL: movenet_lightning median {res['median_px']} px > "
                f"{catalogue.LIGHTNING_MAX_MEDIAN_PX} px"
            )
            failed = True
    return 1 if failed else 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Median ms per invoke for every model, at each thread count.

    Wall-clock medians need an idle machine; the 1-thread CPU time (process time per invoke) is
    also printed because it barely moves when other processes compete for the cores.
    """
    manifest = load_manifest()
    print(
        f"[{runtime_version()}] ms per invoke: wall median (wall min) [1-thread CPU median]; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    for entry in manifest["models"]:
        if args.names and entry["name"] not in args.names:
            continue
        row = []
        for threads in args.threads:
            model = Model(str(MODELS_DIR / entry["file"]), threads=threads)
            rng = np.random.default_rng(0)
            inp = model.input
            x = rng.integers(0, 256, inp["shape"][1:]).astype(inp["dtype"])
            if inp["dtype"] == np.float32:
                x = x / 255.0
            model.run(x)
            for _ in range(BENCH_WARMUP - 1):
                model.invoke()
            times: list[float] = []
            cpu: list[float] = []
            start = time.perf_counter()
            while len(times) < BENCH_MAX_RUNS and (
                len(times) < BENCH_MIN_RUNS or time.perf_counter() - start < BENCH_BUDGET_S
            ):
                t0, c0 = time.perf_counter(), time.process_time()
                model.invoke()
                times.append((time.perf_counter() - t0) * 1000)
                cpu.append((time.process_time() - c0) * 1000)
            cell = f"{threads}t {statistics.median(times):7.1f} ({min(times):6.1f})"
            if threads == 1:
                cell += f" [{statistics.median(cpu):6.1f}]"
            row.append(cell)
        print(f"  {entry['name']:<28} " + "  ".join(row), flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("check")
    agree = sub.add_parser("agree")
    agree.add_argument("--deb-root", type=Path, required=True)
    agree.add_argument(
        "--pair", nargs=2, metavar=("MODEL", "REFERENCE"), help="compare just these two manifest entries"
    )
    bench = sub.add_parser("bench")
    bench.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    bench.add_argument("names", nargs="*")
    args = parser.parse_args()
    return {"check": cmd_check, "agree": cmd_agree, "bench": cmd_bench}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
