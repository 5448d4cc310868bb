"""The daemon's configuration: one YAML file, typed and strict.

Every key has a type, a default, bounds and a description (docs/config.md is the reference and
docs/config.example.yaml shows every key with its default). An unknown or misspelt key, a wrong type,
an out-of-range value, a bad camera URI or a missing secrets file stops start-up with one line
`config.yaml: <key.path>: <what is wrong>` and exit code 78 (EX_CONFIG); `edge-pose check-config`
runs the same checks without starting anything. Types are strict: YAML `"1883"` is not a port and
`yes` is not a boolean."""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from edge.capture.source_uri import SourceUri, parse_source_uri
from edge.errors import ConfigError
from edge.loader import Section
from edge.pose.manifest import default_model_dir, load_manifest
from edge.pose.registry import DEFAULT_MODEL
from edge.pose.settings import PoseConfig
from edge.publish.messages import DEFAULT_TOPIC_PREFIX
from edge.rules.config import RulesConfig
from edge.service.credentials import credentials_dir, read_secret, resolve_secret_path

logger = logging.getLogger(__name__)

DEFAULT_OUTBOX_PATH = Path("/var/lib/edge-pose/outbox.sqlite")  # the unit's StateDirectory=edge-pose
TOPIC_SAFE = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"  # no MQTT wildcards (+ #), separators or spaces
MAX_CONFIG_BYTES = 1 << 20  # a config is a few kB; refuse to parse anything absurdly large


class DeviceConfig(Section):
    """Who this camera is."""

    id: str = Field(
        min_length=1,
        max_length=64,
        pattern=TOPIC_SAFE,
        description="Device id, unique in the fleet; used in MQTT topics (<prefix>/<id>/...) and payloads. "
        "Letters, digits, '_', '-', '.'.",
    )


class CameraConfig(Section):
    """Where frames come from and how a lost camera is recovered."""

    source: str = Field(
        description="Camera URI: picamera2, picamera2:N, v4l2:/dev/videoN, rtsp://user@host/path or file:PATH."
    )
    loop: bool = Field(True, description="file: sources only: start again at the end of the file.")
    realtime: bool = Field(
        True,
        description="file: sources only: pace frames at the file's frame rate like a live camera "
        "(a slow model drops frames). false: hand every frame to the model as fast as it takes them.",
    )
    width: int | None = Field(
        None, ge=64, le=4096, description="Requested capture width in pixels (null: the camera's default)."
    )
    height: int | None = Field(
        None, ge=64, le=4096, description="Requested capture height in pixels (null: the camera's default)."
    )
    fps: float | None = Field(
        None, gt=0, le=120, description="Requested camera frame rate (null: the camera's default)."
    )
    rtsp_transport: Literal["tcp", "udp"] = Field(
        "tcp", description="rtsp:// only: RTP over TCP (robust on lossy worksite networks) or UDP."
    )
    stall_timeout_s: float = Field(
        10.0,
        ge=0.5,
        le=600,
        description="No frame for this long counts as a stalled camera: the source is reopened, and the "
        "systemd watchdog stops being fed if the capture thread itself hangs.",
    )
    reopen_min_s: float = Field(1.0, gt=0, le=60, description="First wait before reopening a failed source.")
    reopen_max_s: float = Field(
        30.0, gt=0, le=3600, description="Longest wait between reopen attempts (the wait doubles up to this)."
    )

    @field_validator("source")
    @classmethod
    def _valid_uri(cls, value: str) -> str:
        parse_source_uri(value)
        return value

    @model_validator(mode="after")
    def _backoff_order(self) -> CameraConfig:
        if self.reopen_max_s < self.reopen_min_s:
            raise ValueError("reopen_max_s must be at least reopen_min_s")
        return self

    @property
    def uri(self) -> SourceUri:
        """The parsed source."""
        return parse_source_uri(self.source)


