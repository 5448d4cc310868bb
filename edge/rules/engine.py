"""`RulesEngine`: the rules stage. Keeps one set of rule state machines per track, feeds them each
frame's measurements, drops a track's state (ending its events) once it has been absent for
`max_absence_s`, and returns the events in order.

Per frame and track: keypoints → pixels (COCO-17 from any layout) → torso length → the track's
reference scale (75th percentile of recent torso lengths, so a body foreshortened by bending or falling
keeps its scale) → `Body` → each rule, told whether the person is inside its zones."""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from edge.pose.manifest import default_model_dir
from edge.rules.config import RulesConfig, ZoneConfig
from edge.rules.event import Event
from edge.rules.fall import FallRule
from edge.rules.fall_learned import FallScorer, LearnedFallRule
from edge.rules.fall_model import find_fall_model
from edge.rules.geometry import (
    L_HIP,
    R_HIP,
    Body,
    PixelKeypoints,
    distance,
    measure,
    midpoint,
    to_pixels,
    torso_length_px,
)
from edge.rules.person_down import PersonDownRule
from edge.rules.repetitive_motion import RepetitiveMotionRule
from edge.rules.rule import TrackRule
from edge.rules.unsafe_posture import UnsafePostureRule
from edge.rules.zones import ZoneFilter
from edge.types import Frame, Pose

logger = logging.getLogger(__name__)

ZONED_RULES = ("fall", "person_down", "unsafe_posture", "repetitive_motion")  # rules with a `zones` list
REFERENCE_PERCENTILE = 75.0  # of recent torso lengths: ignores a few short (foreshortened) or wild readings
UNTRACKED_ID = 0  # poses without a track id (a single-pose model without tracking) share this id


def percentile(values: list[float], q: float) -> float:
    """The `q`-th percentile (nearest rank) of a short list; numpy's is slower at a few dozen values."""
    ranked = sorted(values)
    return ranked[min(len(ranked) - 1, round(q / 100.0 * (len(ranked) - 1)))]


@dataclass(slots=True)
class _Track:
    rules: list[tuple[ZoneFilter, TrackRule]]
    last_seen: float
    hip: tuple[float, float] = (0.0, 0.0)  # last hip centre, pixels
    body: Body | None = None  # last measurements (read by the live view)
    scale_px: float = 0.0  # last reference torso length
    torso: deque[tuple[float, float]] = field(default_factory=deque)  # (ts, torso px)


