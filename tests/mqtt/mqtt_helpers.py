"""Helpers for the MQTT tests: the JSON Schemas, event messages built to event schema 1, a log
capture with timestamps."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path
from typing import Any

import jsonschema

from edge.publish.messages import Message, topic
from edge.publish.mqtt import MqttSettings, TlsSettings
from edge.publish.settings import MqttConfig, OutboxConfig

SCHEMAS = Path(__file__).resolve().parents[2] / "edge" / "schemas"


def load_schema(name: str) -> dict[str, Any]:
    """edge/schemas/<name>.json, checked to be a valid draft 2020-12 schema."""
    schema: dict[str, Any] = json.loads((SCHEMAS / f"{name}.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def validate(name: str, instance: Any) -> None:
    """Raise jsonschema.ValidationError if `instance` does not match edge/schemas/<name>.json."""
    jsonschema.Draft202012Validator(load_schema(name)).validate(instance)


def event(
    track_id: int,
    state: str,
    ts: float,
    event_id: str | None = None,
    kind: str = "person_down",
    device: str = "cam1",
    prefix: str = "edge-pose",
    start_ts: float | None = None,
) -> Message:
    """An event message following event schema 1 (issue 4) as the rules stage would publish it."""
    start = ts if start_ts is None else start_ts
    return Message(
        kind="event",
        topic=topic(prefix, device, "event"),
        qos=1,
        payload={
            "schema": 1,
            "id": event_id or uuid.uuid4().hex,
            "type": kind,
            "state": state,
            "severity": "critical" if kind in ("fall", "person_down") else "warning",
            "device": device,
            "source": "test",
            "track_id": track_id,
            "frame": int(ts * 10),
            "ts": round(ts, 6),
            "start_ts": round(start, 6),
            "end_ts": round(ts, 6) if state == "end" else None,
            "duration_s": round(ts - start, 3),
            "score": 0.9,
            "details": {"hip_height": 0.2, "trunk_angle_deg": 85.0},
        },
    )


class LogRecords(logging.Handler):
    """Keeps every record of the `edge` loggers (with their creation times)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def lines(self, contains: str = "") -> list[logging.LogRecord]:
        """Records whose message contains `contains`."""
        return [r for r in self.records if contains in r.getMessage()]


def publisher_settings(
    device: str,
    host: str,
    port: int,
    outbox: Path,
    username: str | None = None,
    password: str | None = None,
    tls: TlsSettings | None = None,
    **mqtt: Any,
) -> MqttSettings:
    """MqttSettings as the daemon builds them: an `mqtt:` section (`host`, `port` and any other of its
    keys in `mqtt`, validated as the config validates them), an `outbox:` section at `outbox` (its other
    keys as `outbox_<key>`), secrets."""
    box = {k.removeprefix("outbox_"): mqtt.pop(k) for k in list(mqtt) if k.startswith("outbox_")}
    return MqttSettings(
        device=device,
        mqtt=MqttConfig(host=host, port=port, **mqtt),
        outbox=OutboxConfig(path=outbox, **box),
        username=username,
        password=password,
        tls=tls,
    )
