"""MoveNet single-pose (Lightning 192, Thunder 256) with smart cropping and a One Euro filter.

Per frame: crop and resize straight into the input tensor → invoke → decode the heads
(edge/pose/movenet_heads.py; files that still carry the in-graph decoder are read as they are) → map the
keypoints from crop to frame → filter them → compute the next crop from the filtered keypoints and
low-pass it. When the pose score drops below threshold the crop, the filters and the track reset
and no pose is reported (tfjs-models MoveNet detector). The estimator owns its crop and its filter
(edge/filters/); its tunables are `SinglePoseSettings` (edge/pose/settings.py)."""

from __future__ import annotations

import logging

import numpy as np
from numpy.typing import NDArray

from edge.errors import ModelError
from edge.filters.low_pass import LowPassFilter
from edge.filters.one_euro import OneEuroFilter
from edge.pose.crop_resize import bgr_to_input, crop_resize_into
from edge.pose.manifest import ModelSpec, verify_model_file
from edge.pose.movenet_heads import HeadDecoder, has_heads
from edge.pose.output_guard import OutputStats, keypoints_valid
from edge.pose.runtime import load_interpreter
from edge.pose.settings import SinglePoseSettings
from edge.pose.smart_crop import (
    MIN_CROP_KEYPOINT_SCORE,
    CropBox,
    CropRegion,
    determine_crop_region,
    padded_square_region,
    torso_visible,
)
from edge.types import Frame, Image, Keypoints, Pose, keypoint_bbox

logger = logging.getLogger(__name__)


def pose_score(keypoints: Keypoints, min_score: float = MIN_CROP_KEYPOINT_SCORE) -> float:
    """Mean score of the keypoints above `min_score` (0 if none): tfjs MoveNet's pose score."""
    confident = [s for s in keypoints[:, 2].tolist() if s > min_score]
    return sum(confident) / len(confident) if confident else 0.0


class MoveNetSinglePose:
    """One person per frame, followed by the smart crop. Reports track_id 0.. (a new id after every
    reset), keypoints in full-frame normalised coordinates, layout coco17."""

    def __init__(self, spec: ModelSpec, threads: int = 2, settings: SinglePoseSettings | None = None) -> None:
        verify_model_file(spec)
        self.spec = spec
        self.name = spec.name
        self.settings = settings or SinglePoseSettings()
        self.interpreter = load_interpreter(spec.path, threads)
        inputs = self.interpreter.get_input_details()
        outputs = self.interpreter.get_output_details()
        decoded = len(outputs) == 1 and tuple(outputs[0]["shape"][-2:]) == (17, 3)
        if len(inputs) != 1 or not (decoded or has_heads(outputs)):
            raise ModelError(f"{spec.path}: not a MoveNet single-pose model (tensors {inputs} → {outputs})")
        self._input_index = int(inputs[0]["index"])
        self._output_index = int(outputs[0]["index"])
        self._heads = None if decoded else HeadDecoder(self.interpreter, outputs)
        self._input_view = self.interpreter.tensor(self._input_index)  # written in place, no set_tensor copy
        self.size = int(inputs[0]["shape"][1])
        self._warped: Image = np.zeros((self.size, self.size, 3), dtype=np.uint8)
        self.stats = OutputStats()
        self._keypoint_filter = OneEuroFilter(self.settings.keypoint_filter.params)
        self._crop_filter = LowPassFilter(self.settings.crop_alpha)
        self._crop: CropRegion | None = None
        self._next_track_id = 0
        self._track_id: int | None = None
        self.last_regions: list[CropBox] = []

    def reset(self) -> None:
        """Start over for a new source (or still): no person, fresh filters, track ids from 0 again."""
        self._lose_person()
        self._next_track_id = 0

    def _lose_person(self) -> None:
        """Absence resets state: the next frame starts from the whole frame with fresh filters, and
        the next person found gets a new track id."""
        self._crop = None
        self._keypoint_filter.reset()
        self._crop_filter.reset()
        self._track_id = None

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
        if self._track_id is None:
            self._track_id = self._next_track_id
            self._next_track_id += 1
        return [
            Pose(
                keypoints=keypoints,
                score=score,
                layout="coco17",
                track_id=self._track_id,
                bbox=keypoint_bbox(keypoints, MIN_CROP_KEYPOINT_SCORE),
            )
        ]

    def infer_region(self, image: Image, region: CropRegion) -> Keypoints | None:
        """Run the model once on `region` of `image` (no state is touched): unfiltered full-frame
        keypoints, or None when the guard rejects the output (counted in `stats`)."""
        shown = crop_resize_into(image, region, self._warped)
        bgr_to_input(self._warped, self._input_view())  # the view is dropped before invoke
        self.interpreter.invoke()
        self.stats.invokes += 1
        raw: NDArray[np.float32] = (
            self._heads.decode() if self._heads else self.interpreter.get_tensor(self._output_index)[0, 0]
        )
        rows = raw.tolist()  # 17 points: plain floats from here, one array at the end
        if not keypoints_valid(rows):
            self.stats.invalid_outputs += 1
            self.stats.consecutive_invalid += 1
            logger.debug("%s: invalid output dropped (%d so far)", self.name, self.stats.invalid_outputs)
            return None
        self.stats.consecutive_invalid = 0
        # crop-normalised (y, x) → frame-normalised (x, y), as smart_crop.crop_to_frame does
        x0, y0, sx, sy = shown.x_min, shown.y_min, shown.width, shown.height
        return np.array([(x * sx + x0, y * sy + y0, s) for y, x, s in rows], dtype=np.float32)
