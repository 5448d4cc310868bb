"""The `preview:` config section: the local live view (its sibling `snapshots:`, pictures published over
MQTT, lives with the MQTT settings in edge/publish/settings.py).

Off by default: no camera image leaves the process unless an operator turns it on. The daemon mounts it
in `AppConfig` (edge/config.py); this module imports no web library, so a camera with the preview off
never loads one."""

from __future__ import annotations

import importlib.util
import ipaddress
import ssl
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from edge.errors import ConfigError
from edge.loader import Section

PREVIEW_EXTRA = "edge-pose[preview]"  # the optional dependency the web app needs (aiohttp)


def is_loopback(host: str) -> bool:
    """True for `localhost` and the loopback addresses (127.0.0.0/8, ::1): only this machine reaches them."""
    if host == "localhost":
        return True
    return ipaddress.ip_address(host).is_loopback


class PreviewTlsConfig(Section):
    """HTTPS for the preview. Relative file names resolve in the credentials directory."""

    cert_file: Path = Field(strict=False, description="Server certificate (PEM, the chain after it).")
    key_file: Path = Field(strict=False, description="Server private key (PEM); a secret.")


class PreviewConfig(Section):
    """The local live view for installers: the annotated frame, tracks, events, stats and the zone editor."""

    enabled: bool = Field(
        False,
        description="Serve the live view. While on, annotated camera frames leave the process to whoever "
        "opens the page (the page and the stats message say so).",
    )
    host: str = Field(
        "127.0.0.1",
        min_length=1,
        description="Address to listen on: an IP address or localhost. A loopback address is reachable from "
        "this machine only (use SSH port forwarding); any other needs password_file.",
    )
    port: int = Field(8080, ge=1, le=65535, description="TCP port to listen on.")
    max_fps: float = Field(
        5.0, gt=0, le=30, description="Most annotated frames per second sent to viewers (the stream rate)."
    )
    max_width: int = Field(
        960, ge=160, le=4096, description="Frames wider than this are scaled down before they are encoded."
    )
    jpeg_quality: int = Field(80, ge=10, le=100, description="JPEG quality of the stream (10-100).")
    username: str = Field(
        "installer", min_length=1, max_length=64, description="User name of the HTTP Basic login."
    )
    password_file: Path | None = Field(
        None,
        strict=False,
        description="File holding the login password (relative: in the credentials dir). Required when host "
        "is not a loopback address; with it every page and stream asks for the login.",
    )
    tls: PreviewTlsConfig | None = Field(None, description="HTTPS settings (null: plain HTTP).")

    @field_validator("host")
    @classmethod
    def _address(cls, value: str) -> str:
        if value != "localhost":
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise ValueError(
                    f"{value!r} is not an IP address (use 127.0.0.1, localhost, 0.0.0.0 or an address of "
                    "this camera)"
                ) from None
        return value

    @model_validator(mode="after")
    def _login_off_loopback(self) -> PreviewConfig:
        if self.enabled and not is_loopback(self.host) and self.password_file is None:
            raise ValueError(
                f"password_file is required when host {self.host!r} is not a loopback address "
                "(anyone on the network could watch the camera)"
            )
        return self

    @property
    def login_required(self) -> bool:
        """Whether every request must carry the Basic login (a password file is set)."""
        return self.password_file is not None


def server_tls_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """The live view's HTTPS context (TLS 1.2 or later) with its certificate and key; ConfigError naming
    preview.tls.cert_file when the files are unreadable, not PEM or do not match (the config loader calls
    this too, so check-config finds what the server would refuse)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(cert_file), str(key_file))
    except ssl.SSLError as exc:
        raise ConfigError(
            f"preview.tls.cert_file: {cert_file} with preview.tls.key_file {key_file}: not a PEM "
            f"certificate and its matching private key ({exc.reason or exc})"
        ) from None
    except OSError as exc:
        raise ConfigError(f"preview.tls.cert_file: {cert_file}: {exc.strerror or exc}") from None
    return context


def check_preview_install(preview: PreviewConfig, path: str) -> None:
    """ConfigError when the preview is on but its optional dependency is not installed (found without
    importing it, so check-config stays light)."""
    if preview.enabled and importlib.util.find_spec("aiohttp") is None:
        raise ConfigError(
            f"{path}: preview.enabled: the live view needs aiohttp, which is not installed "
            f"(pip install '{PREVIEW_EXTRA}')"
        )
