"""`fall` by the learned model: every frame the track's last 1.5 s of motion (`FallWindow`) is scored by
the fall model; the event starts at the first frame whose probability reaches the threshold (the
impact: no confirmation wait) and lasts until the person stands again for `clear_s` or the track is
lost, as with the rule detector.

The window survives a handover (the engine re-keys a lost track's rules to the new id that appears
near it), so a fall seen on a track lost mid-fall and re-acquired on the floor under a new id is one
continuous descent. A jump of the torso length between two frames (a shot cut, a switch to another
person) clears the window: the motion before it is not this person's."""

from __future__ import annotations

import logging
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from edge.rules import posture
from edge.rules.config import FallConfig, PostureConfig
from edge.rules.event import Event, OpenEvent
from edge.rules.fall_features import FEATURE_NAMES, FallSample, FallWindow
from edge.rules.geometry import Body, jumped
from edge.rules.rule import OneEventRule
from edge.rules.sustained import Sustained

logger = logging.getLogger(__name__)

CLEAR_GAP_S = 0.5  # frames without an "upright" reading bridged while the event is clearing
DETAIL_FEATURES = ("hip_drop_tl", "hip_speed_max_tl_s", "trunk_now_deg", "trunk_turn_deg", "max_gap_s")


class FallScorer(Protocol):
    """What the rule needs from a model: a probability per feature vector and its tuned threshold."""

    @property
    def threshold(self) -> float: ...

    def probability(self, x: NDArray[np.float64]) -> float: ...


class LearnedFallRule(OneEventRule):
    """The learned-fall state machine of one track."""

    def __init__(
        self, cfg: FallConfig, posture_cfg: PostureConfig, scorer: FallScorer, track_id: int, update_s: float
    ) -> None:
        self.cfg = cfg
        self.posture = posture_cfg
        self.scorer = scorer
        self.threshold = cfg.min_probability if cfg.min_probability is not None else scorer.threshold
        self.track_id = track_id
        self.update_s = update_s
        self.window = FallWindow()
        self.open: OpenEvent | None = None
        self.up = Sustained(cfg.clear_s, CLEAR_GAP_S)
        self._last: Body | None = None
        self._start_details: dict[str, Any] = {}

    def _jumped(self, body: Body) -> bool:
        return self._last is not None and jumped(self._last, body, self.cfg.jump_scale_ratio)

    def update(self, body: Body, applies: bool, frame: int, ts: float) -> list[Event]:
        """Advance on one frame."""
        sample = FallSample.of(body, ts)
        if self._jumped(body):
            logger.debug("track %d: the picture jumped at %.2f s; motion history cleared", self.track_id, ts)
            self.window.clear()
        self._last = body
        self.window.add(sample)
        if self.open is not None:
            return self._while_fallen(body, applies, frame, ts)
        if not applies:
            return []
        x = self.window.features()
        if x is None:
            return []
        p = self.scorer.probability(x)
        if p < self.threshold:
            return []
        self._start_details = {"probability": p, "detector": "model"} | {
            name: float(x[FEATURE_NAMES.index(name)]) for name in DETAIL_FEATURES
        }
        self.open = OpenEvent("fall", self.track_id, ts, "critical")
        self.up = Sustained(self.cfg.clear_s, CLEAR_GAP_S)
        logger.info("track %d: fall at %.2f s (p=%.2f)", self.track_id, ts, p)
        return [self.open.start(frame, ts, body.score, self._details(body, ts))]

    def _details(self, body: Body, ts: float) -> dict[str, Any]:
        assert self.open is not None
        return self._start_details | {
            "impact_ts": self.open.start_ts,
            "down_s": ts - self.open.start_ts,
            "trunk_deg": body.trunk_deg,
            "lying": posture.lying(body, self.posture),
        }

    def _while_fallen(self, body: Body, applies: bool, frame: int, ts: float) -> list[Event]:
        """The fall lasts until the person stands again (upright) for clear_s."""
        assert self.open is not None
        standing = applies and posture.upright(body, self.posture)
        if self.up.update(ts, standing) == "on":
            event = self.open.end(frame, ts, body.score, self._details(body, ts) | {"reason": "up"})
            self.open = None
            self.window.clear()  # the descent that raised this event is spent
            return [event]
        if self.open.update_due(ts, self.update_s):
            return [self.open.update(frame, ts, body.score, self._details(body, ts))]
        return []
