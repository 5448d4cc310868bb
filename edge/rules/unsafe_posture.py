"""`unsafe_posture`: sustained trunk flexion, arms raised above the shoulders, and kneeling or deep
squatting, each with its own minimum duration and its own event (details.posture says which).

From one 2D view trunk flexion and upper-arm elevation are the robust parts of RULA/REBA, so the
details carry a REBA-style trunk + upper-arm score (2..8) next to the raw angles. A lying person is
person_down's business, not an unsafe posture."""

from __future__ import annotations

from typing import Any, Literal

from edge.rules import posture
from edge.rules.config import PostureConfig, UnsafePostureConfig
from edge.rules.event import Event, OpenEvent
from edge.rules.geometry import Body, reba_trunk_score, reba_upper_arm_score
from edge.rules.sustained import Sustained

PostureKind = Literal["trunk_flexion", "arms_raised", "kneeling_squat"]
POSTURES: tuple[PostureKind, ...] = ("trunk_flexion", "arms_raised", "kneeling_squat")


def reba_scores(body: Body) -> tuple[int, int]:
    """REBA-style trunk and upper-arm scores of a body (their sum is the trunk + arm score)."""
    return reba_trunk_score(body.trunk_deg), reba_upper_arm_score(body.arm_deg)


def reba_details(body: Body) -> dict[str, Any]:
    """The angles and REBA-style scores of a body."""
    trunk, arm = reba_scores(body)
    return {
        "trunk_deg": body.trunk_deg,
        "upper_arm_left_deg": body.arm_left_deg,
        "upper_arm_right_deg": body.arm_right_deg,
        "reba_trunk": trunk,
        "reba_upper_arm": arm,
        "reba_trunk_arm": trunk + arm,
    }


def in_posture(kind: PostureKind, body: Body, cfg: UnsafePostureConfig, pcfg: PostureConfig) -> bool:
    """Whether `body` is in the posture `kind` in this frame."""
    if posture.lying(body, pcfg):
        return False
    if kind == "trunk_flexion":
        return body.trunk_deg >= cfg.trunk_flexion_deg and not posture.trunk_end_on(body, pcfg)
    if kind == "arms_raised":
        arm = body.arm_deg
        return arm is not None and arm >= cfg.arm_raise_deg
    legs_seen = body.leg_score >= pcfg.min_leg_score and body.trunk_deg < pcfg.lying_trunk_deg
    # squatting and kneeling fold the knees; a straight leg there is sitting on the floor, legs stretched out
    folded = body.knee_deg is None or body.knee_deg < pcfg.slumped_min_knee_deg
    squat = body.ankle_drop_tl is not None and body.ankle_drop_tl <= cfg.squat_ankle_drop_tl
    kneel = body.shin_drop_tl is not None and body.shin_drop_tl <= cfg.kneel_shin_drop_tl
    return legs_seen and folded and (squat or kneel)


class UnsafePostureRule:
    """The three posture state machines of one track."""

    def __init__(
        self, cfg: UnsafePostureConfig, posture_cfg: PostureConfig, track_id: int, update_s: float
    ) -> None:
        self.cfg = cfg
        self.posture = posture_cfg
        self.track_id = track_id
        self.update_s = update_s
        durations = {
            "trunk_flexion": cfg.trunk_min_duration_s,
            "arms_raised": cfg.arms_min_duration_s,
            "kneeling_squat": cfg.kneel_min_duration_s,
        }
        self.held = {kind: Sustained(durations[kind], cfg.clear_s) for kind in POSTURES}
        self.open: dict[PostureKind, OpenEvent] = {}
        self.worst: dict[PostureKind, int] = {}
        self._last: Body | None = None

    def _details(self, kind: PostureKind, body: Body, ts: float) -> dict[str, Any]:
        start = self.open[kind].start_ts if kind in self.open else ts
        return {"posture": kind, "held_s": ts - start, "worst_reba_trunk_arm": self.worst.get(kind, 0)} | (
            reba_details(body)
        )

    def update(self, body: Body, applies: bool, frame: int, ts: float) -> list[Event]:
        """Advance on one frame."""
        self._last = body
        events: list[Event] = []
        score = sum(reba_scores(body))  # once per frame, shared by the three postures
        for kind in POSTURES:
            now = applies and in_posture(kind, body, self.cfg, self.posture)
            change = self.held[kind].update(ts, now)
            if change == "on":
                since = self.held[kind].since
                self.open[kind] = OpenEvent(
                    "unsafe_posture", self.track_id, since if since is not None else ts, "warning"
                )
                self.worst[kind] = score
                events.append(self.open[kind].start(frame, ts, body.score, self._details(kind, body, ts)))
            elif change == "off" and kind in self.open:
                details = self._details(kind, body, ts) | {"reason": "posture_ended"}
                events.append(self.open.pop(kind).end(frame, ts, body.score, details))
            elif kind in self.open and now:
                self.worst[kind] = max(self.worst[kind], score)
                if self.open[kind].update_due(ts, self.update_s):
                    events.append(
                        self.open[kind].update(frame, ts, body.score, self._details(kind, body, ts))
                    )
        return events

    def rename(self, track_id: int) -> None:
        """Continue under a new track id."""
        self.track_id = track_id
        for event in self.open.values():
            event.track_id = track_id

    def finish(self, frame: int, ts: float, reason: str) -> list[Event]:
        """End every open posture event."""
        if self._last is None:
            return []
        body = self._last
        events = [
            self.open[kind].end(frame, ts, body.score, self._details(kind, body, ts) | {"reason": reason})
            for kind in POSTURES
            if kind in self.open
        ]
        self.open.clear()
        return events
