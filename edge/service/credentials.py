"""Secrets come from files, never from the config itself. Under systemd the unit loads
/etc/edge-pose/credentials/ with `LoadCredential=edge-pose:/etc/edge-pose/credentials`, so the
service sees each file NAME as `$CREDENTIALS_DIRECTORY/edge-pose_NAME` (systemd prefixes the id of a
directory credential); a relative name in the config is looked up as NAME, then edge-pose_NAME there.
Outside systemd (check-config, a developer's shell) `--credentials-dir DIR` plays the same part."""

from __future__ import annotations

import os
from pathlib import Path

CREDENTIALS_ENV = "CREDENTIALS_DIRECTORY"
UNIT_CREDENTIAL_PREFIX = "edge-pose_"  # the id of the unit's directory LoadCredential= plus "_"
MAX_SECRET_BYTES = 64 * 1024  # a password or a PEM key is far smaller; anything larger is a mistake


def credentials_dir(override: Path | None = None) -> Path | None:
    """The directory relative secret names resolve in: `override`, else $CREDENTIALS_DIRECTORY."""
    if override is not None:
        return override
    env = os.environ.get(CREDENTIALS_ENV)
    return Path(env) if env else None


def resolve_secret_path(name: Path, directory: Path | None) -> Path:
    """Absolute names as they are; relative names in `directory` (NAME, then edge-pose_NAME).
    ValueError when a relative name has no directory to resolve in or the file is missing."""
    if name.is_absolute():
        if not name.is_file():
            raise ValueError(f"file not found: {name}")
        return name
    if directory is None:
        raise ValueError(
            f"relative name {str(name)!r} needs ${CREDENTIALS_ENV} (set by systemd's LoadCredential=) "
            "or check-config --credentials-dir DIR"
        )
    for candidate in (directory / name, directory / f"{UNIT_CREDENTIAL_PREFIX}{name}"):
        if candidate.is_file():
            return candidate
    raise ValueError(f"file not found: {directory / name} (nor {UNIT_CREDENTIAL_PREFIX}{name} there)")


def read_secret(path: Path) -> str:
    """The secret in `path` without its trailing newline; ValueError if unreadable, empty or huge."""
    try:
        data = path.read_bytes()[: MAX_SECRET_BYTES + 1]
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_SECRET_BYTES:
        raise ValueError(f"{path}: larger than {MAX_SECRET_BYTES} bytes, not a secret")
    try:
        text = data.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text") from None
    if not text:
        raise ValueError(f"{path}: empty")
    return text
