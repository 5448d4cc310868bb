"""Saving the zones drawn in the live view: into the config file, validated by the config loader itself.

A save reads the config file as it is on disk, puts the new `zones` lists under `rules.<rule>`, writes
the result to a temporary file beside it and loads that with `load_config` — exactly what
`edge-pose check-config` runs, so there is no second validator to drift. Only a config that loads
replaces the old one: the old file is first copied to `<config>.bak`, then the new one is renamed over
it (atomic on POSIX; fsynced). Anything wrong — malformed JSON, an unknown rule, a polygon with too few
corners, a corner outside the frame, a self-crossing outline — is a `ZoneSaveError` (a 4xx answer)
naming the key, and leaves the file and the running zones as they were.

Comments inside the file do not survive a save (the leading comment block does, and the backup keeps
the old file byte for byte); a config managed by Ansible gets its zones back from the inventory at the
next playbook run, so copy the zones into `edge_pose_rules` (the page shows the YAML)."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml

from edge.config import LoadedConfig, load_config
from edge.errors import ConfigError, EdgeError
from edge.loader import read_document
from edge.rules.engine import ZONED_RULES

logger = logging.getLogger(__name__)

BACKUP_SUFFIX = ".bak"
_save_lock = threading.Lock()  # one save at a time (two browser tabs)


class ZoneSaveError(Exception):
    """A save that did not happen: an HTTP status (4xx, or 503 when the file cannot be written) and why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_zones(body: bytes) -> dict[str, Any]:
    """The request body as `{rule: [zone, ...]}`; ZoneSaveError(400) unless it is a JSON object of lists."""
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ZoneSaveError(400, f"the body is not valid JSON: {exc}") from None
    if isinstance(data, dict) and set(data) == {"zones"}:
        data = data["zones"]
    if not isinstance(data, dict) or not data:
        raise ZoneSaveError(400, 'expected a JSON object {"<rule>": [zones...]} with at least one rule')
    return data


def _leading_comments(text: str) -> list[str]:
    lines = []
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            lines.append(line)
        else:
            break
    while lines and not lines[-1].strip():
        lines.pop()
    return [line for line in lines if not line.startswith("# zones last saved by the live view")]


class _Dumper(yaml.SafeDumper):
    """Writes short lists of numbers (zone corners) on one line: `- [0.1, 0.2]`."""


def _represent_list(dumper: yaml.SafeDumper, data: Any) -> yaml.Node:
    flow = 0 < len(data) <= 4 and all(isinstance(v, int | float) and not isinstance(v, bool) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(tuple, _represent_list)


def _with_zones(document: Any, zones: dict[str, Any], path: str) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise ZoneSaveError(
            409, f"{path}: the config file is not a mapping of sections; fix it by hand first"
        )
    rules = document.get("rules")
    if rules is None:
        rules = document["rules"] = {}
    if not isinstance(rules, dict):
        raise ZoneSaveError(409, f"{path}: rules: not a mapping; fix the config file by hand first")
    for rule, value in zones.items():
        section = rules.get(rule)
        if section is None:
            section = rules[rule] = {}
        if not isinstance(section, dict):
            raise ZoneSaveError(
                409, f"{path}: rules.{rule}: not a mapping; fix the config file by hand first"
            )
        section["zones"] = value
        if value == [] and rule in ZONED_RULES:  # tidy: no empty lists left behind (an unknown rule stays,
            del section["zones"]  # so the loader names it)
            if not section:
                del rules[rule]
    if not rules:
        del document["rules"]
    return document


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_zones(config_path: str, credentials: Path | None, zones: dict[str, Any]) -> LoadedConfig:
    """Validate and write `zones` into the config at `config_path`; the config as loaded from the new file.
    ZoneSaveError naming the problem (and the file untouched) otherwise."""
    path = Path(config_path)
    with _save_lock:
        try:
            original = path.read_text(encoding="utf-8")
            document = read_document(config_path)
        except (ConfigError, OSError) as exc:
            raise ZoneSaveError(409, f"the config file cannot be read: {exc}") from None
        document = _with_zones(document, zones, config_path)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        header = [
            *_leading_comments(original),
            f"# zones last saved by the live view at {stamp}; the previous file is {path.name}{BACKUP_SUFFIX}",
        ]
        text = (
            "\n".join(header)
            + "\n"
            + yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True)
        )
        try:
            fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".new", dir=path.parent)
        except OSError as exc:
            raise ZoneSaveError(
                503,
                f"cannot write next to {path}: {exc.strerror} (docs/preview.md: saving zones under systemd)",
            ) from None
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            tmp.chmod(path.stat().st_mode & 0o777)
            try:
                loaded = load_config(tmp_name, credentials)  # what check-config runs
            except EdgeError as exc:  # what check-config refuses: a key (ConfigError), a bad model file
                message = str(exc).replace(tmp_name, path.name)
                raise ZoneSaveError(422, message) from None
            shutil.copy2(path, path.with_name(path.name + BACKUP_SUFFIX))
            tmp.replace(path)
            _fsync_dir(path.parent)
        except OSError as exc:
            raise ZoneSaveError(503, f"cannot write {path}: {exc.strerror or exc}") from None
        finally:
            tmp.unlink(missing_ok=True)
    counts = ", ".join(f"{r} {len(getattr(loaded.config.rules, r).zones)}" for r in ZONED_RULES)
    logger.warning(
        "zones saved to %s by the live view (%s); backup in %s%s", path, counts, path.name, BACKUP_SUFFIX
    )
    return dataclasses.replace(loaded, path=config_path)
