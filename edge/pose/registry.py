"""Model choice by name: the manifest says which family a model belongs to, the family says which
estimator class runs it and which section of `PoseConfig` (edge/pose/settings.py) it takes. Adding a
model family means adding its estimator file, its settings in settings.py and one line here."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from edge.errors import ModelError
from edge.pose.blazepose import DEFAULT_DETECTOR, BlazePose
from edge.pose.fallback import DEFAULT_FALLBACK_MODEL, MAX_INVALID_FRAMES, FallbackEstimator
from edge.pose.manifest import ModelSpec, find_model
from edge.pose.movenet import MoveNetSinglePose
from edge.pose.movenet_multipose import MoveNetMultiPose
from edge.pose.multi_person import MultiPersonLightning
from edge.pose.output_guard import OutputStats
from edge.pose.posenet import PoseNet
from edge.pose.settings import PoseConfig
from edge.pose.smart_crop import CropBox
from edge.types import Frame, Pose

DEFAULT_MODEL = "movenet_lightning_multi"  # the multi-person front-end (docs/models.md)

# two-stage families: the detector a model runs unless its manifest entry names its own "detector"
DETECTORS = {"multi_person": "movenet_multipose", "blazepose_landmark": DEFAULT_DETECTOR}


class PoseEstimator(Protocol):
    """Frame → [Pose]; `reset()` forgets all per-person state (a new source, a still image)."""

    @property
    def name(self) -> str: ...
    @property
    def spec(self) -> ModelSpec: ...
    @property
    def stats(self) -> OutputStats: ...
    @property
    def last_regions(self) -> list[CropBox]: ...

    def estimate(self, frame: Frame) -> list[Pose]: ...
    def reset(self) -> None: ...


def create_estimator(
    name: str = DEFAULT_MODEL,
    threads: int = 2,
    model_dir: Path | None = None,
    pose: PoseConfig | None = None,
    fallback: str | None = DEFAULT_FALLBACK_MODEL,
    max_invalid_frames: int = MAX_INVALID_FRAMES,
) -> PoseEstimator:
    """Load the model `name` from the manifest (checksum verified) and wrap it in its estimator, with
    its family's settings from `pose` (the `pose:` config section; None: the defaults).

    With a `fallback` model (default movenet_lightning) the estimator is guarded: invalid poses are
    dropped, and if `name` fails to load or gives invalid output on `max_invalid_frames` consecutive
    frames the fallback takes over. An unknown `name` is always an error (a typo, not a failure)."""
    find_model(name, model_dir)
    if fallback is None or fallback == name:
        return load_estimator(name, threads, model_dir, pose)
    find_model(fallback, model_dir)
    primary: PoseEstimator | None = None
    load_error: str | None = None
    try:
        primary = load_estimator(name, threads, model_dir, pose)
    except ModelError as exc:
        load_error = str(exc)
    return FallbackEstimator(
        primary,
        name,
        lambda: load_estimator(fallback, threads, model_dir, pose),
        fallback,
        max_invalid_frames,
        load_error,
    )


def model_parts(name: str, model_dir: Path | None = None) -> list[ModelSpec]:
    """The manifest entries model `name` runs: its own and, for a two-stage family, its detector's.
    Loading verifies each file's sha256, so check-config verifies the same list."""
    spec = find_model(name, model_dir)
    detector = DETECTORS.get(spec.family)
    if detector is None:
        return [spec]
    return [spec, find_model(str(spec.raw.get("detector", detector)), model_dir)]


def load_estimator(
    name: str,
    threads: int = 2,
    model_dir: Path | None = None,
    pose: PoseConfig | None = None,
) -> PoseEstimator:
    """The bare estimator for model `name` (no guard, no fallback), with its family's settings."""
    spec, *detector = model_parts(name, model_dir)
    settings = pose or PoseConfig()
    if spec.family == "multi_person":
        return MultiPersonLightning(spec, detector[0], threads, settings.multi_person)
    if spec.family == "movenet_singlepose":
        return MoveNetSinglePose(spec, threads, settings.movenet_singlepose)
    if spec.family == "movenet_multipose":
        return MoveNetMultiPose(spec, threads, settings.movenet_multipose)
    if spec.family == "posenet":
        return PoseNet(spec, threads, settings.posenet)
    if spec.family == "blazepose_landmark":
        return BlazePose(spec, detector[0], threads, settings.blazepose_landmark)
    raise ModelError(f"model {name!r}: family {spec.family!r} has no estimator in this version")
