"""`edge-pose replay`: run the pipeline over images and videos and write the messages the daemon
would publish (JSON Lines), optionally with annotated PNG/MP4 files to look at."""

from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter

from tqdm import tqdm

from edge.annotate import Annotator
from edge.capture.media_file import MediaInfo, probe, read_frames
from edge.commands.pipeline_options import add_pipeline_options, pipeline_choice
from edge.errors import InputError, PartialInputError
from edge.pipeline import Pipeline
from edge.publish.jsonl import JsonlWriter
from edge.publish.messages import DEFAULT_TOPIC_PREFIX
from edge.rules.engine import RulesEngine

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `replay` subcommand."""
    p = subparsers.add_parser(
        "replay",
        help="run the pipeline on images/videos and write the messages it would publish",
        description="Each image is a still (state reset); videos are processed frame by frame with "
        "timestamps from the container's frame rate. Output: one JSON message per line, in publish order.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image or video files")
    p.add_argument("--out", required=True, metavar="FILE.jsonl", help="output file ('-' for stdout)")
    add_pipeline_options(p)
    p.add_argument("--annotate", metavar="DIR", help="write skeletons drawn on the frames (PNG/MP4) here")
    p.add_argument(
        "--device",
        help="device id used in topics and payloads (default: the config's device.id, else replay)",
    )
    p.add_argument(
        "--topic-prefix",
        help=f"topic prefix (default: the config's mqtt.topic_prefix, else {DEFAULT_TOPIC_PREFIX})",
    )
    p.add_argument("--no-rules", action="store_true", help="pose messages only, no safety events")
    p.add_argument(
        "--accept-partial",
        action="store_true",
        help="keep the frames of a video that ends before the frame count its container states (truncated, "
        "frames that do not decode): reported, exit 0; without it such a run exits 65 and writes no output",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Replay every input in order; returns the exit code."""
    infos: list[MediaInfo] = []
    problems: list[str] = []
    for path in args.inputs:
        try:
            infos.append(probe(path))
        except InputError as exc:
            problems.append(str(exc))
    if problems:
        for line in problems[:-1]:
            print(f"edge-pose: {line}", file=sys.stderr)
        raise InputError(problems[-1])
    choice = pipeline_choice(args)
    rules = None if args.no_rules else RulesEngine(choice.rules)
    estimator = choice.estimator()
    device = args.device or choice.device or "replay"
    prefix = args.topic_prefix or choice.topic_prefix or DEFAULT_TOPIC_PREFIX
    pipeline = Pipeline(estimator, device=device, topic_prefix=prefix, rules=rules)
    frames = people = 0
    started: Counter[str] = Counter()  # event starts per type, for the summary line
    annotator = Annotator(args.annotate) if args.annotate else None
    partial: list[PartialInputError] = []
    out = JsonlWriter(args.out)
    try:
        for info in infos:
            pipeline.reset()
            bar = tqdm(
                total=info.frame_count or None,
                desc=info.path,
                unit="frame",
                disable=info.is_still or None,
                leave=False,
                file=sys.stderr,
            )
            try:
                for frame in read_frames(info):
                    result = pipeline.process(frame)
                    for message in result.messages:
                        out.write(message)
                        if message.kind == "event" and message.payload["state"] == "start":
                            started[message.payload["type"]] += 1
                    frames += 1
                    people += len(result.poses)
                    if annotator is not None:
                        regions = estimator.last_regions
                        if info.is_still:
                            annotator.still(frame, result.poses, regions)
                        else:
                            annotator.video_frame(frame, result.poses, regions, info.fps)
                    bar.update()
            except PartialInputError as short:
                partial.append(short)
            for message in pipeline.finish():
                out.write(message)
            bar.close()
        if annotator is not None:
            annotator.close()
        if partial and not args.accept_partial:
            for problem in partial[:-1]:
                print(f"edge-pose: {problem}", file=sys.stderr)
            print(f"edge-pose: nothing written to {args.out} (--accept-partial keeps what could be read)",
                  file=sys.stderr)  # fmt: skip
            raise partial[-1]
        for problem in partial:
            print(f"edge-pose: warning: {problem} (kept, --accept-partial)", file=sys.stderr)
    except BaseException:
        out.discard()
        if annotator is not None:
            annotator.discard()
        raise
    out.close()
    print(
        f"edge-pose replay: {frames} frames from {len(infos)} inputs, {people} poses, "
        f"{estimator.stats.invalid_outputs} invalid model outputs dropped; "
        f"{out.count} messages → {args.out}",
        file=sys.stderr,
    )
    if rules is not None:
        summary = ", ".join(f"{n} {kind}" for kind, n in sorted(started.items())) or "none"
        print(f"edge-pose replay: events started: {summary}", file=sys.stderr)
    if annotator is not None:
        shown = ", ".join(str(p) for p in annotator.written[:5])
        more = f" (+{len(annotator.written) - 5} more)" if len(annotator.written) > 5 else ""
        print(f"edge-pose replay: annotated → {shown}{more}", file=sys.stderr)
    return 0