class RulesEngine:
    """Runs every enabled rule on every track; `process` returns the frame's events.

    With `fall.detector: model` the fall model is loaded (checksum verified) from `model_dir`'s manifest
    (default: where the pose models are); `fall_scorer` replaces it (training records features so)."""

    def __init__(
        self,
        config: RulesConfig | None = None,
        model_dir: Path | None = None,
        fall_scorer: FallScorer | None = None,
    ) -> None:
        self.config = config or RulesConfig()
        c = self.config
        self.fall_scorer: FallScorer | None = fall_scorer
        if fall_scorer is None and c.fall.enabled and c.fall.detector == "model":
            self.fall_scorer = find_fall_model(c.fall.model, model_dir or default_model_dir())
        self._zones = {name: ZoneFilter(self.zones_of(c, name)) for name in ZONED_RULES}
        self._tracks: dict[int, _Track] = {}
        self._last_ts: float | None = None
        self._last_frame = 0

    @staticmethod
    def zones_of(config: RulesConfig, rule: str) -> list[ZoneConfig]:
        """The zones of `rule` in `config`."""
        zones: list[ZoneConfig] = getattr(config, rule).zones
        return zones

    def set_zones(self, config: RulesConfig) -> None:
        """Take the zones of `config` for every rule at once, keeping tracks, rule state and open
        events (the live view's zone editor). Safe from another thread: each rule's zones are swapped
        in one assignment; the other thresholds stay as they were started."""
        for name, zones in self._zones.items():
            zones.replace(self.zones_of(config, name))
        self.config = self.config.model_copy(
            update={
                name: getattr(self.config, name).model_copy(update={"zones": self.zones_of(config, name)})
                for name in ZONED_RULES
            }
        )

    def bodies(self) -> dict[int, Body]:
        """The last measurements of every held track (a copy, for the live view)."""
        return {tid: t.body for tid, t in list(self._tracks.items()) if t.body is not None}

    def _new_track(self, track_id: int, ts: float) -> _Track:
        c = self.config
        rules: list[tuple[ZoneFilter, TrackRule]] = []
        if c.fall.enabled and self.fall_scorer is not None:
            learned = LearnedFallRule(c.fall, c.posture, self.fall_scorer, track_id, c.update_interval_s)
            rules.append((self._zones["fall"], learned))
        elif c.fall.enabled:
            rules.append((self._zones["fall"], FallRule(c.fall, c.posture, track_id, c.update_interval_s)))
        if c.person_down.enabled:
            rule = PersonDownRule(c.person_down, c.posture, track_id, c.update_interval_s)
            rules.append((self._zones["person_down"], rule))
        if c.unsafe_posture.enabled:
            posture_rule = UnsafePostureRule(c.unsafe_posture, c.posture, track_id, c.update_interval_s)
            rules.append((self._zones["unsafe_posture"], posture_rule))
        if c.repetitive_motion.enabled:
            rep = RepetitiveMotionRule(c.repetitive_motion, c.posture, track_id, c.update_interval_s)
            rules.append((self._zones["repetitive_motion"], rep))
        logger.debug("track %d: rules started at %.3f s", track_id, ts)
        return _Track(rules=rules, last_seen=ts)

    def process(self, frame: Frame, poses: list[Pose]) -> list[Event]:
        """Feed one frame's poses; returns the events they caused, in order (track by track)."""
        ts = frame.ts
        events: list[Event] = []
        if self._last_ts is not None and ts < self._last_ts:
            logger.warning("frame time went back (%.3f → %.3f s): rule state reset", self._last_ts, ts)
            events += self.finish("time_went_back")
        self._last_ts, self._last_frame = ts, frame.index
        min_score = self.config.posture.min_keypoint_score
        seen: set[int] = set()
        present = {p.track_id if p.track_id is not None else UNTRACKED_ID for p in poses}
        for pose in poses:
            track_id = pose.track_id if pose.track_id is not None else UNTRACKED_ID
            if pose.origin == "coast":  # not measured this frame (compute budget): present, nothing new
                if track_id in self._tracks:
                    seen.add(track_id)
                continue
            if track_id in seen:
                logger.debug(
                    "track %d appears twice in frame %d; the second pose is ignored", track_id, frame.index
                )
                continue
            kp = to_pixels(pose.keypoints, pose.layout, frame.width, frame.height)
            torso = torso_length_px(kp, min_score)
            if torso is None:
                continue  # no readable torso: counts as absent for this frame
            seen.add(track_id)
            track = self._tracks.get(track_id)
            if track is None:
                track = self._handover(track_id, kp, present) or self._new_track(track_id, ts)
                self._tracks[track_id] = track
            track.last_seen = ts
            track.torso.append((ts, torso))
            while ts - track.torso[0][0] > self.config.reference_window_s:
                track.torso.popleft()
            scale = percentile([t for _, t in track.torso], REFERENCE_PERCENTILE)
            body = measure(kp, frame.width, frame.height, min_score, scale)
            if body is None:
                continue
            track.hip, track.scale_px, track.body = body.hip, body.scale_px, body
            for zones, rule in track.rules:
                events += rule.update(body, zones.applies(body.hip_norm), frame.index, ts)
        for track_id in sorted(set(self._tracks) - seen):
            if ts - self._tracks[track_id].last_seen > self.config.max_absence_s:
                events += self._drop(track_id, frame.index, ts, "lost")
        return events

    def _handover(self, track_id: int, kp: PixelKeypoints, present: set[int]) -> _Track | None:
        """The state of the nearest track not seen in this frame whose last hip centre lies within
        handover_radius_tl of this new track's, re-keyed to `track_id`; None if there is none."""
        radius = self.config.handover_radius_tl
        below = self.config.handover_below_tl
        hip = midpoint(kp, L_HIP, R_HIP, self.config.posture.min_keypoint_score)
        if radius <= 0.0 or hip is None:
            return None
        best: tuple[float, int] | None = None
        for old_id, old in self._tracks.items():
            if old_id in present or old.scale_px <= 0.0:
                continue
            # a person lost mid-fall is found again lower down: the reach is longer below the old hip
            drop = min(max(0.0, hip[1] - old.hip[1]), below * old.scale_px)
            d = distance(hip, (old.hip[0], old.hip[1] + drop)) / old.scale_px
            if d <= radius and (best is None or d < best[0]):
                best = (d, old_id)
        if best is None:
            return None
        track = self._tracks.pop(best[1])
        for _, rule in track.rules:
            rule.rename(track_id)
        logger.debug("track %d continues as track %d (%.2f TL away)", best[1], track_id, best[0])
        return track

    def _drop(self, track_id: int, frame: int, ts: float, reason: str) -> list[Event]:
        track = self._tracks.pop(track_id)
        events: list[Event] = []
        for _, rule in track.rules:
            events += rule.finish(frame, ts, reason)
        logger.debug("track %d dropped (%s)", track_id, reason)
        return events

    def finish(self, reason: str = "end_of_input") -> list[Event]:
        """End every open event (at the last frame seen) and forget all tracks."""
        events: list[Event] = []
        if self._last_ts is not None:
            for track_id in sorted(self._tracks):
                events += self._drop(track_id, self._last_frame, self._last_ts, reason)
        self.reset()
        return events

    def reset(self) -> None:
        """Forget every track without sending anything (a new source)."""
        self._tracks.clear()
        self._last_ts = None
        self._last_frame = 0
