"""The MoveNet MultiPose model runner: one square region of a frame in, up to six untracked people out.

No memory of the past: the whole-frame estimator (`movenet_multipose.MoveNetMultiPose`) runs it on the
letterboxed frame and tracks what it returns; the multi-person front-end's discovery runs it on the
whole frame and on tiles (`discovery.py`) and merges the people found."""

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
from edge.pose.smart_crop import CropRegion, crop_to_frame
from edge.types import Image, Pose

logger = logging.getLogger(__name__)

MAX_PEOPLE: Final = 6  # the model's fixed number of person slots
VALUES_PER_PERSON: Final = 56  # 17 × (y, x, score) + box (ymin, xmin, ymax, xmax) + person score


class MultiPoseRunner:
    """MoveNet MultiPose on one region (letterboxed to the model's square input)."""

    def __init__(self, spec: ModelSpec, threads: int = 2) -> None:
        verify_model_file(spec)
        self.spec = spec
        self.name = spec.name
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

    def detect(self, image: Image, region: CropRegion, min_score: float) -> list[Pose] | None:
        """People scoring at least `min_score` in `region` of `image`, keypoints and box in frame-normalised
        coordinates, no track ids; None when the output is invalid (counted in `stats`)."""
        raw = self._infer(image, region, min_score)
        if raw is None:
            return None
        poses = []
        for person in raw:
            score = float(person[55])
            if score < min_score:
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
        return poses

    def _infer(self, image: Image, region: CropRegion, min_score: float) -> NDArray[np.float32] | None:
        """The model's 6 × 56 output for `region`, or None if it is invalid."""
        warp_into(image, region, self._warped)
        bgr_to_input(self._warped, self._input)
        self.interpreter.set_tensor(self._input_index, self._input)
        self.interpreter.invoke()
        self.stats.invokes += 1
        raw: NDArray[np.float32] = self.interpreter.get_tensor(self._output_index)[0].copy()
        people = raw[raw[:, 55] >= min_score]
        scores = raw[:, 55]
        valid = bool(np.isfinite(raw).all() and scores.min() >= 0.0 and scores.max() <= 1.0)
        if not valid or (len(people) and not keypoints_valid(people[:, :51].reshape(-1, 17, 3))):
            self.stats.invalid_outputs += 1
            self.stats.consecutive_invalid += 1
            logger.debug("%s: invalid output dropped (%d so far)", self.name, self.stats.invalid_outputs)
            return None
        self.stats.consecutive_invalid = 0
        return raw
