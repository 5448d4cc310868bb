"""Done-when: with TLS and the documented ACL (docs/mosquitto/) a device's publish to another
device's topics is refused (MQTT 5 reason code checked); a wrong CA or password fails with one clear
log line per attempt and retries with back-off."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from mosquitto import Mosquitto, password_for
from mqtt_helpers import LogRecords, event, publisher_settings
from paho.mqtt.enums import CallbackAPIVersion

from edge.publish.mqtt import MqttPublisher, TlsSettings


@pytest.fixture
def publishers() -> Iterator[list[MqttPublisher]]:
    made: list[MqttPublisher] = []
    yield made
    for pub in made:
        pub.close(timeout_s=1)


def device_publisher(
    broker: Mosquitto, tmp_path: Path, made: list[MqttPublisher], device: str = "dev1", **kw: object
) -> MqttPublisher:
    settings: dict[str, Any] = {
        "username": device,
        "password": password_for(device),
        "tls": TlsSettings(ca_file=broker.ca_file),
        "reconnect_min_s": 1.0,
        "reconnect_max_s": 8.0,
    }
    settings.update(kw)
    # "localhost": the server certificate names localhost and 127.0.0.1
    pub = MqttPublisher(
        publisher_settings(device, "localhost", broker.port, tmp_path / f"{device}.sqlite", **settings)
    )
    made.append(pub)
    return pub


def wait_until(predicate: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.05)


def test_device_publishes_its_own_topics_over_tls(
    secure_broker: Mosquitto, tmp_path: Path, publishers: list[MqttPublisher]
) -> None:
    sub = secure_broker.subscribe_collect("edge-pose/dev1/#")  # as user "dashboard"
    pub = device_publisher(secure_broker, tmp_path, publishers)
    pub.start()
    pub.publish(event(1, "start", 1.0, device="dev1"))
    msgs = sub.wait_for(lambda m: any(x.topic == "edge-pose/dev1/event" for x in m))
    assert any(x.topic == "edge-pose/dev1/status" and x.payload == b"online" for x in msgs)
    wait_until(lambda: pub.outbox_depth == 0, 5)
    assert pub.counters["events_acked"] == 1 and pub.counters["events_refused"] == 0


def _raw_publish(broker: Mosquitto, user: str, topic: str, protocol: int) -> tuple[int, bool]:
    """Publish QoS 1 as `user`; returns (PUBACK reason code value, published flag)."""
    done = threading.Event()
    result: dict[str, int] = {}
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"raw-{user}-{protocol}", protocol=protocol)
    client.username_pw_set(user, password_for(user))
    client.tls_set(ca_certs=str(broker.ca_file))
    client.on_publish = lambda c, u, mid, reason, props: (result.update(rc=reason.value), done.set())
    connected = threading.Event()
    client.on_connect = lambda c, u, f, reason, p: connected.set()
    client.connect("localhost", broker.port)
    client.loop_start()
    try:
        assert connected.wait(5)
        client.publish(topic, b'{"forged": true}', qos=1)
        assert done.wait(5), "no PUBACK"
    finally:
        client.disconnect()
        client.loop_stop()
    return result["rc"], True


def test_publish_to_another_devices_topic_is_refused(
    secure_broker: Mosquitto, tmp_path: Path, publishers: list[MqttPublisher], edge_logs: LogRecords
) -> None:
    sub = secure_broker.subscribe_collect("edge-pose/#")
    # MQTT 5: the broker answers PUBACK 0x87 "Not authorized"
    rc, _ = _raw_publish(secure_broker, "dev1", "edge-pose/dev2/event", mqtt.MQTTv5)
    assert rc == 0x87
    # ... and its own topic is fine (0x00 success, or 0x10 "no matching subscribers")
    rc_own, _ = _raw_publish(secure_broker, "dev1", "edge-pose/dev1/event", mqtt.MQTTv5)
    assert rc_own in (0x00, 0x10)
    # MQTT 3.1.1 cannot say no: the PUBACK is a success and the message silently vanishes
    rc_v311, _ = _raw_publish(secure_broker, "dev1", "edge-pose/dev2/stats", mqtt.MQTTv311)
    assert rc_v311 == 0

    # MqttPublisher: a forged event is refused, counted, logged, and does not block the outbox
    pub = device_publisher(secure_broker, tmp_path, publishers)
    pub.start()
    forged = event(1, "start", 1.0, device="dev2")  # topic edge-pose/dev2/event
    genuine = event(1, "start", 2.0, device="dev1")
    pub.publish(forged)
    pub.publish(genuine)
    sub.wait_for(
        lambda m: any(
            json.loads(x.payload).get("id") == genuine.payload["id"]
            for x in m
            if x.topic.endswith("/event") and x.payload.startswith(b"{")
        )
    )
    wait_until(lambda: pub.outbox_depth == 0, 5)
    assert pub.counters["events_refused"] == 1 and pub.counters["events_acked"] == 1
    assert [r for r in edge_logs.lines("refused event") if "Not authorized" in r.getMessage()]
    time.sleep(0.3)
    assert not [x for x in sub.snapshot() if x.topic.startswith("edge-pose/dev2/")]


def _retry_lines(logs: LogRecords, text: str, count: int, timeout: float) -> list[float]:
    deadline = time.monotonic() + timeout
    while len(logs.lines(text)) < count:
        assert time.monotonic() < deadline, [r.getMessage() for r in logs.records][-5:]
        time.sleep(0.1)
    return [r.created for r in logs.lines(text)]


def assert_backoff(times: list[float]) -> None:
    """Attempts spread out: no gap shorter than the one before, the last at least 1.8x the first
    (paho doubles its wait after each failure)."""
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps[0] >= 0.8, gaps
    assert all(later >= 0.95 * earlier for earlier, later in itertools.pairwise(gaps)), gaps
    assert gaps[-1] >= 1.8 * gaps[0], gaps


def test_wrong_ca_is_one_clear_line_per_attempt_with_backoff(
    secure_broker: Mosquitto, tmp_path: Path, publishers: list[MqttPublisher], edge_logs: LogRecords
) -> None:
    pub = device_publisher(
        secure_broker, tmp_path, publishers, tls=TlsSettings(ca_file=secure_broker.wrong_ca_file)
    )
    pub.publish(event(1, "start", 1.0, device="dev1"))  # kept in the outbox meanwhile
    pub.start()
    times = _retry_lines(edge_logs, "TLS certificate not trusted", 4, timeout=25)
    assert_backoff(times)
    line = edge_logs.lines("TLS certificate not trusted")[0].getMessage()
    assert "check mqtt.tls.ca_file" in line and "attempt 1 failed, retrying with back-off" in line
    assert "\n" not in line
    assert not pub.connected and pub.outbox_depth == 1
    print(
        f"\n[tls] wrong CA: {line}\n[tls] attempt gaps {[round(b - a, 1) for a, b in itertools.pairwise(times)]} s"
    )


def test_wrong_password_is_one_clear_line_per_attempt_with_backoff(
    secure_broker: Mosquitto, tmp_path: Path, publishers: list[MqttPublisher], edge_logs: LogRecords
) -> None:
    pub = device_publisher(secure_broker, tmp_path, publishers, password="not-the-password")
    pub.start()
    times = _retry_lines(edge_logs, "broker refused the connection", 4, timeout=25)
    assert_backoff(times)
    line = edge_logs.lines("broker refused the connection")[0].getMessage()
    assert ("Not authorized" in line or "Bad user name or password" in line) and "password_file" in line
    assert not pub.connected
    gaps = [round(b - a, 1) for a, b in itertools.pairwise(times)]
    print(f"\n[auth] wrong password: {line}\n[auth] attempt gaps {gaps} s")


def test_a_hostname_mismatch_names_the_hostname_not_the_ca(
    tmp_path: Path, publishers: list[MqttPublisher], edge_logs: LogRecords
) -> None:
    """A broker whose certificate (signed by the right CA) is issued to another name: the line says the
    certificate is not for mqtt.host, and that the CA is fine."""
    broker = Mosquitto(tmp_path / "elsewhere", secure=True, server_san="DNS:broker.example")
    broker.start()
    try:
        pub = device_publisher(broker, tmp_path, publishers)  # host "localhost", the right CA
        pub.start()
        _retry_lines(edge_logs, "not issued to", 1, timeout=15)
        line = edge_logs.lines("not issued to")[0].getMessage()
        print(f"\n[tls] hostname mismatch: {line}")
        assert "the broker's certificate is not issued to 'localhost'" in line and "mqtt.host" in line
        assert "mqtt.tls.ca_file is fine" in line and "not trusted" not in line
        assert not pub.connected
    finally:
        broker.stop()
