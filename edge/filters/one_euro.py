"""One Euro filter (Casiez, Roussel, Vogel, CHI 2012), vectorised over an array of coordinates.

Smooths jitter at rest (low cut-off) and follows fast motion (cut-off rises with speed). Time comes
from the frame: the sampling frequency is re-estimated from timestamp deltas, and a non-increasing
timestamp passes the value through unchanged and leaves the state alone."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class OneEuroParams:
    """Filter constants for values normalised to the frame, time in seconds.

    tfjs MoveNet uses min_cutoff 2.5, beta 300 (KEYPOINT_FILTER_CONFIG); on our real clips that beta
    lets model jitter through (jitter -24 % on video_3.mp4). min_cutoff 2.0, beta 20 cut jitter by
    about half there and on the demo clip while a fall (about 1 frame height per second) still raises
    the cut-off above 20 Hz; figures and the sweep are in docs/accuracy.md."""

    frequency: float = 30.0  # Hz, initial guess until two timestamps are seen
    min_cutoff: float = 2.0  # Hz, cut-off at rest: lower = smoother, more lag (tfjs: 2.5)
    beta: float = 20.0  # cut-off increase per (frame fraction / s) of speed: less lag when moving (tfjs: 300)
    derivative_cutoff: float = 2.5  # Hz, smoothing of the speed estimate (tfjs: 2.5)


def _alpha(cutoff: FloatArray | float, frequency: float) -> FloatArray | float:
    """Exponential smoothing factor for a first-order low-pass at `cutoff` Hz sampled at `frequency`."""
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff))
    te = 1.0 / frequency
    result: FloatArray | float = 1.0 / (1.0 + tau / te)
    return result


class OneEuroFilter:
    """One Euro filter over a fixed-shape array. `apply(value, t)` returns the filtered array."""

    def __init__(self, params: OneEuroParams | None = None) -> None:
        self.params = params or OneEuroParams()
        self.reset()

    def reset(self) -> None:
        """Forget all history: the next value passes through unchanged."""
        self._frequency = self.params.frequency
        self._last_t: float | None = None
        self._raw: FloatArray | None = None  # last raw input, for the speed estimate
        self._x: FloatArray | None = None  # last output
        self._dx: FloatArray | None = None  # smoothed speed, units per second

    def apply(self, value: NDArray[np.floating], t: float) -> FloatArray:
        """Filter `value` observed at time `t` seconds."""
        x = np.asarray(value, dtype=np.float64)
        if self._last_t is not None and t <= self._last_t:
            return x.copy()
        if self._x is None or self._raw is None or self._dx is None or self._x.shape != x.shape:
            self._raw, self._x, self._dx = x.copy(), x.copy(), np.zeros_like(x)
            self._last_t = t
            return x.copy()
        if self._last_t is not None:
            self._frequency = 1.0 / (t - self._last_t)
        self._last_t = t
        raw_dx = (x - self._raw) * self._frequency
        self._dx = self._dx + _alpha(self.params.derivative_cutoff, self._frequency) * (raw_dx - self._dx)
        cutoff = self.params.min_cutoff + self.params.beta * np.abs(self._dx)
        self._x = self._x + _alpha(cutoff, self._frequency) * (x - self._x)
        self._raw = x.copy()
        return self._x.copy()
