"""`edge-pose bench --scenes`: what the multi-person front-end costs with nobody, one person and a crowd
in view, side by side in one run with today's single-pose Lightning, MultiPose alone and (with
`--mediapipe PYTHON`) MediaPipe Pose on the one-person clip.

Scenes (real frames decoded into memory first):
  - empty: the first 24 frames of ../shared/data/fall_clips/urfd_adl-40-cam0_rgb.mp4, a real bedroom
    before anyone walks in (nobody in view: checked by eye, frame by frame; someone appears in the
    doorway at frame 28), scaled up to the crowd clip's 768×576 so discovery tiles it as it tiles the
    crowd;
  - one person: ../shared/data/fall_video_care_home/video_3.mp4 (a woman with a walker; `--one FILE`);
  - crowd: the demo clip (3-8 walkers).
Steady state, as on a camera: each scene is played forward then backward (so nobody jumps at the
loop point) at its own frame rate, with timestamps that keep increasing; its state is reset once, and
one untimed forward-and-back pass (a source's first-frame sweep, everyone's acquisition) comes before
the `--frames` timed frames. Each model × scene is timed (CPU time of the whole pipeline, all threads)
in `--rounds` interleaved rounds; the table shows medians. A bare Lightning invoke is timed in every
round too, for the per-person figure: (crowd − one person) CPU / (crowd − one) people / bare invoke
CPU."""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge.capture.media_file import probe, read_frames
from edge.commands.pipeline_options import pipeline_choice
from edge.errors import InputError
from edge.pipeline import Pipeline
from edge.pose.manifest import find_model
from edge.pose.registry import create_estimator
from edge.pose.runtime import load_interpreter, zeros_like_input
from edge.rules.engine import RulesEngine
from edge.types import Frame, Image

REPO = Path(__file__).resolve().parents[2]
CROWD_CLIP = REPO / "demo" / "vtest_excerpt.mp4"
SHARED_DATA = REPO.parent / "shared" / "data"
ONE_PERSON_CLIP = SHARED_DATA / "fall_video_care_home" / "video_3.mp4"
EMPTY_CLIP = SHARED_DATA / "fall_clips" / "urfd_adl-40-cam0_rgb.mp4"
EMPTY_FRAMES = 24  # frames 0-23 show nobody (someone appears in the doorway at frame 28)
MEDIAPIPE_SCRIPT = REPO / "docs" / "eval" / "mediapipe_bench.py"
MAX_FRAMES = 150  # decoded frames kept per scene (as `edge-pose bench`)
COMPARED = ("movenet_lightning", "movenet_multipose")  # today's single-pose default, MultiPose alone


@dataclass(frozen=True, slots=True)
class Scene:
    """Decoded frames of one scene and its frame period (s)."""

    images: list[Image]
    period_s: float

    def frame(self, i: int, source: str) -> Frame:
        """Frame `i` of the scene played forward then backward, endlessly, at its own frame rate."""
        n = len(self.images)
        cycle = max(2 * n - 2, 1)
        k = i % cycle
        image = self.images[k if k < n else cycle - k]
        return Frame(image, round(i * self.period_s * 1e9), source, i)


def _clip(path: Path, count: int) -> Scene:
    info = probe(str(path))
    images = [f.image for f in itertools.islice(read_frames(info), count)]
    return Scene(images, 1.0 / info.fps)


def scene_frames(args: argparse.Namespace) -> dict[str, Scene]:
    """The three scenes' decoded frames."""
    one = Path(args.one or ONE_PERSON_CLIP)
    for path in (one, EMPTY_CLIP):
        if not path.is_file():
            raise InputError(f"{path}: clip not found (../shared/data; --one FILE for the one-person clip)")
    crowd = _clip(CROWD_CLIP, MAX_FRAMES)
    room = _clip(EMPTY_CLIP, EMPTY_FRAMES)
    h, w = crowd.images[0].shape[:2]
    scaled: list[Image] = [
        np.asarray(cv2.resize(im, (w, h), interpolation=cv2.INTER_LINEAR), dtype=np.uint8)
        for im in room.images
    ]
    empty = Scene(scaled, room.period_s)
    return {"empty": empty, "one person": _clip(one, MAX_FRAMES), "crowd": crowd}


def time_pipeline(pipeline: Pipeline, scene: Scene, count: int, source: str = "bench") -> tuple[float, float]:
    """(CPU ms per frame, people per frame) over `count` steady-state frames: state reset, one untimed
    forward-and-back pass, then `count` frames timed, the timestamps running on."""
    pipeline.reset()
    warm = max(2 * len(scene.images) - 2, 1)
    for i in range(warm):
        pipeline.process(scene.frame(i, source))
    people = 0
    c0 = time.process_time()
    for i in range(warm, warm + count):
        result = pipeline.process(scene.frame(i, source))
        people += len(result.poses)
        for m in result.messages:
            json.dumps(m.payload)
    cpu = 1e3 * (time.process_time() - c0) / count
    pipeline.finish()
    return cpu, people / count


