"""`repetitive_motion`: bend-and-lift cycles counted per track over a sliding window; the event is on
while the rate is above `max_cycles_per_min`.

A cycle is the trunk going past `bend_deg` and back under `lift_deg` (hysteresis, so a wobble at one
threshold is not counted twice), taking at least `min_cycle_s`."""

from __future__ import annotations

from collections import deque
from typing import Any

from edge.rules import posture
from edge.rules.config import PostureConfig, RepetitiveMotionConfig
from edge.rules.event import Event, OpenEvent
from edge.rules.geometry import Body
from edge.rules.rule import OneEventRule


class RepetitiveMotionRule(OneEventRule):
    """The cycle counter of one track."""

    def __init__(
        self, cfg: RepetitiveMotionConfig, posture_cfg: PostureConfig, track_id: int, update_s: float
    ) -> None:
        self.cfg = cfg
        self.posture = posture_cfg
        self.track_id = track_id
        self.update_s = update_s
        self.bent_since: float | None = None
        self.max_trunk = 0.0
        self.cycles: deque[tuple[float, float, float]] = deque()  # (end ts, duration s, deepest trunk deg)
        self.total = 0
        self.open: OpenEvent | None = None
        self._last: Body | None = None

    def rate_per_min(self) -> float:
        """Cycles per minute over the window (a partly filled window counts as full: no early alarm)."""
        return len(self.cycles) * 60.0 / self.cfg.window_s

    def _details(self, body: Body, ts: float) -> dict[str, Any]:
        durations = [c[1] for c in self.cycles]
        return {
            "cycles_in_window": len(self.cycles),
            "cycles_total": self.total,
            "rate_per_min": self.rate_per_min(),
            "max_cycles_per_min": self.cfg.max_cycles_per_min,
            "window_s": self.cfg.window_s,
            "mean_cycle_s": sum(durations) / len(durations) if durations else 0.0,
            "deepest_trunk_deg": max((c[2] for c in self.cycles), default=0.0),
        }

    def update(self, body: Body, applies: bool, frame: int, ts: float) -> list[Event]:
        """Advance on one frame."""
        self._last = body
        trunk = body.trunk_deg
        if not applies or posture.lying(body, self.posture):
            self.bent_since = None
        elif self.bent_since is None and trunk >= self.cfg.bend_deg:
            self.bent_since, self.max_trunk = ts, trunk
        elif self.bent_since is not None:
            self.max_trunk = max(self.max_trunk, trunk)
            if trunk <= self.cfg.lift_deg:
                if ts - self.bent_since >= self.cfg.min_cycle_s:
                    self.cycles.append((ts, ts - self.bent_since, self.max_trunk))
                    self.total += 1
                self.bent_since = None
        while self.cycles and ts - self.cycles[0][0] > self.cfg.window_s:
            self.cycles.popleft()
        above = self.rate_per_min() > self.cfg.max_cycles_per_min
        if above and self.open is None:
            first = self.cycles[0][0] - self.cycles[0][1]
            self.open = OpenEvent("repetitive_motion", self.track_id, first, "warning")
            return [self.open.start(frame, ts, body.score, self._details(body, ts))]
        if not above and self.open is not None:
            event = self.open.end(frame, ts, body.score, self._details(body, ts) | {"reason": "rate_dropped"})
            self.open = None
            return [event]
        if self.open is not None and self.open.update_due(ts, self.update_s):
            return [self.open.update(frame, ts, body.score, self._details(body, ts))]
        return []
