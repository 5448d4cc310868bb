"""MqttPublisher against the session's real Mosquitto: availability, events through the outbox, pose
rate limit and change filter, stats, alarm state topics."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from mosquitto import Mosquitto
from mqtt_helpers import event, publisher_settings, validate

from edge.errors import ConfigError
from edge.publish.messages import Message, topic
from edge.publish.mqtt import MqttPublisher, TlsSettings
from edge.publish.stats import StatsSnapshot, read_cpu_temp_c, stats_message


@pytest.fixture
def device() -> str:
    """A device id of its own per test, so retained messages of other tests do not interfere."""
    return f"cam-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def make_publisher(tmp_path: Path, mosquitto: Mosquitto) -> Iterator[object]:
    made: list[MqttPublisher] = []

    def make(device: str, **kw: object) -> MqttPublisher:
        settings = publisher_settings(
            device, mosquitto.host, mosquitto.port, tmp_path / f"{device}.sqlite", **kw
        )
        pub = MqttPublisher(settings)
        made.append(pub)
        return pub

    yield make
    for pub in made:
        pub.close(timeout_s=1)


def wait_connected(pub: MqttPublisher, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not pub.connected:
        assert time.monotonic() < deadline, "publisher did not connect"
        time.sleep(0.02)


def pose(device: str, n: int, x: float = 0.5, people: int = 1) -> Message:
    kp = [[x, 0.5, 0.9]] * 17
    return Message(
        kind="pose",
        topic=topic("edge-pose", device, "pose"),
        payload={
            "schema": 1,
            "device": device,
            "source": "test",
            "frame": n,
            "ts": n / 30,
            "width": 640,
            "height": 480,
            "model": "movenet_lightning",
            "poses": [
                {
                    "track_id": i,
                    "score": 0.8,
                    "bbox": [0.1, 0.1, 0.9, 0.9],
                    "layout": "coco17",
                    "keypoints": kp,
                }
                for i in range(people)
            ],
        },
    )


def test_status_online_then_stopped_retained(mosquitto: Mosquitto, make_publisher, device: str) -> None:
    status = topic("edge-pose", device, "status")
    sub = mosquitto.subscribe_collect(status)
    pub = make_publisher(device)
    pub.start()
    sub.wait_for(lambda m: any(x.payload == b"online" for x in m))
    assert pub.connected
    pub.close()
    msgs = sub.wait_for(lambda m: m[-1].payload == b"stopped")
    assert [m.payload for m in msgs] == [b"online", b"stopped"]  # the will (offline) did not fire
    for m in msgs:
        validate("status", m.payload.decode())
    # retained: a subscriber arriving later still sees "stopped"
    late = mosquitto.subscribe_collect(status)
    got = late.wait_for(lambda m: len(m) >= 1)
    assert got[0].payload == b"stopped" and got[0].retain


def test_events_go_through_the_outbox_and_are_deleted_on_puback(
    mosquitto: Mosquitto, make_publisher, device: str
) -> None:
    sub = mosquitto.subscribe_collect(topic("edge-pose", device, "event"))
    pub = make_publisher(device)
    # raised before start(): committed to the outbox, sent once connected
    sent = [event(1, "start", 1.0, device=device), event(2, "start", 1.1, device=device)]
    for m in sent:
        pub.publish(m)
    assert pub.outbox_depth == 2
    pub.start()
    msgs = sub.wait_for(lambda m: len(m) >= 2)
    assert [json.loads(m.payload) for m in msgs] == [m.payload for m in sent]
    assert all(m.qos == 1 and not m.retain for m in msgs)
    deadline = time.monotonic() + 5
    while pub.outbox_depth and time.monotonic() < deadline:
        time.sleep(0.02)
    assert pub.outbox_depth == 0
    assert pub.counters["events_acked"] == 2 and pub.counters["events_queued"] == 2


def test_pose_rate_limit_and_only_changes(mosquitto: Mosquitto, make_publisher, device: str) -> None:
    sub = mosquitto.subscribe_collect(topic("edge-pose", device, "pose"))
    pub = make_publisher(device, pose_max_rate_hz=5.0)
    pub.start()
    wait_connected(pub)
    t0 = time.monotonic()
    n = 0
    while time.monotonic() - t0 < 2.0:  # a 50 fps camera for 2 s
        pub.publish(pose(device, n, x=0.1 + 0.001 * n))
        n += 1
        time.sleep(0.02)
    time.sleep(0.3)
    got = len(sub.snapshot())
    # at most 5 per second (+1 at the window edge); fewer if this loaded machine stretches the gaps
    assert 6 <= got <= 11, f"{got} pose messages in 2 s at 5 Hz"
    assert pub.counters["dropped_rate_limited"] == n - got

    dev2 = device + "-changes"
    sub2 = mosquitto.subscribe_collect(topic("edge-pose", dev2, "pose"))
    pub2 = make_publisher(dev2, pose_max_rate_hz=None, pose_only_changes=True)
    pub2.start()
    wait_connected(pub2)
    frames = [pose(dev2, i, x=0.5 + 0.001 * i) for i in range(10)]  # jitter below the 2 % threshold
    frames += [pose(dev2, 10, x=0.6), pose(dev2, 11, x=0.6, people=2), pose(dev2, 12, people=0)]
    for f in frames:
        pub2.publish(f)
    msgs = sub2.wait_for(lambda m: len(m) >= 4)
    time.sleep(0.3)
    assert [json.loads(m.payload)["frame"] for m in sub2.snapshot()] == [0, 10, 11, 12]
    assert pub2.counters["dropped_unchanged"] == 9
    assert all(m.qos == 0 for m in msgs)


def test_stats_message_is_published_and_valid(mosquitto: Mosquitto, make_publisher, device: str) -> None:
    sub = mosquitto.subscribe_collect(topic("edge-pose", device, "stats"))
    pub = make_publisher(device)
    pub.start()
    wait_connected(pub)
    snap = StatsSnapshot(
        fps=14.987,
        inference_ms_p50=21.456,
        inference_ms_p95=30.0,
        pipeline_ms_p50=25.0,
        pipeline_ms_p95=40.123,
        frames=1000,
        frames_dropped=3,
        model="movenet_lightning",
        outbox_depth=pub.outbox_depth,
        uptime_s=66.66,
        cpu_temp_c=read_cpu_temp_c(),
        camera_state="streaming",
        invalid_outputs=0,
        version="0.1.0",
    )
    pub.publish(stats_message("edge-pose", device, snap))
    got = json.loads(sub.wait_for(lambda m: len(m) >= 1)[0].payload)
    validate("stats", got)
    assert got["fps"] == 14.99 and got["inference_ms_p50"] == 21.46 and got["device"] == device
    bad = dict(got, fps="fast")
    with pytest.raises(Exception, match="fast"):
        validate("stats", bad)


def test_alarm_state_follows_open_events_across_tracks(
    mosquitto: Mosquitto, make_publisher, device: str
) -> None:
    alarm = topic("edge-pose", device, "alarm/person_down")
    sub = mosquitto.subscribe_collect(alarm)
    pub = make_publisher(device)
    pub.start()
    sub.wait_for(lambda m: [x.payload for x in m] == [b"OFF"])  # reset at connect
    a, b = uuid.uuid4().hex, uuid.uuid4().hex
    for m in [
        event(1, "start", 1.0, a, device=device),
        event(2, "start", 1.5, b, device=device),  # second person down: still ON
        event(1, "end", 2.0, a, device=device, start_ts=1.0),  # first gets up: still ON
        event(2, "update", 2.5, b, device=device, start_ts=1.5),
        event(2, "end", 3.0, b, device=device, start_ts=1.5),  # nobody down: OFF
    ]:
        pub.publish(m)
    msgs = sub.wait_for(lambda m: len(m) >= 3)
    time.sleep(0.3)
    assert [x.payload for x in sub.snapshot()] == [b"OFF", b"ON", b"OFF"]
    for x in msgs:
        validate("alarm", x.payload.decode())


@pytest.mark.parametrize(
    ("device", "tls", "key"),
    [
        ("cam/1", None, "device.id"),
        ("cam+", None, "device.id"),
        ("cam1", TlsSettings(ca_file=Path("/nonexistent/ca.crt")), "mqtt.tls.ca_file"),
    ],
)
def test_bad_settings_are_one_line_config_errors(
    tmp_path: Path, device: str, tls: TlsSettings | None, key: str
) -> None:
    """What the config models cannot see (the device id the publisher is handed, the TLS files);
    the `mqtt:` keys themselves are validated by the config (tests/service/config_cases.py)."""
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")) as info:
        MqttPublisher(publisher_settings(device, "localhost", 1883, tmp_path / "o.sqlite", tls=tls))
    assert "\n" not in str(info.value) and info.value.exit_code == 78


def test_mqtt_311_delivers_events_and_availability(mosquitto: Mosquitto, make_publisher, device: str) -> None:
    sub = mosquitto.subscribe_collect(f"edge-pose/{device}/#")
    pub = make_publisher(device, protocol="3.1.1")
    pub.start()
    sent = event(1, "start", 1.0, device=device)
    pub.publish(sent)
    msgs = sub.wait_for(lambda m: any(x.topic.endswith("/event") for x in m))
    assert json.loads(next(x for x in msgs if x.topic.endswith("/event")).payload) == sent.payload
    assert any(x.topic.endswith("/status") and x.payload == b"online" for x in msgs)
    pub.close()
    sub.wait_for(lambda m: m[-1].topic.endswith("/status") and m[-1].payload == b"stopped")


def test_an_unsendable_event_is_dropped_and_does_not_block_the_rest(
    mosquitto: Mosquitto, make_publisher, device: str
) -> None:
    sub = mosquitto.subscribe_collect(topic("edge-pose", device, "event"))
    pub = make_publisher(device)
    broken = Message(kind="event", topic=f"edge-pose/{device}/event/#", payload={"id": "x"}, qos=1)
    good = event(1, "start", 1.0, device=device)
    pub.publish(broken)  # a wildcard in a publish topic: paho refuses it
    pub.publish(good)
    pub.start()
    msgs = sub.wait_for(lambda m: len(m) >= 1)
    assert json.loads(msgs[0].payload) == good.payload
    deadline = time.monotonic() + 5
    while pub.outbox_depth and time.monotonic() < deadline:
        time.sleep(0.02)
    assert pub.outbox_depth == 0 and pub.counters["invalid_payloads"] == 1


def test_outbox_bound_drops_the_oldest_counted_and_sends_the_rest(
    mosquitto: Mosquitto, make_publisher, device: str, caplog: pytest.LogCaptureFixture
) -> None:
    sub = mosquitto.subscribe_collect(topic("edge-pose", device, "event"))
    pub = make_publisher(device, outbox_max_events=5)
    sent = [event(1, "update", float(i), device=device) for i in range(8)]
    for m in sent:  # raised while not connected (not started yet)
        pub.publish(m)
    with caplog.at_level("WARNING"):
        pub.start()  # applies the bounds before sending
    msgs = sub.wait_for(lambda m: len(m) >= 5)
    time.sleep(0.3)
    assert [json.loads(m.payload) for m in sub.snapshot()] == [m.payload for m in sent[3:]]
    assert pub.counters["outbox_dropped"] == 3 and len(msgs) == 5
    assert "dropped the 3 oldest" in caplog.text
