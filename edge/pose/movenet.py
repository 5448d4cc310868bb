"""MoveNet single-pose (Lightning 192, Thunder 256) with smart cropping and a One Euro filter.

Per frame: crop and resize straight into the input tensor → invoke → decode the heads
(edge/pose/movenet_heads.py; files that still carry the in-graph decoder are read as they are) → map the
keypoints from crop to frame → filter them → compute the next crop from the filtered keypoints and
low-pass it. When the pose score drops below threshold the crop, the filters and the track reset
and no pose is reported (tfjs-models MoveNet detector). The estimator owns its crop and its filter
(edge/filters/); its tunables are `SinglePoseSettings` (edge/pose/settings.py)."""

from __future__ import annotations

from edge.filters.low_pass import LowPassFilter
from edge.filters.one_euro import OneEuroFilter
from edge.pose.lightning_runner import LightningRunner
from edge.pose.manifest import ModelSpec
from edge.pose.output_guard import OutputStats
from edge.pose.runtime import Interpreter
from edge.pose.settings import SinglePoseSettings
from edge.pose.single_person import SinglePersonId
from edge.pose.smart_crop import (
    MIN_CROP_KEYPOINT_SCORE,
    CropBox,
    CropRegion,
    determine_crop_region,
    padded_square_region,
    torso_visible,
)
from edge.types import Frame, Image, Keypoints, Pose


def pose_score(keypoints: Keypoints, min_score: float = MIN_CROP_KEYPOINT_SCORE) -> float:
    """Mean score of the keypoints above `min_score` (0 if none): tfjs MoveNet's pose score."""
    confident = [s for s in keypoints[:, 2].tolist() if s > min_score]
    return sum(confident) / len(confident) if confident else 0.0


class MoveNetSinglePose:
    """One person per frame, followed by the smart crop. Reports track_id 0.. (a new id after every
    reset), keypoints in full-frame normalised coordinates, layout coco17."""

    def __init__(self, spec: ModelSpec, threads: int = 2, settings: SinglePoseSettings | None = None) -> None:
        self.runner = LightningRunner(spec, threads)  # the interpreter, its buffers and head decoder
        self.spec = spec
        self.name = spec.name
        self.settings = settings or SinglePoseSettings()
        self.size = self.runner.size
        self.stats: OutputStats = self.runner.stats
        self._keypoint_filter = OneEuroFilter(self.settings.keypoint_filter.params)
        self._crop_filter = LowPassFilter(self.settings.crop_alpha)
        self._crop: CropRegion | None = None
        self._id = SinglePersonId()
        self.last_regions: list[CropBox] = []

    @property
    def interpreter(self) -> Interpreter:
        """The runner's interpreter (read-only here: the runner is what invokes it)."""
        return self.runner.interpreter

    def reset(self) -> None:
        """Start over for a new source (or still): no person, fresh filters, track ids from 0 again."""
        self._lose_person()
        self._id.reset()

    def _lose_person(self) -> None:
        """Absence resets state: the next frame starts from the whole frame with fresh filters, and
        the next person found gets a new track id."""
        self._crop = None
        self._keypoint_filter.reset()
        self._crop_filter.reset()
        self._id.lose()

    def estimate(self, frame: Frame) -> list[Pose]:
        """The pose of the person followed in `frame`, or [] when nobody scores above threshold."""
        h, w = frame.height, frame.width
        acquiring = self._crop is None or not self.settings.smart_crop
        region = padded_square_region(h, w) if acquiring else self._crop
        assert region is not None
        keypoints = self.infer_region(frame.image, region)
        if keypoints is None:
            self._lose_person()
            return []
        if (
            acquiring
            and self.settings.smart_crop
            and self.settings.refine_on_acquire
            and torso_visible(keypoints)
        ):
            refined_region = determine_crop_region(keypoints, h, w)
            refined = self.infer_region(frame.image, refined_region)
            if refined is not None and pose_score(refined) >= pose_score(keypoints):
                keypoints, region = refined, refined_region
        self.last_regions = [CropBox(region)]
        score = pose_score(keypoints)
        if score < self.settings.min_pose_score:
            self._lose_person()
            return []
        if self.settings.filter:
            keypoints[:, :2] = self._keypoint_filter.apply(keypoints[:, :2], frame.ts)
        if self.settings.smart_crop:
            wanted = determine_crop_region(keypoints, h, w)
            self._crop = CropRegion(*self._crop_filter.apply(wanted.as_tuple()))
        return [self._id.pose(keypoints, score, "coco17", MIN_CROP_KEYPOINT_SCORE)]

    def infer_region(self, image: Image, region: CropRegion) -> Keypoints | None:
        """Run the model once on `region` of `image` (no state is touched): unfiltered full-frame
        keypoints, or None when the guard rejects the output (counted in `stats`)."""
        return self.runner.infer(image, region)
