#!/usr/bin/env python3
"""Per-stage time of the Lightning frame path (docs/benchmarks.md, "Where the time around the model goes").

Replays `MoveNetSinglePose.estimate` step by step on the demo clip, with a `perf_counter` stamp
between steps, and a bare invoke of a second interpreter before every frame as `edge-pose bench`
does (so each frame starts with the caches as the benchmark leaves them). Prints the median of each
step over 600 frames. It reaches into the estimator's private state on purpose: it must time the
same calls the estimator makes, one by one.

    .venv/bin/python docs/eval/stage_times.py [--threads 2] [--frames 700]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from edge.capture.media_file import probe, read_frames
from edge.pose.crop_resize import bgr_to_input, crop_resize_into
from edge.pose.manifest import find_model
from edge.pose.movenet import MoveNetSinglePose, pose_score
from edge.pose.output_guard import keypoints_valid
from edge.pose.registry import load_estimator
from edge.pose.runtime import load_interpreter
from edge.pose.smart_crop import CropRegion, determine_crop_region, padded_square_region
from edge.publish.messages import pose_message
from edge.publish.mqtt import encode_payload
from edge.rules.engine import RulesEngine
from edge.types import Pose, keypoint_bbox

CLIP = Path(__file__).resolve().parents[2] / "demo/vtest_excerpt.mp4"
STEPS = (
    "crop+resize", "BGR→RGB", "invoke", "decode heads", "guard", "crop→frame", "pose score",
    "One Euro", "next crop", "crop low-pass", "pose + bbox", "pose message", "rules", "encode",
)  # fmt: skip


def main() -> int:
    """Time every step; print one line per step."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--frames", type=int, default=700)
    args = ap.parse_args()
    cv2.setNumThreads(1)  # as the CLI does
    frames = list(read_frames(probe(str(CLIP))))
    est = load_estimator("movenet_lightning", threads=args.threads)
    assert isinstance(est, MoveNetSinglePose) and est.runner.heads is not None
    bare = load_interpreter(find_model("movenet_lightning").path, args.threads)
    rules = RulesEngine()
    rows: list[list[float]] = []
    for i in range(args.frames):
        bare.invoke()
        f = frames[i % len(frames)]
        if i % len(frames) == 0:
            est.reset()
            rules.reset()
        region = est._crop or padded_square_region(f.height, f.width)
        t = [time.perf_counter()]
        shown = crop_resize_into(f.image, region, est.runner.warped)
        t.append(time.perf_counter())
        bgr_to_input(est.runner.warped, est.runner.input_view())
        t.append(time.perf_counter())
        est.interpreter.invoke()
        t.append(time.perf_counter())
        raw = est.runner.heads.decode()
        t.append(time.perf_counter())
        points = raw.tolist()
        keypoints_valid(points)
        t.append(time.perf_counter())
        x0, y0, sx, sy = shown.x_min, shown.y_min, shown.width, shown.height
        kp = np.array([(x * sx + x0, y * sy + y0, s) for y, x, s in points], dtype=np.float32)
        t.append(time.perf_counter())
        score = pose_score(kp)
        t.append(time.perf_counter())
        kp[:, :2] = est._keypoint_filter.apply(kp[:, :2], f.ts)
        t.append(time.perf_counter())
        wanted = determine_crop_region(kp, f.height, f.width)
        t.append(time.perf_counter())
        est._crop = CropRegion(*est._crop_filter.apply(wanted.as_tuple()))
        t.append(time.perf_counter())
        pose = Pose(keypoints=kp, score=score, layout="coco17", track_id=0, bbox=keypoint_bbox(kp, 0.2))
        t.append(time.perf_counter())
        message = pose_message(f, [pose], est.name, "bench", "edge-pose")
        t.append(time.perf_counter())
        rules.process(f, [pose])
        t.append(time.perf_counter())
        encode_payload(message)
        t.append(time.perf_counter())
        rows.append(np.diff(t).tolist())
    medians = np.median(np.array(rows[100:]), axis=0) * 1e3
    for step, ms in zip(STEPS, medians, strict=True):
        print(f"{step:14s} {ms:7.3f} ms")
    around = float(medians.sum() - medians[STEPS.index("invoke")])
    print(f"{'all but invoke':14s} {around:7.3f} ms  (sum of medians; {around / medians[2]:.2f}× the invoke)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
