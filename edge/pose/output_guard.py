"""Guard against invalid model output: non-finite or out-of-range values are dropped and counted,
never published (a quantised or corrupt model can emit NaN or garbage)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

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


def keypoints_valid(raw: NDArray[np.floating]) -> bool:
    """True when a (..., 3) array of (y, x, score) is finite, coordinates within the accepted range
    and scores within [0, 1]."""
    if not np.isfinite(raw).all():
        return False
    coords = raw[..., :2]
    scores = raw[..., 2]
    return bool(
        coords.min() >= COORD_MIN
        and coords.max() <= COORD_MAX
        and scores.min() >= 0.0
        and scores.max() <= 1.0
    )
