"""Home Assistant MQTT discovery (opt-in): retained config messages that make each camera a device in
Home Assistant with binary sensors for the safety alarms and sensors for people in view, fps and
inference time, all tied to the camera's `status` topic for availability. The binary sensors also expire
(`expire_after`) when their retained state is not refreshed: the camera re-publishes it every half
keepalive, so a camera that died without a will (the broker was down) turns unavailable anyway.

Topic layout (Home Assistant's): `<ha_prefix>/<component>/<node_id>/<object_id>/config`, node_id =
the device id, so a broker ACL can let each device write only its own discovery topics. An empty
retained payload on the same topic removes the entity (sent when discovery is switched off)."""

from __future__ import annotations

import re
from typing import Any

from edge.publish.messages import Message, topic

DISCOVERY_QOS = 1
_NODE_ID_BAD = re.compile(r"[^a-zA-Z0-9_-]")  # Home Assistant accepts only these in node_id / object_id

# (component, object_id, config without topics/device). Binary sensors read the retained alarm state
# topics (ON/OFF); sensors read the pose and stats messages with a value template.
_ENTITIES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("binary_sensor", "fall", {"name": "Fall", "device_class": "safety", "alarm": "fall"}),
    (
        "binary_sensor",
        "person_down",
        {"name": "Person down", "device_class": "safety", "alarm": "person_down"},
    ),
    (
        "binary_sensor",
        "unsafe_posture",
        {"name": "Unsafe posture", "device_class": "problem", "alarm": "unsafe_posture"},
    ),
    (
        "sensor",
        "people",
        {
            "name": "People in view",
            "source": "pose",
            "value_template": "{{ value_json.poses | length }}",
            "state_class": "measurement",
            "icon": "mdi:account-multiple",
        },
    ),
    (
        "sensor",
        "fps",
        {
            "name": "Frame rate",
            "source": "stats",
            "value_template": "{{ value_json.fps }}",
            "unit_of_measurement": "fps",
            "state_class": "measurement",
            "entity_category": "diagnostic",
        },
    ),
    (
        "sensor",
        "inference_ms",
        {
            "name": "Inference time",
            "source": "stats",
            "value_template": "{{ value_json.inference_ms_p50 }}",
            "unit_of_measurement": "ms",
            "device_class": "duration",
            "state_class": "measurement",
            "entity_category": "diagnostic",
        },
    ),
)


def node_id(device: str) -> str:
    """The device id made safe for Home Assistant's node_id (letters, digits, `_`, `-`)."""
    return _NODE_ID_BAD.sub("_", device)


def config_topic(ha_prefix: str, component: str, device: str, object_id: str) -> str:
    """`<ha_prefix>/<component>/<node_id>/<object_id>/config`."""
    return f"{ha_prefix}/{component}/{node_id(device)}/{object_id}/config"


def discovery_messages(
    ha_prefix: str, topic_prefix: str, device: str, version: str, expire_after_s: int | None = None
) -> list[Message]:
    """The retained config message of every entity of one camera; the binary sensors (the alarm
    states) expire after `expire_after_s` without an update."""
    ident = f"edge-pose-{node_id(device)}"
    device_info = {
        "identifiers": [ident],
        "name": f"edge-pose {device}",
        "model": "edge-pose camera",
        "manufacturer": "edge-pose",
        "sw_version": version,
    }
    availability = [
        {
            "topic": topic(topic_prefix, device, "status"),
            # status is online / stopped / offline: anything but online means unavailable
            "value_template": "{{ 'online' if value == 'online' else 'offline' }}",
            "payload_available": "online",
            "payload_not_available": "offline",
        }
    ]
    messages = []
    for component, object_id, spec in _ENTITIES:
        config = {k: v for k, v in spec.items() if k not in ("alarm", "source")}
        if "alarm" in spec:
            config["state_topic"] = topic(topic_prefix, device, f"alarm/{spec['alarm']}")
            config["payload_on"] = "ON"
            config["payload_off"] = "OFF"
            if expire_after_s is not None:
                config["expire_after"] = expire_after_s
        else:
            config["state_topic"] = topic(topic_prefix, device, spec["source"])
        config.update(
            {
                "unique_id": f"{ident}_{object_id}",
                "availability": availability,
                "device": device_info,
                "origin": {"name": "edge-pose", "sw_version": version},
                "qos": 1 if component == "binary_sensor" else 0,
            }
        )
        messages.append(
            Message(
                kind="discovery",
                topic=config_topic(ha_prefix, component, device, object_id),
                payload=config,
                qos=DISCOVERY_QOS,
                retain=True,
            )
        )
    return messages


def removal_messages(ha_prefix: str, device: str) -> list[Message]:
    """Empty retained payloads on every config topic: Home Assistant removes the entities."""
    return [
        Message(
            kind="discovery",
            topic=config_topic(ha_prefix, component, device, object_id),
            payload={},
            qos=DISCOVERY_QOS,
            retain=True,
        )
        for component, object_id, _ in _ENTITIES
    ]
