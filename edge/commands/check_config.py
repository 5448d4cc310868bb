"""`edge-pose check-config FILE`: every check `edge-pose run` makes before it starts, without starting
anything (exit 0, or 78 with one line per problem naming the key; 65 for a model file that fails its
checksum with no fallback to run instead, as in run). Ansible runs it on the controller with
--no-host-checks before any camera changes, and on each camera before the config is installed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from edge.config import load_config, shown


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `check-config` subcommand."""
    p = subparsers.add_parser(
        "check-config",
        help="validate a config file with every check `run` makes (keys, types, ranges, camera URI, secret "
        "and TLS files, model directory and files, outbox location, camera driver)",
        description="Exit 0 when `edge-pose run --config FILE` would start, 78 (EX_CONFIG) with "
        "`FILE: key.path: problem` otherwise. Relative secret names resolve in --credentials-dir "
        "(default $CREDENTIALS_DIRECTORY).",
    )
    p.add_argument("file", metavar="FILE", help="config file (YAML)")
    p.add_argument(
        "--credentials-dir",
        type=Path,
        metavar="DIR",
        help="where relative secret file names resolve, e.g. /etc/edge-pose/credentials",
    )
    p.add_argument(
        "--show",
        action="store_true",
        help="print the effective config with every default filled in (passwords masked)",
    )
    p.add_argument(
        "--no-host-checks",
        action="store_true",
        help="check the file and the secret files it names only, not this machine (model directory and files, "
        "outbox location, camera driver): for a config that will run elsewhere, e.g. on Ansible's controller",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate; print a one-line summary (and the effective config with --show)."""
    loaded = load_config(args.file, args.credentials_dir, host_checks=not args.no_host_checks)
    config = loaded.config
    for warning in loaded.warnings:
        print(f"edge-pose: warning: {warning}", file=sys.stderr)
    if args.show:
        sys.stdout.write(yaml.safe_dump(shown(config), sort_keys=False))
    mqtt = f"mqtt {config.mqtt.host}:{config.mqtt.port}" if config.mqtt.enabled else "mqtt off"
    print(
        f"{args.file}: OK (device {config.device.id}, camera {config.camera.uri.redacted}, "
        f"model {config.model.name}, {mqtt})",
        file=sys.stderr,
    )
    return 0
