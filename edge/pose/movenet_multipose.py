"""MoveNet MultiPose Lightning: up to 6 people per frame, tracked with stable ids.

Per frame: letterbox the whole frame into the 256×256 input → invoke → keep the people scoring above
the person threshold → map to the frame → the tracker (edge.track) gives ids and filters each
track's keypoints. No smart crop: the model sees everyone at once. Tunables: `MultiPoseSettings`
(edge/pose/settings.py); the model runner is `multipose_runner.py`."""

from __future__ import annotations

from edge.pose.manifest import ModelSpec
from edge.pose.multipose_runner import MAX_PEOPLE, MultiPoseRunner
from edge.pose.settings import MIN_PERSON_SCORE, MultiPoseSettings
from edge.pose.smart_crop import CropBox, padded_square_region
from edge.pose.tiles import merge_detections
from edge.track.tracker import PoseTracker
from edge.types import Frame, Pose

__all__ = ["MAX_PEOPLE", "MoveNetMultiPose", "MultiPoseSettings", "suppress_duplicates"]

# The INT8 file (float post-processing) sometimes fills two slots with the same person (boxes
# overlapping by 0.3-0.9 on vtest.avi, never with the float file), often a part of the person (upper
# body) inside the full box; the weaker one is dropped by the same rule that merges the views of
# discovery (tiles.same_person: IoU > 0.5, or the smaller box 70 % inside the larger).
suppress_duplicates = merge_detections


class MoveNetMultiPose:
    """Up to six people per frame, layout coco17, each with a track id (1, 2, …, not reused within a
    source)."""

    def __init__(self, spec: ModelSpec, threads: int = 2, settings: MultiPoseSettings | None = None) -> None:
        self.runner = MultiPoseRunner(spec, threads)
        self.spec = spec
        self.name = spec.name
        self.settings = settings or MultiPoseSettings()
        self.min_person_score = (
            self.settings.min_person_score
            if self.settings.min_person_score is not None
            else float(spec.raw.get("min_person_score", MIN_PERSON_SCORE))
        )
        self.min_tracked_score = min(self.settings.min_tracked_score, self.min_person_score)
        self.stats = self.runner.stats
        keypoint_filter = self.settings.keypoint_filter.params if self.settings.filter else None
        self.tracker = PoseTracker(self.settings.tracker.settings(keypoint_filter))
        self.last_regions: list[CropBox] = []

    def reset(self) -> None:
        """End every track (a new source or a still image); ids start from 1 again."""
        self.tracker.reset()

    def estimate(self, frame: Frame) -> list[Pose]:
        """Everyone above the person threshold in `frame`, tracked and filtered."""
        region = padded_square_region(frame.height, frame.width)
        self.last_regions = [CropBox(region)]
        poses = self.runner.detect(frame.image, region, self.min_tracked_score)
        if poses is None:
            return self.tracker.update([], frame.ts, frame.width, frame.height)
        return self.tracker.update(
            suppress_duplicates(poses), frame.ts, frame.width, frame.height, self.min_person_score
        )
