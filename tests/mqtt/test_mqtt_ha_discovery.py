"""Done-when: Home Assistant discovery messages validate against the documented discovery format
(edge/schemas/ha_discovery.json), appear (retained) when enabled, are re-published when Home Assistant
announces itself on `homeassistant/status`, and disappear (empty retained payloads) when disabled.
Runs on the TLS + ACL broker: the documented ACL must let a device write its own discovery topics."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import jsonschema
import paho.mqtt.client as mqtt
import pytest
from mosquitto import Mosquitto, password_for
from mqtt_helpers import load_schema, publisher_settings, validate
from paho.mqtt.enums import CallbackAPIVersion

from edge.publish.ha_discovery import discovery_messages
from edge.publish.mqtt import MqttPublisher, TlsSettings

N_ENTITIES = 6  # fall, person_down, unsafe_posture, people, fps, inference_ms


def publisher(broker: Mosquitto, tmp_path: Path, ha: bool) -> MqttPublisher:
    return MqttPublisher(
        publisher_settings(
            "dev2",
            "localhost",
            broker.port,
            tmp_path / "dev2.sqlite",
            username="dev2",
            password=password_for("dev2"),
            tls=TlsSettings(ca_file=broker.ca_file),
            ha_discovery=ha,
        )
    )


def ha_announces_online(broker: Mosquitto) -> None:
    """What Home Assistant does when it starts: `online` on homeassistant/status."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="fake-ha-birth", protocol=mqtt.MQTTv5)
    client.username_pw_set("homeassistant", password_for("homeassistant"))
    client.tls_set(ca_certs=str(broker.ca_file))
    done = threading.Event()
    client.on_publish = lambda *a: done.set()
    client.connect("localhost", broker.port)
    client.loop_start()
    client.publish("homeassistant/status", "online", qos=1)
    assert done.wait(5)
    client.disconnect()
    client.loop_stop()


def configs(msgs: list[object]) -> list[object]:
    return [m for m in msgs if m.topic.endswith("/config")]  # type: ignore[attr-defined]


def test_discovery_schema_is_not_vacuous() -> None:
    good = discovery_messages("homeassistant", "edge-pose", "cam1", "0.1.0")
    for m in good:
        validate("ha_discovery", m.payload)
    validator = jsonschema.Draft202012Validator(load_schema("ha_discovery"))
    sensor = next(m.payload for m in good if m.topic.endswith("/fps/config"))
    binary = next(m.payload for m in good if m.topic.endswith("/fall/config"))
    bad = [
        {**sensor, "unit_of_measure": "fps"},  # misspelt key: Home Assistant would ignore it silently
        {k: v for k, v in sensor.items() if k != "state_topic"},
        {**sensor, "device": {"name": "x"}},  # no identifiers: no device registry entry
        {**sensor, "availability": [{"payload_available": "online"}]},
        {k: v for k, v in binary.items() if k != "payload_off"},
        {**sensor, "state_topic": "edge-pose/+/stats"},  # wildcards are for subscribers
        {**binary, "expire_after": 0},
    ]
    for payload in bad:
        assert list(validator.iter_errors(payload)), payload


def test_discovery_appears_is_republished_and_disappears(secure_broker: Mosquitto, tmp_path: Path) -> None:
    ha = secure_broker.subscribe_collect("homeassistant/+/dev2/+/config", username="homeassistant")
    pub = publisher(secure_broker, tmp_path, ha=True)
    pub.start()
    first = configs(ha.wait_for(lambda m: len(configs(m)) >= N_ENTITIES))
    payloads = {m.topic: json.loads(m.payload) for m in first}
    assert len(payloads) == N_ENTITIES
    for t, p in payloads.items():
        validate("ha_discovery", p)
        assert p["availability"][0]["topic"] == "edge-pose/dev2/status"
        assert p["state_topic"].startswith("edge-pose/dev2/")
        assert t.split("/")[2] == "dev2"
        # the alarm states expire in Home Assistant as the retained `online` does on the broker
        assert p.get("expire_after") == (pub.status_expiry_s if t.split("/")[1] == "binary_sensor" else None)
    assert len({p["unique_id"] for p in payloads.values()}) == N_ENTITIES
    assert {t.split("/")[1] for t in payloads} == {"binary_sensor", "sensor"}
    # the binary sensors' state topics exist (retained OFF at connect)
    alarms = secure_broker.subscribe_collect("edge-pose/dev2/alarm/#")
    got = alarms.wait_for(lambda m: len(m) >= 3)
    assert {m.payload for m in got} == {b"OFF"} and all(m.retain for m in got)

    ha_announces_online(secure_broker)
    ha.wait_for(lambda m: len(configs(m)) >= 2 * N_ENTITIES)
    assert pub.counters["events_refused"] == 0
    pub.close()

    # a subscriber arriving later (Home Assistant restarting) gets them retained
    late = secure_broker.subscribe_collect("homeassistant/+/dev2/+/config", username="homeassistant")
    retained = late.wait_for(lambda m: len(m) >= N_ENTITIES)
    assert all(m.retain for m in retained)

    # discovery switched off: empty retained payloads remove every entity
    off = publisher(secure_broker, tmp_path, ha=False)
    off.start()
    removed = ha.wait_for(lambda m: sum(1 for x in m if x.payload == b"") >= N_ENTITIES)
    assert {m.topic for m in removed if m.payload == b""} == set(payloads)
    off.close()
    after = secure_broker.subscribe_collect("homeassistant/+/dev2/+/config", username="homeassistant")
    time.sleep(1.0)
    assert after.snapshot() == []  # nothing retained any more


@pytest.mark.parametrize("device", ["cam.1", "line-3_cam.07"])  # config allows letters, digits, _ - .
def test_node_ids_are_safe_for_home_assistant(device: str) -> None:
    for m in discovery_messages("homeassistant", "edge-pose", device, "0.1.0"):
        node = m.topic.split("/")[2]
        assert node.replace("_", "").replace("-", "").isalnum() and node.isascii()
        validate("ha_discovery", m.payload)
