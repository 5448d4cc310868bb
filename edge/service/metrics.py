"""Frame-loop figures for STATUS= and the stats message: fps over a sliding window and p50/p95 of
the inference and whole-pipeline times. Uses the monotonic clock (health and metrics only)."""

from __future__ import annotations

import time
from collections import deque

import numpy as np

WINDOW_S = 10.0  # fps is frames over the last 10 s: steady, yet shows a stall within seconds
MAX_SAMPLES = 2048  # latency samples kept for the percentiles (bounded memory)


class FrameMetrics:
    """Counts processed frames and keeps recent timings."""

    def __init__(self) -> None:
        self.started_mono = time.monotonic()
        self.frames = 0
        self.last_frame_mono: float | None = None
        self._times: deque[float] = deque()
        self._inference_ms: deque[float] = deque(maxlen=MAX_SAMPLES)
        self._pipeline_ms: deque[float] = deque(maxlen=MAX_SAMPLES)

    def record(self, inference_ms: float, pipeline_ms: float, now: float | None = None) -> None:
        """One processed frame."""
        t = time.monotonic() if now is None else now
        self.frames += 1
        self.last_frame_mono = t
        self._times.append(t)
        self._trim(t)
        self._inference_ms.append(inference_ms)
        self._pipeline_ms.append(pipeline_ms)

    def _trim(self, now: float) -> None:
        while self._times and self._times[0] < now - WINDOW_S:
            self._times.popleft()

    def fps(self, now: float | None = None) -> float:
        """Frames per second over the last WINDOW_S (or since start, if shorter)."""
        t = time.monotonic() if now is None else now
        self._trim(t)
        span = min(WINDOW_S, t - self.started_mono)
        return len(self._times) / span if span > 0 else 0.0

    @staticmethod
    def _percentiles(samples: deque[float]) -> tuple[float, float]:
        if not samples:
            return 0.0, 0.0
        p50, p95 = np.percentile(np.fromiter(samples, dtype=np.float64), [50, 95])
        return float(p50), float(p95)

    def inference_ms(self) -> tuple[float, float]:
        """(p50, p95) of model time per frame, ms."""
        return self._percentiles(self._inference_ms)

    def pipeline_ms(self) -> tuple[float, float]:
        """(p50, p95) of the whole per-frame pipeline, ms."""
        return self._percentiles(self._pipeline_ms)

    @property
    def uptime_s(self) -> float:
        """Seconds since start."""
        return time.monotonic() - self.started_mono
