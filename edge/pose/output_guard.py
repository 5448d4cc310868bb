"""Guard against invalid model output: non-finite or out-of-range values are dropped and counted,
never published (a quantised or corrupt model can emit NaN or garbage)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from edge.types import Pose

# Model coordinates are normalised to the model input; regressed keypoints may overshoot the crop
# a little (a limb leaving the crop), but anything past half a crop outside is garbage.
COORD_MIN = -0.5
COORD_MAX = 1.5


@dataclass(slots=True)
class OutputStats:
    """Counters an estimator keeps: invokes run and outputs rejected by the guard."""

    invokes: int = 0
    invalid_outputs: int = 0
    consecutive_invalid: int = 0


def keypoints_valid(raw: NDArray[np.floating] | Sequence[Sequence[float]]) -> bool:
    """True when a (..., 3) array (or rows) of (y, x, score) is finite, coordinates within the accepted
    range and scores within [0, 1]. Checked on plain floats, where NaN fails every comparison: a
    pose is a few dozen values, too few for numpy's per-call cost to pay."""
    rows = raw.reshape(-1, 3).tolist() if isinstance(raw, np.ndarray) else raw
    return all(
        COORD_MIN <= y <= COORD_MAX and COORD_MIN <= x <= COORD_MAX and 0.0 <= s <= 1.0 for y, x, s in rows
    )


# Published keypoints are frame-normalised; a limb may reach past the frame edge (the crop can
# extend beyond it), but not by more than the frame itself.
FRAME_COORD_MIN = -1.0
FRAME_COORD_MAX = 2.0


def pose_valid(pose: Pose) -> bool:
    """The last check before a pose is published: finite keypoints within FRAME_COORD_MIN..MAX of
    the frame, keypoint and pose scores within [0, 1]."""
    kps = pose.keypoints
    if kps.ndim != 2 or kps.shape[1] != 3 or not np.isfinite(kps).all() or not np.isfinite(pose.score):
        return False
    return bool(
        kps[:, :2].min() >= FRAME_COORD_MIN
        and kps[:, :2].max() <= FRAME_COORD_MAX
        and kps[:, 2].min() >= 0.0
        and kps[:, 2].max() <= 1.0
        and 0.0 <= pose.score <= 1.0
        and np.isfinite(pose.bbox).all()
    )
