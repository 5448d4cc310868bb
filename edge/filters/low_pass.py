"""Exponential low-pass filter: the crop region's smoothing (tfjs MoveNet uses alpha 0.9 per edge)."""

from __future__ import annotations

from collections.abc import Sequence


class LowPassFilter:
    """`y = alpha * x + (1 - alpha) * y_prev` per value; the first values pass through. Plain Python:
    it smooths a handful of numbers per frame, where numpy's per-call cost outweighs its arithmetic."""

    def __init__(self, alpha: float) -> None:
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {alpha}")
        self.alpha = alpha
        self._y: list[float] | None = None

    def reset(self) -> None:
        """Forget the previous value."""
        self._y = None

    def apply(self, value: Sequence[float]) -> list[float]:
        """Smooth `value` against the previous output."""
        a, b = self.alpha, 1.0 - self.alpha
        x = [float(v) for v in value]
        self._y = x if self._y is None else [a * v + b * y for v, y in zip(x, self._y, strict=True)]
        return list(self._y)
