"""The publish stage's settings: the `mqtt:`, `outbox:` and `snapshots:` sections of the daemon config.
Their defaults ARE the defaults: the config mounts these models, and the publisher runs with them
(edge/publish/mqtt.py, `MqttSettings`), so there is no second set of MQTT defaults to drift. The
snapshots are rendered beside the frame loop (edge/preview/snapshot.py) and published through the outbox
with a bound of their own (`snapshots.max_queued`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import Field, field_validator, model_validator

from edge.loader import Section
from edge.publish.messages import DEFAULT_TOPIC_PREFIX
from edge.rules.event import EventType

DEFAULT_OUTBOX_PATH = Path("/var/lib/edge-pose/outbox.sqlite")  # the unit's StateDirectory=edge-pose
TOPIC_SAFE = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"  # no MQTT wildcards (+ #), separators or spaces
SnapshotPrivacy = Literal["skeleton", "blurred", "full"]


class TlsConfig(Section):
    """TLS to the broker. Relative file names resolve in the credentials directory."""

    ca_file: Path = Field(strict=False, description="CA certificate (PEM) that signed the broker's cert.")
    cert_file: Path | None = Field(
        None, strict=False, description="Client certificate (PEM), if the broker asks."
    )
    key_file: Path | None = Field(None, strict=False, description="Client private key (PEM); a secret.")
    insecure: bool = Field(False, description="Skip the broker hostname check (testing only).")

    @model_validator(mode="after")
    def _cert_and_key(self) -> TlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together: set both or neither")
        return self


class MqttConfig(Section):
    """The broker and what is published."""

    enabled: bool = Field(True, description="false: run without publishing (a dry run for benchmarks).")
    host: str = Field("localhost", min_length=1, max_length=253, description="Broker host name or address.")
    port: int = Field(1883, ge=1, le=65535, description="Broker port (8883 is the usual TLS port).")
    topic_prefix: str = Field(
        DEFAULT_TOPIC_PREFIX,
        min_length=1,
        max_length=64,
        pattern=TOPIC_SAFE,
        description="First topic level: topics are <prefix>/<device.id>/<name>.",
    )
    client_id: str | None = Field(
        None, min_length=1, max_length=64, description="MQTT client id (null: edge-pose-<device.id>)."
    )
    protocol: Literal["5", "3.1.1"] = Field("5", description="MQTT protocol version: 5 or 3.1.1.")
    keepalive_s: int = Field(
        30, ge=5, le=3600, description="MQTT keepalive; the broker notices a dead link after 1.5x."
    )
    username_file: Path | None = Field(
        None, strict=False, description="File holding the MQTT user name (relative: in the credentials dir)."
    )
    password_file: Path | None = Field(
        None, strict=False, description="File holding the MQTT password (relative: in the credentials dir)."
    )
    tls: TlsConfig | None = Field(None, description="TLS settings (null: plain TCP).")
    pose_qos: int = Field(0, ge=0, le=2, description="QoS of pose messages (events are always QoS 1).")
    pose_max_rate_hz: float | None = Field(
        5.0, gt=0, le=120, description="Most pose messages per second (null: every frame)."
    )
    pose_only_changes: bool = Field(False, description="Skip pose messages while nobody is in view.")
    stats_interval_s: float = Field(
        30.0, ge=1, le=3600, description="How often the stats message is published."
    )
    reconnect_min_s: float = Field(
        1.0, gt=0, le=60, description="First wait before reconnecting to the broker."
    )
    reconnect_max_s: float = Field(
        60.0, gt=0, le=3600, description="Longest wait between reconnect attempts."
    )
    ha_discovery: bool = Field(False, description="Publish Home Assistant MQTT discovery messages.")
    ha_prefix: str = Field(
        "homeassistant", min_length=1, pattern=TOPIC_SAFE, description="Home Assistant discovery prefix."
    )

    @field_validator("protocol", mode="before")
    @classmethod
    def _protocol_is_a_version_string(cls, value: Any) -> Any:
        # YAML reads `protocol: 5` as the integer 5 (and `3.1` as a float): versions are strings.
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError(
                f'the protocol version is a string: write "5" or "3.1.1" (got the number {value})'
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> MqttConfig:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be at least reconnect_min_s")
        if (self.username_file is None) and (self.password_file is not None):
            raise ValueError("password_file needs username_file")
        return self


class OutboxConfig(Section):
    """The on-disk queue that keeps safety events until the broker has them."""

    path: Path = Field(
        DEFAULT_OUTBOX_PATH, strict=False, description="SQLite file (under the unit's StateDirectory)."
    )
    max_events: int = Field(
        10000, ge=1, le=10_000_000, description="Oldest events beyond this are dropped (counted)."
    )
    max_age_s: float = Field(
        7 * 86400.0, ge=60, le=90 * 86400, description="Events older than this are dropped (counted)."
    )


class SnapshotConfig(Section):
    """A JPEG of the moment an event starts, published next to the event (docs/preview.md)."""

    enabled: bool = Field(False, description="Publish a snapshot when an event starts.")
    privacy: SnapshotPrivacy = Field(
        "skeleton",
        description="skeleton: the poses and zones on a blank background, no pixel of the camera image; "
        "blurred: the scene with every person found blurred; full: the camera image as it is.",
    )
    types: list[EventType] = Field(
        default_factory=lambda: list(get_args(EventType)),
        min_length=1,
        description="Event types that get a snapshot.",
    )
    max_width: int = Field(
        640, ge=160, le=4096, description="Snapshots wider than this are scaled down (payload size)."
    )
    jpeg_quality: int = Field(75, ge=10, le=100, description="JPEG quality of a snapshot (10-100).")
    max_queued: int = Field(
        50,
        ge=1,
        le=10_000,
        description="Snapshots kept in the outbox while the broker is away; the oldest beyond this are "
        "dropped (counted), never an event.",
    )
