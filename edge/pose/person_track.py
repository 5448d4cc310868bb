"""The per-person state of the multi-person front-end: one tracked person's crop, filters, id and
timing. The scheduler decides when a person is refined; the runner does the inference; this object only
keeps what one person needs between frames (STYLE.md, "Composing models").

Coordinates are frame-normalised. A track's keypoints are One Euro-filtered; its next crop is the
MoveNet smart crop of the filtered keypoints, low-passed (tfjs MoveNet: the crop smoothed harder than
the output). A track that is not measured on a frame coasts: its last keypoints are moved on at its
box velocity (constant velocity, as the tracker's prediction)."""

from __future__ import annotations

from dataclasses import dataclass, field

from edge.filters.low_pass import LowPassFilter
from edge.filters.one_euro import OneEuroFilter
from edge.pose.settings import MultiPersonSettings
from edge.pose.smart_crop import (
    MIN_CROP_KEYPOINT_SCORE,
    CropRegion,
    determine_crop_region,
    padded_square_region,
)
from edge.types import Keypoints, Pose, keypoint_bbox

VELOCITY_ALPHA = 0.5  # low-pass weight of a new box-centre velocity sample (edge/track/tracker.py)
# A crop at least this many times the keypoint box's longer side, so a person who moves between two
# refinements (round-robin under the budget, a frame rate below the camera's) stays inside it.
MIN_CROP_SCALE = 1.6
# A person coasts at most this long on their velocity: past it, a prediction is a guess (the track
# ends at max_age_s anyway).
MAX_COAST_S = 0.5


Box = tuple[float, float, float, float]


def _centre(box: Box) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


@dataclass(slots=True, eq=False)
class PersonTrack:
    """One followed person. `origin` says where this frame's keypoints came from: "crop" (its own
    Lightning crop), "discovery" (MultiPose, not refined yet) or "coast" (not measured this frame)."""

    track_id: int
    keypoints: Keypoints
    bbox: Box
    score: float
    last_seen_ts: float  # last frame a model measured this person (crop or discovery)
    started_ts: float
    settings: MultiPersonSettings
    last_refined_ts: float | None = None
    crop: CropRegion | None = None
    origin: str = "discovery"
    velocity: tuple[float, float] = (0.0, 0.0)  # box centre, frame fractions per second
    position_ts: float = 0.0  # the time `bbox` and `keypoints` refer to (coasting moves them on)
    missed: bool = False  # the last crop lost the person (coasting, but not reported)
    filter: OneEuroFilter = field(init=False)
    crop_filter: LowPassFilter = field(init=False)

    def __post_init__(self) -> None:
        self.position_ts = self.last_seen_ts
        self.filter = OneEuroFilter(self.settings.keypoint_filter.params)
        self.crop_filter = LowPassFilter(self.settings.crop_alpha)

    def predicted_box(self, ts: float) -> Box:
        """The last box moved on at the track's velocity to time `ts`."""
        dt = min(max(0.0, ts - self.position_ts), MAX_COAST_S)
        dx, dy = self.velocity[0] * dt, self.velocity[1] * dt
        x0, y0, x1, y1 = self.bbox
        return x0 + dx, y0 + dy, x1 + dx, y1 + dy

    def observe(
        self,
        keypoints: Keypoints,
        score: float,
        ts: float,
        origin: str,
        width: int,
        height: int,
        box: Box | None = None,
    ) -> None:
        """Take keypoints measured at `ts` (by a crop or by discovery): filter them, move the box and
        velocity on, and work out the next crop. `box` is the detector's person box (discovery): on a
        small person few MultiPose keypoints pass the crop's score floor, the box is reliable."""
        kps = keypoints.copy()
        if origin == "crop" and self.last_refined_ts is None:
            self.filter.reset()  # the first crop reading starts the filter; discovery's was coarser
        if self.settings.filter:
            kps[:, :2] = self.filter.apply(keypoints[:, :2], ts)
        given = box is not None
        box = box if box is not None else keypoint_bbox(kps, MIN_CROP_KEYPOINT_SCORE)
        dt = ts - self.position_ts
        if dt > 0:
            (ox, oy), (nx, ny) = _centre(self.bbox), _centre(box)
            a = VELOCITY_ALPHA
            self.velocity = (
                a * (nx - ox) / dt + (1 - a) * self.velocity[0],
                a * (ny - oy) / dt + (1 - a) * self.velocity[1],
            )
        self.keypoints, self.bbox, self.score = kps, box, score
        self.last_seen_ts, self.position_ts, self.origin, self.missed = ts, ts, origin, False
        if origin == "crop":
            self.last_refined_ts = ts
        self.crop = self._next_crop(kps, box, width, height, given)

    def coast(self, ts: float, missed: bool = False) -> None:
        """Not measured on this frame (`missed`: its crop lost the person): the keypoints move on at the
        box velocity (the filter is not fed)."""
        x0, y0, x1, y1 = self.predicted_box(ts)
        dx, dy = x0 - self.bbox[0], y0 - self.bbox[1]
        if dx or dy:
            kps = self.keypoints.copy()
            kps[:, 0] += dx
            kps[:, 1] += dy
            self.keypoints = kps
            if self.crop is not None:
                c = self.crop
                self.crop = CropRegion(c.x_min + dx, c.y_min + dy, c.x_max + dx, c.y_max + dy)
        self.bbox = (x0, y0, x1, y1)
        self.position_ts = max(self.position_ts, ts)
        self.origin, self.missed = "coast", missed

    def pose(self) -> Pose:
        """This frame's pose of the person."""
        return Pose(
            keypoints=self.keypoints,
            score=self.score,
            layout="coco17",
            track_id=self.track_id,
            bbox=tuple(min(max(v, 0.0), 1.0) for v in self.bbox),  # type: ignore[arg-type]
            origin=self.origin,
        )

    def _next_crop(self, kps: Keypoints, box: Box, width: int, height: int, from_box: bool) -> CropRegion:
        """MoveNet's smart crop of the keypoints, at least MIN_CROP_SCALE × the person's box (only the box
        when `from_box`: a detector's box), low-passed."""
        wanted = (
            padded_square_region(height, width) if from_box else determine_crop_region(kps, height, width)
        )
        cx, cy = _centre(box)
        half = max((box[2] - box[0]) * width, (box[3] - box[1]) * height) * MIN_CROP_SCALE / 2
        whole = max(width, height) / 2
        side = max(wanted.width * width, wanted.height * height) / 2
        if side >= whole or side < half:  # no torso (MoveNet falls back to the whole frame) or too tight
            side = min(max(half, 8.0), whole)
            wanted = CropRegion(
                (cx * width - side) / width,
                (cy * height - side) / height,
                (cx * width + side) / width,
                (cy * height + side) / height,
            )
        return CropRegion(*self.crop_filter.apply(wanted.as_tuple()))
