#!/usr/bin/env python3
"""`make bench`: runs `edge-pose bench --json` for every shipped model on both runtimes and MediaPipe
Pose on the same clip, one after the other in one run, and prints the Markdown tables for
docs/benchmarks.md (including the Raspberry Pi 4 projection)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CLIP = REPO / "demo/vtest_excerpt.mp4"
VENVS = {"litert": REPO / ".venv", "tflite": REPO / ".venv-tflite"}
# Published model-only figures, Raspberry Pi 4, 4 threads (TensorFlow's MoveNet page; notes/anchors.md).
PI4_MODEL_MS = {"movenet_lightning": 95.0, "movenet_thunder": 251.0}


def bench(venv: Path, runtime: str, model: str, frames: int, threads: int = 2) -> dict:
    """One `edge-pose bench --json` run in `venv` with `runtime` forced."""
    env = {**os.environ, "EDGE_POSE_RUNTIME": runtime}
    out = subprocess.run(
        [str(venv / "bin/edge-pose"), "bench", "--model", model, "--frames", str(frames), "--json", "--input", str(CLIP),
         "--threads", str(threads)],
        check=True, capture_output=True, text=True, env=env, cwd=REPO,
    )  # fmt: skip
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "threads": threads}


TFLITE_FRAMES = 40  # per model on tflite-runtime (a quarter of a second per frame on x86)
# Every model a user can pick by name (float references and the BlazePose stages are not listed).
MODELS = [
    "movenet_lightning",
    "movenet_thunder",
    "movenet_multipose",
    "blazepose_lite",
    "blazepose_full",
    "posenet",
]


def main() -> int:
    """Run everything and print Markdown."""
    frames = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    rows = []
    for model in MODELS:
        for runtime, venv in VENVS.items():
            # x86 tflite-runtime runs INT8 5-20× slower (no optimised int8 kernels): fewer frames there.
            n = frames if runtime == "litert" else min(frames, TFLITE_FRAMES)
            try:
                rows.append(bench(venv, runtime, model, n))
            except subprocess.CalledProcessError as exc:
                print(f"<!-- {model} on {runtime} failed: {exc.stderr.strip().splitlines()[-1:]} -->")
    # The CPU-efficiency comparison also at 1 thread: on 2 cores the second XNNPACK thread buys
    # wall time at a higher CPU cost per frame (its worker spins between jobs).
    rows.append(bench(VENVS["litert"], "litert", "movenet_lightning", frames, threads=1))
    mp = json.loads(
        subprocess.run(
            [str(REPO / ".venv-mediapipe/bin/python"), str(REPO / "docs/eval/mediapipe_bench.py"), "--input", str(CLIP),
             "--frames", str(frames)],
            check=True, capture_output=True, text=True,
        ).stdout.strip().splitlines()[-1]
    )  # fmt: skip
    print(
        f"Clip: `{CLIP.relative_to(REPO)}` (768×576), {frames} frames on ai-edge-litert, {TFLITE_FRAMES} on tflite-runtime, "
        "2 threads unless the row says otherwise.\n"
    )
    print(
        "| model | runtime | bare ms p50 / p95 | pipeline ms p50 / p95 | ratio | fps | CPU ms/frame | frames per CPU-s | peak RSS MiB (decoded frames) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['model']}{' (1 thread)' if r['threads'] == 1 else ''} | {r['runtime']} | {r['bare_ms_p50']:.2f} / {r['bare_ms_p95']:.2f} | "
            f"{r['pipeline_ms_p50']:.2f} / {r['pipeline_ms_p95']:.2f} | {r['ratio']:.2f} | {r['fps']:.1f} | "
            f"{r['cpu_ms_per_frame']:.2f} | {r['frames_per_cpu_s']:.1f} | {r['rss_mb']:.0f} ({r['decoded_frames_mb']:.0f}) |"
        )
    print(
        f"| MediaPipe Pose full | {mp['runtime']} | – | {mp['pipeline_ms_p50']:.2f} / {mp['pipeline_ms_p95']:.2f} | – | "
        f"{mp['fps']:.1f} | {mp['cpu_ms_per_frame']:.2f} | {mp['frames_per_cpu_s']:.1f} | {mp['rss_mb']:.0f} ({mp['decoded_frames_mb']:.0f}) |"
    )
    for lightning in (r for r in rows if r["model"] == "movenet_lightning" and r["runtime"] == "litert"):
        print(
            f"\nFrames per CPU-second, edge-pose Lightning ({lightning['threads']} thread"
            f"{'s' if lightning['threads'] > 1 else ''}) vs MediaPipe Pose: "
            f"{lightning['frames_per_cpu_s']:.1f} / {mp['frames_per_cpu_s']:.1f} = "
            f"**{lightning['frames_per_cpu_s'] / mp['frames_per_cpu_s']:.1f}×** (target ≥ 4×). "
            f"4× allows {mp['cpu_ms_per_frame'] / 4:.2f} CPU-ms per frame for everything; the bare invoke "
            f"alone took {lightning['bare_cpu_ms_per_invoke']:.2f} CPU-ms."
        )
    print("\nRaspberry Pi 4 projection (published model-only time × this run's pipeline/bare ratio):\n")
    print(
        "| model | published model ms (Pi 4, 4 threads) | measured ratio | projected pipeline ms | projected fps |"
    )
    print("|---|---|---|---|---|")
    for r in rows:
        if r["runtime"] == "litert" and r["model"] in PI4_MODEL_MS and r["threads"] == 2:
            ms = PI4_MODEL_MS[r["model"]] * r["ratio"]
            print(
                f"| {r['model']} | {PI4_MODEL_MS[r['model']]:.0f} | {r['ratio']:.2f} | {ms:.0f} | {1e3 / ms:.1f} |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
