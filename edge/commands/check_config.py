"""`edge-pose check-config FILE`: validate a config without running anything (exit 0, or 78 with
one line per problem naming the key). Ansible runs it on every rendered config before installing."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from edge.config import load_config


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `check-config` subcommand."""
    p = subparsers.add_parser(
        "check-config",
        help="validate a config file (keys, types, ranges, camera URI, secret files, model names)",
        description="Exit 0 when FILE is valid, 78 (EX_CONFIG) with `FILE: key.path: problem` otherwise. "
        "Relative secret names resolve in --credentials-dir (default $CREDENTIALS_DIRECTORY).",
    )
    p.add_argument("file", metavar="FILE", help="config file (YAML)")
    p.add_argument(
        "--credentials-dir",
        type=Path,
        metavar="DIR",
        help="where relative secret file names resolve, e.g. /etc/edge-pose/credentials",
    )
    p.add_argument(
        "--show", action="store_true", help="print the effective config with every default filled in"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate; print a one-line summary (and the effective config with --show)."""
    loaded = load_config(args.file, args.credentials_dir)
    config = loaded.config
    for warning in loaded.warnings:
        print(f"edge-pose: warning: {warning}", file=sys.stderr)
    if args.show:
        effective = json.loads(config.model_dump_json())
        sys.stdout.write(yaml.safe_dump(effective, sort_keys=False))
    mqtt = f"mqtt {config.mqtt.host}:{config.mqtt.port}" if config.mqtt.enabled else "mqtt off"
    print(
        f"{args.file}: OK (device {config.device.id}, camera {config.camera.uri.redacted}, "
        f"model {config.model.name}, {mqtt})",
        file=sys.stderr,
    )
    return 0
