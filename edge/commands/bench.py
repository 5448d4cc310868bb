"""`edge-pose bench`: what edge-pose adds around the model, measured in one run.

On frames decoded into memory beforehand, it alternates two measurements so machine noise hits both
alike: the bare interpreter (`invoke()` on a fixed input tensor) and the whole per-frame pipeline
(crop warp → invoke → decode → track → filter → rules → messages built and handed to the publisher).
It reports medians and p95 of both, their ratio, frames per second, CPU time per frame and peak RSS."""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from edge import __version__
from edge.capture.media_file import probe, read_frames
from edge.commands.bench_scenes import run_scenes
from edge.commands.pipeline_options import add_pipeline_options, pipeline_choice
from edge.errors import EdgeError
from edge.pipeline import Pipeline
from edge.pose.manifest import find_model
from edge.pose.runtime import load_interpreter, runtime_name, zeros_like_input
from edge.publish.messages import Message
from edge.publish.mqtt import encode_payload
from edge.rules.engine import RulesEngine
from edge.types import Frame

DEFAULT_INPUT = Path(__file__).resolve().parents[2] / "demo" / "vtest_excerpt.mp4"
MAX_DECODED_FRAMES = 150  # frames kept decoded in memory (768×576: 1.3 MB each); longer runs loop them
WARMUP_FRAMES = 10  # invokes before timing: XNNPACK packs weights and caches on the first runs


