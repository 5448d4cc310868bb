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
    """Filter constants, time in seconds. The tuned values live with each model family's settings
    (edge/pose/settings.py, the `pose:` config section); this class only carries them."""

    min_cutoff: float  # Hz, cut-off at rest: lower = smoother, more lag
    beta: float  # cut-off increase per unit of speed (value units per second): less lag when moving
    derivative_cutoff: float  # Hz, smoothing of the speed estimate


def _alpha(cutoff: float, frequency: float) -> float:
    """Exponential smoothing factor for a first-order low-pass at `cutoff` Hz sampled at `frequency`."""
    tau = 1.0 / (2.0 * math.pi * cutoff)
    te = 1.0 / frequency
    return 1.0 / (1.0 + tau / te)


class OneEuroFilter:
    """One Euro filter over a fixed-shape array. `apply(value, t)` returns the filtered array.

    The state is kept as plain Python floats and updated in one loop: a pose has a few dozen
    coordinates, where numpy's per-call cost (about twenty calls per frame) outweighs its arithmetic."""

    def __init__(self, params: OneEuroParams) -> None:
        self.params = params
        self.reset()

    def reset(self) -> None:
        """Forget all history: the next value passes through unchanged."""
        self._last_t: float | None = None
        self._shape: tuple[int, ...] | None = None
        self._raw: list[float] = []  # last raw input, for the speed estimate
        self._x: list[float] = []  # last output
        self._dx: list[float] = []  # smoothed speed, units per second

    def apply(self, value: NDArray[np.floating], t: float) -> FloatArray:
        """Filter `value` observed at time `t` seconds."""
        x = np.asarray(value, dtype=np.float64)
        if self._last_t is not None and t <= self._last_t:
            return x.copy()
        raw: list[float] = x.ravel().tolist()
        if self._last_t is None or self._shape != x.shape:
            self._shape, self._raw, self._x, self._dx = x.shape, raw, list(raw), [0.0] * len(raw)
            self._last_t = t
            return x.copy()
        frequency = 1.0 / (t - self._last_t)  # re-estimated from every timestamp delta
        self._last_t = t
        p = self.params
        alpha_dx = _alpha(p.derivative_cutoff, frequency)
        out: list[float] = []
        speeds: list[float] = []
        two_pi, te = 2.0 * math.pi, 1.0 / frequency
        for v, last_raw, last_dx, last_x in zip(raw, self._raw, self._dx, self._x, strict=True):
            dx = last_dx + alpha_dx * ((v - last_raw) * frequency - last_dx)
            speeds.append(dx)
            tau = 1.0 / (two_pi * (p.min_cutoff + p.beta * abs(dx)))  # _alpha(cutoff, frequency), inlined
            out.append(last_x + 1.0 / (1.0 + tau / te) * (v - last_x))
        self._raw, self._dx, self._x = raw, speeds, out
        return np.array(out, dtype=np.float64).reshape(x.shape)
