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
3. Filter constants on held-out clips: the same jitter and lag for several One Euro constants on fall clips
   (../shared/data/fall_clips: URFD, UP-Fall and Le2i falls) that were not used to choose the default.

Every replay runs with the shipped defaults (edge/pose/settings.py), or with the model, `pose:` settings and
rules of a daemon config given with --config (e.g. the old daemon defaults, to compare).

Usage: python docs/eval/crop_and_filter.py [--model NAME] [--config FILE] [--skip-held-out]
(prints Markdown; `make eval` runs it)."""

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
# Held out from the choice of the filter constants (chosen on VIDEOS): every fall clip of URFD (RGB halves) and
# UP-Fall, and the first 12 Le2i falls (Coffee room, Home).
FALL_LABELS = json.loads((DATA / "fall_clips/labels.json").read_text())["files"]
HELD_OUT = {
    name: sorted(
        DATA / "fall_clips" / f
        for f, v in FALL_LABELS.items()
        if v["class"] == "fall"
        and f.startswith(prefix)
        and not (prefix == "urfd" and not f.endswith("_rgb.mp4"))
    )[:limit]
    for name, prefix, limit in (("URFD", "urfd", 99), ("UP-Fall", "upfall", 99), ("Le2i", "le2i", 12))
}
# (min_cutoff Hz, beta): tfjs MoveNet's, the shipped default, and smoother / faster neighbours.
CANDIDATES = ((2.5, 300.0), (2.0, 20.0), (1.0, 20.0), (2.0, 50.0), (0.5, 10.0))
BODY = slice(5, 17)  # COCO-17 shoulders .. ankles: the 12 joints every annotation set has


def replay(inputs: list[Path], out: Path, model: str, *flags: str) -> list[dict]:
    """Run `edge-pose replay` (rules off) and return its pose payloads."""
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
        "--no-rules",
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
    """(jitter filtered px, jitter raw px, median lag px) over keypoints scoring > 0.3; the payloads may
    come from several clips (consecutive frames are taken within one source only)."""

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

    sources = [p["source"] for p in filtered]

    def jitter(seq: list[np.ndarray | None]) -> float:
        acc: list[float] = []
        for i, (a, b, c) in enumerate(zip(seq, seq[1:], seq[2:], strict=False)):
            if a is None or b is None or c is None or sources[i] != sources[i + 2]:
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


def candidate_config(directory: Path, model: str, min_cutoff: float, beta: float) -> Path:
    """A daemon config that differs from the defaults only in the keypoint filter constants."""
    family = "movenet_multipose" if "multipose" in model else "movenet_singlepose"
    path = directory / f"filter-{min_cutoff:g}-{beta:g}.yaml"
    config = {
        "device": {"id": "eval"},
        "camera": {"source": "file:/dev/null"},
        "model": {"name": model},
        "pose": {family: {"keypoint_filter": {"min_cutoff_hz": min_cutoff, "beta": beta}}},
    }
    path.write_text(json.dumps(config))  # YAML reads JSON
    return path


def held_out(t: Path, model: str) -> None:
    """The filter-constants table on the held-out fall clips."""
    clips = [c for group in HELD_OUT.values() for c in group]
    print(f"\n### One Euro constants on {len(clips)} held-out fall clips ({model})\n")
    groups = ", ".join(f"{name} {len(group)}" for name, group in HELD_OUT.items())
    print(
        f"Clips: {groups}. Each cell: jitter px filtered / unfiltered, median distance from unfiltered px.\n"
    )
    print("| min_cutoff Hz | beta | " + " | ".join(HELD_OUT) + " | all |")
    print("|---|---|" + "---|" * (len(HELD_OUT) + 1))
    raw = {
        name: replay(group, t / f"raw-{name}.jsonl", model, "--no-filter") for name, group in HELD_OUT.items()
    }
    for min_cutoff, beta in CANDIDATES:
        config = candidate_config(t, model, min_cutoff, beta)
        cells = []
        on_all: list[dict] = []
        off_all: list[dict] = []
        for name, group in HELD_OUT.items():
            on = replay(group, t / f"on-{name}.jsonl", model, "--config", str(config))
            j_on, j_off, lag = jitter_and_lag(on, raw[name])
            cells.append(f"{j_on:.2f} / {j_off:.2f}, {lag:.2f}")
            on_all += on
            off_all += raw[name]
        j_on, j_off, lag = jitter_and_lag(on_all, off_all)
        cells.append(f"{j_on:.2f} / {j_off:.2f}, {lag:.2f}")
        print(f"| {min_cutoff:g} | {beta:g} | " + " | ".join(cells) + " |")


def main() -> int:
    """Print the Markdown tables for docs/accuracy.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="movenet_lightning")
    parser.add_argument("--config", help="a daemon config whose model.*, pose.* every replay takes")
    parser.add_argument("--skip-held-out", action="store_true", help="only the crop and filter tables")
    args = parser.parse_args()
    config_flags = ["--config", args.config] if args.config else []
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
            payloads = replay(STILLS, out, args.model, *config_flags, *flags)
            pck, err, _found = chosen_person_error(payloads)
            print(f"| {label} | {pck:.3f} | {err:.1f} | {shared_score(out)} |")
        print(f"\n### One Euro filter ({args.model})\n")
        print("| video | frames | jitter px, filter on | jitter px, filter off | ratio | median lag px |")
        print("|---|---|---|---|---|---|")
        for video in VIDEOS:
            on = replay([video], t / "on.jsonl", args.model, *config_flags)
            off = replay([video], t / "off.jsonl", args.model, *config_flags, "--no-filter")
            j_on, j_off, lag = jitter_and_lag(on, off)
            print(f"| {video.name} | {len(on)} | {j_on:.2f} | {j_off:.2f} | {j_on / j_off:.2f} | {lag:.2f} |")
        if not args.skip_held_out:
            held_out(t, args.model)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
