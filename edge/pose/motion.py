"""Where the frame changed since the last one: cheap frame differencing that tells discovery where a
person may have walked in, and when the whole scene changed (the camera moved, lights switched).

On a small grey copy of the frame (every step-th pixel, 160–320 px wide, taken by a nearest-neighbour
resize: 0.02–0.03 ms for 768×576 and 1080p alike, against 0.06–0.12 ms for the same pixels copied from a
strided view and 0.4–1.6 ms for an averaging resize; the width matters: 160 px instead of 192 for
768×576 cost vtest.avi 8.8 → 10.4 identity switches a minute): absolute difference against the previous copy, threshold, dilate, connected components. Regions are returned in
frame-normalised coordinates; the front-end ignores those its tracks already explain."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np
from numpy.typing import NDArray

from edge.types import Image

TARGET_WIDTH: Final = 160  # px of the grey copy's width: a walker 60 px tall in 1080p is ~5 px there
DIFF_THRESHOLD: Final = 15  # grey levels: above camera noise and compression flicker on our clips
# (25 missed people entering through a dark doorway in the URFD bedroom clips for 1-2 s)
MIN_AREA_FRACTION: Final = 0.0004  # of the copy: smaller blobs are noise (1080p: a ~40×40 px patch)
SCENE_CHANGE_FRACTION: Final = 0.4  # more of the frame changed than this: a new scene, sweep everything


@dataclass(frozen=True, slots=True)
class Motion:
    """Changed regions (x0, y0, x1, y1, frame-normalised) and the share of the frame that changed."""

    regions: list[tuple[float, float, float, float]]
    changed_fraction: float

    @property
    def scene_changed(self) -> bool:
        """True when so much changed that every person may have moved: rediscover everything."""
        return self.changed_fraction > SCENE_CHANGE_FRACTION


class MotionDetector:
    """Frame differencing against the previous frame; `reset()` for a new source."""

    def __init__(self) -> None:
        self._previous: NDArray[np.uint8] | None = None
        self._kernel = np.ones((3, 3), np.uint8)

    def reset(self) -> None:
        """Forget the previous frame (the next one reports no motion)."""
        self._previous = None

    def update(self, image: Image) -> Motion:
        """Motion between the previous frame and `image`."""
        h, w = image.shape[:2]
        step = max(1, w // TARGET_WIDTH)  # a whole-pixel step: every step-th pixel, as a strided copy
        size = (max(1, w // step), max(1, h // step))
        small = cv2.cvtColor(cv2.resize(image, size, interpolation=cv2.INTER_NEAREST), cv2.COLOR_BGR2GRAY)
        grey = np.asarray(cv2.GaussianBlur(small, (3, 3), 0), dtype=np.uint8)
        previous, self._previous = self._previous, grey
        if previous is None or previous.shape != grey.shape:
            return Motion([], 0.0)
        diff = cv2.absdiff(grey, previous)
        _, mask = cv2.threshold(diff, DIFF_THRESHOLD, 255, cv2.THRESH_BINARY)
        mask = cv2.dilate(mask, self._kernel, iterations=2)
        h, w = mask.shape
        changed = float(np.count_nonzero(mask)) / (h * w)
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        min_area = MIN_AREA_FRACTION * h * w
        regions = [
            (x / w, y / h, (x + bw) / w, (y + bh) / h)
            for x, y, bw, bh, area in stats[1:count].tolist()
            if area >= min_area
        ]
        return Motion(regions, changed)
