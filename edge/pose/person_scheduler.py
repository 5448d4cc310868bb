"""The multi-person front-end's scheduler: frame by frame, which discovery views (MultiPose on the whole
frame or a tile) run, and which tracked people get their own Lightning crop, within the user's budget.

Discovery on video runs where it is needed, not everywhere every frame:
  1. motion no track explains (someone walked in) and the last place of a track that was lost;
  2. the whole frame, every `whole_frame_interval_s` (large people anywhere);
  3. a sweep of every tile, started every `sweep_interval_s` and spread one tile per frame (people who
     stand still where nothing moved), and at once when the scene changed;
at most `discovery_invokes_per_frame` views per frame. The first frame of a source (a still, or a clip's
first frame) runs the whole sweep at once. A view on motion that found nobody is not searched from
motion again for MOTION_COOLDOWN_S (a swaying plant costs one invoke a second, not one a frame).

Crops: people never refined first, then the longest-unrefined, up to `max_crops_per_frame`; the
`people_at_full_rate` followed longest are refined on every frame, everyone beyond them at most
`person_rate_hz`: with more people than the budget the crops go round-robin and the rest coast. A
person whose last crop missed (occluded, lying down, gone) is retried on every frame until the track
ends, after the people in view (retrying every 0.2 s instead saved 5 % of the crowd's crops but lost the woman
lying on the floor in video_3.mp4 on a third of its frames)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from edge.pose.motion import Motion
from edge.pose.person_track import Box, PersonTrack
from edge.pose.settings import MultiPersonSettings
from edge.pose.smart_crop import CropRegion, padded_square_region
from edge.pose.tiles import overlap_of_smaller, square_around, tile_grid

MOTION_COOLDOWN_S = 2.0  # a motion view that found nobody new is not repeated from motion for this long
# (A cooldown only for motion much like the region searched, box IoU >= 0.5, re-searched a walker sooner
# but quadrupled discovery on video_3.mp4: 0.11 -> 0.44 invokes per frame.)
EXPLAINED_OVERLAP = 0.5  # a motion region this much inside a track's (grown) box is that person moving
# A discovery view placed on motion (or a lost track) is this many times the region's size.
MOTION_VIEW_SCALE = 2.5
TRACK_BOX_GROWTH = 2.0  # a track's box grown by this factor for explaining motion (limbs, shadow, a walker)


@dataclass(frozen=True, slots=True)
class DiscoveryView:
    """One MultiPose invoke: the region, and why it runs (for stats and debugging)."""

    region: CropRegion
    reason: str  # "first", "motion", "lost", "whole", "sweep", "scene"
    # where a motion or lost view was asked to look (its region; on a frame searched whole, the square
    # around the motion): a search there that found nobody puts that place on cooldown, not the frame
    place: CropRegion | None = None


def _grown(box: Box, factor: float) -> Box:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    hw, hh = (box[2] - box[0]) * factor / 2, (box[3] - box[1]) * factor / 2
    return cx - hw, cy - hh, cx + hw, cy + hh


def _inside(point: tuple[float, float], region: CropRegion) -> bool:
    return region.x_min <= point[0] <= region.x_max and region.y_min <= point[1] <= region.y_max


class Scheduler:
    """Decides what runs on each frame; holds only scheduling state (queues and clocks)."""

    def __init__(self, settings: MultiPersonSettings) -> None:
        self.settings = settings
        self.reset()

    def reset(self) -> None:
        """A new source: the next frame is a first frame."""
        self._first = True
        self._sweep: deque[CropRegion] = deque()
        self._last_sweep_ts: float | None = None
        self._last_whole_ts: float | None = None
        self._lost: list[Box] = []
        self._cooldown: list[tuple[CropRegion, float]] = []

    def views_of(self, width: int, height: int) -> list[CropRegion]:
        """Every view of a full sweep: the whole frame, then the tiles of each tile size."""
        views: list[CropRegion] = []
        for fraction in self.settings.tile_fractions:
            short = min(width, height)
            if fraction >= 1.0:
                views.append(padded_square_region(height, width))
            elif short >= self.settings.min_tiled_short_side:
                views += tile_grid(width, height, fraction * short)
        return views or [padded_square_region(height, width)]

    def lost(self, box: Box) -> None:
        """A track was lost at `box`: search there on the next frame."""
        self._lost.append(box)

    def found_nobody(self, view: DiscoveryView, ts: float) -> None:
        """A view came back empty: motion there is not searched again for MOTION_COOLDOWN_S."""
        if view.reason in ("motion", "lost"):
            self._cooldown.append((view.place or view.region, ts))

    def discovery(
        self, ts: float, width: int, height: int, tracks: list[PersonTrack], motion: Motion
    ) -> list[DiscoveryView]:
        """The discovery views to run on this frame, most urgent first."""
        s = self.settings
        whole = padded_square_region(height, width)
        if self._first:
            self._first = False
            self._last_sweep_ts = self._last_whole_ts = ts
            return [DiscoveryView(v, "first") for v in self.views_of(width, height)]
        if motion.scene_changed:
            self._sweep = deque(self.views_of(width, height))
            self._last_sweep_ts = ts
            self._lost.clear()
        self._cooldown = [(v, t) for v, t in self._cooldown if 0.0 <= ts - t < MOTION_COOLDOWN_S]
        views: list[DiscoveryView] = []
        short = min(width, height)
        tiled = short >= s.min_tiled_short_side
        min_side = min(s.tile_fractions) * short
        for reason, boxes in (("lost", self._lost), ("motion", self._unexplained(motion, tracks, ts))):
            for box in boxes:
                centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
                if any(_inside(centre, v.region) for v in views):
                    continue
                if reason == "motion" and any(_inside(centre, v) for v, _ in self._cooldown):
                    continue
                region = square_around(box, width, height, MOTION_VIEW_SCALE)
                side = max(region.width * width, region.height * height)
                if side < min_side:  # too tight a view: MultiPose needs some context around a person
                    region = square_around(box, width, height, MOTION_VIEW_SCALE * min_side / max(side, 1.0))
                # a frame searched whole: the whole frame shows the person best (and costs no more)
                views.append(DiscoveryView(region if tiled else whole, reason, region))
        self._lost = []
        if self._last_whole_ts is None or ts - self._last_whole_ts >= s.whole_frame_interval_s:
            views.append(DiscoveryView(whole, "whole"))
        if not self._sweep and (
            self._last_sweep_ts is None or ts - self._last_sweep_ts >= s.sweep_interval_s
        ):
            self._sweep = deque(v for v in self.views_of(width, height) if v != whole)
            self._last_sweep_ts = ts
        if self._sweep and len(views) < s.discovery_invokes_per_frame:
            views.append(DiscoveryView(self._sweep.popleft(), "sweep"))
        chosen = views[: s.discovery_invokes_per_frame]
        if any(v.reason == "whole" for v in chosen):
            self._last_whole_ts = ts
        return chosen

    def _unexplained(self, motion: Motion, tracks: list[PersonTrack], ts: float) -> list[Box]:
        """Motion regions that no track's grown box (where it is predicted to be, or where it was last)
        explains. (Explaining also small regions that merely touch a grown box cut one walker's
        discovery on video_3.mp4 from 0.110 to 0.088 invokes per frame, but vtest.avi's people per
        frame from 5.07 to 4.91: not taken.)"""
        boxes = [_grown(b, TRACK_BOX_GROWTH) for t in tracks for b in (t.predicted_box(ts), t.bbox)]
        return [
            r for r in motion.regions if not any(overlap_of_smaller(r, b) > EXPLAINED_OVERLAP for b in boxes)
        ]

    def crops(self, ts: float, tracks: list[PersonTrack], still: bool = False) -> list[PersonTrack]:
        """The tracks refined on their own crop this frame, up to `max_crops_per_frame`: never-refined
        first, then the people in view, longest-unrefined first. The `people_at_full_rate` followed
        longest (and anyone whose last crop missed) are due on every frame, the others every
        1/`person_rate_hz` s; on a still everyone is due."""
        s = self.settings
        in_view = sorted((t for t in tracks if not t.missed), key=lambda t: (t.started_ts, t.track_id))
        full_rate = {t.track_id for t in in_view[: s.people_at_full_rate]}
        reduced = 1.0 / s.person_rate_hz

        def due(t: PersonTrack) -> bool:
            if t.crop is None:
                return False
            if t.last_refined_ts is None or still or t.missed or t.track_id in full_rate:
                return True
            # half a millisecond of slack: frame times are rounded and a 30 fps clip is 33.33 ms apart
            return ts - t.last_refined_ts >= reduced - 5e-4

        chosen = [t for t in tracks if due(t)]
        # a track whose crop missed last comes after the people in view
        chosen.sort(
            key=lambda t: (t.last_refined_ts is not None, t.missed, t.last_refined_ts or 0.0, t.track_id)
        )
        return chosen[: s.max_crops_per_frame]
