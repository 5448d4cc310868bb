"""Measure what an event costs the frame thread (a measurement command, not a test):

    .venv/bin/python tests/mqtt/measure_outbox.py [--n 2000] [--dir /var/lib/edge-pose]

1. `Outbox.add` alone (one SQLite INSERT + commit into the WAL, no fsync);
2. `MqttPublisher.publish(event)` with a real Mosquitto connected, while the outbox thread sends,
   deletes acknowledged rows and checkpoints (the whole frame-path cost of an event);
3. for comparison, the same INSERT with synchronous=FULL (an fsync per event), the design not taken.
Prints median / p95 / p99 / max in milliseconds."""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mosquitto import Mosquitto
from mqtt_helpers import event, publisher_settings

from edge.publish.mqtt import MqttPublisher
from edge.publish.outbox import Outbox


def summary(label: str, seconds: list[float]) -> None:
    ms = sorted(1000 * s for s in seconds)
    pick = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]  # noqa: E731
    print(
        f"{label:<48} n={len(ms)}  median {statistics.median(ms):.3f}  p95 {pick(0.95):.3f}  "
        f"p99 {pick(0.99):.3f}  max {ms[-1]:.3f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument(
        "--dir", type=Path, default=None, help="where the outbox files go (default: /var/tmp)"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="outbox-measure-", dir=args.dir or "/var/tmp"))
    sample = event(1, "start", 1.0)
    payload = json.dumps(sample.payload, separators=(",", ":"))
    print(f"outbox files in {work}; event payload {len(payload)} bytes")

    box = Outbox(work / "bare.sqlite")
    times = []
    for _ in range(args.n):
        t0 = time.perf_counter()
        box.add(sample.topic, payload)
        times.append(time.perf_counter() - t0)
    box.close()
    summary("Outbox.add (WAL, synchronous=NORMAL)", times)

    broker = Mosquitto(work / "broker")
    broker.start()
    try:
        pub = MqttPublisher(publisher_settings("cam1", broker.host, broker.port, work / "live.sqlite"))
        pub.start()
        while not pub.connected:
            time.sleep(0.01)
        times = []
        for i in range(args.n):
            message = event(1 + i % 2, "start", float(i))
            t0 = time.perf_counter()
            pub.publish(message)
            times.append(time.perf_counter() - t0)
            time.sleep(0.002)  # 500 events/s: far above any real rate, the sender keeps deleting
        deadline = time.monotonic() + 30
        while pub.outbox_depth and time.monotonic() < deadline:
            time.sleep(0.05)
        print(f"(live: all acknowledged and deleted: {pub.outbox_depth == 0}; counters {pub.counters})")
        pub.close()
        summary("MqttPublisher.publish(event), broker connected", times)
    finally:
        broker.stop()

    db = sqlite3.connect(work / "full.sqlite", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, payload TEXT)")
    times = []
    for _ in range(min(args.n, 500)):
        t0 = time.perf_counter()
        db.execute("INSERT INTO outbox (payload) VALUES (?)", (payload,))
        times.append(time.perf_counter() - t0)
    summary("for comparison: INSERT with synchronous=FULL", times)
    db.close()
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
