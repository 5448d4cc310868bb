"""Settings of the multi-person front-end (`multi_person.py`): the compute budget and the constants of
discovery and per-person refinement. Every default lives here, once.

The budget is what a user trades against the CPU they have: how many people are refined on their own
Lightning crop every frame, how often one person may be refined at most, how many discovery (MultiPose)
invokes a frame may spend, and how often discovery sweeps the whole frame when nothing moves."""

from __future__ import annotations

from dataclasses import dataclass, field

from edge.filters.one_euro import OneEuroParams
from edge.pose.settings import KEYPOINT_BETA, KEYPOINT_DERIVATIVE_CUTOFF_HZ, KEYPOINT_MIN_CUTOFF_HZ


def _keypoint_filter() -> OneEuroParams:
    """The keypoint One Euro constants every family shares (edge/pose/settings.py)."""
    return OneEuroParams(KEYPOINT_MIN_CUTOFF_HZ, KEYPOINT_BETA, KEYPOINT_DERIVATIVE_CUTOFF_HZ)


@dataclass(frozen=True, slots=True)
class MultiPersonSettings:
    """Budget and tunables of discovery + per-person Lightning crops (docs/models.md, "movenet_lightning_multi")."""

    # --- budget -------------------------------------------------------------------------------
    # Lightning crops per frame at most ("people at full rate"). With more tracked people than this,
    # crops go round-robin, longest-unrefined first, and the others coast on their filter.
    max_crops_per_frame: int = 8
    # One person is refined at most this often (Hz); None: every frame. On a 30 fps camera 15 halves
    # the per-person cost while keypoints still move every other frame.
    person_rate_hz: float | None = None
    # MultiPose invokes per frame at most for discovery on video (motion, lost tracks, sweeps).
    discovery_invokes_per_frame: int = 1
    # A full sweep (the whole frame + every tile) starts at most this often while nothing asks for
    # one sooner: a person standing still where nothing moved is found within this time.
    sweep_interval_s: float = 30.0
    # The whole frame alone (one invoke) is checked at least this often: large people anywhere.
    whole_frame_interval_s: float = 5.0

    # --- discovery ----------------------------------------------------------------------------
    # Tile sides as fractions of the frame's short side (1.0 = the whole frame letterboxed). The
    # study (docs/models.md) found 1/2 gives most of what smaller tiles give, at half the invokes.
    tile_fractions: tuple[float, ...] = (1.0, 0.5, 1 / 3)
    # Tiles are only worth it when a tile shows people larger than the letterboxed frame does: below
    # this short side (px) the whole frame alone is the sweep.
    min_tiled_short_side: int = 400
    # MultiPose person score that starts a track (movenet_multipose.MIN_PERSON_SCORE).
    min_person_score: float = 0.2
    # A discovery view placed on motion (or a lost track) is this many times the region's size.
    motion_view_scale: float = 2.5

    # --- per-person refinement ----------------------------------------------------------------
    # Lightning's pose score (mean keypoint score above 0.2) below which a crop missed its person
    # (tfjs MoveNet MIN_POSE_SCORE 0.25).
    min_pose_score: float = 0.25
    # A track not confirmed by a crop or by discovery for this long ends (tfjs tracker maxAge).
    max_age_s: float = 1.0
    # Refined keypoints must stay on the person the track follows: box IoU with the track's
    # predicted box at least this (else the crop locked onto a neighbour and the frame counts as a miss).
    min_refine_iou: float = 0.3
    # Discovery detections continue a track above this box IoU (tfjs box tracker 0.15).
    min_match_iou: float = 0.15
    # At most this many tracks (the most recently seen are kept).
    max_tracks: int = 64
    keypoint_filter: OneEuroParams = field(default_factory=_keypoint_filter)
    crop_alpha: float = 0.9  # low-pass weight of a new crop edge (tfjs MoveNet)
    filter: bool = True

    def __post_init__(self) -> None:
        if self.max_crops_per_frame < 0 or self.discovery_invokes_per_frame < 1:
            raise ValueError("max_crops_per_frame must be >= 0 and discovery_invokes_per_frame >= 1")
        if self.person_rate_hz is not None and self.person_rate_hz <= 0:
            raise ValueError("person_rate_hz must be positive (or None for every frame)")
        if not self.tile_fractions or any(not 0.05 <= f <= 1.0 for f in self.tile_fractions):
            raise ValueError("tile_fractions must be fractions of the short side in [0.05, 1]")
