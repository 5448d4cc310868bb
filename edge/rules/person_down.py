"""`person_down`: someone lying (or, if configured, sitting) on the floor longer than `min_duration_s`,
whether or not the fall was seen. On while they are down, off when they are up: the sensor users ask
for. Severity goes from warning to critical after `critical_after_s`."""

from __future__ import annotations

import logging
from typing import Any

from edge.rules import posture
from edge.rules.config import PersonDownConfig, PostureConfig
from edge.rules.event import Event, OpenEvent
from edge.rules.geometry import Body
from edge.rules.rule import OneEventRule
from edge.rules.sustained import Sustained

logger = logging.getLogger(__name__)


class PersonDownRule(OneEventRule):
    """The person-down state machine of one track."""

    def __init__(
        self, cfg: PersonDownConfig, posture_cfg: PostureConfig, track_id: int, update_s: float
    ) -> None:
        self.cfg = cfg
        self.posture = posture_cfg
        self.track_id = track_id
        self.update_s = update_s
        self.down = Sustained(cfg.min_duration_s, cfg.clear_s)
        self.open: OpenEvent | None = None
        self._last: Body | None = None

    def _details(self, body: Body, ts: float) -> dict[str, Any]:
        since = self.down.since if self.down.since is not None else ts
        return {
            "down_s": ts - since,
            "trunk_deg": body.trunk_deg,
            "ankle_drop_tl": body.ankle_drop_tl,
            "lying": posture.lying(body, self.posture),
            "min_duration_s": self.cfg.min_duration_s,
        }

    def update(self, body: Body, applies: bool, frame: int, ts: float) -> list[Event]:
        """Advance on one frame."""
        is_down = applies and posture.down(body, self.posture)
        change = self.down.update(ts, is_down)
        if is_down:
            self._last = body
        events: list[Event] = []
        if change == "on":
            start = self.down.since if self.down.since is not None else ts
            critical = ts - start >= self.cfg.critical_after_s
            self.open = OpenEvent("person_down", self.track_id, start, "critical" if critical else "warning")
            events.append(self.open.start(frame, ts, body.score, self._details(body, ts)))
            logger.info("track %d: person down since %.2f s", self.track_id, start)
        elif change == "off" and self.open is not None:
            details = self._details(self._last or body, ts) | {"reason": "up"}
            events.append(self.open.end(frame, ts, body.score, details))
            self.open = None
        elif self.open is not None and is_down:
            escalate = (
                self.open.severity == "warning" and ts - self.open.start_ts >= self.cfg.critical_after_s
            )
            if escalate:
                self.open.severity = "critical"
            if escalate or self.open.update_due(ts, self.update_s):
                events.append(self.open.update(frame, ts, body.score, self._details(body, ts)))
        return events