class EncodingSink:
    """The publisher's work on the frame path without a network: encode each message to its wire
    form (what MqttPublisher does before handing bytes to paho's queue) and drop it."""

    def __init__(self) -> None:
        self.messages = 0
        self.bytes = 0

    def publish(self, message: Message) -> None:
        """Encode and count."""
        self.bytes += len(encode_payload(message))
        self.messages += 1

    def close(self) -> None:
        """Nothing to flush."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `bench` subcommand."""
    p = subparsers.add_parser(
        "bench",
        help="measure the bare model and the whole per-frame pipeline on decoded frames",
        description=__doc__,
    )
    add_pipeline_options(p)
    p.add_argument("--input", default=str(DEFAULT_INPUT), help="video or image (default: the demo clip)")
    p.add_argument("--frames", type=int, default=300, help="frames to time (the clip loops; default 300)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument(
        "--scenes",
        action="store_true",
        help="CPU per frame with nobody, one person and a crowd in view, --model beside single-pose "
        "Lightning and MultiPose (edge/commands/bench_scenes.py)",
    )
    p.add_argument("--rounds", type=int, default=3, help="--scenes: interleaved rounds (default 3)")
    p.add_argument(
        "--one", metavar="FILE", help="--scenes: the one-person clip (default ../shared video_3.mp4)"
    )
    p.add_argument(
        "--mediapipe", metavar="PYTHON", help="--scenes: a Python with mediapipe, for the comparison"
    )
    p.set_defaults(func=run)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100)."""
    return float(np.percentile(np.asarray(values), q))


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def looped_frame(frames: list[Frame], i: int, pipeline: Pipeline) -> Frame:
    """Frame i of the clip played in a loop; each new pass starts fresh, as the file source does."""
    n = i % len(frames)
    if n == 0 and i:
        pipeline.reset()
    f = frames[n]
    return Frame(f.image, f.timestamp_ns, f.source, n)


def run(args: argparse.Namespace) -> int:
    """Decode, warm up, time; print the figures."""
    if args.frames < 10:
        raise EdgeError("--frames: at least 10 frames are needed for a median and a p95")
    if args.scenes:
        return run_scenes(args)
    info = probe(args.input)
    frames: list[Frame] = list(itertools.islice(read_frames(info), MAX_DECODED_FRAMES))
    choice = pipeline_choice(args)
    spec = find_model(choice.model, choice.model_dir)
    estimator = choice.estimator()
    pipeline = Pipeline(estimator, device="bench", rules=RulesEngine(choice.rules))
    sink = EncodingSink()
    # The bare interpreter: same file, same threads, a fixed real input (the first frame resized).
    bare = load_interpreter(spec.path, choice.threads)
    detail = bare.get_input_details()[0]
    tensor = zeros_like_input(detail)
    if tensor.ndim == 4 and tensor.shape[-1] == 3:
        h, w = int(tensor.shape[1]), int(tensor.shape[2])
        tensor[0] = cv2.resize(frames[0].image, (w, h))[:, :, ::-1].astype(tensor.dtype)
    bare.set_tensor(int(detail["index"]), tensor)
    for i in range(WARMUP_FRAMES):
        bare.invoke()
        for m in pipeline.process(frames[i % len(frames)]).messages:
            sink.publish(m)
    pipeline.reset()
    bare_ms: list[float] = []
    pipe_ms: list[float] = []
    bar = tqdm(
        total=2 * args.frames, desc=f"bench {choice.model}", unit="frame", file=sys.stderr, disable=None
    )
    # Pass 1, interleaved (bare invoke, then one pipeline frame) so load on the machine hits both alike.
    bare_cpu_s = 0.0  # CPU time (all threads) spent while the bare invokes ran
    for i in range(args.frames):
        c0, t0 = time.process_time(), time.perf_counter()
        bare.invoke()
        bare_ms.append((time.perf_counter() - t0) * 1e3)
        bare_cpu_s += time.process_time() - c0
        frame = looped_frame(frames, i, pipeline)
        t0 = time.perf_counter()
        for m in pipeline.process(frame).messages:
            sink.publish(m)
        pipe_ms.append((time.perf_counter() - t0) * 1e3)
        bar.update()
    # Pass 2, the pipeline alone: throughput and CPU time (all threads) per frame.
    pipeline.reset()
    c0, t0 = time.process_time(), time.perf_counter()
    for i in range(args.frames):
        for m in pipeline.process(looped_frame(frames, i, pipeline)).messages:
            sink.publish(m)
        bar.update()
    wall_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    bar.close()
    result: dict[str, Any] = {
        "model": estimator.name,
        "runtime": runtime_name(),
        "threads": choice.threads,
        "input": args.input,
        "frame_size": [frames[0].width, frames[0].height],
        "frames": args.frames,
        "bare_ms_p50": round(statistics.median(bare_ms), 3),
        "bare_ms_p95": round(percentile(bare_ms, 95), 3),
        "pipeline_ms_p50": round(statistics.median(pipe_ms), 3),
        "pipeline_ms_p95": round(percentile(pipe_ms, 95), 3),
        "ratio": round(statistics.median(pipe_ms) / statistics.median(bare_ms), 3),
        "fps": round(args.frames / wall_s, 1),
        "cpu_ms_per_frame": round(1e3 * cpu_s / args.frames, 3),
        "frames_per_cpu_s": round(args.frames / cpu_s, 1),
        "bare_cpu_ms_per_invoke": round(1e3 * bare_cpu_s / args.frames, 3),
        "invokes_per_frame": round(estimator.stats.invokes / (2 * args.frames + WARMUP_FRAMES), 3),
        "rss_mb": round(peak_rss_mb(), 1),
        "decoded_frames_mb": round(sum(f.image.nbytes for f in frames) / 2**20, 1),
        "messages": sink.messages,
        "message_bytes_mean": round(sink.bytes / max(sink.messages, 1), 1),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "version": __version__,
    }
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"edge-pose bench: {result['model']} on {result['runtime']}, {choice.threads} threads, "
          f"{args.frames} frames of {args.input} ({frames[0].width}×{frames[0].height})")  # fmt: skip
    print(f"  bare invoke     median {result['bare_ms_p50']:8.2f} ms   p95 {result['bare_ms_p95']:8.2f} ms"
          f"   {result['bare_cpu_ms_per_invoke']:.2f} CPU-ms per invoke")  # fmt: skip
    print(
        f"  whole pipeline  median {result['pipeline_ms_p50']:8.2f} ms   p95 {result['pipeline_ms_p95']:8.2f} ms"
    )
    print(f"  ratio {result['ratio']:.2f}×   {result['fps']} fps   {result['cpu_ms_per_frame']:.2f} CPU-ms per frame"
          f"   peak RSS {result['rss_mb']:.0f} MiB (of which {result['decoded_frames_mb']:.0f} MiB decoded frames)")  # fmt: skip
    return 0