def bare_lightning_cpu_ms(threads: int, image: Any, count: int) -> float:
    """CPU ms of one bare Lightning invoke (the shipped INT8 file, a real input)."""
    interpreter = load_interpreter(find_model("movenet_lightning").path, threads)
    detail = interpreter.get_input_details()[0]
    tensor = zeros_like_input(detail)
    tensor[0] = cv2.resize(image, (int(tensor.shape[2]), int(tensor.shape[1])))[:, :, ::-1]
    interpreter.set_tensor(int(detail["index"]), tensor)
    for _ in range(10):
        interpreter.invoke()
    c0 = time.process_time()
    for _ in range(count):
        interpreter.invoke()
    return 1e3 * (time.process_time() - c0) / count


def run_scenes(args: argparse.Namespace) -> int:
    """Time every model on every scene; print the table (or JSON)."""
    scenes = scene_frames(args)
    choice = pipeline_choice(args)
    args.model, args.threads = choice.model, choice.threads
    models = [args.model, *[m for m in COMPARED if m != args.model]]
    pipelines = {
        m: Pipeline(
            choice.estimator() if m == args.model else create_estimator(m, threads=args.threads),
            device="bench",
            rules=RulesEngine(choice.rules),
        )
        for m in models
    }
    cells: dict[tuple[str, str], list[tuple[float, float]]] = {}
    bare: list[float] = []
    for _ in range(args.rounds):
        bare.append(bare_lightning_cpu_ms(args.threads, scenes["crowd"].images[0], 100))
        for model, pipeline in pipelines.items():
            for scene, frames in scenes.items():
                cells.setdefault((model, scene), []).append(time_pipeline(pipeline, frames, args.frames))
    table = {
        model: {
            scene: {
                "cpu_ms_per_frame": round(statistics.median(c for c, _ in cells[(model, scene)]), 3),
                "people_per_frame": round(statistics.median(p for _, p in cells[(model, scene)]), 2),
            }
            for scene in scenes
        }
        for model in models
    }
    result: dict[str, Any] = {
        "threads": args.threads,
        "frames": args.frames,
        "rounds": args.rounds,
        "bare_lightning_cpu_ms": round(statistics.median(bare), 3),
        "scenes": table,
    }
    if args.mediapipe:
        out = subprocess.run(
            [args.mediapipe, str(MEDIAPIPE_SCRIPT), "--input", str(args.one or ONE_PERSON_CLIP), "--frames",
             str(args.frames)],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        result["mediapipe_one_person"] = json.loads(out.strip().splitlines()[-1])
    main = table[args.model]
    one, crowd = main["one person"], main["crowd"]
    extra = crowd["people_per_frame"] - one["people_per_frame"]
    result["ratios"] = {
        "empty_vs_one_person": round(main["empty"]["cpu_ms_per_frame"] / one["cpu_ms_per_frame"], 3),
        "one_person_vs_single_pose": round(
            one["cpu_ms_per_frame"] / table["movenet_lightning"]["one person"]["cpu_ms_per_frame"], 3
        ),
        "further_person_vs_bare_lightning": round(
            (crowd["cpu_ms_per_frame"] - one["cpu_ms_per_frame"])
            / max(extra, 1e-9)
            / result["bare_lightning_cpu_ms"],
            3,
        ),
    }
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"edge-pose bench --scenes: {args.threads} thread(s), {args.frames} frames × {args.rounds} rounds, "
          f"CPU ms per frame (people per frame), medians")  # fmt: skip
    print(f"  {'model':28s}" + "".join(f"{s:>20s}" for s in scenes))
    for model, row in table.items():
        print(
            f"  {model:28s}"
            + "".join(f"{c['cpu_ms_per_frame']:12.2f} ({c['people_per_frame']:4.1f})" for c in row.values())
        )
    if "mediapipe_one_person" in result:
        mp = result["mediapipe_one_person"]
        print(f"  {'MediaPipe Pose (one person)':28s}{'':>20s}{mp['cpu_ms_per_frame']:12.2f}")
    r = result["ratios"]
    print(f"  bare Lightning invoke {result['bare_lightning_cpu_ms']:.2f} CPU-ms; {args.model}: empty / one person "
          f"{r['empty_vs_one_person']:.2f}, one person / single-pose {r['one_person_vs_single_pose']:.2f}, "
          f"each further person {r['further_person_vs_bare_lightning']:.2f} × a bare Lightning invoke")  # fmt: skip
    return 0
