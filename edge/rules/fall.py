"""`fall`: a rapid descent of the hip centre (torso lengths per second) together with the trunk
turning towards horizontal, confirmed by the person then staying down for `confirm_s`; or (`collapse`)
the same rapid descent without the turn, ending slumped on the floor (sitting, legs stretched out) or
lying, the way frail people fall: knees give way, they slide down a wall.

States: watching → (descent, with or without the turn) candidate → (on the floor for confirm_s within
confirm_window_s) fallen → (standing up for clear_s, or the track is lost) end. Bending (trunk turns,
hips do not drop), crouching (knees folded), sitting down on a chair (shins hang under the knees, the
ankles stay a shin below the hips) and lying down slowly (too slow) stay in "watching"; person_down
covers anyone who ends up lying on the floor without a seen fall."""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, replace
from typing import Any

from edge.rules import posture
from edge.rules.config import FallConfig, PostureConfig
from edge.rules.event import Event, OpenEvent
from edge.rules.geometry import Body, Point, distance
from edge.rules.rule import OneEventRule
from edge.rules.sustained import Sustained

logger = logging.getLogger(__name__)

CONFIRM_GAP_S = 0.5  # frames without a "down" reading bridged while confirming (missed keypoints)
LEVEL_WINDOW_S = 3.0  # how far back the track's own resting hip height (its highest hip) is looked for


@dataclass(frozen=True, slots=True)
class _Sample:
    ts: float
    hip_y: float  # pixels
    trunk_deg: float
    scale_px: float


@dataclass(frozen=True, slots=True)
class Impact:
    """What the descent looked like: the evidence a fall event carries. `kind` is "turn" when the trunk
    turned by min_trunk_turn_deg, "collapse" when it did not (the collapse path)."""

    kind: str
    ts: float
    descent_tl: float
    speed_tl_s: float
    trunk_turn_deg: float
    trunk_deg: float
    over_s: float

    def details(self) -> dict[str, Any]:
        """As event details."""
        return {
            "kind": self.kind,
            "impact_ts": self.ts,
            "descent_tl": self.descent_tl,
            "descent_speed_tl_s": self.speed_tl_s,
            "trunk_turn_deg": self.trunk_turn_deg,
            "trunk_deg_at_impact": self.trunk_deg,
            "descent_over_s": self.over_s,
        }


def find_impact(
    samples: list[_Sample], cfg: FallConfig, lying_deg: float, level_y: float | None = None
) -> Impact | None:
    """The fastest qualifying descent ending at the last sample: from some earlier sample within the
    window, taken while the person was not lying (trunk under `lying_deg`), the hip centre dropped
    ≥ min_descent_tl at ≥ min_descent_speed_tl_s while the trunk turned by ≥ min_trunk_turn_deg (a
    "turn" impact, preferred) or, with `collapse` on, without that turn (a "collapse" impact). With
    `max_start_drop_tl` the descent must start within that much of `level_y`, the track's highest hip
    over the last LEVEL_WINDOW_S: a fall is one drop from where the person was; a controlled lie-down
    pauses low (kneeling, sitting on the floor) before its last drop."""
    if len(samples) < 2:
        return None
    now = samples[-1]
    scale = max(s.scale_px for s in samples)  # the reference before the body foreshortens
    max_start = cfg.max_start_drop_tl
    best: Impact | None = None
    min_trunk = now.trunk_deg
    for earlier in reversed(samples[:-1]):
        min_trunk = min(min_trunk, earlier.trunk_deg)
        dt = now.ts - earlier.ts
        if dt <= 0.0:
            continue
        descent = (now.hip_y - earlier.hip_y) / scale
        speed = descent / dt
        turn = now.trunk_deg - min_trunk
        if descent < cfg.min_descent_tl or speed < cfg.min_descent_speed_tl_s:
            continue
        if earlier.trunk_deg >= lying_deg:
            continue
        if max_start is not None and level_y is not None and (earlier.hip_y - level_y) / scale > max_start:
            continue
        kind = "turn" if turn >= cfg.min_trunk_turn_deg else "collapse"
        if kind == "collapse" and not cfg.collapse:
            continue
        rank = (kind == "turn", speed)
        if best is None or rank > (best.kind == "turn", best.speed_tl_s):
            best = Impact(kind, now.ts, descent, speed, turn, now.trunk_deg, dt)
    return best


