"""The multi-person front-end (`movenet_lightning_multi`, the default): MultiPose discovers people on
the whole frame and on tiles, and every tracked person is kept on their own smart crop fed to INT8
MoveNet Lightning 192×192, One Euro-filtered, with a stable track id.

What runs on a frame, in order (`estimate`):
  1. motion: where the frame changed (`motion.py`);
  2. discovery: the views the scheduler picks (`person_scheduler.py`), people merged across views
     (`tiles.py`) and matched to tracks by box IoU (`edge/track/matching.py`); unmatched people
     start tracks, reported this frame with their discovery keypoints;
  3. refinement: the tracks the scheduler picks under the budget run Lightning on their crop
     (`lightning_runner.py`, the same runner as the single-person path); a crop that lost its person
     (pose score below threshold, or keypoints that left the track's box) counts as a miss;
  4. the rest coast (keypoints moved on at the track's velocity, reported with origin "coast");
     a track that two crops now share is merged into the older one; a track not measured for
     `max_age_s` ends, and discovery looks where it was.
Per-person state lives in `person_track.py`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from edge.pose.lightning_runner import LightningRunner
from edge.pose.manifest import ModelSpec
from edge.pose.motion import MotionDetector
from edge.pose.movenet import pose_score
from edge.pose.multipose_runner import MultiPoseRunner
from edge.pose.output_guard import OutputStats
from edge.pose.person_scheduler import DiscoveryView, Scheduler
from edge.pose.person_track import Box, PersonTrack
from edge.pose.settings import MultiPersonSettings
from edge.pose.smart_crop import (
    MIN_CROP_KEYPOINT_SCORE,
    CropBox,
    CropRegion,
    determine_crop_region,
    torso_visible,
)
from edge.pose.tiles import merge_detections, same_pose
from edge.track.matching import greedy_match
from edge.track.similarity import box_iou
from edge.types import Frame, Keypoints, Pose, keypoint_bbox

logger = logging.getLogger(__name__)

# Re-crops of a newly found person on the crop their own last reading calls for. On the shared stills
# (tuned on them) 1 pass gave four sets 0.699 (AIC 0.675, CrowdPose 0.846, PoseTrack18 0.582), 2 passes
# 0.715 (0.723, 0.821, 0.596), 3 passes the same as 2; a person costs 3 crops on the frame they are found.
ACQUIRE_PASSES = 2
# Refined keypoints must stay on the person the track follows: box IoU with the track's predicted or
# last box at least this (else the crop locked onto a neighbour and the frame counts as a miss).
MIN_REFINE_IOU = 0.3
# Discovery detections continue a track above this box IoU (tfjs box tracker 0.15).
MIN_MATCH_IOU = 0.15


@dataclass(slots=True)
class FrontEndStats:
    """Running counts for the `stats` message and the benchmark: what the budget bought."""

    frames: int = 0
    discovery_invokes: int = 0
    crops: int = 0
    people_reported: int = 0
    people_coasting: int = 0  # reported without a measurement this frame (over the budget)
    last_people: int = 0
    last_crops: int = 0
    last_discovery: int = 0
    last_reduced_rate: int = 0  # people in view beyond people_at_full_rate on the last frame
    budget: dict[str, float | int] = field(default_factory=dict)  # the settings it works within

    def as_dict(self) -> dict[str, object]:
        """Per-frame means since start, the last frame's figures and the budget."""
        n = max(self.frames, 1)
        return {
            "budget": dict(self.budget),
            "people": self.last_people,
            "reduced_rate_last_frame": self.last_reduced_rate,
            "crops_last_frame": self.last_crops,
            "discovery_invokes_last_frame": self.last_discovery,
            "people_per_frame": round(self.people_reported / n, 2),
            "crops_per_frame": round(self.crops / n, 2),
            "discovery_invokes_per_frame": round(self.discovery_invokes / n, 3),
            "coasting_per_frame": round(self.people_coasting / n, 2),
        }


def fuse(refined: Keypoints, discovered: Keypoints) -> Keypoints:
    """Per keypoint, the reading the models were surer of (a person's first crop and their discovery)."""
    better = discovered[:, 2] > refined[:, 2]
    out = refined.copy()
    out[better] = discovered[better]
    return out


def _centre_in(box: tuple[float, float, float, float], region: CropRegion) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return region.x_min <= cx <= region.x_max and region.y_min <= cy <= region.y_max


