"""`edge-pose run` as a real process against a real Mosquitto, the real model and a real clip:
SIGTERM handling and a file source that disappears and comes back mid-run."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from daemon_helpers import DEMO_CLIP, EDGE_POSE, NotifySocket, base_config, write_config
from mosquitto import Mosquitto, Received

from edge.pose.registry import DEFAULT_MODEL


def mqtt_config(broker: Mosquitto, device: str, tmp_path: Path, source: str, **camera: Any) -> dict[str, Any]:
    config = base_config(
        source,
        camera=camera,
        mqtt={"enabled": True, "host": broker.host, "port": broker.port, "stats_interval_s": 1.0},
        outbox={"path": str(tmp_path / "outbox.sqlite")},
        service={"status_interval_s": 0.5},
    )
    config["device"]["id"] = device
    return config


def payloads(messages: list[Received], name: str) -> list[Any]:
    out = []
    for m in messages:
        if m.topic.endswith(f"/{name}"):
            text = m.payload.decode()
            out.append(json.loads(text) if text.startswith("{") else text)
    return out


def test_sigterm_stops_within_5s_and_publishes_stopped(
    tmp_path: Path, mosquitto: Mosquitto, notify_socket: NotifySocket, start_daemon: Any
) -> None:
    device = f"cam-{uuid.uuid4().hex[:8]}"
    sub = mosquitto.subscribe_collect(f"edge-pose/{device}/#")
    config = mqtt_config(mosquitto, device, tmp_path, f"file:{DEMO_CLIP}")
    # the front-end (the default) on the demo clip's 3-8 walkers with a budget of 3 crops per frame
    config["pose"] = {"multi_person": {"max_crops_per_frame": 3, "people_at_full_rate": 2}}
    path = write_config(tmp_path / "c.yaml", config)
    daemon = start_daemon(path, notify=notify_socket)
    notify_socket.wait_for("READY", "1", timeout=60)
    sub.wait_for(lambda ms: "online" in payloads(ms, "status") and len(payloads(ms, "pose")) >= 3, timeout=20)
    sub.wait_for(lambda ms: len(payloads(ms, "stats")) >= 1, timeout=10)
    stats = payloads(sub.snapshot(), "stats")[-1]
    assert stats["camera_state"] == "streaming" and stats["frames"] > 0 and stats["model"] == DEFAULT_MODEL
    front_end = stats["front_end"]  # the budget at work, as configured
    assert front_end["budget"] == {
        "max_crops_per_frame": 3,
        "people_at_full_rate": 2,
        "person_rate_hz": 5.0,
        "discovery_invokes_per_frame": 1,
    }
    assert front_end["crops_last_frame"] <= 3 and front_end["crops_per_frame"] <= 3
    print("front_end stats:", front_end)
    # more people followed than crops run: over the budget the rest coast, nobody is dropped
    assert front_end["people_per_frame"] > front_end["crops_per_frame"]

    code, took = daemon.terminate()
    assert code == 0, daemon.log()
    assert took < 5.0, took
    print(f"SIGTERM → exit 0 in {took:.2f} s")
    sub.wait_for(lambda ms: payloads(ms, "status")[-1:] == ["stopped"], timeout=5)
    # the retained status a dashboard sees when it connects later is `stopped`, not the `offline` will
    late = mosquitto.subscribe_collect(f"edge-pose/{device}/status")
    retained = late.wait_for(lambda ms: len(ms) >= 1, timeout=5)
    assert retained[0].payload == b"stopped" and retained[0].retain
    log = daemon.log()
    assert "SIGTERM received: stopping" in log and "stopped in" in log
    assert "Traceback" not in log
    assert notify_socket.wait_for("STOPPING", "1", timeout=1)


def test_file_source_removed_mid_run_is_reopened_when_it_returns(
    tmp_path: Path, mosquitto: Mosquitto, notify_socket: NotifySocket, start_daemon: Any, short_clip: Path
) -> None:
    device = f"cam-{uuid.uuid4().hex[:8]}"
    sub = mosquitto.subscribe_collect(f"edge-pose/{device}/#")
    config = mqtt_config(
        mosquitto, device, tmp_path, f"file:{short_clip}", loop=True, reopen_min_s=0.2, reopen_max_s=0.5
    )
    daemon = start_daemon(
        write_config(tmp_path / "c.yaml", config), notify=notify_socket, env={"WATCHDOG_USEC": "1000000"}
    )
    notify_socket.wait_for("READY", "1", timeout=60)
    sub.wait_for(lambda ms: len(payloads(ms, "pose")) >= 3, timeout=20)

    away = short_clip.with_suffix(".away")
    short_clip.rename(away)  # the "camera" is unplugged; at the end of the current pass it cannot reopen
    deadline = time.monotonic() + 10
    while "camera reconnecting" not in notify_socket.messages[-1][1].get("STATUS", ""):
        assert time.monotonic() < deadline, daemon.log()
        time.sleep(0.1)
    gone_t = time.monotonic()
    time.sleep(2.5)  # stays away for several back-off rounds
    assert daemon.proc.poll() is None, daemon.log()
    # a camera being reopened is not a hung daemon: the watchdog is still fed (no restart loop)
    assert len([t for t in notify_socket.times("WATCHDOG") if t > gone_t]) >= 3
    before = max(p["frame"] for p in payloads(sub.snapshot(), "pose"))
    away.rename(short_clip)  # plugged back in

    sub.wait_for(lambda ms: max(p["frame"] for p in payloads(ms, "pose")) > before + 5, timeout=15)
    assert daemon.proc.poll() is None
    log = daemon.log()
    assert "streaming → reconnecting" in log and "reopened" in log and "reconnecting → streaming" in log
    code, _ = daemon.terminate()
    assert code == 0


def test_logs_carry_journald_priority_prefixes_when_stderr_is_the_journal(
    tmp_path: Path, start_daemon: Any, short_clip: Path
) -> None:
    """Without systemd-python, lines sent to the journal stream start with `<N>` (sd-daemon(3))."""
    config = base_config(f"file:{short_clip}", camera={"loop": False, "realtime": False})
    log_path = tmp_path / "journal.log"
    log_path.touch()
    st = log_path.stat()
    result = subprocess.run(
        [str(EDGE_POSE), "run", "--config", str(write_config(tmp_path / "c.yaml", config))],
        stderr=log_path.open("w"),
        env={**os.environ, "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"},
        timeout=60,
    )
    assert result.returncode == 0  # a non-looping file ends the run
    lines = [line for line in log_path.read_text().splitlines() if line.startswith("<")]
    assert any(line.startswith("<6>edge.service.daemon: ready") for line in lines), lines
    assert any(line.startswith("<6>edge.capture.camera:") for line in lines)


def test_sigterm_with_the_broker_unreachable_still_exits_0_quickly(
    tmp_path: Path, notify_socket: NotifySocket, start_daemon: Any
) -> None:
    """A worksite network that is down must not hold up a stop (systemd would SIGKILL us)."""
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = base_config(
        f"file:{DEMO_CLIP}",
        mqtt={"enabled": True, "host": "127.0.0.1", "port": port},
        outbox={"path": str(tmp_path / "outbox.sqlite")},
    )
    daemon = start_daemon(write_config(tmp_path / "c.yaml", config), notify=notify_socket)
    notify_socket.wait_for("READY", "1", timeout=60)  # frames flow whether or not the broker is there
    time.sleep(1.0)
    code, took = daemon.terminate()
    assert code == 0, daemon.log()
    assert took < 5.0, took


def test_person_down_event_reaches_the_broker_and_ends_on_sigterm(
    tmp_path: Path, mosquitto: Mosquitto, notify_socket: NotifySocket, start_daemon: Any, data_dir: Path
) -> None:
    """The whole chain in the daemon: a person lying in view (a real UR Fall frame, looped like a camera)
    raises person_down after its 5 s; on SIGTERM the open event ends, and the end goes through the
    outbox to the broker before the `stopped` status."""
    device = f"cam-{uuid.uuid4().hex[:8]}"
    sub = mosquitto.subscribe_collect(f"edge-pose/{device}/#")
    # UR Fall cam0 (side view), a person lying on the floor with the whole body in view
    image = data_dir / "fall_detection_dataset_subset" / "fall" / "fall-07-cam0-rgb-124.png"
    config = mqtt_config(mosquitto, device, tmp_path, f"file:{image}", loop=True, realtime=True)
    daemon = start_daemon(write_config(tmp_path / "c.yaml", config), notify=notify_socket)
    notify_socket.wait_for("READY", "1", timeout=60)
    sub.wait_for(lambda ms: any(e["state"] == "start" for e in payloads(ms, "event")), timeout=20)
    code, took = daemon.terminate()
    assert code == 0 and took < 5.0
    messages = sub.wait_for(lambda ms: payloads(ms, "status")[-1:] == ["stopped"], timeout=5)
    events = payloads(messages, "event")
    assert [(e["type"], e["state"]) for e in events] == [("person_down", "start"), ("person_down", "end")]
    assert events[0]["id"] == events[1]["id"] and events[1]["duration_s"] >= 5.0
    order = [m.topic.rsplit("/", 1)[1] + ":" + m.payload.decode()[:20] for m in messages]
    end_at = next(i for i, m in enumerate(messages) if m.topic.endswith("/event") and b'"end"' in m.payload)
    assert end_at < order.index("status:stopped")


def test_the_daemon_publishes_exactly_what_replay_writes_for_the_same_clip(
    tmp_path: Path, mosquitto: Mosquitto, data_dir: Path
) -> None:
    """What ships is what was measured: `edge-pose run` on a `file:` source (realtime: false, loop: false)
    against a real broker publishes every pose and event message that `edge-pose replay --config` writes
    for the same clip, equal field by field (event ids, random per run, mapped one to one). The clip is a
    real URFD fall (110 frames) on which the rules raise a fall."""
    clip = data_dir / "fall_clips" / "urfd_fall-02-cam0_rgb.mp4"
    device = f"cam-{uuid.uuid4().hex[:8]}"
    config = mqtt_config(mosquitto, device, tmp_path, f"file:{clip}", loop=False, realtime=False)
    config["mqtt"].update(
        pose_max_rate_hz=None, pose_qos=1, stats_interval_s=3600.0
    )  # every frame, none lost
    path = write_config(tmp_path / "c.yaml", config)
    sub = mosquitto.subscribe_collect(f"edge-pose/{device}/#")
    run = subprocess.run(
        [str(EDGE_POSE), "run", "--config", str(path)], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]  # a non-looping file ends the run
    published = sub.wait_for(lambda ms: payloads(ms, "status")[-1:] == ["stopped"], timeout=30)
    out = tmp_path / "replay.jsonl"
    replay = subprocess.run(
        [str(EDGE_POSE), "replay", str(clip), "--config", str(path), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert replay.returncode == 0, replay.stderr[-3000:]
    written = [json.loads(line) for line in out.read_text().splitlines()]

    def by_kind(pairs: list[tuple[str, Any]], kind: str) -> list[Any]:
        return [p for t, p in pairs if t == f"edge-pose/{device}/{kind}"]

    daemon_msgs = [
        (m.topic, json.loads(m.payload)) for m in published if m.topic.endswith(("/pose", "/event"))
    ]
    replay_msgs = [(m["topic"], m["payload"]) for m in written]
    poses, replay_poses = by_kind(daemon_msgs, "pose"), by_kind(replay_msgs, "pose")
    assert len(poses) == len(replay_poses) == 110
    assert poses == replay_poses
    events, replay_events = by_kind(daemon_msgs, "event"), by_kind(replay_msgs, "event")
    ids = {e["id"]: r["id"] for e, r in zip(events, replay_events, strict=False)}
    assert len(events) == len(replay_events) >= 2 and {e["type"] for e in events} >= {"fall"}
    assert [{**e, "id": ids[e["id"]]} for e in events] == replay_events
    assert len(set(ids.values())) == len(ids)  # one to one
    print(f"\n[daemon = replay] {len(poses)} pose and {len(events)} event messages equal "
          f"({', '.join(e['type'] + ':' + e['state'] for e in events)})")  # fmt: skip
