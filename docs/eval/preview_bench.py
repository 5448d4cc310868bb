"""What the live view costs the pipeline: `edge-pose run` flat out on a looping clip (camera.realtime
false, so the frame rate is what the machine can do, not the clip's), with the preview off, on with
nobody watching, on with one MJPEG reader (what a browser on the installer's laptop costs the camera:
encoding and sending), and on with the page open in a headless Chromium on this same machine (which
also takes CPU from the pipeline: the pessimistic case). Rounds are interleaved so machine load hits
every condition alike; the figures are the medians of the daemon's own fps (its stats message, a 10 s
window) and its peak RSS (VmHWM).

    .venv/bin/python docs/eval/preview_bench.py [--rounds 3] [--seconds 25] [--clip demo/vtest_excerpt.mp4]

Needs a Mosquitto binary (make deps) and, for the chromium condition, Debian's chromium and
chromium-driver (make deps) and selenium (the dev extra)."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion

REPO = Path(__file__).resolve().parents[2]
EDGE_POSE = Path(sys.executable).parent / "edge-pose"
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "preview"))
from mosquitto import Mosquitto, free_port  # noqa: E402
from preview_helpers import chromium  # noqa: E402

CONDITIONS = ("off", "on_idle", "mjpeg_reader", "chromium_page")
WARM_UP_S = 12.0  # model load, first frames, and a full 10 s fps window before the first reading


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


def run_condition(condition: str, clip: Path, seconds: float, broker: Mosquitto, work: Path) -> dict[str, Any]:
    device = f"bench-{condition}"
    port = free_port()
    config = {
        "device": {"id": device},
        "camera": {"source": f"file:{clip}", "loop": True, "realtime": False},
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
    frames = [0]
    driver = None
    try:
        time.sleep(3.0)
        if condition == "mjpeg_reader":
            threading.Thread(target=read_stream, args=(port, stop, frames), daemon=True).start()
        elif condition == "chromium_page":
            driver = chromium(work / "profile")
            driver.get(f"http://127.0.0.1:{port}/")
        time.sleep(WARM_UP_S - 3.0)
        t0 = time.monotonic()
        time.sleep(seconds)
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
    fps = [r["fps"] for r in readings]
    return {
        "condition": condition,
        "fps_median": statistics.median(fps) if fps else 0.0,
        "readings": len(fps),
        "peak_rss_mb": hwm_kb / 1024,
        "viewers": max((r.get("preview_viewers", 0) for r in readings), default=0),
        "stream_frames_per_s": frames[0] / (seconds + WARM_UP_S - 3.0) if condition == "mjpeg_reader" else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=25.0)
    parser.add_argument("--clip", type=Path, default=REPO / "demo" / "vtest_excerpt.mp4")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="edge-pose-preview-bench-") as tmp:
        work = Path(tmp)
        broker = Mosquitto(work / "broker")
        broker.start()
        try:
            for round_no in range(1, args.rounds + 1):
                for condition in CONDITIONS:
                    row = run_condition(condition, args.clip, args.seconds, broker, work) | {"round": round_no}
                    rows.append(row)
                    print(json.dumps(row), flush=True)
        finally:
            broker.stop()
    base = statistics.median(r["fps_median"] for r in rows if r["condition"] == "off")
    print("\ncondition        fps (median of rounds)  vs off   peak RSS MB (max)")
    for condition in CONDITIONS:
        mine = [r for r in rows if r["condition"] == condition]
        fps = statistics.median(r["fps_median"] for r in mine)
        rss = max(r["peak_rss_mb"] for r in mine)
        print(f"{condition:<16} {fps:>10.1f}               {100 * (fps / base - 1):+6.1f}%  {rss:8.1f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