class MultiPersonLightning:
    """Everyone in view, each on their own Lightning crop. Track ids 1, 2, … (not reused in a source)."""

    def __init__(
        self,
        spec: ModelSpec,
        detector: ModelSpec,
        threads: int = 2,
        settings: MultiPersonSettings | None = None,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.settings = settings or MultiPersonSettings()
        self.refiner = LightningRunner(spec, threads)
        self.detector = MultiPoseRunner(detector, threads)
        self.scheduler = Scheduler(self.settings)
        self.motion = MotionDetector()
        b = self.settings
        self.front_end = FrontEndStats(
            budget={
                "max_crops_per_frame": b.max_crops_per_frame,
                "people_at_full_rate": b.people_at_full_rate,
                "person_rate_hz": b.person_rate_hz,
                "discovery_invokes_per_frame": b.discovery_invokes_per_frame,
            }
        )
        self.tracks: list[PersonTrack] = []
        self._next_id = 1
        # Each person's crop run on the last frame (for annotation; discovery's views are not drawn: on a
        # still or a first frame they are the whole tile grid, and their count is in the stats).
        self.last_regions: list[CropBox] = []

    @property
    def stats(self) -> OutputStats:
        """Invokes and invalid outputs of both runners."""
        a, b = self.refiner.stats, self.detector.stats
        return OutputStats(
            invokes=a.invokes + b.invokes,
            invalid_outputs=a.invalid_outputs + b.invalid_outputs,
            consecutive_invalid=max(a.consecutive_invalid, b.consecutive_invalid),
        )

    def reset(self) -> None:
        """A new source or still: no tracks, ids from 1, the next frame runs a full discovery."""
        self.tracks.clear()
        self._next_id = 1
        self.scheduler.reset()
        self.motion.reset()

    def estimate(self, frame: Frame) -> list[Pose]:
        """Everyone followed in `frame`: refined, just discovered, or coasting under the budget."""
        ts, w, h = frame.ts, frame.width, frame.height
        self.last_regions = []  # a new list per frame: a viewer may still hold the last one
        self._expire(ts)
        motion = self.motion.update(frame.image)
        views = self.scheduler.discovery(ts, w, h, self.tracks, motion)
        confirmed = self._discover(frame, views)
        still = any(v.reason == "first" for v in views)
        crops = self.scheduler.crops(ts, self.tracks, still)
        tried = {t.track_id for t in crops}
        refined = {t.track_id for t in crops if self._refine(frame, t)}
        for track in self.tracks:
            if track.track_id in refined or (track.started_ts == ts and track.origin == "discovery"):
                continue  # measured by its crop, or just discovered (its discovery keypoints stand)
            seen = confirmed.get(track.track_id)
            if seen is not None:  # discovery saw this person and no crop did: its reading counts
                track.observe(seen.keypoints, seen.score, ts, "discovery", w, h, seen.bbox)
            else:
                track.coast(ts, missed=track.track_id in tried or track.missed)
        self._merge_duplicates()
        poses = [t.pose() for t in self.tracks if not t.missed]
        self._count(poses, len(views), len(crops))
        return poses

    def _discover(self, frame: Frame, views: list[DiscoveryView]) -> dict[int, Pose]:
        """Run the discovery views, merge what they found, start tracks for new people; returns the
        discovery pose of each existing track it saw (used if no crop measures that track this frame)."""
        ts, w, h = frame.ts, frame.width, frame.height
        found: list[Pose] = []
        for view in views:
            found += self.detector.detect(frame.image, view.region, self.settings.min_person_score) or []
        confirmed: dict[int, Pose] = {}
        started = len(self.tracks)
        if found:
            self._associate(merge_detections(found), ts, w, h, confirmed)
        new = self.tracks[started:]
        for view in views:  # a view that found nobody new: motion there is someone already followed
            if not any(_centre_in(t.bbox, view.region) for t in new):
                self.scheduler.found_nobody(view, ts)
        return confirmed

    def _associate(self, people: list[Pose], ts: float, w: int, h: int, confirmed: dict[int, Pose]) -> None:
        """Match discovered people to tracks; the unmatched start tracks."""
        boxes = [t.predicted_box(ts) for t in self.tracks]
        pairs = greedy_match([p.bbox for p in people], boxes, box_iou, MIN_MATCH_IOU)
        for person, index in zip(people, pairs, strict=True):
            if index is not None:
                confirmed[self.tracks[index].track_id] = person
                continue
            if any(same_pose(person, t.pose()) for t in self.tracks):
                continue  # someone already followed, seen twice (a second box on them, or a part of them)
            track = PersonTrack(
                self._next_id, person.keypoints, person.bbox, person.score, ts, ts, self.settings
            )
            self._next_id += 1
            track.observe(person.keypoints, person.score, ts, "discovery", w, h, person.bbox)
            self.tracks.append(track)
        if len(self.tracks) > self.settings.max_tracks:
            self.tracks.sort(key=lambda t: t.last_seen_ts, reverse=True)
            del self.tracks[self.settings.max_tracks :]

    def _refine(self, frame: Frame, track: PersonTrack) -> bool:
        """Lightning on the track's crop; False when the crop lost its person (a miss). A person's first
        crop comes from discovery's coarse reading, so it is run again on the crop its own keypoints call
        for (as MoveNet single-pose's refine_on_acquire), up to ACQUIRE_PASSES times, keeping the reading
        Lightning scores highest."""
        assert track.crop is not None
        predicted = track.predicted_box(frame.ts)
        used = track.crop
        reading = self._read(frame, used, predicted, track.bbox)
        latest = reading
        for _ in range(ACQUIRE_PASSES if track.last_refined_ts is None else 0):
            if latest is None or not torso_visible(latest[0]):
                break
            region = determine_crop_region(latest[0], frame.height, frame.width)
            latest = self._read(frame, region, predicted, track.bbox)
            if latest is not None and reading is not None and latest[1] >= reading[1]:
                reading, used = latest, region
        self.last_regions.append(CropBox(used, track.track_id))  # the crop whose reading counts (or missed)
        if reading is None:
            return False
        if track.last_refined_ts is None and track.origin == "discovery":
            reading = (fuse(reading[0], track.keypoints), reading[1])
        track.observe(reading[0], reading[1], frame.ts, "crop", frame.width, frame.height)
        return True

    def _read(
        self, frame: Frame, region: CropRegion, predicted: Box, last: Box
    ) -> tuple[Keypoints, float] | None:
        """Keypoints and pose score of one crop, or None if the crop missed the person it was aimed at
        (guard, pose score below threshold, or keypoints off both the person's predicted box and their
        last box: a velocity estimated from a few noisy boxes can overshoot a person who stopped)."""
        keypoints = self.refiner.infer(frame.image, region)
        if keypoints is None:
            return None
        score = pose_score(keypoints)
        if score < self.settings.min_pose_score:
            return None
        box = keypoint_bbox(keypoints, MIN_CROP_KEYPOINT_SCORE)
        if max(box_iou(box, predicted), box_iou(box, last)) < MIN_REFINE_IOU:
            return None  # locked onto a neighbour, or onto a part of the person
        return keypoints, score

    def _merge_duplicates(self) -> None:
        """Two tracks on one person (two crops converged, or discovery split one person): keep the older."""
        kept: list[PersonTrack] = []
        for track in sorted(self.tracks, key=lambda t: (t.started_ts, t.track_id)):
            if any(same_pose(track.pose(), k.pose()) for k in kept):
                logger.debug("track %d merged into an older track on the same person", track.track_id)
                continue
            kept.append(track)
        self.tracks = kept

    def _expire(self, ts: float) -> None:
        """End tracks not measured for max_age_s (or measured in the future: time went back); discovery
        looks where each was on this frame."""
        kept = []
        for track in self.tracks:
            if 0.0 <= ts - track.last_seen_ts <= self.settings.max_age_s:
                kept.append(track)
            else:
                logger.debug("track %d lost", track.track_id)
                self.scheduler.lost(track.bbox)
        self.tracks = kept

    def _count(self, poses: list[Pose], views: int, crops: int) -> None:
        s = self.front_end
        s.frames += 1
        s.discovery_invokes += views
        s.crops += crops
        s.people_reported += len(poses)
        s.people_coasting += sum(p.origin == "coast" for p in poses)
        s.last_people, s.last_crops, s.last_discovery = len(poses), crops, views
        s.last_reduced_rate = max(0, len(poses) - self.settings.people_at_full_rate)