class FallRule(OneEventRule):
    """The fall state machine of one track."""

    def __init__(self, cfg: FallConfig, posture_cfg: PostureConfig, track_id: int, update_s: float) -> None:
        self.cfg = cfg
        self.posture = posture_cfg
        self.track_id = track_id
        self.update_s = update_s
        self.samples: deque[_Sample] = deque()
        self.levels: deque[tuple[float, float]] = deque()  # (ts, hip y) over LEVEL_WINDOW_S
        self.impact: Impact | None = None
        self.confirm = Sustained(cfg.confirm_s, CONFIRM_GAP_S)
        self.up = Sustained(cfg.clear_s, CONFIRM_GAP_S)
        self.open: OpenEvent | None = None
        self._last: Body | None = None
        self.landed: Point | None = None  # hip centre where the current confirmation run began

    def _details(self, body: Body, ts: float) -> dict[str, Any]:
        assert self.impact is not None
        return self.impact.details() | {
            "trunk_deg": body.trunk_deg,
            "down_s": ts - self.impact.ts,
            "lying": posture.lying(body, self.posture),
            "slumped": posture.slumped(body, self.posture),
            "ankle_drop_tl": body.ankle_drop_tl,
            "knee_deg": body.knee_deg,
        }

    def _on_floor(self, body: Body) -> bool:
        """Down (lying), or slumped on the floor when the collapse path is on: what confirms a fall."""
        if posture.down(body, self.posture):
            return True
        return self.cfg.collapse and posture.slumped(body, self.posture)

    def update(self, body: Body, applies: bool, frame: int, ts: float) -> list[Event]:
        """Advance on one frame."""
        self.samples.append(_Sample(ts, body.hip[1], body.trunk_deg, body.scale_px))
        while self.samples and ts - self.samples[0].ts > self.cfg.descent_window_s:
            self.samples.popleft()
        if self.cfg.max_start_drop_tl is not None:
            self.levels.append((ts, body.hip[1]))
            while ts - self.levels[0][0] > LEVEL_WINDOW_S:
                self.levels.popleft()
        self._last = body
        if self.open is not None:
            return self._while_fallen(body, applies and not posture.upright(body, self.posture), frame, ts)
        is_down = applies and self._on_floor(body)
        if self.impact is not None and ts - self.impact.ts > self.cfg.confirm_window_s:
            logger.debug("track %d: descent at %.2f s not confirmed", self.track_id, self.impact.ts)
            self.impact = None
        if applies:
            level_y = min(y for _, y in self.levels) if self.levels else None
            found = find_impact(list(self.samples), self.cfg, self.posture.lying_trunk_deg, level_y)
            if found is not None and self.impact is None:
                logger.debug(
                    "track %d: descent %.2f TL at %.2f TL/s",
                    self.track_id,
                    found.descent_tl,
                    found.speed_tl_s,
                )
                self.impact = found
                self.confirm = Sustained(self.cfg.confirm_s, CONFIRM_GAP_S)
            elif found is not None and self.impact is not None and self._stronger(found, self.impact):
                self.impact = replace(found, ts=self.impact.ts)  # the best reading; the time it began
        if self.impact is None:
            return []
        if is_down and self.impact.kind == "collapse":
            is_down = self._stays_put(body)
        if self.confirm.update(ts, is_down) == "on":
            self.open = OpenEvent("fall", self.track_id, self.impact.ts, "critical")
            self.up = Sustained(self.cfg.clear_s, CONFIRM_GAP_S)
            logger.info("track %d: fall at %.2f s confirmed", self.track_id, self.impact.ts)
            return [self.open.start(frame, ts, body.score, self._details(body, ts))]
        if self.impact.kind == "collapse" and ts - self.impact.ts > self.cfg.descent_window_s:
            settled = self.confirm.since
            if settled is None or settled > self.impact.ts + self.cfg.descent_window_s:
                # a collapse must end on the floor: crouching fast, then sitting down later, is no fall
                logger.debug(
                    "track %d: descent at %.2f s did not end on the floor", self.track_id, self.impact.ts
                )
                self.impact = None
        return []

    def _stays_put(self, body: Body) -> bool:
        """While a collapse is confirmed the hip centre stays within collapse_max_drift_tl of where the
        run began; moving further starts the run again from here (someone walking on is no fall)."""
        if self.landed is None or self.confirm.since is None:
            self.landed = body.hip
            return True
        if distance(body.hip, self.landed) <= self.cfg.collapse_max_drift_tl * body.scale_px:
            return True
        self.landed = body.hip
        self.confirm = Sustained(self.cfg.confirm_s, CONFIRM_GAP_S)
        return False

    @staticmethod
    def _stronger(found: Impact, held: Impact) -> bool:
        """A turn beats a collapse; then the faster descent."""
        return (found.kind == "turn", found.speed_tl_s) > (held.kind == "turn", held.speed_tl_s)

    def _while_fallen(self, body: Body, is_down: bool, frame: int, ts: float) -> list[Event]:
        """The fall lasts until the person stands again (upright) for clear_s: sitting up after a fall,
        or sitting on the floor after a collapse, is still the fall."""
        assert self.open is not None
        if self.up.update(ts, not is_down) == "on":
            event = self.open.end(frame, ts, body.score, self._details(body, ts) | {"reason": "up"})
            self.open = None
            self.impact = None
            self.samples.clear()
            self.levels.clear()
            return [event]
        if is_down and self.open.update_due(ts, self.update_s):
            return [self.open.update(frame, ts, body.score, self._details(body, ts))]
        return []
