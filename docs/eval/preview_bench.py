"""What the live view costs the pipeline: `edge-pose run` flat out on a looping clip (camera.realtime
false, so the frame rate is what the machine can do, not the clip's), with the preview off, on with
nobody watching, on with one MJPEG reader (what a browser on the installer's laptop costs the camera:
encoding and sending), and on with the page open in a headless Chromium on this same machine (which
also takes CPU from the pipeline: the pessimistic case). Rounds are interleaved (in a new random order
each round) so machine load hits every condition alike; the figures are the medians of the daemon's own
fps (its stats message, a 10 s window), its CPU time per processed frame (all its threads: less
sensitive than fps to what else runs on the machine), and its peak RSS (VmHWM). With --realtime the clip
plays at its own frame rate, as a camera would, and the share of frames the pipeline had to drop is
reported instead of a rate it cannot exceed.

    .venv/bin/python docs/eval/preview_bench.py [--rounds 3] [--seconds 25] [--clip demo/vtest_excerpt.mp4]
        [--realtime]

Needs a Mosquitto binary (make deps) and, for the chromium condition, Debian's chromium and
chromium-driver (make deps) and selenium (the dev extra)."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
EDGE_POSE = Path(sys.executable).parent / "edge-pose"
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "preview"))
from mosquitto import Mosquitto, free_port  # noqa: E402
from preview_helpers import chromium  # noqa: E402

CONDITIONS = ("off", "on_idle", "mjpeg_reader", "chromium_page")
WARM_UP_S = 12.0  # model load, first frames, and a full 10 s fps window before the first reading
SETTLE_S = 3.0  # after a run: the previous Chromium's processes are gone before the next run starts
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, all threads (/proc/PID/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def read_stream(port: int, stop: threading.Event, counts: list[int]) -> None:
    """An MJPEG reader, as a browser elsewhere would be: counts the frames it gets."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/stream.mjpg")
    answer = conn.getresponse()
    while not stop.is_set():
        chunk = answer.read1(65536)
        if not chunk:
            break
        counts[0] += chunk.count(b"\xff\xd8\xff")
    conn.close()


def run_condition(
    condition: str, clip: Path, seconds: float, broker: Mosquitto, work: Path, realtime: bool
) -> dict[str, Any]:
    device = f"bench-{condition}"
    port = free_port()
    config = {
        "device": {"id": device},
        "camera": {"source": f"file:{clip}", "loop": True, "realtime": realtime},
        "mqtt": {"enabled": True, "host": broker.host, "port": broker.port, "stats_interval_s": 1.0},
        "outbox": {"path": str(work / f"{condition}.sqlite")},
        "preview": {"enabled": condition != "off", "port": port},
    }
    path = work / f"{condition}.yaml"
    path.write_text(yaml.safe_dump(config))
    sub = broker.subscribe_collect(f"edge-pose/{device}/stats")
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
    log = (work / f"{condition}.log").open("w")
    proc = subprocess.Popen([str(EDGE_POSE), "run", "--config", str(path)], stderr=log, env=env)
    stop = threading.Event()
    stream = [0]
    driver = None
    try:
        time.sleep(3.0)
        if condition == "mjpeg_reader":
            threading.Thread(target=read_stream, args=(port, stop, stream), daemon=True).start()
        elif condition == "chromium_page":
            driver = chromium(work / "profile")
            driver.get(f"http://127.0.0.1:{port}/")
        time.sleep(WARM_UP_S - 3.0)
        t0 = time.monotonic()
        cpu0 = cpu_s(proc.pid)
        time.sleep(seconds)
        cpu1 = cpu_s(proc.pid)
        readings = [json.loads(m.payload) for m in sub.snapshot() if m.t >= t0]
        status = Path(f"/proc/{proc.pid}/status").read_text()
        hwm_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))
    finally:
        stop.set()
        if driver is not None:
            driver.quit()
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        sub.close()
        time.sleep(SETTLE_S)
    fps = [r["fps"] for r in readings]
    frames = readings[-1]["frames"] - readings[0]["frames"] if len(readings) > 1 else 0
    dropped = readings[-1]["frames_dropped"] - readings[0]["frames_dropped"] if len(readings) > 1 else 0
    return {
        "condition": condition,
        "fps_median": statistics.median(fps) if fps else 0.0,
        "readings": len(fps),
        "cpu_ms_per_frame": 1000 * (cpu1 - cpu0) / frames if frames else None,
        "dropped_share": dropped / (frames + dropped) if frames + dropped else None,
        "peak_rss_mb": hwm_kb / 1024,
        "viewers": max((r.get("preview_viewers", 0) for r in readings), default=0),
        "stream_frames_per_s": stream[0] / (seconds + WARM_UP_S - 3.0)
        if condition == "mjpeg_reader"
        else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=25.0)
    parser.add_argument("--clip", type=Path, default=REPO / "demo" / "vtest_excerpt.mp4")
    parser.add_argument("--realtime", action="store_true", help="play the clip at its own frame rate")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="edge-pose-preview-bench-") as tmp:
        work = Path(tmp)
        broker = Mosquitto(work / "broker")
        broker.start()
        try:
            shuffle = random.Random(17)
            for round_no in range(1, args.rounds + 1):
                for condition in shuffle.sample(CONDITIONS, len(CONDITIONS)):
                    row = run_condition(condition, args.clip, args.seconds, broker, work, args.realtime)
                    row["round"] = round_no
                    rows.append(row)
                    print(json.dumps(row), flush=True)
        finally:
            broker.stop()

    def median_of(condition: str, key: str) -> float:
        return statistics.median(r[key] or 0.0 for r in rows if r["condition"] == condition)

    base_fps, base_cpu = median_of("off", "fps_median"), median_of("off", "cpu_ms_per_frame")
    mode = "realtime" if args.realtime else "as fast as it goes"
    print(f"\n{args.clip.name}, {mode}, {args.rounds} rounds of {args.seconds:.0f} s (medians; RSS: max)")
    print("condition          fps   vs off   CPU ms/frame   vs off   dropped   peak RSS MB")
    for condition in CONDITIONS:
        fps, cpu = median_of(condition, "fps_median"), median_of(condition, "cpu_ms_per_frame")
        dropped = median_of(condition, "dropped_share")
        rss = max(r["peak_rss_mb"] for r in rows if r["condition"] == condition)
        print(
            f"{condition:<16} {fps:6.1f}  {100 * (fps / base_fps - 1):+6.1f}%  {cpu:12.2f}  "
            f"{100 * (cpu / base_cpu - 1):+6.1f}%  {100 * dropped:7.1f}%  {rss:11.1f}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
