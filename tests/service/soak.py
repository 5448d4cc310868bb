"""Soak measurement (a command, not a unit test): `edge-pose run` on the looping demo clip in real time
against a real Mosquitto for N minutes. Prints time to READY, RSS at READY / after warm-up / at the
end, peak RSS (VmHWM), frames processed, fps and the SIGTERM stop time, as one JSON line at the end.

    .venv/bin/python tests/service/soak.py --minutes 10        # or: make soak
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/: the Mosquitto helper

from mosquitto import Mosquitto  # noqa: E402

REPO = HERE.parents[1]
CLIP = REPO / "demo" / "vtest_excerpt.mp4"
WARMUP_S = 60.0  # allocator and interpreter caches settle; growth is measured from here
SAMPLE_S = 5.0
WATCHDOG_USEC = 30_000_000  # the unit's WatchdogSec=30


def proc_kib(pid: int, field: str) -> int:
    """A `VmRSS`/`VmHWM` line of /proc/PID/status, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--model", default="movenet_lightning")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="edge-pose-soak-"))
    broker = Mosquitto(work / "broker")
    broker.start()
    device = "soak"
    sub = broker.subscribe_collect(f"edge-pose/{device}/#")
    config = {
        "device": {"id": device},
        "camera": {"source": f"file:{CLIP}", "loop": True, "realtime": True},
        "model": {"name": args.model},
        "mqtt": {"host": broker.host, "port": broker.port, "stats_interval_s": 10.0},
        "outbox": {"path": str(work / "outbox.sqlite")},
        "logging": {"level": "info"},
    }
    config_path = work / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    notify_path = work / "notify.sock"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(notify_path))
    notify.settimeout(120)
    # like the unit: WatchdogSec=30 → pings every 15 s while healthy
    env = dict(os.environ, NOTIFY_SOCKET=str(notify_path), WATCHDOG_USEC=str(WATCHDOG_USEC))
    log = (work / "daemon.log").open("w")
    edge_pose = Path(sys.executable).parent / "edge-pose"
    t0 = time.monotonic()
    proc = subprocess.Popen([str(edge_pose), "run", "--config", str(config_path)], stderr=log, env=env)
    while b"READY=1" not in notify.recv(4096):
        pass
    ready_s = time.monotonic() - t0
    counts = {"WATCHDOG=1": 0, "STATUS=": 0}

    def drain() -> None:  # systemd reads every notification; an unread socket fills up
        notify.settimeout(None)
        while True:
            try:
                data = notify.recv(4096).decode()
            except OSError:
                return
            for key in counts:
                counts[key] += key in data

    threading.Thread(target=drain, daemon=True).start()
    rss_ready = proc_kib(proc.pid, "VmRSS")
    print(f"READY after {ready_s:.2f} s, RSS {rss_ready / 1024:.1f} MiB", flush=True)
    samples: list[tuple[float, int]] = []
    end = t0 + args.minutes * 60
    while time.monotonic() < end:
        time.sleep(SAMPLE_S)
        if proc.poll() is not None:
            print(f"daemon exited early with {proc.returncode}; log in {work}", file=sys.stderr)
            return 1
        samples.append((time.monotonic() - t0, proc_kib(proc.pid, "VmRSS")))
        if len(samples) % 12 == 0:
            print(f"t={samples[-1][0]:.0f} s RSS {samples[-1][1] / 1024:.1f} MiB", flush=True)
    peak = proc_kib(proc.pid, "VmHWM")
    stats = [json.loads(m.payload) for m in sub.snapshot(f"edge-pose/{device}/stats")]
    poses = len(sub.snapshot(f"edge-pose/{device}/pose"))
    t_stop = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = -9
    stop_s = time.monotonic() - t_stop
    final = re.search(r"(\d+) frames processed, (\d+) dropped", (work / "daemon.log").read_text())
    warm = next((rss for t, rss in samples if t >= WARMUP_S), samples[0][1])
    last = stats[-1] if stats else {}
    result = {
        "minutes": args.minutes,
        "model": args.model,
        "ready_s": round(ready_s, 2),
        "rss_ready_mib": round(rss_ready / 1024, 1),
        "rss_after_warmup_mib": round(warm / 1024, 1),
        "rss_end_mib": round(samples[-1][1] / 1024, 1),
        "rss_growth_from_ready_mib": round((samples[-1][1] - rss_ready) / 1024, 1),
        "rss_growth_after_warmup_mib": round((samples[-1][1] - warm) / 1024, 1),
        "rss_peak_mib": round(peak / 1024, 1),
        "frames_processed": int(final.group(1)) if final else None,
        "frames_dropped_by_buffer": int(final.group(2)) if final else None,
        "fps": last.get("fps"),
        "inference_ms_p50": last.get("inference_ms_p50"),
        "pose_messages_received": poses,
        "watchdog_pings": counts["WATCHDOG=1"],
        "status_updates": counts["STATUS="],
        "stop_s": round(stop_s, 2),
        "exit_code": code,
        "log": str(work / "daemon.log"),
    }
    print(json.dumps(result), flush=True)
    broker.stop()
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
