"""PoseNet (MobileNetV1) single pose: heatmap + offset decoding at a configurable output stride.

Per frame: letterbox the whole frame into the model input → invoke → per keypoint, the heatmap
cell with the highest score, refined by that cell's offset → frame coordinates → One Euro filter.
Only the heatmap and offsets are read (the displacement outputs serve multi-person decoding)."""

from __future__ import annotations

import logging
from typing import Final

import numpy as np
from numpy.typing import NDArray

from edge.errors import ModelError
from edge.filters.one_euro import OneEuroFilter
from edge.pose.crop_resize import bgr_to_input, warp_into
from edge.pose.manifest import ModelSpec, verify_model_file
from edge.pose.output_guard import OutputStats, keypoints_valid
from edge.pose.runtime import load_interpreter, zeros_like_input
from edge.pose.settings import PoseNetSettings
from edge.pose.single_person import SinglePersonId
from edge.pose.smart_crop import CropBox, CropRegion, crop_to_frame, padded_square_region
from edge.types import Frame, Image, Keypoints, Pose

logger = logging.getLogger(__name__)

NUM_KEYPOINTS: Final = 17
OUTPUT_STRIDES: Final = (8, 16, 32)  # the strides PoseNet MobileNetV1 is built for
MIN_BOX_KEYPOINT_SCORE: Final = 0.2


def decode_single_pose(
    heatmap: NDArray[np.float32], offsets: NDArray[np.float32], stride: int
) -> NDArray[np.float64]:
    """17 × (y, x, score) in input pixels from an H×W×17 heatmap of logits and H×W×34 offsets
    (0-16 y, 17-33 x): the best cell per keypoint, at cell × stride + offset."""
    h, w, k = heatmap.shape
    flat = heatmap.reshape(h * w, k).argmax(axis=0)
    ys, xs = np.divmod(flat, w)
    idx = np.arange(k)
    logits = heatmap[ys, xs, idx].astype(np.float64)
    out = np.empty((k, 3), dtype=np.float64)
    out[:, 0] = ys * stride + offsets[ys, xs, idx]
    out[:, 1] = xs * stride + offsets[ys, xs, idx + k]
    out[:, 2] = 1.0 / (1.0 + np.exp(-np.clip(logits, -80.0, 80.0)))
    return out


class PoseNet:
    """One person per frame (the strongest keypoints), layout coco17, track_id 0.. (a new id each time
    the person is lost, 0 again after `reset()`)."""

    def __init__(self, spec: ModelSpec, threads: int = 2, settings: PoseNetSettings | None = None) -> None:
        verify_model_file(spec)
        self.spec = spec
        self.name = spec.name
        self.settings = settings or PoseNetSettings()
        self.interpreter = load_interpreter(spec.path, threads)
        inputs = self.interpreter.get_input_details()
        by_depth = {int(o["shape"][-1]): o for o in self.interpreter.get_output_details()}
        if len(inputs) != 1 or NUM_KEYPOINTS not in by_depth or 2 * NUM_KEYPOINTS not in by_depth:
            raise ModelError(
                f"{spec.path}: not a PoseNet model (no 17-channel heatmap and 34-channel offsets)"
            )
        self._input_index = int(inputs[0]["index"])
        self._input = zeros_like_input(inputs[0])
        self.size = int(inputs[0]["shape"][1])
        self._heatmap_index = int(by_depth[NUM_KEYPOINTS]["index"])
        self._offsets_index = int(by_depth[2 * NUM_KEYPOINTS]["index"])
        grid = int(by_depth[NUM_KEYPOINTS]["shape"][1])
        self.output_stride = self._stride(grid)
        self._warped: Image = np.zeros((self.size, self.size, 3), dtype=np.uint8)
        self.stats = OutputStats()
        self._filter = OneEuroFilter(self.settings.keypoint_filter.params)
        self._id = SinglePersonId()
        self.last_regions: list[CropBox] = []

    def _stride(self, grid: int) -> int:
        """The output stride: configured, else the manifest's, else (input − 1) / (grid − 1); it must
        fit the tensor shapes (grid cells every `stride` pixels cover the input)."""
        derived = (self.size - 1) // max(grid - 1, 1)
        stride = self.settings.output_stride or int(self.spec.raw.get("output_stride", derived))
        if stride not in OUTPUT_STRIDES or (grid - 1) * stride + 1 != self.size:
            raise ModelError(
                f"{self.spec.path}: output stride {stride} does not fit input {self.size} and a "
                f"{grid}×{grid} heatmap (PoseNet strides: {', '.join(map(str, OUTPUT_STRIDES))})"
            )
        return stride

    def reset(self) -> None:
        """Start over for a new source (or still): fresh filter, track ids from 0 again."""
        self._lose_person()
        self._id.reset()

    def _lose_person(self) -> None:
        """Absence resets state: fresh filter, and the next person found gets a new track id."""
        self._filter.reset()
        self._id.lose()

    def estimate(self, frame: Frame) -> list[Pose]:
        """The strongest pose in `frame`, or [] when its score is below threshold."""
        region = padded_square_region(frame.height, frame.width)
        self.last_regions = [CropBox(region)]
        keypoints = self._infer(frame.image, region)
        if keypoints is None:
            self._lose_person()
            return []
        scores = keypoints[:, 2]
        confident = scores[scores > MIN_BOX_KEYPOINT_SCORE]
        score = float(confident.mean()) if len(confident) else 0.0
        if score < self.settings.min_pose_score:
            self._lose_person()
            return []
        if self.settings.filter:
            keypoints[:, :2] = self._filter.apply(keypoints[:, :2], frame.ts)
        return [self._id.pose(keypoints, score, "coco17", MIN_BOX_KEYPOINT_SCORE)]

    def _infer(self, image: Image, region: CropRegion) -> Keypoints | None:
        warp_into(image, region, self._warped)
        bgr_to_input(self._warped, self._input)
        self.interpreter.set_tensor(self._input_index, self._input)
        self.interpreter.invoke()
        self.stats.invokes += 1
        heatmap = self.interpreter.get_tensor(self._heatmap_index)[0]
        offsets = self.interpreter.get_tensor(self._offsets_index)[0]
        if not (np.isfinite(heatmap).all() and np.isfinite(offsets).all()):
            self._invalid()
            return None
        decoded = decode_single_pose(heatmap, offsets, self.output_stride)
        # Pixel index → normalised input coordinates (pixel centres at +0.5).
        as_input = np.column_stack([(decoded[:, :2] + 0.5) / self.size, decoded[:, 2]])
        if not keypoints_valid(as_input):
            self._invalid()
            return None
        self.stats.consecutive_invalid = 0
        keypoints = np.empty((NUM_KEYPOINTS, 3), dtype=np.float32)
        keypoints[:, :2] = crop_to_frame(as_input[:, :2], region)
        keypoints[:, 2] = as_input[:, 2]
        return keypoints

    def _invalid(self) -> None:
        self.stats.invalid_outputs += 1
        self.stats.consecutive_invalid += 1
        logger.debug("%s: invalid output dropped (%d so far)", self.name, self.stats.invalid_outputs)