class ModelConfig(Section):
    """Which pose model runs and how."""

    name: str = Field(DEFAULT_MODEL, min_length=1, description="Model name from the model manifest.")
    threads: int = Field(2, ge=1, le=16, description="Interpreter threads (a Pi 4/5 has 4 cores).")
    dir: Path | None = Field(
        None,
        strict=False,
        description="Directory with manifest.json and the .tflite files (null: the package default, "
        "/opt/edge-pose/models in a fleet install).",
    )
    fallback: str | None = Field(
        "movenet_lightning",
        min_length=1,
        description="Model that takes over when `name` fails to load or keeps giving invalid output "
        "(null: none, a model that fails to load stops the daemon).",
    )

    @property
    def directory(self) -> Path:
        """The model directory in effect."""
        return self.dir if self.dir is not None else default_model_dir()


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
    def _protocol_number(cls, value: Any) -> Any:
        # YAML reads `protocol: 5` as an integer; accept it for the obvious meaning.
        return "5" if value == 5 and not isinstance(value, bool) else value

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


class LoggingConfig(Section):
    """Log output (stderr; journald under systemd)."""

    level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Least severe level logged."
    )


class ServiceConfig(Section):
    """Daemon housekeeping."""

    status_interval_s: float = Field(
        5.0,
        ge=0.5,
        le=600,
        description="How often systemd's STATUS= line (fps, camera, broker) is refreshed.",
    )


class AppConfig(Section):
    """The whole file."""

    device: DeviceConfig = Field(description="This camera's identity.")
    camera: CameraConfig = Field(description="The camera source.")
    model: ModelConfig = Field(default_factory=ModelConfig, description="The pose model.")
    pose: PoseConfig = Field(
        default_factory=PoseConfig,
        description="Pose model tunables, one section per model family (edge/pose/settings.py).",
    )
    mqtt: MqttConfig = Field(default_factory=MqttConfig, description="The broker.")
    outbox: OutboxConfig = Field(default_factory=OutboxConfig, description="The event outbox.")
    rules: RulesConfig = Field(default_factory=RulesConfig, description="Safety-event thresholds.")
    logging: LoggingConfig = Field(default_factory=LoggingConfig, description="Logging.")
    service: ServiceConfig = Field(default_factory=ServiceConfig, description="Daemon housekeeping.")


