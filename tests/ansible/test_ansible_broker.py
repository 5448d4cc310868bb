"""The mqtt_broker role's output, run for real: the Mosquitto configuration it installed in the broker's
root filesystem is started (inside that chroot) on a loopback port; with MQTT 5 a camera may publish only
under its own topics and the dashboard may read everything and publish nothing (PUBACK reason codes)."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from ansible_harness import CAMERA, OTHER_CAMERA, PASSWORDS, Deployment
from paho.mqtt.reasoncodes import ReasonCode

NOT_AUTHORIZED = 135  # MQTT 5 reason code "Not authorized"
# A wrong password: MQTT 5 has 134 "Bad user name or password"; Mosquitto 2.0 answers 135.
REFUSED_LOGIN = {134, 135}
FIRST_ERROR_CODE = 0x80  # MQTT 5: reason codes below are successes (16 = accepted, no matching subscribers)
TIMEOUT_S = 10.0


@pytest.fixture(scope="module")
def broker(deployment: Deployment) -> Iterator[int]:
    """Mosquitto from the broker root filesystem, with the configuration the role installed."""
    root = deployment.broker_root
    uid, gid = next(
        (int(f[2]), int(f[3]))
        for f in (line.split(":") for line in (root / "etc/passwd").read_text().splitlines())
        if f[0] == "mosquitto"
    )
    run_dir = root / "run/mosquitto"  # Debian's unit makes it (RuntimeDirectory); we are not systemd
    run_dir.mkdir(parents=True, exist_ok=True)
    os.chown(run_dir, uid, gid)
    log = (root / "tmp/mosquitto.out").open("w")
    proc = subprocess.Popen(
        ["chroot", str(root), "/usr/sbin/mosquitto", "-c", "/etc/mosquitto/mosquitto.conf"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        try:
            socket.create_connection(("127.0.0.1", deployment.port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"mosquitto did not start: {(root / 'var/log/mosquitto/mosquitto.log').read_text()}"
                )
            time.sleep(0.1)
    yield deployment.port
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)
    log.close()


@dataclass
class Session:
    """One MQTT 5 client over TLS, recording CONNACK, PUBACK and SUBACK reason codes and messages."""

    client: mqtt.Client
    connack: ReasonCode | None = None
    pubacks: dict[int, ReasonCode] = field(default_factory=dict)
    subacks: list[ReasonCode] = field(default_factory=list)
    messages: list[mqtt.MQTTMessage] = field(default_factory=list)
    event: threading.Condition = field(default_factory=threading.Condition)

    def wait(self, predicate: Callable[[], object]) -> bool:
        """Wait until `predicate()` is true (or TIMEOUT_S passed); whether it became true."""
        with self.event:
            return bool(self.event.wait_for(predicate, timeout=TIMEOUT_S))

    def publish(self, topic: str, payload: str) -> int:
        """Publish at QoS 1 and return the PUBACK's reason code."""
        info = self.client.publish(topic, payload, qos=1)
        assert self.wait(lambda: info.mid in self.pubacks), f"no PUBACK for {topic}"
        return int(self.pubacks[info.mid].value)

    def accepted(self, topic: str, payload: str) -> bool:
        """Whether the broker accepted a QoS 1 publish (a success reason code in the PUBACK)."""
        return self.publish(topic, payload) < FIRST_ERROR_CODE


def connect(port: int, ca: Path, username: str, password: str) -> Session:
    """An MQTT 5 session over TLS (verifying the broker against `ca`), after its CONNACK arrived."""
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5
    )
    session = Session(client)

    def on_connect(_c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object) -> None:
        with session.event:
            session.connack = rc
            session.event.notify_all()

    def on_publish(_c: mqtt.Client, _u: object, mid: int, rc: ReasonCode, _p: object) -> None:
        with session.event:
            session.pubacks[mid] = rc
            session.event.notify_all()

    def on_subscribe(_c: mqtt.Client, _u: object, _mid: int, rcs: list[ReasonCode], _p: object) -> None:
        with session.event:
            session.subacks.extend(rcs)
            session.event.notify_all()

    def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        with session.event:
            session.messages.append(message)
            session.event.notify_all()

    client.on_connect, client.on_publish = on_connect, on_publish
    client.on_subscribe, client.on_message = on_subscribe, on_message
    client.username_pw_set(username, password)
    client.tls_set(ca_certs=str(ca), cert_reqs=ssl.CERT_REQUIRED)
    client.connect("localhost", port, keepalive=30)
    client.loop_start()
    assert session.wait(lambda: session.connack is not None), "no CONNACK"
    return session


