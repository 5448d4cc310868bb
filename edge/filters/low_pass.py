"""Exponential low-pass filter: the crop region's smoothing (tfjs MoveNet uses alpha 0.9 per edge)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


class LowPassFilter:
    """`y = alpha * x + (1 - alpha) * y_prev`; the first value passes through. Works on arrays."""

    def __init__(self, alpha: float) -> None:
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {alpha}")
        self.alpha = alpha
        self._y: NDArray[np.float64] | None = None

    def reset(self) -> None:
        """Forget the previous value."""
        self._y = None

    def apply(self, value: NDArray[np.floating]) -> NDArray[np.float64]:
        """Smooth `value` against the previous output."""
        x = np.asarray(value, dtype=np.float64)
        self._y = x.copy() if self._y is None else self.alpha * x + (1.0 - self.alpha) * self._y
        return self._y.copy()
