"""Invalid-output guard and model fallback around any pose estimator.

Every pose an estimator returns passes a last check (finite, scores in [0, 1], coordinates near the
frame); failures are dropped and counted, never published. If the chosen model cannot be loaded,
or gives invalid output on `max_invalid_frames` consecutive frames, the configured fallback model
takes over for good (logged once) and its name is what the pose messages' `model` field shows."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from edge.pose.manifest import ModelSpec
from edge.pose.output_guard import OutputStats, pose_valid
from edge.pose.smart_crop import CropBox
from edge.types import Frame, Pose

if TYPE_CHECKING:
    from edge.pose.registry import PoseEstimator

logger = logging.getLogger(__name__)

DEFAULT_FALLBACK_MODEL: Final = "movenet_lightning"  # the model every install ships and tests
# Consecutive frames with invalid model output before switching: a few frames (0.1-0.2 s at
# 30 fps) tolerate a single glitch, yet a model that emits NaN for good is replaced quickly.
MAX_INVALID_FRAMES: Final = 5


class FallbackEstimator:
    """Runs the chosen estimator (None when it failed to load) and switches to the fallback."""

    def __init__(
        self,
        primary: PoseEstimator | None,
        wanted: str,
        load_fallback: Callable[[], PoseEstimator],
        fallback: str,
        max_invalid_frames: int = MAX_INVALID_FRAMES,
        load_error: str | None = None,
    ) -> None:
        if max_invalid_frames < 1:
            raise ValueError(f"max_invalid_frames must be at least 1, got {max_invalid_frames}")
        self.wanted = wanted
        self.fallback = fallback
        self.max_invalid_frames = max_invalid_frames
        self._load_fallback = load_fallback
        self._dropped = OutputStats()  # poses the last check dropped, and retired estimators' counts
        self.invalid_frames = 0  # consecutive frames with invalid output from the current estimator
        self.switched_reason: str | None = None
        if primary is None:
            self._current = self._switch(f"cannot load {wanted!r}: {load_error}")
        else:
            self._current = primary

    @property
    def name(self) -> str:
        """The model in use (what the pose messages' `model` field shows)."""
        return self._current.name

    @property
    def spec(self) -> ModelSpec:
        """Manifest entry of the model in use."""
        return self._current.spec

    @property
    def stats(self) -> OutputStats:
        """Invokes and invalid outputs over every model this estimator has run."""
        s = self._current.stats
        return OutputStats(
            invokes=s.invokes + self._dropped.invokes,
            invalid_outputs=s.invalid_outputs + self._dropped.invalid_outputs,
            consecutive_invalid=s.consecutive_invalid,
        )

    @property
    def last_regions(self) -> list[CropBox]:
        """Where the model in use looked on the last frame (for annotation)."""
        return self._current.last_regions

    @property
    def front_end(self) -> object | None:
        """The model in use's front-end figures (multi-person front-end only), for the stats message."""
        return getattr(self._current, "front_end", None)

    @property
    def using_fallback(self) -> bool:
        """True once the fallback model has taken over."""
        return self.switched_reason is not None

    def reset(self) -> None:
        """Forget per-person state (the model choice stays)."""
        self._current.reset()

    def estimate(self, frame: Frame) -> list[Pose]:
        """Valid poses of `frame` from the model in use; switches model after too many bad frames."""
        poses, invalid = self._checked(frame)
        if not invalid:
            self.invalid_frames = 0
            return poses
        self.invalid_frames += 1
        if self.using_fallback or self.invalid_frames < self.max_invalid_frames:
            return poses
        self._current = self._switch(
            f"{self.name!r} gave invalid output on {self.invalid_frames} consecutive frames"
        )
        return self._checked(frame)[0]  # this frame is not lost

    def _checked(self, frame: Frame) -> tuple[list[Pose], bool]:
        """Run the current estimator; drop invalid poses. True when any output of the frame was invalid."""
        before = self._current.stats.invalid_outputs
        poses = self._current.estimate(frame)
        valid = [p for p in poses if pose_valid(p)]
        self._dropped.invalid_outputs += len(poses) - len(valid)
        invalid = len(valid) < len(poses) or self._current.stats.invalid_outputs > before
        return valid, invalid

    def _switch(self, reason: str) -> PoseEstimator:
        """Load the fallback model and log why, once."""
        logger.warning("%s; switching to fallback model %r", reason, self.fallback)
        self.switched_reason = reason
        if hasattr(self, "_current"):
            old = self._current.stats
            self._dropped.invokes += old.invokes
            self._dropped.invalid_outputs += old.invalid_outputs
        estimator = self._load_fallback()
        self.invalid_frames = 0
        return estimator
