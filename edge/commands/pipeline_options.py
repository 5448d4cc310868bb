"""The options `replay`, `bench` and `eval-events` share, and the one place they become a pipeline: the
model and its fallback, interpreter threads, the `pose:` settings and the rules. Without `--config` these
are the built-in defaults, which are the daemon's defaults (edge/pose/settings.py, edge/rules/config.py);
with `--config FILE` they are what `edge-pose run --config FILE` runs. Flags given on top override the
config; a flag that does not apply to the chosen model's family is refused, not ignored."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from edge.config import check_fall_model, check_models, parse_config
from edge.pose.fallback import DEFAULT_FALLBACK_MODEL
from edge.pose.manifest import default_model_dir, find_model
from edge.pose.registry import DEFAULT_MODEL, PoseEstimator, create_estimator
from edge.pose.settings import PoseConfig
from edge.rules.config import RulesConfig, load_rules_config

DEFAULT_THREADS = 2


def add_pipeline_options(parser: argparse.ArgumentParser, rules: bool = True) -> None:
    """Add --config, --model, --fallback, --threads, --no-smart-crop, --no-filter (and --rules)."""
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="a daemon config: take model.*, pose.* and rules.* from it (and the device id and topic prefix), "
        "so this runs exactly what `edge-pose run --config FILE` runs; flags given as well override it",
    )
    parser.add_argument(
        "--model", help=f"model name (default: the config's model.name, else {DEFAULT_MODEL})"
    )
    parser.add_argument(
        "--fallback",
        metavar="MODEL",
        help="model that takes over if --model fails to load or keeps giving invalid output (default: the "
        f"config's model.fallback, else {DEFAULT_FALLBACK_MODEL}; 'none' to fail instead)",
    )
    parser.add_argument(
        "--threads", type=int, help=f"interpreter threads (default: the config's, else {DEFAULT_THREADS})"
    )
    parser.add_argument(
        "--no-smart-crop",
        action="store_true",
        help="always feed the whole frame (for comparison; models with a smart crop only)",
    )
    parser.add_argument(
        "--no-filter", action="store_true", help="no temporal keypoint filter (for comparison)"
    )
    if rules:
        parser.add_argument(
            "--rules",
            metavar="FILE",
            help="YAML with rule thresholds (a `rules:` section or its content; docs/events.md); "
            "default: the config's rules, else the built-in ones",
        )


@dataclass(frozen=True, slots=True)
class PipelineChoice:
    """What the options chose: everything needed to build the estimator and the rules."""

    model: str
    fallback: str | None
    threads: int
    model_dir: Path | None
    pose: PoseConfig
    rules: RulesConfig
    device: str | None  # the config's device.id (None without --config)
    topic_prefix: str | None

    def estimator(self) -> PoseEstimator:
        """The estimator, built exactly as the daemon builds it."""
        return create_estimator(
            self.model, threads=self.threads, model_dir=self.model_dir, pose=self.pose, fallback=self.fallback
        )


def pipeline_choice(args: argparse.Namespace) -> PipelineChoice:
    """Resolve the shared options (see the module docstring); ConfigError (78) for a bad --config or
    --rules file, EX_USAGE for a flag that does not apply to the model's family."""
    pose = PoseConfig()
    rules = RulesConfig()
    model, threads = DEFAULT_MODEL, DEFAULT_THREADS
    fallback: str | None = DEFAULT_FALLBACK_MODEL
    model_dir: Path | None = None
    device = topic_prefix = None
    if args.config:
        config = parse_config(args.config)
        check_models(config, args.config)
        pose, rules = config.pose, config.rules
        model, fallback, threads = config.model.name, config.model.fallback, config.model.threads
        model_dir = config.model.directory
        device, topic_prefix = config.device.id, config.mqtt.topic_prefix
    if args.model is not None:
        model = args.model
    if args.fallback is not None:
        fallback = None if args.fallback.lower() == "none" else args.fallback
    if args.threads is not None:
        threads = args.threads
    if getattr(args, "rules", None):
        rules = load_rules_config(args.rules)
        check_fall_model(rules, model_dir or default_model_dir(), args.rules, "fall.model")
    family = find_model(model, model_dir).family
    others = {find_model(fallback, model_dir).family} if fallback is not None else set()
    if args.no_smart_crop:
        pose = pose.override("--no-smart-crop", model, family, others, smart_crop=False)
    if args.no_filter:
        pose = pose.override("--no-filter", model, family, others, filter=False)
    return PipelineChoice(model, fallback, threads, model_dir, pose, rules, device, topic_prefix)
