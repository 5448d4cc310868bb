"""Decides which pose messages reach the broker, so a fleet of cameras does not flood it: at most
`max_rate_hz` per second, and optionally only when something changed (people came or went, or a
confident keypoint moved noticeably)."""

from __future__ import annotations

import time
from typing import Any

# A keypoint counts for change detection at this score (MoveNet's own keypoint threshold in the tfjs
# demos is 0.3).
CHANGE_MIN_KEYPOINT_SCORE = 0.3
# Movement that counts as a change: 2 % of the frame in x or y (about 13 px on a 640-px-wide frame),
# well above the jitter left by the One Euro filter on a still person.
CHANGE_MIN_DELTA = 0.02


def _signature(payload: dict[str, Any]) -> dict[Any, list[tuple[float, float] | None]]:
    poses = payload.get("poses", [])
    signature: dict[Any, list[tuple[float, float] | None]] = {}
    for index, pose in enumerate(poses):
        key = pose.get("track_id", f"#{index}")
        signature[key] = [
            (float(x), float(y)) if float(s) >= CHANGE_MIN_KEYPOINT_SCORE else None
            for x, y, s in pose.get("keypoints", [])
        ]
    return signature


def changed(previous: dict[str, Any] | None, current: dict[str, Any]) -> bool:
    """True when the people in view differ or a confident keypoint moved by at least CHANGE_MIN_DELTA."""
    if previous is None:
        return True
    before, after = _signature(previous), _signature(current)
    if before.keys() != after.keys():
        return True
    for key, points in after.items():
        old = before[key]
        if len(old) != len(points):
            return True
        for a, b in zip(old, points, strict=True):
            if (a is None) != (b is None):
                return True
            if (
                a is not None
                and b is not None
                and max(abs(a[0] - b[0]), abs(a[1] - b[1])) >= CHANGE_MIN_DELTA
            ):
                return True
    return False


class PoseGate:
    """`admit(payload)` says whether to publish this pose message; `rate_limited` and `unchanged`
    count what it held back. Rate is measured on the monotonic clock (broker load is per real second)."""

    def __init__(self, max_rate_hz: float | None, only_changes: bool = False) -> None:
        self.min_interval_s = 1.0 / max_rate_hz if max_rate_hz else 0.0
        self.only_changes = only_changes
        self.rate_limited = 0
        self.unchanged = 0
        self._last_t: float | None = None
        self._last_payload: dict[str, Any] | None = None

    def admit(self, payload: dict[str, Any], now: float | None = None) -> bool:
        """True if the message should be published now (and remember it as the last one sent)."""
        now = time.monotonic() if now is None else now
        if self._last_t is not None and now - self._last_t < self.min_interval_s:
            self.rate_limited += 1
            return False
        if self.only_changes and not changed(self._last_payload, payload):
            self.unchanged += 1
            return False
        self._last_t = now
        self._last_payload = payload
        return True
