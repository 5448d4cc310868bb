#!/usr/bin/env python3
"""The comparison a user would make: MediaPipe Pose (PyPI mediapipe==0.10.14, legacy
`solutions.pose`, model_complexity=1, the model that wheel ships) on the same clip, frames decoded
into memory first, timed the way `edge-pose bench` times its pipeline.

Runs only in its own venv (`make bench-mediapipe` creates .venv-mediapipe); MediaPipe is never a
dependency of edge-pose. Prints one JSON object with the keys `edge-pose bench --json` uses."""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time

import cv2
import mediapipe as mp
import numpy as np

MAX_DECODED_FRAMES = 150  # as edge-pose bench
WARMUP_FRAMES = 10


def main() -> int:
    """Decode, warm up, time; print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True)
    parser.add_argument("--frames", type=int, default=300)
    args = parser.parse_args()
    capture = cv2.VideoCapture(args.input)
    frames = []
    while len(frames) < MAX_DECODED_FRAMES:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(
            cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        )  # MediaPipe wants RGB; edge-pose converts per crop
    pose = mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1, smooth_landmarks=True)
    found = 0
    for i in range(WARMUP_FRAMES):
        pose.process(frames[i % len(frames)])
    times: list[float] = []
    c0, t_start = time.process_time(), time.perf_counter()
    for i in range(args.frames):
        t0 = time.perf_counter()
        result = pose.process(frames[i % len(frames)])
        times.append((time.perf_counter() - t0) * 1e3)
        found += result.pose_landmarks is not None
    wall_s, cpu_s = time.perf_counter() - t_start, time.process_time() - c0
    print(
        json.dumps(
            {
                "model": "mediapipe_pose_full (model_complexity=1)",
                "runtime": f"mediapipe {mp.__version__}",
                "input": args.input,
                "frames": args.frames,
                "pipeline_ms_p50": round(statistics.median(times), 3),
                "pipeline_ms_p95": round(float(np.percentile(times, 95)), 3),
                "fps": round(args.frames / wall_s, 1),
                "cpu_ms_per_frame": round(1e3 * cpu_s / args.frames, 3),
                "frames_per_cpu_s": round(args.frames / cpu_s, 1),
                "frames_with_pose": found,
                "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "decoded_frames_mb": round(sum(f.nbytes for f in frames) / 2**20, 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
