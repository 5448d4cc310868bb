"""Done-when: the publishing process is SIGKILLed while events wait in the outbox and they are
delivered after it restarts; a subscriber sees `offline` when the daemon is SIGKILLed and `stopped`
after SIGTERM. Real processes: tests/mqtt/publisher_proc.py (MqttPublisher alone) and
`edge-pose run` (the daemon) on the demo clip."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from mosquitto import Mosquitto
from mqtt_helpers import validate

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
EDGE_POSE = Path(sys.executable).parent / "edge-pose"
N_EVENTS = 20


def start_proc(broker: Mosquitto, outbox: Path, n: int, device: str = "cam1") -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=f"{HERE}{os.pathsep}{HERE.parent}")
    return subprocess.Popen(
        [
            sys.executable,
            str(HERE / "publisher_proc.py"),
            broker.host,
            str(broker.port),
            device,
            str(outbox),
            str(n),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def queue_events_then_sigkill(broker: Mosquitto, outbox: Path) -> None:
    """With the broker down: a process commits N_EVENTS events, then dies by SIGKILL."""
    proc = start_proc(broker, outbox, N_EVENTS)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == f"QUEUED {N_EVENTS}", line + (proc.stderr.read() if proc.stderr else "")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    rows = sqlite3.connect(outbox).execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
    assert rows == N_EVENTS  # on disk, although the process never got to close anything


def event_ids(msgs: list[object], state: str = "start") -> list[str]:
    """Ids of the test's events (in arrival order) in messages of `state`."""
    payloads = [json.loads(m.payload) for m in msgs]  # type: ignore[attr-defined]
    return [p["id"] for p in payloads if p["id"].startswith("proc-") and p["state"] == state]


def test_events_in_the_outbox_survive_sigkill_of_the_publisher(broker: Mosquitto, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.sqlite"
    broker.kill()
    queue_events_then_sigkill(broker, outbox)
    broker.start()
    sub = broker.subscribe_collect("edge-pose/cam1/event")
    again = start_proc(broker, outbox, 0)
    msgs = sub.wait_for(lambda m: len(event_ids(m)) >= N_EVENTS, timeout=20)
    ids = event_ids(msgs)
    assert len(set(ids)) == N_EVENTS and ids == sorted(ids, key=lambda i: int(i[-3:]))  # all, in order
    for m in msgs:
        validate("event", json.loads(m.payload))
    again.send_signal(signal.SIGTERM)
    out, err = again.communicate(timeout=10)
    assert again.returncode == 0 and "CLOSED" in out, err
    assert sqlite3.connect(outbox).execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0


def daemon_config(tmp_path: Path, broker: Mosquitto, outbox: Path) -> Path:
    config = {
        "device": {"id": "cam1"},
        "camera": {"source": f"file:{REPO / 'demo' / 'vtest_excerpt.mp4'}", "loop": True, "realtime": True},
        "model": {"name": "movenet_lightning", "threads": 1},
        "mqtt": {
            "host": broker.host,
            "port": broker.port,
            "reconnect_min_s": 1.0,
            "reconnect_max_s": 2.0,
            "keepalive_s": 10,
            "stats_interval_s": 2.0,
        },
        "outbox": {"path": str(outbox)},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def start_daemon(config: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([str(EDGE_POSE), "run", "--config", str(config)], stderr=log.open("ab"))


@pytest.mark.slow
def test_daemon_delivers_the_backlog_and_reports_offline_and_stopped(
    broker: Mosquitto, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox.sqlite"
    log = tmp_path / "daemon.log"
    broker.kill()
    queue_events_then_sigkill(broker, outbox)
    broker.start()
    events = broker.subscribe_collect("edge-pose/cam1/event")
    status = broker.subscribe_collect("edge-pose/cam1/status")
    config = daemon_config(tmp_path, broker, outbox)

    daemon = start_daemon(config, log)
    try:
        status.wait_for(lambda m: any(x.payload == b"online" for x in m), timeout=60)
        # the backlog in order, then the end of each of those events (they were open when the process
        # that raised them was killed: the daemon ends them, reason "restart", before anything else)
        msgs = events.wait_for(lambda m: len(event_ids(m, "end")) >= N_EVENTS, timeout=30)
        ids = event_ids(msgs)
        assert len(set(ids)) == N_EVENTS and ids == sorted(ids, key=lambda i: int(i[-3:]))
        assert event_ids(msgs, "end") == ids
        last_start = max(i for i, m in enumerate(msgs) if json.loads(m.payload)["state"] == "start")
        first_end = min(i for i, m in enumerate(msgs) if json.loads(m.payload)["state"] == "end")
        assert last_start < first_end
        assert all(json.loads(m.payload)["details"]["reason"] == "restart" for m in msgs[first_end:])
        for m in msgs:
            validate("event", json.loads(m.payload))
        daemon.send_signal(signal.SIGKILL)
        daemon.wait()
        status.wait_for(lambda m: m[-1].payload == b"offline", timeout=10)  # the will

        t0 = time.monotonic()
        daemon = start_daemon(config, log)
        status.wait_for(lambda m: m[-1].payload == b"online", timeout=60)
        time.sleep(1.0)
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=10)
        stopped = status.wait_for(lambda m: m[-1].payload == b"stopped", timeout=5)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    assert code == 0, log.read_text()[-2000:]
    seq = [m.payload.decode() for m in stopped]
    assert seq[-4:] == ["online", "offline", "online", "stopped"], seq
    print(f"\n[daemon] second start to online and SIGTERM→exit: {time.monotonic() - t0:.1f} s")
