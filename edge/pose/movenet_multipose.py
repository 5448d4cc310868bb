"""MoveNet MultiPose Lightning: up to 6 people per frame, tracked with stable ids.

Per frame: letterbox the whole frame into the 256×256 input → invoke → keep the people scoring above
the person threshold → map to the frame → the tracker (edge/track/, owned by this estimator) gives ids
and filters each track's keypoints. No smart crop: the model sees everyone at once. Tunables:
`MultiPoseSettings` (edge/pose/settings.py)."""

from __future__ import annotations

import logging
from typing import Final

import numpy as np
from numpy.typing import NDArray

from edge.errors import ModelError
from edge.pose.crop_resize import bgr_to_input, warp_into
from edge.pose.manifest import ModelSpec, verify_model_file
from edge.pose.output_guard import OutputStats, keypoints_valid
from edge.pose.runtime import load_interpreter, zeros_like_input
from edge.pose.settings import MIN_PERSON_SCORE, MultiPoseSettings
from edge.pose.smart_crop import CropRegion, crop_to_frame, padded_square_region
from edge.track.similarity import box_iou
from edge.track.tracker import PoseTracker
from edge.types import Frame, Image, Pose

logger = logging.getLogger(__name__)

MAX_PEOPLE: Final = 6  # the model's fixed number of person slots
VALUES_PER_PERSON: Final = 56  # 17 × (y, x, score) + box (ymin, xmin, ymax, xmax) + person score
# The INT8 file (float post-processing) sometimes fills two slots with the same person (boxes
# overlapping by 0.3-0.9 on vtest.avi, never with the float file); the weaker one is dropped.
# Two real people rarely overlap by more than half their boxes.
MAX_DUPLICATE_IOU: Final = 0.5
# A duplicate is often a part of the person (upper body) inside the full box: low IoU, but most of
# the smaller box lies inside the larger.
MAX_DUPLICATE_CONTAINMENT: Final = 0.7


def _overlap_of_smaller(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over the smaller box's area (1 when one box lies inside the other)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return ix * iy / smaller if smaller > 0 else 0.0


def suppress_duplicates(poses: list[Pose]) -> list[Pose]:
    """Greedy suppression on the person boxes: of two poses whose boxes overlap by more than
    MAX_DUPLICATE_IOU, or one lying mostly inside the other (MAX_DUPLICATE_CONTAINMENT), keep the
    better-scoring one."""
    kept: list[Pose] = []
    for pose in sorted(poses, key=lambda p: p.score, reverse=True):
        if all(
            box_iou(pose.bbox, k.bbox) <= MAX_DUPLICATE_IOU
            and _overlap_of_smaller(pose.bbox, k.bbox) <= MAX_DUPLICATE_CONTAINMENT
            for k in kept
        ):
            kept.append(pose)
    return kept


class MoveNetMultiPose:
    """Up to six people per frame, layout coco17, each with a track id (1, 2, …, not reused within a
    source)."""

    def __init__(self, spec: ModelSpec, threads: int = 2, settings: MultiPoseSettings | None = None) -> None:
        verify_model_file(spec)
        self.spec = spec
        self.name = spec.name
        self.settings = settings or MultiPoseSettings()
        self.min_person_score = (
            self.settings.min_person_score
            if self.settings.min_person_score is not None
            else float(spec.raw.get("min_person_score", MIN_PERSON_SCORE))
        )
        self.min_tracked_score = min(self.settings.min_tracked_score, self.min_person_score)
        self.interpreter = load_interpreter(spec.path, threads)
        inputs = self.interpreter.get_input_details()
        outputs = self.interpreter.get_output_details()
        if (
            len(inputs) != 1
            or len(outputs) != 1
            or tuple(int(d) for d in outputs[0]["shape"]) != (1, MAX_PEOPLE, VALUES_PER_PERSON)
        ):
            raise ModelError(f"{spec.path}: not a MoveNet MultiPose model (tensors {inputs} → {outputs})")
        self._input_index = int(inputs[0]["index"])
        self._output_index = int(outputs[0]["index"])
        self._input = zeros_like_input(inputs[0])
        self.size = int(inputs[0]["shape"][1])
        self._warped: Image = np.zeros((self.size, self.size, 3), dtype=np.uint8)
        self.stats = OutputStats()
        keypoint_filter = self.settings.keypoint_filter.params if self.settings.filter else None
        self.tracker = PoseTracker(self.settings.tracker.settings(keypoint_filter))
        self.last_region: CropRegion | None = None

    def reset(self) -> None:
        """End every track (a new source or a still image); ids start from 1 again."""
        self.tracker.reset()

    def estimate(self, frame: Frame) -> list[Pose]:
        """Everyone above the person threshold in `frame`, tracked and filtered."""
        region = padded_square_region(frame.height, frame.width)
        self.last_region = region
        raw = self._infer(frame.image, region)
        if raw is None:
            return self.tracker.update([], frame.ts, frame.width, frame.height)
        poses = []
        for person in raw:
            score = float(person[55])
            if score < self.min_tracked_score:
                continue
            yxs = person[:51].reshape(17, 3)
            keypoints = np.empty((17, 3), dtype=np.float32)
            keypoints[:, :2] = crop_to_frame(yxs[:, :2], region)
            keypoints[:, 2] = yxs[:, 2]
            corners = crop_to_frame(person[51:55].reshape(2, 2), region)  # (ymin, xmin), (ymax, xmax)
            x0, y0 = np.clip(corners.min(axis=0), 0.0, 1.0)
            x1, y1 = np.clip(corners.max(axis=0), 0.0, 1.0)
            poses.append(
                Pose(
                    keypoints=keypoints,
                    score=score,
                    layout="coco17",
                    bbox=(float(x0), float(y0), float(x1), float(y1)),
                )
            )
        return self.tracker.update(
            suppress_duplicates(poses), frame.ts, frame.width, frame.height, self.min_person_score
        )

    def _infer(self, image: Image, region: CropRegion) -> NDArray[np.float32] | None:
        """The model's 6 × 56 output for the letterboxed frame, or None if it is invalid."""
        warp_into(image, region, self._warped)
        bgr_to_input(self._warped, self._input)
        self.interpreter.set_tensor(self._input_index, self._input)
        self.interpreter.invoke()
        self.stats.invokes += 1
        raw: NDArray[np.float32] = self.interpreter.get_tensor(self._output_index)[0].copy()
        people = raw[raw[:, 55] >= self.min_tracked_score]
        scores = raw[:, 55]
        valid = bool(np.isfinite(raw).all() and scores.min() >= 0.0 and scores.max() <= 1.0)
        if not valid or (len(people) and not keypoints_valid(people[:, :51].reshape(-1, 17, 3))):
            self.stats.invalid_outputs += 1
            self.stats.consecutive_invalid += 1
            logger.debug("%s: invalid output dropped (%d so far)", self.name, self.stats.invalid_outputs)
            return None
        self.stats.consecutive_invalid = 0
        return raw
