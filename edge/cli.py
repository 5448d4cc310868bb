"""The `edge-pose` command: parses arguments, dispatches to a subcommand, turns errors into one line
and an exit code (no tracebacks for bad input)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

import cv2

from edge import __version__
from edge.commands import bench, check_config, eval_events, models, replay, run
from edge.errors import EdgeError

logger = logging.getLogger(__name__)

# One entry per subcommand module (each has `register(subparsers)`).
COMMANDS = [replay, run, check_config, eval_events, bench, models]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="edge-pose",
        description="Privacy-preserving pose and safety-event sensor: TFLite pose models → MQTT.",
    )
    parser.add_argument("--version", action="version", version=f"edge-pose {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # The only OpenCV work per frame is one small affine warp: its thread pool would cost more CPU in
    # hand-offs than it saves, and it competes with the interpreter's threads (docs/benchmarks.md).
    cv2.setNumThreads(1)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        code: int = args.func(args)
    except EdgeError as exc:
        print(f"edge-pose: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return code
