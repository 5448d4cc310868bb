"""The daemon's configuration: one YAML file, typed and strict (read by edge/loader.py, the one strict
loader, which also reads `--rules` and label files).

Every key has a type, a default, bounds and a description (docs/config.md is the reference and
docs/config.example.yaml shows every key with its default). An unknown or misspelt key, a wrong type,
an out-of-range value, a bad camera URI, a missing or unreadable secrets or TLS file, a model directory
without a manifest, an outbox path that cannot be a file, ... stop start-up with one line
`config.yaml: <key.path>: <what is wrong>` and exit code 78 (EX_CONFIG). `load_config` is every check
`edge-pose run` makes before it starts; `edge-pose check-config` runs exactly these checks without
starting anything. Types are strict: YAML `"1883"` is not a port, `yes` is not a boolean (nor a string:
it is refused), and `5` is not the protocol version "5"."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from edge.capture.frame_source import SourceError
from edge.capture.picamera2_source import picamera2_module
from edge.capture.source_uri import SourceUri, parse_source_uri
from edge.errors import ConfigError, ModelError
from edge.loader import Section, read_document, validate_section
from edge.pose.manifest import default_model_dir, load_manifest, verify_model_file
from edge.pose.registry import DEFAULT_MODEL, model_parts
from edge.pose.settings import PoseConfig
from edge.preview.config import PreviewConfig, check_preview_install, server_tls_context
from edge.publish.mqtt import TlsSettings, tls_context
from edge.publish.settings import TOPIC_SAFE, MqttConfig, OutboxConfig, SnapshotConfig
from edge.redact import mask_passwords
from edge.rules.config import RulesConfig
from edge.rules.fall_model import find_fall_model
from edge.service.credentials import credentials_dir, read_secret, resolve_secret_path

logger = logging.getLogger(__name__)

VIRTUAL_FILESYSTEMS = (Path("/proc"), Path("/sys"), Path("/dev"))  # not storage: no outbox there


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

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        """The repr (and so any log line, traceback or `repr(LoadedConfig)`) shows the source with its
        password masked, as --show and the errors do."""
        for name, value in super().__repr_args__():
            yield name, mask_passwords(value) if name == "source" and isinstance(value, str) else value


class ModelConfig(Section):
    """Which pose model runs and how."""

    name: str = Field(DEFAULT_MODEL, min_length=1, description="Model name from the model manifest.")
    threads: int = Field(2, ge=1, le=16, description="Interpreter threads (a Pi 4/5 has 4 cores).")
    dir: Path | None = Field(
        None,
        strict=False,
        description="Directory with manifest.json and the .tflite files (null: the models the installed "
        "package carries).",
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
    preview: PreviewConfig = Field(default_factory=PreviewConfig, description="The local live view (off).")
    snapshots: SnapshotConfig = Field(
        default_factory=SnapshotConfig, description="Event snapshots over MQTT (off)."
    )


@dataclass(frozen=True, slots=True)
class Secrets:
    """Secrets read from files at load time (never stored in the config itself). The passwords are left
    out of the repr, so no log line, error or traceback that shows a LoadedConfig shows them."""

    mqtt_username: str | None = None
    mqtt_password: str | None = field(default=None, repr=False)
    tls_ca_file: Path | None = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    preview_password: str | None = field(default=None, repr=False)
    preview_tls_cert_file: Path | None = None
    preview_tls_key_file: Path | None = None


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    """A validated config, its secrets and where it came from."""

    config: AppConfig
    secrets: Secrets
    path: str
    warnings: tuple[str, ...] = ()
    # where relative secret names resolved (the zone editor loads the config it saves with it)
    credentials_dir: Path | None = None


def validate(document: Any, path: str) -> AppConfig:
    """Validate a parsed YAML document; ConfigError with one line per problem."""
    if document is None:
        raise ConfigError(f"{path}: empty file (device.id and camera.source are required)")
    if not isinstance(document, dict):
        raise ConfigError(
            f"{path}: expected a mapping of sections at the top level, got {type(document).__name__}"
        )
    return validate_section(AppConfig, document, path)


def parse_config(path: str) -> AppConfig:
    """Read and validate the config at `path` (keys, types, values; no file it names is opened)."""
    return validate(read_document(path), path)


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
    preview = config.preview if config.preview.enabled else None
    preview_tls = preview.tls if preview else None
    secrets = Secrets(
        mqtt_username=read("mqtt.username_file", mqtt.username_file),
        mqtt_password=read("mqtt.password_file", mqtt.password_file),
        tls_ca_file=resolve("mqtt.tls.ca_file", tls.ca_file) if tls else None,
        tls_cert_file=resolve("mqtt.tls.cert_file", tls.cert_file) if tls else None,
        tls_key_file=resolve("mqtt.tls.key_file", tls.key_file) if tls else None,
        preview_password=read("preview.password_file", preview.password_file) if preview else None,
        preview_tls_cert_file=resolve("preview.tls.cert_file", preview_tls.cert_file)
        if preview_tls
        else None,
        preview_tls_key_file=resolve("preview.tls.key_file", preview_tls.key_file) if preview_tls else None,
    )
    return secrets


def check_models(config: AppConfig, path: str) -> list[str]:
    """What `edge-pose run` checks of model.* and pose.* before loading anything: the manifest in
    model.dir (exit 78), model.name and model.fallback in it (78), `pose:` sections only for the families
    they run (78), and their files (a two-stage model's detector too) against the manifest's sha256 (run loads the fallback instead of a
    bad model file, so that is a warning; with no usable fallback it is ModelError, exit 65, as in run)."""
    directory = config.model.directory
    if not (directory / "manifest.json").is_file():
        what = "no such directory" if not directory.is_dir() else "no manifest.json there"
        raise ConfigError(f"{path}: model.dir: {directory}: {what}")
    try:
        known = load_manifest(directory)
    except ModelError as exc:
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
    problems: dict[str, str] = {}
    for key, name in (("model.name", config.model.name), ("model.fallback", config.model.fallback)):
        if name is None or name in problems.values():
            continue
        try:
            for part in model_parts(name, directory):  # a two-stage model's detector too
                verify_model_file(part)
        except ModelError as exc:
            problems[key] = f"{path}: {key}: {exc}"
    if "model.name" in problems and (config.model.fallback is None or "model.fallback" in problems):
        raise ModelError(problems["model.name"])
    if "model.fallback" in problems and config.model.fallback == config.model.name:
        raise ModelError(problems["model.fallback"])
    check_fall_model(config.rules, directory, path)
    return [f"{line} (the daemon would run without it)" for line in problems.values()]


def check_fall_model(rules: RulesConfig, model_dir: Path, path: str, key: str = "rules.fall.model") -> None:
    """With `fall.detector: model`, the fall model `rules.fall.model` must be in `model_dir`'s manifest
    and its file must match the manifest's sha256 (what the rules engine loads): ConfigError (exit 78)
    naming `key` otherwise. The daemon has no fallback for it, so this is never only a warning."""
    if not (rules.fall.enabled and rules.fall.detector == "model"):
        return
    try:
        find_fall_model(rules.fall.model, model_dir)
    except ModelError as exc:
        raise ConfigError(f"{path}: {key}: {exc}") from None


def check_outbox_path(outbox: Path) -> str | None:
    """Why `outbox` cannot hold the SQLite outbox, or None. A missing directory is fine (systemd's
    StateDirectory= creates it at start, or the daemon does); an existing one must be writable."""
    absolute = outbox.resolve()
    for virtual in VIRTUAL_FILESYSTEMS:
        if absolute.is_relative_to(virtual):
            return f"{outbox}: under {virtual}, a virtual filesystem, not storage"
    if absolute.is_dir():
        return f"{outbox}: is a directory (give a file name, e.g. {absolute / 'outbox.sqlite'})"
    if absolute.exists() and not os.access(absolute, os.R_OK | os.W_OK):
        return f"{outbox}: not readable and writable by this user (uid {os.getuid()})"
    parent = absolute.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        return f"{outbox}: {parent} is not a directory"
    if parent == absolute.parent and not os.access(parent, os.W_OK | os.X_OK):
        return f"{outbox}: directory {parent} is not writable by this user (uid {os.getuid()})"
    return None


def check_host(config: AppConfig, path: str, secrets: Secrets) -> list[str]:
    """The checks of this machine `edge-pose run` makes before it starts anything: the models, the live
    view's library and HTTPS files (when preview.enabled), the outbox location, the broker's TLS files
    (parsed as PEM), the camera driver. Returns warning lines."""
    warnings = check_models(config, path)
    if config.preview.enabled:
        check_preview_install(config.preview, path)
        files = preview_tls_files(secrets)
        if files is not None:
            try:
                server_tls_context(*files)
            except ConfigError as exc:
                raise ConfigError(f"{path}: {exc}") from None
    if config.mqtt.enabled:
        problem = check_outbox_path(config.outbox.path)
        if problem is not None:
            raise ConfigError(f"{path}: outbox.path: {problem}")
        tls = tls_settings(config, secrets)
        if tls is not None:
            try:
                tls_context(tls)
            except ConfigError as exc:
                raise ConfigError(f"{path}: {exc}") from None
    if config.camera.uri.kind == "picamera2":
        try:
            picamera2_module()
        except SourceError as exc:
            raise ConfigError(f"{path}: camera.source: {exc}") from None
    return warnings


def tls_settings(config: AppConfig, secrets: Secrets) -> TlsSettings | None:
    """The publisher's TLS settings from `mqtt.tls` and the resolved file names (None: plain TCP)."""
    tls = config.mqtt.tls
    if tls is None or secrets.tls_ca_file is None:
        return None
    return TlsSettings(
        ca_file=secrets.tls_ca_file,
        cert_file=secrets.tls_cert_file,
        key_file=secrets.tls_key_file,
        insecure=tls.insecure,
    )


def preview_tls_files(secrets: Secrets) -> tuple[Path, Path] | None:
    """The live view's certificate and key, resolved in the credentials directory (None: plain HTTP)."""
    if secrets.preview_tls_cert_file is None or secrets.preview_tls_key_file is None:
        return None
    return secrets.preview_tls_cert_file, secrets.preview_tls_key_file


def shown(config: AppConfig) -> dict[str, Any]:
    """The effective config as plain data for display (check-config --show): every default filled in,
    any password in the camera URI masked."""
    data: dict[str, Any] = config.model_dump(mode="json")
    data["camera"]["source"] = mask_passwords(config.camera.source)
    return data


def load_config(path: str, credentials: Path | None = None, host_checks: bool = True) -> LoadedConfig:
    """Read, validate and resolve the config at `path` (secrets from `credentials`, else
    $CREDENTIALS_DIRECTORY), and with `host_checks` check this machine as `run` needs it
    (`check_host`). Raises ConfigError (exit 78) naming the key on any problem."""
    config = parse_config(path)
    directory = credentials_dir(credentials)
    secrets = load_secrets(config, path, directory)
    warnings = tuple(check_host(config, path, secrets)) if host_checks else ()
    return LoadedConfig(
        config=config, secrets=secrets, path=path, warnings=warnings, credentials_dir=directory
    )