@dataclass(frozen=True, slots=True)
class Secrets:
    """Secrets read from files at load time (never stored in the config itself)."""

    mqtt_username: str | None = None
    mqtt_password: str | None = None
    tls_ca_file: Path | None = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    """A validated config, its secrets and where it came from."""

    config: AppConfig
    secrets: Secrets
    path: str
    warnings: tuple[str, ...] = ()


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (PyYAML would silently keep the last one)."""


def _mapping_no_duplicates(
    loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False
) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_no_duplicates)


def read_yaml(path: str) -> Any:
    """Parse the YAML file at `path`; ConfigError on a missing file or bad syntax."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES} bytes, not a config file")
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}" if mark is not None else "?"
        raise ConfigError(f"{path}: {where}: invalid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None


def _key_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The config model a key path points into (for 'did you mean' suggestions)."""
    model: type[BaseModel] = AppConfig
    for part in loc:
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        annotation = field.annotation
        candidates = getattr(annotation, "__args__", (annotation,))
        nested = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not nested:
            return None
        model = nested[0]
    return model


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(error: Any) -> str:
    """One readable sentence for one pydantic error."""
    kind = error["type"]
    loc = tuple(error["loc"])
    if kind == "extra_forbidden":
        parent = _model_at(loc[:-1])
        hint = ""
        if parent is not None:
            close = difflib.get_close_matches(str(loc[-1]), list(parent.model_fields), n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown key{hint}"
    if kind == "missing":
        return "required key is missing"
    if kind == "value_error":
        message = str(error["msg"]).removeprefix("Value error, ")
        return message
    message = str(error["msg"])
    message = message[0].lower() + message[1:]
    if kind in {"model_type", "dict_type"}:
        return f"expected a mapping of keys, got {_short(error['input'])}"
    return f"{message} (got {_short(error['input'])})"


def validate(document: Any, path: str) -> AppConfig:
    """Validate a parsed YAML document; ConfigError with one line per problem."""
    if document is None:
        raise ConfigError(f"{path}: empty file (device.id and camera.source are required)")
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level, got {_short(document)}")
    try:
        return AppConfig.model_validate(document)
    except ValidationError as exc:
        # An unknown key first: a misspelt key also shows up as the missing key it was meant to be.
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        lines = [f"{path}: {_key_path(tuple(e['loc']))}: {_describe(e)}" for e in errors]
        raise ConfigError("\n".join(lines)) from None


def load_secrets(config: AppConfig, path: str, directory: Path | None) -> Secrets:
    """Read the secret files the config names; ConfigError naming the key of a missing one."""

    def resolve(key: str, name: Path | None) -> Path | None:
        if name is None:
            return None
        try:
            return resolve_secret_path(name, directory)
        except ValueError as exc:
            raise ConfigError(f"{path}: {key}: {exc}") from None

    def read(key: str, name: Path | None) -> str | None:
        resolved = resolve(key, name)
        if resolved is None:
            return None
        try:
            return read_secret(resolved)
        except ValueError as exc:
            raise ConfigError(f"{path}: {key}: {exc}") from None

    mqtt = config.mqtt
    tls = mqtt.tls
    secrets = Secrets(
        mqtt_username=read("mqtt.username_file", mqtt.username_file),
        mqtt_password=read("mqtt.password_file", mqtt.password_file),
        tls_ca_file=resolve("mqtt.tls.ca_file", tls.ca_file) if tls else None,
        tls_cert_file=resolve("mqtt.tls.cert_file", tls.cert_file) if tls else None,
        tls_key_file=resolve("mqtt.tls.key_file", tls.key_file) if tls else None,
    )
    return secrets


def check_models(config: AppConfig, path: str, require_manifest: bool = False) -> list[str]:
    """Problems with model.name/model.fallback (and the `pose:` family sections) against the manifest in
    model.dir. A missing manifest is an error with `require_manifest`, else a warning line."""
    directory = config.model.directory
    if not (directory / "manifest.json").is_file():
        if require_manifest:
            raise ConfigError(f"{path}: model.dir: no manifest.json in {directory}")
        return [f"{path}: model.dir: no manifest.json in {directory} (model names not checked)"]
    try:
        known = load_manifest(directory)
    except Exception as exc:  # a broken manifest is reported by the model loader in detail
        raise ConfigError(f"{path}: model.dir: {exc}") from None
    in_use: list[str] = []
    for key, name in (("model.name", config.model.name), ("model.fallback", config.model.fallback)):
        if name is None:
            continue
        if name not in known:
            choices = ", ".join(sorted(known))
            raise ConfigError(f"{path}: {key}: unknown model {name!r} (known: {choices})")
        in_use.append(f"{key} {name!r} is {known[name].family}")
    families = {known[n].family for n in (config.model.name, config.model.fallback) if n is not None}
    for family in config.pose.unused_sections(families):
        raise ConfigError(
            f"{path}: pose.{family}: settings for model family {family!r}, which the config does not run "
            f"({' and '.join(in_use)}): remove the section or choose a {family} model"
        )
    return []


def parse_config(path: str) -> AppConfig:
    """Read and validate the config at `path` (keys, types, values; no files it names are opened)."""
    return validate(read_yaml(path), path)


def load_config(path: str, credentials: Path | None = None) -> LoadedConfig:
    """Read, validate and resolve the config at `path` (secrets from `credentials`, else
    $CREDENTIALS_DIRECTORY). Raises ConfigError (exit 78) naming the key on any problem."""
    config = parse_config(path)
    secrets = load_secrets(config, path, credentials_dir(credentials))
    warnings = tuple(check_models(config, path))
    return LoadedConfig(config=config, secrets=secrets, path=path, warnings=warnings)
