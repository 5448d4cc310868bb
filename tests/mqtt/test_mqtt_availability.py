"""Availability that cannot lie and events that always end, on a real Mosquitto with persistence on
(autosave every second) and real `edge-pose run` processes, through SIGKILLs of both:

- a camera that dies while the broker is down (no will can fire) shows nothing once its retained
  `online` expires, although the restarted broker restores it from its persistence file;
- after a broker outage longer than the expiry, `online` comes back only from the reconnected camera;
- events open at a SIGKILL of the daemon are ended by the next start (details.reason "restart") before
  any other event, and the alarm topics agree with the event stream.

Keepalive 5 s (the smallest the config allows): `online` expires 8 s after its last refresh, refreshed
every 2.5 s."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import yaml
from mosquitto import Mosquitto, Received
from paho.mqtt.enums import CallbackAPIVersion

REPO = Path(__file__).resolve().parents[2]
EDGE_POSE = REPO / ".venv" / "bin" / "edge-pose"
DEMO = REPO / "demo" / "vtest_excerpt.mp4"
KEEPALIVE_S = 5
EXPIRY_S = 8  # ceil(1.5 × keepalive)


def daemon_config(tmp_path: Path, broker: Mosquitto, device: str, source: Path, **extra: Any) -> Path:
    config: dict[str, Any] = {
        "device": {"id": device},
        "camera": {"source": f"file:{source}", "loop": True, "realtime": True},
        "model": {"threads": 1},
        "mqtt": {
            "host": broker.host,
            "port": broker.port,
            "keepalive_s": KEEPALIVE_S,
            "reconnect_min_s": 1.0,
            "reconnect_max_s": 2.0,
            "stats_interval_s": 1.0,
        },
        "outbox": {"path": str(tmp_path / f"{device}.sqlite")},
        **extra,
    }
    path = tmp_path / f"{device}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def start_daemon(config: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([str(EDGE_POSE), "run", "--config", str(config)], stderr=log.open("ab"))


def sigkill(proc: subprocess.Popen[bytes]) -> None:
    proc.kill()
    proc.wait(10)


def retained(
    broker: Mosquitto, topic_filter: str, listen_s: float = 0.6
) -> dict[str, tuple[str, int | None]]:
    """What a dashboard connecting now gets: {topic: (payload, remaining expiry s)} of the retained
    messages under `topic_filter` (an MQTT 5 client, so it sees the expiry)."""
    got: dict[str, tuple[str, int | None]] = {}
    subscribed = threading.Event()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"probe-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5
    )

    def on_message(c: mqtt.Client, u: Any, m: mqtt.MQTTMessage) -> None:
        if m.retain:
            expiry = getattr(m.properties, "MessageExpiryInterval", None)
            got[m.topic] = (m.payload.decode(), expiry)

    client.on_connect = lambda c, *a: c.subscribe(topic_filter, qos=1)
    client.on_subscribe = lambda *a: subscribed.set()
    client.on_message = on_message
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        assert subscribed.wait(10), "probe could not subscribe"
        time.sleep(listen_s)  # retained messages follow the SUBACK at once
    finally:
        client.disconnect()
        client.loop_stop()
    return got


def wait_until(predicate: Any, timeout: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def online_camera(broker: Mosquitto, tmp_path: Path, log: Path) -> tuple[str, subprocess.Popen[bytes]]:
    """A daemon on the demo clip, once its retained status reads `online`: (status topic, process)."""
    device = f"cam-{uuid.uuid4().hex[:6]}"
    status = f"edge-pose/{device}/status"
    daemon = start_daemon(daemon_config(tmp_path, broker, device, DEMO), log)
    if not wait_until(lambda: retained(broker, status).get(status, ("",))[0] == "online", 60):
        sigkill(daemon)
        raise AssertionError(f"the camera never read online: {log.read_text()[-2000:]}")
    return status, daemon


@pytest.mark.slow
def test_a_camera_that_dies_while_the_broker_is_down_shows_nothing_once_online_expires(
    broker: Mosquitto, tmp_path: Path
) -> None:
    status, daemon = online_camera(broker, tmp_path, tmp_path / "daemon.log")
    device = status.split("/")[1]
    try:
        _, expiry = retained(broker, status)[status]
        assert expiry is not None and 0 < expiry <= EXPIRY_S  # MQTT 5 message expiry on the status
        alarms = retained(broker, f"edge-pose/{device}/alarm/#")
        assert len(alarms) == 4 and all(v == ("OFF", v[1]) and v[1] is not None for v in alarms.values())
        time.sleep(1.5)  # at least one autosave of the broker's persistence file with `online` in it
        broker.kill()
        broker_died = time.monotonic()
        sigkill(daemon)  # dies while the broker is down: no will can fire
        time.sleep(0.5)
        broker.start()  # restores the retained `online` from its persistence file
        seen: list[tuple[float, str | None]] = []
        while time.monotonic() - broker_died < EXPIRY_S + 4:
            now = retained(broker, status, listen_s=0.3).get(status)
            seen.append((time.monotonic() - broker_died, now[0] if now else None))
            if now is None:
                break
    finally:
        if daemon.poll() is None:
            sigkill(daemon)
    gone_after = next((t for t, value in seen if value is None), None)
    print(
        f"\n[availability] restarted broker served `online` until {seen[-2][0] if len(seen) > 1 else 0:.1f} s, "
        f"nothing from {gone_after} s after the broker died (expiry {EXPIRY_S} s): {seen}"
    )
    assert gone_after is not None and gone_after <= EXPIRY_S + 1.5, seen
    assert all(value in ("online", None) for _, value in seen)  # never a wrong value, only expiring
    assert retained(broker, f"edge-pose/{device}/#") == {}  # the alarm values expired with it


@pytest.mark.slow
def test_after_a_broker_outage_online_comes_only_from_the_reconnected_camera(
    broker: Mosquitto, tmp_path: Path
) -> None:
    log = tmp_path / "daemon.log"
    status, daemon = online_camera(broker, tmp_path, log)
    try:
        time.sleep(1.5)  # persisted
        broker.kill()
        time.sleep(EXPIRY_S + 1.0)  # longer than the expiry: the stored `online` is stale
        broker.start()
        watcher = broker.subscribe_collect(status)  # subscribes as soon as the broker listens
        first = watcher.wait_for(lambda ms: any(m.payload == b"online" for m in ms), timeout=30)[0]
        # the camera is alive: its `online` arrives once it has reconnected (a live message), or, if it
        # reconnected before the watcher subscribed, retained from that new connection with a full expiry
        now = retained(broker, status)[status]
        assert daemon.poll() is None
    finally:
        if daemon.poll() is None:
            sigkill(daemon)
    print(
        f"\n[availability] first status after the restart: {first.payload!r} retain={first.retain}; "
        f"retained now {now}"
    )
    assert first.payload == b"online"
    assert not first.retain or (now[1] is not None and now[1] >= EXPIRY_S - 3)
    assert "reconnected" in log.read_text()


def events_of(messages: list[Received]) -> list[dict[str, Any]]:
    return [json.loads(m.payload) for m in messages if m.topic.endswith("/event")]


@pytest.mark.slow
def test_events_open_at_a_sigkill_are_ended_by_the_next_start_first_and_alarms_agree(
    broker: Mosquitto, tmp_path: Path, data_dir: Path
) -> None:
    """A person lying in view (a real UR Fall frame, looped as a camera) raises person_down (1 s here);
    the daemon is SIGKILLed with the event open; the next start ends it (reason restart) before any other
    event, while every alarm topic reads OFF until a new event opens; in the end every start has its end."""
    device = f"cam-{uuid.uuid4().hex[:6]}"
    lying = data_dir / "fall_detection_dataset_subset" / "fall" / "fall-07-cam0-rgb-124.png"
    rules = {"person_down": {"min_duration_s": 1.0}}
    config = daemon_config(tmp_path, broker, device, lying, rules=rules)
    sub = broker.subscribe_collect(f"edge-pose/{device}/#")
    log = tmp_path / "daemon.log"
    first = start_daemon(config, log)
    try:
        started = sub.wait_for(lambda ms: any(e["state"] == "start" for e in events_of(ms)), timeout=60)
        opened = next(e for e in events_of(started) if e["state"] == "start")
        time.sleep(0.5)
        sigkill(first)
        rows = (
            sqlite3.connect(tmp_path / f"{device}.sqlite")
            .execute("SELECT payload FROM open_events")
            .fetchall()
        )
        assert [json.loads(r[0])["id"] for r in rows] == [opened["id"]]  # the open event is on disk
        before = len(sub.snapshot())
        second = start_daemon(config, log)
        try:
            sub.wait_for(
                lambda ms: sum(e["state"] == "start" for e in events_of(ms[before:])) >= 1, timeout=60
            )
            code = None
            second.terminate()
            code = second.wait(10)
        finally:
            if second.poll() is None:
                sigkill(second)
        messages = sub.wait_for(lambda ms: ms[-1].payload == b"stopped", timeout=10)
    finally:
        if first.poll() is None:
            sigkill(first)
    assert code == 0, log.read_text()[-2000:]
    after = messages[before:]
    new_events = events_of(after)
    restart_end = new_events[0]  # the first event message of the new run
    assert restart_end["id"] == opened["id"] and restart_end["state"] == "end"
    assert restart_end["details"]["reason"] == "restart" and restart_end["type"] == "person_down"
    assert restart_end["end_ts"] == restart_end["ts"] and restart_end["duration_s"] >= 0
    # every start (of both runs) has exactly one end, after it
    all_events = events_of(messages)
    for e in all_events:
        if e["state"] == "start":
            ends = [x for x in all_events if x["id"] == e["id"] and x["state"] == "end"]
            assert len(ends) == 1, e["id"]
    # the alarm topic agrees with the events: OFF from the new run's connect (the old event is ended,
    # its end queued before anything else), ON with the new run's own event, OFF when that one ends
    alarm = f"edge-pose/{device}/alarm/person_down"
    values = [m for m in after if m.topic == alarm]
    collapsed = [v.payload for i, v in enumerate(values) if i == 0 or v.payload != values[i - 1].payload]
    assert collapsed == [b"OFF", b"ON", b"OFF"], [v.payload for v in values]
    new_start = next(
        m for m in after if m.topic.endswith("/event") and json.loads(m.payload)["state"] == "start"
    )
    end_at = next(
        m for m in after if m.topic.endswith("/event") and json.loads(m.payload)["id"] == opened["id"]
    )
    first_on = next(v for v in values if v.payload == b"ON")
    assert end_at.t <= new_start.t and abs(first_on.t - new_start.t) < 1.0
    assert f"event {opened['id']} (person_down" in log.read_text()
