#!/usr/bin/env python3
"""Measures what the smart crop and the One Euro filter earn, on real data in ../shared/data.

1. Smart crop: replays every keypoint-annotated still (MPII, CrowdPose, AI Challenger, PoseTrack18) with
   and without the smart crop and scores both against the human annotations: the shared scorer
   (../shared/tools/score_replay.py, every annotated person) and the error on the person the model chose
   (the annotated person its pose matches best: PCK@0.2 and pixel error on the 12 body joints).
2. Filter: replays real videos with and without the filter and measures keypoint jitter, the median
   |x[t] - 2 x[t-1] + x[t-2]| in pixels over keypoints scoring > 0.3 in three consecutive frames (frame-to-frame
   acceleration: high for jitter, near zero for smooth motion), and the lag it costs (median distance between
   filtered and unfiltered keypoints).

Usage: python docs/eval/crop_and_filter.py [--model NAME]   (prints Markdown; `make eval` runs it)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
DATA = SHARED / "data"
sys.path.insert(0, str(SHARED / "tools"))
import score_replay  # noqa: E402  (the shared scorer: annotations and joint maps)

STILLS = (
    sorted((DATA / "mpii").glob("*.jpg"))
    + sorted((DATA / "crowdpose").glob("*.jpg"))
    + sorted((DATA / "aic").glob("*.jpg"))
    + sorted((DATA / "posetrack18/images/val").glob("*/000000.jpg"))
)
VIDEOS = [DATA / "fall_video_care_home/video_3.mp4", REPO / "demo/vtest_excerpt.mp4"]
BODY = slice(5, 17)  # COCO-17 shoulders .. ankles: the 12 joints every annotation set has


def replay(inputs: list[Path], out: Path, model: str, *flags: str) -> list[dict]:
    """Run `edge-pose replay` and return its pose payloads."""
    cmd = [
        sys.executable,
        "-m",
        "edge",
        "replay",
        *map(str, inputs),
        "--out",
        str(out),
        "--model",
        model,
        *flags,
    ]
    subprocess.run(cmd, check=True, cwd=REPO, stderr=subprocess.DEVNULL)
    return [json.loads(line)["payload"] for line in out.read_text().splitlines()]


def shared_score(out: Path) -> str:
    """The shared scorer's summary line for all sets."""
    result = subprocess.run(
        [sys.executable, str(SHARED / "tools/score_replay.py"), str(out), str(DATA)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return result.stdout.strip().splitlines()[-1]


def chosen_person_error(payloads: list[dict]) -> tuple[float, float, int]:
    """PCK@0.2 and median pixel error on the annotated person each image's pose matches best."""
    preds = {}
    for p in payloads:
        if p["poses"]:
            k = np.array(p["poses"][0]["keypoints"], float)
            k[:, 0] *= p["width"]
            k[:, 1] *= p["height"]
            preds[p["source"]] = k[BODY]
    by_image: dict[str, list[tuple[np.ndarray, float]]] = {}
    for _set, image, gt in score_replay.annotations(str(DATA)):
        vis = gt[:, 2] > 0
        torso = [
            np.linalg.norm(gt[s, :2] - gt[h, :2])
            for s, h in ((0, 6), (1, 7))
            if gt[s, 2] > 0 and gt[h, 2] > 0
        ]
        size = max(torso) if torso else np.ptp(gt[vis, :2], axis=0).sum() / 3
        by_image.setdefault(image, []).append((gt, size))
    hits: list[float] = []
    errors: list[float] = []
    found = 0
    for image, people in by_image.items():
        source = next((s for s in preds if s.endswith("/" + image)), None)
        if source is None:
            continue
        found += 1
        k = preds[source]
        best = None
        for gt, size in people:
            vis = gt[:, 2] > 0
            d = np.linalg.norm(k[:, :2] - gt[:, :2], axis=1)[vis]
            if best is None or d.mean() < best[0].mean():
                best = (d, size)
        assert best is not None
        hits += list((best[0] <= 0.2 * best[1]).astype(float))
        errors += list(best[0])
    return float(np.mean(hits)), float(np.median(errors)), found


def jitter_and_lag(filtered: list[dict], raw: list[dict]) -> tuple[float, float, float]:
    """(jitter filtered px, jitter raw px, median lag px) over keypoints scoring > 0.3."""

    def tracks(payloads: list[dict]) -> list[np.ndarray | None]:
        out: list[np.ndarray | None] = []
        for p in payloads:
            if p["poses"]:
                k = np.array(p["poses"][0]["keypoints"], float)
                k[:, 0] *= p["width"]
                k[:, 1] *= p["height"]
                out.append(k)
            else:
                out.append(None)
        return out

    def jitter(seq: list[np.ndarray | None]) -> float:
        acc: list[float] = []
        for a, b, c in zip(seq, seq[1:], seq[2:], strict=False):
            if a is None or b is None or c is None:
                continue
            ok = (a[:, 2] > 0.3) & (b[:, 2] > 0.3) & (c[:, 2] > 0.3)
            acc += list(np.linalg.norm(c[ok, :2] - 2 * b[ok, :2] + a[ok, :2], axis=1))
        return float(np.median(acc))

    f, r = tracks(filtered), tracks(raw)
    lag = [
        float(d)
        for a, b in zip(f, r, strict=True)
        if a is not None and b is not None
        for d in np.linalg.norm(a[:, :2] - b[:, :2], axis=1)[(a[:, 2] > 0.3) & (b[:, 2] > 0.3)]
    ]
    return jitter(f), jitter(r), float(np.median(lag))


def main() -> int:
    """Print the Markdown tables for docs/accuracy.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="movenet_lightning")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        print(f"### Smart crop ({args.model}, {len(STILLS)} annotated stills)\n")
        print(
            "| run | person the model chose: PCK@0.2 | median error px | shared scorer (all annotated people) |"
        )
        print("|---|---|---|---|")
        for label, flags in (
            ("whole frame, letterboxed (`--no-smart-crop`)", ["--no-smart-crop"]),
            ("smart crop", []),
        ):
            out = t / "stills.jsonl"
            payloads = replay(STILLS, out, args.model, *flags)
            pck, err, _found = chosen_person_error(payloads)
            print(f"| {label} | {pck:.3f} | {err:.1f} | {shared_score(out)} |")
        print(f"\n### One Euro filter ({args.model})\n")
        print("| video | frames | jitter px, filter on | jitter px, filter off | ratio | median lag px |")
        print("|---|---|---|---|---|---|")
        for video in VIDEOS:
            on = replay([video], t / "on.jsonl", args.model)
            off = replay([video], t / "off.jsonl", args.model, "--no-filter")
            j_on, j_off, lag = jitter_and_lag(on, off)
            print(f"| {video.name} | {len(on)} | {j_on:.2f} | {j_off:.2f} | {j_on / j_off:.2f} | {lag:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