@pytest.fixture
def sessions(broker: int, deployment: Deployment) -> Iterator[list[Session]]:
    """Sessions a test opens, closed afterwards."""
    opened: list[Session] = []
    yield opened
    for s in opened:
        s.client.disconnect()
        s.client.loop_stop()


def test_camera_writes_only_its_own_topics(
    broker: int, deployment: Deployment, sessions: list[Session]
) -> None:
    ca = deployment.tls / "ca.crt"
    cam = connect(broker, ca, CAMERA, PASSWORDS[CAMERA])
    sessions.append(cam)
    assert cam.connack is not None and cam.connack.value == 0
    dashboard = connect(broker, ca, "dashboard", PASSWORDS["dashboard"])
    sessions.append(dashboard)
    dashboard.client.subscribe("edge-pose/#", qos=1)
    assert dashboard.wait(lambda: dashboard.subacks) and dashboard.subacks[0].value == 1  # granted QoS 1

    assert cam.publish(f"edge-pose/{CAMERA}/event", "mine") == 0
    assert cam.publish(f"edge-pose/{OTHER_CAMERA}/event", "not mine") == NOT_AUTHORIZED
    assert cam.publish("edge-pose/event", "no device level") == NOT_AUTHORIZED
    assert cam.accepted(f"homeassistant/binary_sensor/{CAMERA}/fall/config", "{}")
    assert cam.publish(f"homeassistant/binary_sensor/{OTHER_CAMERA}/fall/config", "{}") == NOT_AUTHORIZED

    # The dashboard read the camera's own message and nothing that was refused.
    assert dashboard.wait(lambda: any(m.topic == f"edge-pose/{CAMERA}/event" for m in dashboard.messages))
    time.sleep(0.3)
    assert [m.payload for m in dashboard.messages] == [b"mine"]


def test_dashboard_reads_but_cannot_write(
    broker: int, deployment: Deployment, sessions: list[Session]
) -> None:
    ca = deployment.tls / "ca.crt"
    dashboard = connect(broker, ca, "dashboard", PASSWORDS["dashboard"])
    sessions.append(dashboard)
    assert dashboard.connack is not None and dashboard.connack.value == 0
    assert dashboard.publish(f"edge-pose/{CAMERA}/event", "forged") == NOT_AUTHORIZED
    assert dashboard.publish(f"edge-pose/{CAMERA}/status", "offline") == NOT_AUTHORIZED
    assert dashboard.publish("anything/else", "x") == NOT_AUTHORIZED


def test_wrong_password_is_refused(broker: int, deployment: Deployment, sessions: list[Session]) -> None:
    session = connect(broker, deployment.tls / "ca.crt", CAMERA, "wrong")
    sessions.append(session)
    assert session.connack is not None and session.connack.value in REFUSED_LOGIN, session.connack


def test_broker_files_have_tight_permissions(deployment: Deployment) -> None:
    conf = deployment.broker_root / "etc/mosquitto/edge-pose"
    key = conf / "server.key"
    assert key.stat().st_mode & 0o777 == 0o640
    passwd = (conf / "passwd").read_text()
    assert PASSWORDS[CAMERA] not in passwd and f"{CAMERA}:$7$" in passwd  # hashed by mosquitto_passwd
    acl = (conf / "acl").read_text()
    assert f"user {CAMERA}\ntopic write edge-pose/{CAMERA}/#" in acl
