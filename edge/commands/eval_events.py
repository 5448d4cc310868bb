"""`edge-pose eval-events`: run the pipeline with the rules over labelled images and clips and print, per
subset (folder), the recall of falls and the false events on not-fall material, so tuning is measurable.

Labels, first match wins: `--labels FILE`; a `labels.json` beside a clip (the shared data's formats, see
edge/commands/labels.py); the folder name (`fall` / `not-fall`). A still has no
motion, so it is fed as a camera watching a motionless scene: the image repeated at `--still-fps` for
`--hold` seconds (long enough for person_down to confirm); on a still only person_down can fire."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from edge.capture.media_file import IMAGE_SUFFIXES, MediaInfo, probe, read_frames
from edge.commands.labels import Label, read_labels, word_label
from edge.commands.pipeline_options import add_pipeline_options, pipeline_choice
from edge.errors import InputError, PartialInputError
from edge.pipeline import Pipeline
from edge.publish.jsonl import JsonlWriter
from edge.rules.engine import RulesEngine
from edge.types import Frame

logger = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v"})
DOWN_TYPES = ("fall", "person_down")


@dataclass(slots=True)
class FileResult:
    """Events one file raised (start messages only) and how they score against its label."""

    path: str
    subset: str
    label: Label | None
    starts: list[dict[str, Any]] = field(default_factory=list)
    frames: int = 0

    def _early(self, tolerance: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Starts before the labelled fall (false) and from it on (true)."""
        start = None if self.label is None else self.label.fall_start
        if start is None:
            return [], list(self.starts)
        cut = start - tolerance
        return [e for e in self.starts if e["frame"] < cut], [e for e in self.starts if e["frame"] >= cut]

    def detected(self, types: tuple[str, ...], tolerance: int) -> bool:
        """A positive file raised one of `types` at or after the fall."""
        return any(e["type"] in types for e in self._early(tolerance)[1])

    def false_events(self, event_type: str, tolerance: int) -> int:
        """Starts of `event_type` that are wrong: any on a negative, those before the fall on a positive."""
        if self.label is None:
            return 0
        if not self.label.fall:
            return sum(e["type"] == event_type for e in self.starts)
        return sum(e["type"] == event_type for e in self._early(tolerance)[0])


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `eval-events` subcommand."""
    p = subparsers.add_parser(
        "eval-events",
        help="run the rules over labelled images/clips; print fall recall and false events per subset",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "inputs", nargs="+", metavar="DIR_OR_FILE", help="images, clips or folders (searched recursively)"
    )
    p.add_argument(
        "--labels", metavar="FILE", help='YAML/JSON: {"files": {NAME: "fall"|"not-fall"}, "videos": ...}'
    )
    add_pipeline_options(p)
    p.add_argument("--hold", type=float, help="seconds a still is watched (default: person_down time + 2 s)")
    p.add_argument("--still-fps", type=float, default=5.0, help="frame rate of a held still (default 5)")
    p.add_argument(
        "--video-hold",
        type=float,
        default=0.0,
        help="keep feeding a clip's last frame this long (s), e.g. when it ends with the person still down",
    )
    p.add_argument(
        "--tolerance",
        type=int,
        default=8,
        help="frames before a labelled fall start that still count as the fall (labels are ±8 frames)",
    )
    p.add_argument("--out", metavar="FILE.jsonl", help="also write every message (as replay does)")
    p.add_argument("--per-file", action="store_true", help="print one line per file too")
    p.add_argument(
        "--accept-partial",
        action="store_true",
        help="score a clip that ends before the frame count its container states on the frames read (reported); "
        "without it such a run exits 65",
    )
    p.set_defaults(func=run)


def media_files(inputs: list[str]) -> list[Path]:
    """Images and clips named or found (recursively, sorted) under the inputs."""
    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found += sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES
            )
        elif path.exists():
            found.append(path)
        else:
            raise InputError(f"{item}: no such file or folder")
    if not found:
        raise InputError(f"no images or clips under {' '.join(inputs)}")
    return found


def label_for(path: Path, given: dict[str, Label], beside: dict[Path, dict[str, Label]]) -> Label | None:
    """The label of `path` (see the module docstring for the order)."""
    if path.name in given:
        return given[path.name]
    folder = path.parent
    if folder not in beside:
        labels_file = folder / "labels.json"
        beside[folder] = read_labels(labels_file) if labels_file.is_file() else {}
    if path.name in beside[folder]:
        return beside[folder][path.name]
    return word_label(folder.name)


def frames_of(
    info: MediaInfo,
    hold_s: float,
    still_fps: float,
    video_hold_s: float,
    partial: list[PartialInputError] | None = None,
) -> Iterator[Frame]:
    """The file's frames; a still repeated for `hold_s`, a clip's last frame repeated for `video_hold_s`.
    A video that ends early (truncated, undecodable frames) is appended to `partial` (None: raised)."""
    last: Frame | None = None
    fps = still_fps if info.is_still else info.fps
    try:
        for frame in read_frames(info):
            last = frame
            if not info.is_still:
                yield frame
    except PartialInputError as short:
        if partial is None:
            raise
        partial.append(short)
    if last is None:
        return
    repeats = round(hold_s * still_fps) if info.is_still else round(video_hold_s * fps)
    first = 0 if info.is_still else last.index + 1
    for i in range(first, first + repeats):
        yield Frame(image=last.image, timestamp_ns=round(i * 1e9 / fps), source=last.source, index=i)


def subset_name(path: Path) -> str:
    """The folder a file is reported under: its parent and grandparent folder names."""
    return "/".join(path.parent.parts[-2:])


def run(args: argparse.Namespace) -> int:
    """Evaluate every input; prints the table; returns the exit code."""
    choice = pipeline_choice(args)
    config = choice.rules
    given = read_labels(Path(args.labels)) if args.labels else {}
    paths = media_files(args.inputs)
    beside: dict[Path, dict[str, Label]] = {}
    labelled = [(p, label_for(p, given, beside)) for p in paths]
    infos = [probe(str(p)) for p in paths]
    hold = args.hold if args.hold is not None else config.person_down.min_duration_s + 2.0
    if args.still_fps <= 0 or hold < 0 or args.video_hold < 0:
        raise InputError("--still-fps must be positive, --hold and --video-hold not negative")
    estimator = choice.estimator()
    pipeline = Pipeline(estimator, device="eval", rules=RulesEngine(config))
    results: list[FileResult] = []
    partial: list[PartialInputError] = []
    out = JsonlWriter(args.out) if args.out else None
    try:
        for (path, label), info in tqdm(
            list(zip(labelled, infos, strict=True)), desc="eval", file=sys.stderr
        ):
            result = FileResult(str(path), subset_name(path), label)
            pipeline.reset()
            for frame in frames_of(info, hold, args.still_fps, args.video_hold, partial):
                messages = pipeline.process(frame).messages
                result.frames += 1
                result.starts += [
                    m.payload for m in messages if m.kind == "event" and m.payload["state"] == "start"
                ]
                if out is not None:
                    for m in messages:
                        out.write(m)
            for m in pipeline.finish():
                if out is not None:
                    out.write(m)
            results.append(result)
        if partial and not args.accept_partial:
            for problem in partial[:-1]:
                print(f"edge-pose: {problem}", file=sys.stderr)
            raise partial[-1]  # no table from clips that were not read whole (--accept-partial: scored)
    except BaseException:
        if out is not None:
            out.discard()
        raise
    if out is not None:
        out.close()
    for problem in partial:
        print(f"edge-pose: warning: {problem} (scored on the frames read, --accept-partial)", file=sys.stderr)
    print(report(results, args.tolerance, args.per_file, hold, args.still_fps, args.video_hold, choice.model))
    return 0


def _pct(n: int, d: int) -> str:
    return f"{n}/{d} ({100.0 * n / d:.0f}%)" if d else "-"


def report(
    results: list[FileResult],
    tolerance: int,
    per_file: bool,
    hold: float,
    still_fps: float,
    video_hold: float,
    model: str,
) -> str:
    """The per-subset table (and per-file lines) as text."""
    lines = [
        f"model {model}; stills held {hold:g} s at {still_fps:g} fps; clips' last frame held {video_hold:g} s; "
        f"fall-start tolerance {tolerance} frames",
        f"{'subset':44s} {'files':>5s} {'fall files':>10s} {'recall fall|down':>17s} {'recall fall':>12s} "
        f"{'not-fall':>8s} {'false fall':>10s} {'false down':>10s} {'posture/rep':>11s}",
    ]
    subsets = sorted({r.subset for r in results})
    for subset in [*subsets, "ALL"]:
        rs = [r for r in results if subset in ("ALL", r.subset)]
        pos = [r for r in rs if r.label is not None and r.label.fall]
        neg = [r for r in rs if r.label is not None and not r.label.fall]
        hit_any = sum(r.detected(DOWN_TYPES, tolerance) for r in pos)
        hit_fall = sum(r.detected(("fall",), tolerance) for r in pos)
        false_fall = sum(r.false_events("fall", tolerance) for r in rs)
        false_down = sum(r.false_events("person_down", tolerance) for r in rs)
        other = sum(e["type"] not in DOWN_TYPES for r in rs for e in r.starts)
        unlabelled = sum(r.label is None for r in rs)
        note = f"  ({unlabelled} unlabelled)" if unlabelled else ""
        lines.append(
            f"{subset:44s} {len(rs):5d} {len(pos):10d} {_pct(hit_any, len(pos)):>17s} "
            f"{_pct(hit_fall, len(pos)):>12s} {len(neg):8d} {false_fall:10d} {false_down:10d} {other:11d}{note}"
        )
    if per_file:
        lines.append("")
        for r in results:
            label = "?" if r.label is None else ("fall" if r.label.fall else "not-fall")
            if r.label is not None and r.label.fall_start is not None:
                label += f"@{r.label.fall_start}"
            events = ", ".join(f"{e['type']}@{e['frame']}" for e in r.starts) or "-"
            lines.append(f"{label:12s} {r.path}: {r.frames} frames; {events}")
    return "\n".join(lines)
