"""What the learned fall stage costs: CPU time per frame and person, and the peak RSS it adds to a run.

1. Time: real keypoint sequences (the default pose model over video_3.mp4 and two fall clips, cached under
   build/fall-cache) are replayed through the rules engine with only the fall rule on, and with no rule on;
   the difference over the number of (frame, person) rows is the fall stage's cost. Median of 7 rounds.
2. Memory: `edge-pose replay` of the demo clip in a child process with the default rules and with
   `fall.enabled: false`; the difference of the children's peak RSS (ru_maxrss) is what the fall model and
   its per-track windows add.

    python docs/eval/fall_stage_bench.py [CACHE_DIR]   # default build/fall-cache, as make fall-model
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from edge.eval.replay import replay  # noqa: E402
from edge.eval.track_cache import ExtractSettings, TrackCache, model_files  # noqa: E402
from edge.pose.registry import DEFAULT_MODEL, create_estimator  # noqa: E402
from edge.rules.config import RulesConfig  # noqa: E402
from edge.rules.engine import RulesEngine  # noqa: E402

DATA = REPO.parent / "shared" / "data"
CLIPS = (
    DATA / "fall_video_care_home" / "video_3.mp4",
    DATA / "fall_clips" / "le2i_coffeeroom_003.mp4",
    DATA / "fall_clips" / "urfd_fall-08-cam0_rgb.mp4",
)


def only(config: RulesConfig, fall: bool, detector: str = "rules") -> RulesConfig:
    off = {"enabled": False}
    return config.model_copy(
        update={
            "fall": config.fall.model_copy(update={"enabled": fall, "detector": detector}),
            "person_down": config.person_down.model_copy(update=off),
            "unsafe_posture": config.unsafe_posture.model_copy(update=off),
            "repetitive_motion": config.repetitive_motion.model_copy(update=off),
        }
    )


def time_fall_stage(cache_root: Path) -> None:
    cache = TrackCache(
        cache_root,
        DEFAULT_MODEL,
        ExtractSettings(),
        lambda: create_estimator(DEFAULT_MODEL, threads=1),
        model_files(DEFAULT_MODEL),
    )
    seqs = [cache.get(p) for p in CLIPS]
    rows = sum(len(s.track) for s in seqs)
    without = RulesEngine(only(RulesConfig(), False))
    for detector in ("rules", "model"):
        with_fall = RulesEngine(only(RulesConfig(), True, detector))
        per_row = []
        for _ in range(7):
            t0 = time.process_time()
            for s in seqs:
                replay(s, with_fall)
            t1 = time.process_time()
            for s in seqs:
                replay(s, without)
            t2 = time.process_time()
            per_row.append(((t1 - t0) - (t2 - t1)) / rows * 1e3)
        print(
            f"fall stage, detector {detector}: {statistics.median(per_row):.3f} ms per frame and person (median of 7; "
            f"range {min(per_row):.3f}-{max(per_row):.3f}; {rows} rows from {len(seqs)} clips, {DEFAULT_MODEL})"
        )


def rss() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        off, on = Path(tmp, "off.yaml"), Path(tmp, "on.yaml")
        off.write_text("rules:\n  fall:\n    enabled: false\n")
        on.write_text("rules:\n  fall:\n    detector: model\n")
        # ru_maxrss of children is a running maximum: measure the smaller run first, each in a fresh child
        results = {}
        for name, path in (("fall off", off), ("fall model on", on)):
            code = "import resource,subprocess,sys; subprocess.run(sys.argv[1:],check=True,capture_output=True); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
            cmd = [
                sys.executable,
                "-c",
                code,
                sys.executable,
                "-m",
                "edge.cli",
                "replay",
                str(REPO / "demo" / "vtest_excerpt.mp4"),
                "--out",
                str(Path(tmp, "m.jsonl")),
                "--rules",
                str(path),
            ]
            kb = [
                int(subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=REPO).stdout)
                for _ in range(3)
            ]
            results[name] = statistics.median(kb) / 1024.0
        print(
            f"peak RSS of `edge-pose replay demo/vtest_excerpt.mp4`: fall off {results['fall off']:.1f} MB, "
            f"fall model on {results['fall model on']:.1f} MB: +{results['fall model on'] - results['fall off']:.1f} MB (median of 3)"
        )


if __name__ == "__main__":
    time_fall_stage(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "build" / "fall-cache")
    rss()
