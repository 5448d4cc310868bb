"""`edge-pose run --config FILE`: the daemon (what the systemd unit starts)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from edge import __version__
from edge.config import load_config
from edge.service.daemon import Daemon
from edge.service.logging_setup import setup_logging

logger = logging.getLogger(__name__)

DEFAULT_CONFIG = "/etc/edge-pose/config.yaml"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `run` subcommand."""
    p = subparsers.add_parser(
        "run",
        help="run the camera daemon (capture → pose → events → MQTT)",
        description="Runs until SIGTERM/SIGINT. Under systemd (Type=notify) it reports READY=1 once the "
        "model is loaded and the first frame processed, STATUS= with fps, and feeds the watchdog "
        "while frames flow. A bad config exits 78 (EX_CONFIG) with one line naming the key.",
    )
    p.add_argument(
        "--config", default=DEFAULT_CONFIG, metavar="FILE", help=f"config file (default {DEFAULT_CONFIG})"
    )
    p.add_argument(
        "--credentials-dir",
        type=Path,
        metavar="DIR",
        help="where relative secret file names resolve (default $CREDENTIALS_DIRECTORY, set by systemd)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the config, set up logging and run the daemon until it is told to stop."""
    loaded = load_config(args.config, args.credentials_dir)
    level = "debug" if args.verbose > 0 else loaded.config.logging.level
    mode = setup_logging(level, loaded.config.device.id)
    logger.info(
        "edge-pose %s starting: config %s, device %s, logging to %s",
        __version__,
        args.config,
        loaded.config.device.id,
        mode,
    )
    for warning in loaded.warnings:
        logger.warning("%s", warning)
    daemon = Daemon(loaded)
    daemon.install_signal_handlers()
    return daemon.run()
