"""Which discovery finds small people best per CPU-ms: recall of annotated people by size band against
MultiPose invokes and CPU time, for the whole frame and for tile grids (docs/models.md, "Discovery").

    .venv/bin/python docs/eval/discovery_study.py [--threads 1] [--model PATH.tflite ...]

A person counts as found when one detection's keypoints hit at least half of that person's labelled
body joints at PCK@0.2 (the shared scorer's rule and torso size). Size = the longer side of the box
around the labelled body joints, in pixels. Data: the annotated stills of ../shared/data (MPII, CrowdPose,
AI Challenger, PoseTrack18, coco_people). `--model` adds MultiPose files built at other input sizes
(study builds, not shipped) as whole-frame rows."""

from __future__ import annotations

import argparse
import importlib.util
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from edge.pose.manifest import ModelSpec, file_sha256, find_model
from edge.pose.multipose_runner import MultiPoseRunner
from edge.pose.smart_crop import CropRegion
from edge.pose.tiles import merge_detections, tile_grid
from edge.types import Pose

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
SCORER = DATA.parent / "tools" / "score_replay.py"
BANDS = [(0, 100), (100, 200), (200, 400), (400, 100_000)]
MIN_SCORE = 0.2  # MultiPose's person score for a new person (movenet_multipose.MIN_PERSON_SCORE)


def load_scorer() -> object:
    spec = importlib.util.spec_from_file_location("score_replay", SCORER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def people() -> dict[Path, list[tuple[str, np.ndarray]]]:
    """image path → [(set, (12, 3) body joints x, y, visible)]."""
    scorer = load_scorer()
    files = {p.relative_to(DATA).as_posix(): p for p in DATA.rglob("*") if p.suffix in (".jpg", ".png")}
    out: dict[Path, list[tuple[str, np.ndarray]]] = defaultdict(list)
    for name, image, gt in scorer.annotations(str(DATA)):  # type: ignore[attr-defined]
        hits = [p for rel, p in files.items() if rel.endswith("/" + image)]
        if len(hits) == 1:
            out[hits[0]].append((name, gt))
    return out


def found(gt: np.ndarray, poses: list[Pose], width: int, height: int) -> bool:
    vis = gt[:, 2] > 0
    torso = [
        np.linalg.norm(gt[s, :2] - gt[h, :2]) for s, h in ((0, 6), (1, 7)) if gt[s, 2] > 0 and gt[h, 2] > 0
    ]
    size = max(torso) if torso else np.ptp(gt[vis, :2], axis=0).sum() / 3
    for pose in poses:
        k = pose.keypoints[5:, :2] * (width, height)
        hit = np.linalg.norm(k - gt[:, :2], axis=1)[vis] <= 0.2 * size
        if hit.mean() >= 0.5:
            return True
    return False


def person_size(gt: np.ndarray) -> float:
    vis = gt[:, 2] > 0
    return float(np.ptp(gt[vis, :2], axis=0).max())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--model", action="append", default=[], help="extra MultiPose .tflite (whole frame)")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    base = find_model("movenet_multipose")
    runners = {"movenet_multipose": MultiPoseRunner(base, args.threads)}
    for path in map(Path, args.model):
        spec = ModelSpec(**{**{f: getattr(base, f) for f in base.__dataclass_fields__}, "name": path.stem,
                            "path": path, "sha256": file_sha256(path)})  # fmt: skip
        runners[path.stem] = MultiPoseRunner(spec, args.threads)
    # (label, runner, tile sides as fractions of the frame's short side; 1.0 = whole frame letterboxed)
    configs: list[tuple[str, str, list[float]]] = [("whole frame", "movenet_multipose", [1.0])]
    configs += [(f"whole frame ({name})", name, [1.0]) for name in runners if name != "movenet_multipose"]
    configs += [
        ("whole + tiles 1/2", "movenet_multipose", [1.0, 1 / 2]),
        ("whole + tiles 1/3", "movenet_multipose", [1.0, 1 / 3]),
        ("whole + tiles 1/2 + 1/3", "movenet_multipose", [1.0, 1 / 2, 1 / 3]),
        ("whole + tiles 1/4", "movenet_multipose", [1.0, 1 / 4]),
    ]
    images = people()
    decoded = {p: cv2.imread(str(p)) for p in images}
    for runner in runners.values():  # warm up XNNPACK
        img = next(iter(decoded.values()))
        runner.detect(img, tile_grid(img.shape[1], img.shape[0], 1e9)[0], MIN_SCORE)
    print(f"{sum(len(v) for v in images.values())} annotated people in {len(images)} images, "
          f"{args.threads} thread(s); bands by person size px: {BANDS[:-1]}")  # fmt: skip
    header = "| discovery | invokes / image (1080p frame) | CPU ms / image | " + " | ".join(
        f"{lo}–{hi if hi < 100_000 else '…'} px" for lo, hi in BANDS
    )
    print(header + " | all | posetrack18 |")
    print("|" + "---|" * (len(BANDS) + 5))
    for label, runner_name, sides in configs:
        runner = runners[runner_name]
        hits: dict[int, list[bool]] = defaultdict(list)
        per_set: dict[str, list[bool]] = defaultdict(list)
        invokes0, cpu = runner.stats.invokes, 0.0
        for path, annotated in images.items():
            img = decoded[path]
            h, w = img.shape[:2]
            views: list[CropRegion] = []
            for side in sides:
                views += tile_grid(w, h, side * min(w, h) if side < 1.0 else 1e9)
            c0 = time.process_time()
            poses: list[Pose] = []
            for view in views:
                poses += runner.detect(img, view, MIN_SCORE) or []
            poses = merge_detections(poses)
            cpu += time.process_time() - c0
            for name, gt in annotated:
                ok = found(gt, poses, w, h)
                band = next(i for i, (lo, hi) in enumerate(BANDS) if lo <= person_size(gt) < hi)
                hits[band].append(ok)
                per_set[name].append(ok)
        n_1080 = sum(len(tile_grid(1920, 1080, s * 1080 if s < 1.0 else 1e9)) for s in sides)
        cells = [f"{np.mean(hits[b]):.2f} ({len(hits[b])})" if hits[b] else "–" for b in range(len(BANDS))]
        total = [x for v in hits.values() for x in v]
        print(
            f"| {label} | {(runner.stats.invokes - invokes0) / len(images):.1f} ({n_1080}) | "
            f"{1e3 * cpu / len(images):.1f} | "
            + " | ".join(cells)
            + f" | {np.mean(total):.2f} | {np.mean(per_set['posetrack18']):.2f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
