"""BlazePose (MediaPipe) two-stage pose: person detector → rotated ROI → landmark model, 33 points.

The detector (224×224, SSD anchors decoded in blazepose_anchors) finds the hip centre and the body
circle; the landmark model (256×256) runs on the rotated square they define (blazepose_roi) and
returns 33 landmarks with visibility plus auxiliary points for the next frame's ROI. While the
landmark model says a person is present, the next ROI comes from those auxiliary points, smoothed
harder than the output, and the detector does not run; when the person is lost it runs again.
Poses use layout `blazepose33`; rules read the COCO-17 subset through edge.layouts.to_coco17."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Final

import cv2
import numpy as np
from numpy.typing import NDArray

from edge.errors import ModelError
from edge.filters.one_euro import OneEuroFilter, OneEuroParams
from edge.pose.blazepose_anchors import (
    DETECTOR_INPUT_SIZE,
    NUM_ANCHORS,
    decode_detections,
    ssd_anchor_centres,
)
from edge.pose.blazepose_roi import RotatedRoi, roi_from_alignment, roi_input_matrix, roi_to_frame_px
from edge.pose.manifest import ModelSpec, verify_model_file
from edge.pose.output_guard import OutputStats, keypoints_valid
from edge.pose.runtime import Interpreter, load_interpreter, zeros_like_input
from edge.pose.settings import BlazePoseSettings
from edge.pose.single_person import SinglePersonId
from edge.pose.smart_crop import CropBox, crop_to_input_matrix, padded_square_region
from edge.types import Frame, Image, Pose

logger = logging.getLogger(__name__)

NUM_LANDMARKS: Final = 33  # BlazePose-33 (edge.layouts.BLAZEPOSE33)
NUM_ALL_LANDMARKS: Final = 39  # + 6 auxiliary points; 33 = hip centre, 34 = body-circle point
VALUES_PER_LANDMARK: Final = 5  # x, y, z (input px), visibility and presence logits
AUX_CENTRE, AUX_END = 33, 34
DEFAULT_DETECTOR: Final = "blazepose_detector"  # manifest name, unless the entry names its own "detector"
MIN_DRAW_VISIBILITY: Final = 0.5  # keypoints that count for the pose's box


def _apply_scaled(
    one_euro: OneEuroFilter, params: OneEuroParams, points_px: NDArray[np.float64], t: float
) -> NDArray[np.float64]:
    """Filter pixel coordinates with speed measured in object sizes per second, as MediaPipe's
    landmark smoothing does (object scale = mean side of the points' box), so the same constants
    hold for a person near or far: beta is divided by the scale."""
    extent = points_px.max(axis=0) - points_px.min(axis=0)
    scale = max(float(extent.mean()), 1.0)
    one_euro.params = replace(params, beta=params.beta / scale)
    return one_euro.apply(points_px, t)


def _sigmoid(x: NDArray[np.floating]) -> NDArray[np.float64]:
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(x, dtype=np.float64), -80.0, 80.0)))


class BlazePose:
    """One person per frame with BlazePose-33 landmarks. Reports track_id 0.. (a new id each time the
    person is lost, 0 again after `reset()`), keypoints (x, y, visibility) frame-normalised, and the
    pose-presence score as the pose score."""

    def __init__(
        self,
        spec: ModelSpec,
        detector_spec: ModelSpec,
        threads: int = 2,
        settings: BlazePoseSettings | None = None,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.settings = settings or BlazePoseSettings()
        self.detector_spec = detector_spec
        for s in (spec, self.detector_spec):
            verify_model_file(s)
        self._detector = load_interpreter(self.detector_spec.path, threads)
        self._landmarker = load_interpreter(spec.path, threads)
        self._det_in, self._det_boxes, self._det_scores = self._detector_tensors(self._detector)
        self._lm_in, self._lm_out, self._lm_flag, self.size = self._landmark_tensors(self._landmarker)
        self._anchors = ssd_anchor_centres(DETECTOR_INPUT_SIZE)
        self._det_image: Image = np.zeros((DETECTOR_INPUT_SIZE, DETECTOR_INPUT_SIZE, 3), np.uint8)
        self._lm_image: Image = np.zeros((self.size, self.size, 3), np.uint8)
        self._det_input = zeros_like_input(self._detector.get_input_details()[0])
        self._lm_input = zeros_like_input(self._landmarker.get_input_details()[0])
        self.stats = OutputStats()
        self.frames = 0
        self.detector_runs = 0
        self._landmark_params = self.settings.landmark_filter.params
        self._aux_params = self.settings.aux_filter.params
        self._filter = OneEuroFilter(self._landmark_params)
        self._aux_filter = OneEuroFilter(self._aux_params)
        self._roi: RotatedRoi | None = None
        self._id = SinglePersonId()
        self.last_regions: list[CropBox] = []
        self.last_roi: RotatedRoi | None = None

    def _detector_tensors(self, interp: Interpreter) -> tuple[int, int, int]:
        ins, outs = interp.get_input_details(), interp.get_output_details()
        by_width = {int(o["shape"][-1]): int(o["index"]) for o in outs if int(o["shape"][1]) == NUM_ANCHORS}
        shape = tuple(int(d) for d in ins[0]["shape"]) if len(ins) == 1 else ()
        if shape != (1, DETECTOR_INPUT_SIZE, DETECTOR_INPUT_SIZE, 3) or set(by_width) != {12, 1}:
            raise ModelError(f"{self.detector_spec.path}: not a BlazePose detector ({ins} → {outs})")
        return int(ins[0]["index"]), by_width[12], by_width[1]

    def _landmark_tensors(self, interp: Interpreter) -> tuple[int, int, int, int]:
        ins, outs = interp.get_input_details(), interp.get_output_details()
        by_shape = {tuple(int(d) for d in o["shape"]): int(o["index"]) for o in outs}
        n = NUM_ALL_LANDMARKS * VALUES_PER_LANDMARK
        if len(ins) != 1 or (1, n) not in by_shape or (1, 1) not in by_shape:
            raise ModelError(f"{self.spec.path}: not a BlazePose landmark model ({ins} → {outs})")
        return int(ins[0]["index"]), by_shape[(1, n)], by_shape[(1, 1)], int(ins[0]["shape"][1])

    def reset(self) -> None:
        """Start over for a new source (or still): no person, fresh filters, track ids from 0 again."""
        self._lose_person()
        self._id.reset()

    def _lose_person(self) -> None:
        """Absence resets state: the next frame runs the detector with fresh filters, and the next
        person found gets a new track id."""
        self._roi = None
        self._filter.reset()
        self._aux_filter.reset()
        self._id.lose()

    def estimate(self, frame: Frame) -> list[Pose]:
        """The landmarks of the person followed in `frame`, or [] when nobody is present."""
        self.frames += 1
        roi = self._roi if self.settings.track else None
        if roi is None:
            roi = self._detect(frame.image)
            if roi is None:
                self._lose_person()
                return []
        self.last_roi = roi
        self.last_regions = [CropBox(roi.bounding_region(frame.width, frame.height))]
        found = self._landmarks(frame.image, roi)
        if found is None or found[1] < self.settings.min_presence:
            self._lose_person()
            return []
        landmarks, presence = found
        points = landmarks[:NUM_LANDMARKS, :2]
        aux = landmarks[[AUX_CENTRE, AUX_END], :2]
        if self.settings.filter:
            points = _apply_scaled(self._filter, self._landmark_params, points, frame.ts)
            aux = _apply_scaled(self._aux_filter, self._aux_params, aux, frame.ts)
        keypoints = np.empty((NUM_LANDMARKS, 3), dtype=np.float32)
        keypoints[:, :2] = points / (frame.width, frame.height)
        keypoints[:, 2] = landmarks[:NUM_LANDMARKS, 2]
        self._roi = roi_from_alignment(aux[0], aux[1])
        return [self._id.pose(keypoints, presence, "blazepose33", MIN_DRAW_VISIBILITY)]

    def _invalid(self, what: str) -> None:
        self.stats.invalid_outputs += 1
        self.stats.consecutive_invalid += 1
        logger.debug("%s: invalid %s output dropped (%d so far)", self.name, what, self.stats.invalid_outputs)

    def _detect(self, image: Image) -> RotatedRoi | None:
        """Run the detector on the letterboxed frame; the ROI of the best person, or None."""
        self.detector_runs += 1
        h, w = image.shape[:2]
        region = padded_square_region(h, w)
        matrix = crop_to_input_matrix(region, h, w, DETECTOR_INPUT_SIZE)
        size = (DETECTOR_INPUT_SIZE, DETECTOR_INPUT_SIZE)
        cv2.warpAffine(image, matrix, size, dst=self._det_image, flags=cv2.INTER_LINEAR)
        # MediaPipe: RGB as float in [-1, 1].
        np.multiply(self._det_image[:, :, ::-1], 1.0 / 127.5, out=self._det_input[0], casting="unsafe")
        self._det_input -= 1.0
        self._detector.set_tensor(self._det_in, self._det_input)
        self._detector.invoke()
        self.stats.invokes += 1
        boxes = self._detector.get_tensor(self._det_boxes)[0]
        scores = self._detector.get_tensor(self._det_scores)[0, :, 0]
        if not (np.isfinite(boxes).all() and np.isfinite(scores).all()):
            self._invalid("detector")
            return None
        detections = decode_detections(boxes, scores, self._anchors)
        if not detections:
            return None
        kps = detections[0].keypoints  # letterbox-normalised (x, y)
        px = np.stack(
            [
                (region.x_min + kps[:, 0] * region.width) * w,
                (region.y_min + kps[:, 1] * region.height) * h,
            ],
            axis=1,
        )
        return roi_from_alignment(px[0], px[1])

    def _landmarks(self, image: Image, roi: RotatedRoi) -> tuple[NDArray[np.float64], float] | None:
        """Run the landmark model on `roi`: 39 × (x px, y px, visibility) in the frame and the
        presence score, or None when the output is invalid."""
        matrix = roi_input_matrix(roi, self.size)
        cv2.warpAffine(
            image,
            matrix,
            (self.size, self.size),
            dst=self._lm_image,
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
        # MediaPipe: RGB as float in [0, 1].
        np.multiply(self._lm_image[:, :, ::-1], 1.0 / 255.0, out=self._lm_input[0], casting="unsafe")
        self._landmarker.set_tensor(self._lm_in, self._lm_input)
        self._landmarker.invoke()
        self.stats.invokes += 1
        raw = self._landmarker.get_tensor(self._lm_out)[0].reshape(NUM_ALL_LANDMARKS, VALUES_PER_LANDMARK)
        flag = float(self._landmarker.get_tensor(self._lm_flag).reshape(-1)[0])
        visibility = _sigmoid(raw[:, 3])
        # The guard's (y, x, score) layout, normalised to the ROI square.
        as_roi = np.stack([raw[:, 1] / self.size, raw[:, 0] / self.size, visibility], axis=1)
        if not (keypoints_valid(as_roi) and np.isfinite(raw).all() and np.isfinite(flag)):
            self._invalid("landmark")
            return None
        self.stats.consecutive_invalid = 0
        out = np.empty((NUM_ALL_LANDMARKS, 3), dtype=np.float64)
        out[:, :2] = roi_to_frame_px(as_roi[:, [1, 0]], roi)
        out[:, 2] = visibility
        return out, flag
