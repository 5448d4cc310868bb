"""`edge-pose bench` runs the real pipeline and reports every figure it promises (no timing asserts:
speed is measured by the command itself, docs/benchmarks.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from edge.pose.registry import DEFAULT_MODEL

REPO = Path(__file__).resolve().parents[1]


def test_bench_json_has_the_promised_figures(data_dir: Path) -> None:
    clip = data_dir / "fall_video_care_home/video_3.mp4"
    r = subprocess.run(
        [sys.executable, "-m", "edge", "bench", "--frames", "20", "--threads", "1", "--input", str(clip), "--json"],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout.strip().splitlines()[-1])
    for key in ("bare_ms_p50", "pipeline_ms_p50", "ratio", "fps", "cpu_ms_per_frame", "rss_mb"):
        assert isinstance(result[key], float) and result[key] > 0, key
    assert (
        result["pipeline_ms_p50"] / result["bare_ms_p50"] == result["ratio"]
        or abs(result["pipeline_ms_p50"] / result["bare_ms_p50"] - result["ratio"]) < 0.01
    )
    # At 1 thread an invoke's CPU time is its wall time: counted around the bare invokes only, not
    # the pipeline frames between them (those would add a third or more).
    assert 0 < result["bare_cpu_ms_per_invoke"] <= 1.2 * result["bare_ms_p95"], result
    assert result["model"] == DEFAULT_MODEL and result["frames"] == 20 and result["frame_size"] == [640, 360]
    # Every timed frame built and encoded its pose message (and any events) for the publisher.
    assert result["messages"] >= 2 * 20


def test_bench_refuses_too_few_frames() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "edge", "bench", "--frames", "3"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert r.returncode != 0 and "Traceback" not in r.stderr and "--frames" in r.stderr
