"""Model choice by name: the manifest says which family a model belongs to, the family says which
estimator class runs it. Adding a model family means adding one file and one line here."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from edge.errors import ModelError
from edge.pose.manifest import ModelSpec, find_model
from edge.pose.movenet import MoveNetSinglePose, SinglePoseSettings
from edge.pose.output_guard import OutputStats
from edge.pose.smart_crop import CropRegion
from edge.types import Frame, Pose

DEFAULT_MODEL = "movenet_lightning"


class PoseEstimator(Protocol):
    """Frame → [Pose]; `reset()` forgets all per-person state (a new source, a still image)."""

    name: str
    spec: ModelSpec
    stats: OutputStats
    last_region: CropRegion | None

    def estimate(self, frame: Frame) -> list[Pose]: ...
    def reset(self) -> None: ...


def create_estimator(
    name: str = DEFAULT_MODEL,
    threads: int = 2,
    model_dir: Path | None = None,
    single_pose: SinglePoseSettings | None = None,
) -> PoseEstimator:
    """Load the model `name` from the manifest (checksum verified) and wrap it in its estimator."""
    spec = find_model(name, model_dir)
    if spec.family == "movenet_singlepose":
        return MoveNetSinglePose(spec, threads, single_pose)
    raise ModelError(f"model {name!r}: family {spec.family!r} has no estimator in this version")
