"""Stable track ids for several people: [Pose] → [Pose with track_id], optionally one One Euro filter per
track. Called from inside an estimator (MoveNet MultiPose), which owns the tracker.

Greedy assignment as in tfjs-models' trackers: detections in descending score order each take the
most similar unmatched track above a minimum similarity, or start a new track. A track that has not
been matched for `max_age_s` of frame time ends, and its filter ends with it."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Final, Literal

import numpy as np

from edge.filters.one_euro import OneEuroFilter, OneEuroParams
from edge.layouts import to_coco17
from edge.track.similarity import box_iou, object_keypoint_similarity
from edge.types import Pose

logger = logging.getLogger(__name__)

Similarity = Literal["oks", "iou"]

MAX_TRACKS: Final = 18  # tfjs tracker maxTracks
MAX_AGE_S: Final = 1.0  # tfjs tracker maxAge 1000 ms: an unmatched track ends after this
MIN_SIMILARITY: Final[dict[str, float]] = {"oks": 0.2, "iou": 0.15}  # tfjs keypoint / box tracker
# Low-pass weight of a new box-centre velocity sample (ours, not tfjs: tfjs matches against the last
# box; on vtest.avi predicting where a briefly missed walker went cut identity switches, see docs).
VELOCITY_ALPHA: Final = 0.5


@dataclass(frozen=True, slots=True)
class TrackerSettings:
    """Tracker constants (defaults: tfjs-models). A model family's configured values come from
    edge/pose/settings.py (`TrackerSection`)."""

    similarity: Similarity = "oks"
    max_tracks: int = MAX_TRACKS
    max_age_s: float = MAX_AGE_S
    min_similarity: float | None = None  # None: the default of the chosen similarity
    keypoint_filter: OneEuroParams | None = None  # None: keypoints are not filtered


@dataclass(slots=True, eq=False)
class Track:
    """One followed person: its id, last raw pose (for matching), last time seen and its filter."""

    track_id: int
    pose: Pose
    last_ts: float
    filter: OneEuroFilter | None
    velocity: tuple[float, float] = (0.0, 0.0)  # box centre, frame widths/heights per second

    def predicted(self, ts: float) -> Pose:
        """The last pose moved on at the track's velocity to time `ts` (SORT-style constant
        velocity), so a person missed for a few frames is still matched where they walked to."""
        dt = ts - self.last_ts
        dx, dy = self.velocity[0] * dt, self.velocity[1] * dt
        if dx == 0.0 and dy == 0.0:
            return self.pose
        x0, y0, x1, y1 = self.pose.bbox
        keypoints = self.pose.keypoints.copy()
        keypoints[:, 0] += dx
        keypoints[:, 1] += dy
        return replace(self.pose, keypoints=keypoints, bbox=(x0 + dx, y0 + dy, x1 + dx, y1 + dy))

    def update(self, pose: Pose, ts: float) -> None:
        """Take `pose` seen at `ts`; the velocity follows the box centre (low-passed)."""
        dt = ts - self.last_ts
        if dt > 0:
            (ox, oy), (nx, ny) = _centre(self.pose.bbox), _centre(pose.bbox)
            vx, vy = (nx - ox) / dt, (ny - oy) / dt
            a = VELOCITY_ALPHA
            self.velocity = (a * vx + (1 - a) * self.velocity[0], a * vy + (1 - a) * self.velocity[1])
        self.pose, self.last_ts = pose, ts


def _centre(box: tuple[float, float, float, float]) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


class PoseTracker:
    """Assigns track ids to the poses of each frame and filters each track's keypoints."""

    def __init__(self, settings: TrackerSettings | None = None) -> None:
        self.settings = settings or TrackerSettings()
        self.min_similarity = (
            self.settings.min_similarity
            if self.settings.min_similarity is not None
            else MIN_SIMILARITY[self.settings.similarity]
        )
        self.tracks: list[Track] = []
        self._next_id = 1

    def reset(self) -> None:
        """End every track for a new source (or still); ids start from 1 again, as single-pose
        estimators restart theirs from 0. Within a source an ended track's id never comes back."""
        self.tracks.clear()
        self._next_id = 1

    def update(
        self, poses: list[Pose], ts: float, width: int, height: int, min_new_score: float = 0.0
    ) -> list[Pose]:
        """Poses of the frame at `ts` seconds (a `width`×`height` frame) with track ids and filtered
        keypoints, in descending score order. A pose scoring below `min_new_score` may continue a
        track but never starts one (dropped if it matches none): a person already followed is kept
        through frames where the model is less sure, without admitting new weak detections."""
        self._expire(ts)
        unmatched = list(self.tracks)
        out: list[Pose] = []
        for pose in sorted(poses, key=lambda p: p.score, reverse=True):
            best: Track | None = None
            best_sim = self.min_similarity
            for track in unmatched:
                sim = self._similarity(pose, track.predicted(ts), width, height)
                if sim >= best_sim:
                    best, best_sim = track, sim
            if best is None and pose.score < min_new_score:
                continue
            if best is None:
                best = Track(self._next_id, pose, ts, self._new_filter())
                self._next_id += 1
                self.tracks.append(best)
            else:
                unmatched.remove(best)
                best.update(pose, ts)
            keypoints = pose.keypoints.copy()
            if best.filter is not None:
                keypoints[:, :2] = best.filter.apply(pose.keypoints[:, :2], ts)
            out.append(replace(pose, keypoints=keypoints, track_id=best.track_id))
        if len(self.tracks) > self.settings.max_tracks:
            self.tracks.sort(key=lambda t: t.last_ts, reverse=True)
            del self.tracks[self.settings.max_tracks :]
        return out

    def _new_filter(self) -> OneEuroFilter | None:
        params = self.settings.keypoint_filter
        return None if params is None else OneEuroFilter(params)

    def _expire(self, ts: float) -> None:
        """End tracks not seen for longer than max_age_s (or seen in the future: time went back)."""
        kept = [t for t in self.tracks if 0.0 <= ts - t.last_ts <= self.settings.max_age_s]
        if len(kept) != len(self.tracks):
            ended = {t.track_id for t in self.tracks} - {t.track_id for t in kept}
            logger.debug("tracks ended: %s", sorted(ended))
        self.tracks = kept

    def _similarity(self, a: Pose, b: Pose, width: int, height: int) -> float:
        if self.settings.similarity == "iou":
            return box_iou(a.bbox, b.bbox)
        ka = a.keypoints[list(to_coco17(a.layout))]
        kb = b.keypoints[list(to_coco17(b.layout))]
        return object_keypoint_similarity(np.asarray(ka), np.asarray(kb), width, height)
