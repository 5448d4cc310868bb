"""Every pose model family's settings, in one place, and the one builder that turns the `pose:` config
section into an estimator's settings. The defaults here ARE the defaults: the daemon's `pose:` section
is `PoseConfig` (docs/config.md is generated from it), and replay, bench and eval-events build their
estimators from a `PoseConfig` too (the defaults, a daemon config's `pose:` section with `--config`, plus
`--no-filter` / `--no-smart-crop`), so a figure measured with any of them is a figure of what ships.

A model family (a manifest entry's `family`) adds its settings here: a `Section` subclass with a default,
bounds and a description for every field, and one field on `PoseConfig` named after the family; its
estimator (its own file in edge/pose/ and one line in registry.py) receives that object. A config
section or a command-line flag for a family the configured models do not use is refused, not ignored
(`PoseConfig.unused_sections`, `PoseConfig.override`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from edge.errors import EX_USAGE, EdgeError
from edge.filters.one_euro import OneEuroParams
from edge.loader import Section
from edge.track.tracker import MAX_AGE_S, MAX_TRACKS, MIN_SIMILARITY, Similarity, TrackerSettings

# One Euro constants for keypoints normalised to the frame (speed in frame fractions per second).
# tfjs MoveNet uses min_cutoff 2.5 Hz, beta 300 (KEYPOINT_FILTER_CONFIG); on real clips that beta lets
# model jitter through. docs/accuracy.md has the sweep and the held-out figures behind these.
KEYPOINT_MIN_CUTOFF_HZ = 2.0
KEYPOINT_BETA = 20.0
KEYPOINT_DERIVATIVE_CUTOFF_HZ = 2.5  # tfjs
MIN_POSE_SCORE = 0.25  # tfjs movenet: below this mean keypoint score the detector resets
CROP_REGION_ALPHA = 0.9  # tfjs movenet: low-pass weight of the new crop edge (1 = no smoothing)
# MultiPose person scores, re-tuned on real footage (tfjs uses one threshold, 0.25, for the float model). A
# new person needs MIN_PERSON_SCORE; a person already tracked is kept down to MIN_TRACKED_SCORE
# (hysteresis, as ByteTrack keeps low-score boxes for existing tracks). On vtest.avi (walkers ~80 px
# tall in 768×576): one threshold of 0.25 keeps ~1 of the 3-8 walkers per frame, 0.15 about 3.2
# with 24 identity switches per tracked minute (INT8); 0.2 / 0.1 keeps 3.3 with 12.5 (float: 3.8
# and 2.9), no false person seen in the frames looked at (docs/models.md).
MIN_PERSON_SCORE = 0.2
MIN_TRACKED_SCORE = 0.1
MIN_PRESENCE = 0.5  # MediaPipe pose_landmark: below this pose-flag score the person is lost
# MediaPipe / tfjs BlazePose One Euro constants: output landmarks, and the ROI ("auxiliary") landmarks
# smoothed harder so the crop stays steady. Speeds are in object sizes per second.
LANDMARK_FILTER = {"min_cutoff_hz": 0.05, "beta": 80.0, "derivative_cutoff_hz": 1.0}
AUX_FILTER = {"min_cutoff_hz": 0.01, "beta": 10.0, "derivative_cutoff_hz": 1.0}


class OneEuroSettings(Section):
    """One Euro filter constants (Casiez et al. 2012): smooth at rest, follow fast motion."""

    min_cutoff_hz: float = Field(
        KEYPOINT_MIN_CUTOFF_HZ,
        gt=0,
        le=100,
        description="cut-off at rest (Hz): lower is smoother with more lag",
    )
    beta: float = Field(
        KEYPOINT_BETA,
        ge=0,
        le=1e6,
        description="cut-off increase per unit of speed (frame fractions per second; BlazePose: object sizes "
        "per second): higher lags less behind fast motion",
    )
    derivative_cutoff_hz: float = Field(
        KEYPOINT_DERIVATIVE_CUTOFF_HZ, gt=0, le=100, description="smoothing of the speed estimate (Hz)"
    )

    @property
    def params(self) -> OneEuroParams:
        """The filter's runtime constants."""
        return OneEuroParams(
            min_cutoff=self.min_cutoff_hz, beta=self.beta, derivative_cutoff=self.derivative_cutoff_hz
        )


class FilteredSettings(Section):
    """What every family with one One Euro filter on its keypoints shares (`--no-filter` sets `filter`;
    MultiPose keeps one filter per tracked person)."""

    filter: bool = Field(True, description="smooth keypoints over time with the One Euro filter")
    keypoint_filter: OneEuroSettings = Field(
        default_factory=OneEuroSettings, description="the keypoint filter"
    )


class SinglePoseSettings(FilteredSettings):
    """MoveNet Lightning / Thunder: one person, followed by the smart crop."""

    smart_crop: bool = Field(
        True, description="follow the person with a crop fed to the model (false: always the whole frame)"
    )
    refine_on_acquire: bool = Field(
        True,
        description="run the model a second time, on the crop it asks for, on the frame a person is found",
    )
    min_pose_score: float = Field(
        MIN_POSE_SCORE,
        ge=0,
        le=1,
        description="below this mean keypoint score the person is lost and state resets",
    )
    crop_alpha: float = Field(
        CROP_REGION_ALPHA,
        gt=0,
        le=1,
        description="low-pass weight of a new crop edge (1: no smoothing of the crop)",
    )


class TrackerSection(Section):
    """How people are matched from frame to frame (greedy, as tfjs-models' trackers)."""

    # Box IoU, not OKS: people in wide views are small and few of their keypoints pass OKS's 0.3 score
    # floor (on vtest.avi OKS gave 5× the identity switches of IoU on MultiPose's own boxes).
    similarity: Similarity = Field("iou", description="'iou' (person boxes) or 'oks' (keypoint similarity)")
    max_tracks: int = Field(MAX_TRACKS, ge=1, le=100, description="most people followed at once (tfjs: 18)")
    max_age_s: float = Field(
        MAX_AGE_S, gt=0, le=60, description="a track unmatched this long (s, frame time) ends (tfjs: 1 s)"
    )
    min_similarity: float | None = Field(
        None,
        ge=0,
        le=1,
        description=f"least similarity that continues a track (null: {MIN_SIMILARITY['iou']} for iou, "
        f"{MIN_SIMILARITY['oks']} for oks, as tfjs)",
    )

    def settings(self, keypoint_filter: OneEuroParams | None) -> TrackerSettings:
        """The tracker's runtime settings; `keypoint_filter` None: no per-track filter."""
        return TrackerSettings(
            similarity=self.similarity,
            max_tracks=self.max_tracks,
            max_age_s=self.max_age_s,
            min_similarity=self.min_similarity,
            keypoint_filter=keypoint_filter,
        )


class MultiPoseSettings(FilteredSettings):
    """MoveNet MultiPose: up to six people per frame, each tracked with its own keypoint filter."""

    min_person_score: float | None = Field(
        None,
        ge=0,
        le=1,
        description=f"person score a new person needs (null: the manifest's, else {MIN_PERSON_SCORE})",
    )
    min_tracked_score: float = Field(
        MIN_TRACKED_SCORE,
        ge=0,
        le=1,
        description="lower person score that keeps a person already tracked (capped at min_person_score)",
    )
    tracker: TrackerSection = Field(
        default_factory=TrackerSection, description="matching people across frames"
    )


class PoseNetSettings(FilteredSettings):
    """PoseNet (MobileNetV1): one person, heatmap + offsets on the letterboxed frame."""

    output_stride: Literal[8, 16, 32] | None = Field(
        None, description="output stride (null: the manifest's, else derived from the tensor shapes)"
    )
    min_pose_score: float = Field(
        MIN_POSE_SCORE, ge=0, le=1, description="below this mean keypoint score nobody is reported"
    )


class BlazePoseSettings(Section):
    """BlazePose (MediaPipe): person detector → rotated ROI → 33 landmarks, followed from frame to frame."""

    track: bool = Field(
        True,
        description="follow the person with the landmarks' own ROI (false: run the detector on every frame)",
    )
    min_presence: float = Field(
        MIN_PRESENCE, ge=0, le=1, description="below this pose-presence score the person is lost"
    )
    filter: bool = Field(True, description="smooth the landmarks and the ROI points with One Euro filters")
    landmark_filter: OneEuroSettings = Field(
        default_factory=lambda: OneEuroSettings(**LANDMARK_FILTER),
        description="the output landmarks' filter (MediaPipe's constants; speed in object sizes per second)",
    )
    aux_filter: OneEuroSettings = Field(
        default_factory=lambda: OneEuroSettings(**AUX_FILTER),
        description="the ROI points' filter, smoothed harder so the crop stays steady (MediaPipe's constants)",
    )


class MultiPersonSettings(FilteredSettings):
    """The multi-person front-end (`movenet_lightning_multi`, edge/pose/multi_person.py): MultiPose finds
    people, each followed person is refined on their own Lightning crop. Its first keys are the compute
    budget; over it, people are refined in turn and the others coast on their filter (still reported)."""

    # --- the budget ---------------------------------------------------------------------------
    max_crops_per_frame: int = Field(
        8,
        ge=0,
        le=64,
        description="Lightning crops per frame at most (each about one bare Lightning invoke); with more "
        "people due, the longest-unrefined go first and the others coast on their filter (0: discovery only)",
    )
    people_at_full_rate: int = Field(
        8,
        ge=0,
        le=64,
        description="people refined on every frame (the longest-followed first); everyone beyond them is "
        "refined at person_rate_hz",
    )
    person_rate_hz: float = Field(
        5.0,
        gt=0,
        le=240,
        description="how often each person beyond people_at_full_rate is refined (Hz, frame time); "
        "between refinements they coast on their filter",
    )
    discovery_invokes_per_frame: int = Field(
        1,
        ge=1,
        le=64,
        description="MultiPose invokes per frame at most for discovery on video (motion nobody followed "
        "explains, lost people, the whole frame, the tile sweep; a still or a source's first frame runs "
        "every view at once)",
    )
    whole_frame_interval_s: float = Field(
        1.0,
        gt=0,
        le=3600,
        description="the whole frame is searched at least this often (s): a large person anywhere",
    )
    sweep_interval_s: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="a sweep of every tile starts this often (s), one tile per frame: someone who stands "
        "still where nothing moved is found within about this time",
    )

    # --- discovery ----------------------------------------------------------------------------
    tile_fractions: list[float] = Field(
        [1.0, 0.5, 1 / 3],
        min_length=1,
        max_length=6,
        description="tile sides of a sweep as fractions of the frame's short side (1: the whole frame; "
        "smaller tiles find smaller people at more invokes: docs/models.md, Discovery)",
    )
    min_tiled_short_side: int = Field(
        400,
        ge=1,
        le=10000,
        description="frames whose short side is below this (px) are searched whole, not tiled",
    )
    min_person_score: float = Field(
        MIN_PERSON_SCORE, ge=0, le=1, description="MultiPose person score that starts following someone"
    )

    # --- each person --------------------------------------------------------------------------
    min_pose_score: float = Field(
        MIN_POSE_SCORE,
        ge=0,
        le=1,
        description="a crop whose Lightning pose score (mean keypoint score above 0.2) is below this lost "
        "its person",
    )
    max_age_s: float = Field(
        MAX_AGE_S,
        gt=0,
        le=60,
        description="a person not seen by a crop or by discovery this long is dropped (s)",
    )
    max_tracks: int = Field(
        64, ge=1, le=256, description="most people followed at once (the most recently seen kept)"
    )
    crop_alpha: float = Field(
        CROP_REGION_ALPHA,
        gt=0,
        le=1,
        description="low-pass weight of a new crop edge (1: no smoothing of the crop)",
    )

    @field_validator("tile_fractions")
    @classmethod
    def _fractions(cls, value: list[float]) -> list[float]:
        if any(not 0.05 <= f <= 1.0 for f in value):
            raise ValueError("tile fractions must lie in [0.05, 1]")
        return value


FamilySettings = (
    SinglePoseSettings | MultiPoseSettings | PoseNetSettings | BlazePoseSettings | MultiPersonSettings
)


class PoseConfig(Section):
    """The `pose:` section: one sub-section per model family, named as the manifest's `family`. Set only
    the families the configured models (model.name, model.fallback) belong to."""

    movenet_singlepose: SinglePoseSettings = Field(
        default_factory=SinglePoseSettings,
        description="MoveNet Lightning and Thunder (movenet_lightning, ...)",
    )
    movenet_multipose: MultiPoseSettings = Field(
        default_factory=MultiPoseSettings, description="MoveNet MultiPose (movenet_multipose, ...)"
    )
    posenet: PoseNetSettings = Field(default_factory=PoseNetSettings, description="PoseNet (posenet, ...)")
    blazepose_landmark: BlazePoseSettings = Field(
        default_factory=BlazePoseSettings, description="BlazePose (blazepose_lite, blazepose_full)"
    )
    multi_person: MultiPersonSettings = Field(
        default_factory=MultiPersonSettings,
        description="the multi-person front-end (movenet_lightning_multi, the default): its compute budget",
    )

    def for_family(self, family: str) -> FamilySettings:
        """The settings of model family `family` (KeyError for a family without settings)."""
        if family not in type(self).model_fields:
            raise KeyError(family)
        settings: FamilySettings = getattr(self, family)
        return settings

    def unused_sections(self, families: set[str]) -> list[str]:
        """Family sections set in the config file whose family is not in `families` (those of the
        configured models): each is a mistake to refuse, never settings to ignore silently."""
        return sorted(set(self.model_fields_set) - families)

    def override(self, flag: str, model: str, family: str, others: set[str], **values: Any) -> PoseConfig:
        """This config with `values` set in the section of `family` (the chosen model's) and of every
        family in `others` (e.g. the fallback's) that has those settings. A command-line `flag` whose
        settings `family` does not have is refused (EX_USAGE), naming the flag, the model and the family."""
        missing = [key for key in values if key not in type(self.for_family(family)).model_fields]
        if missing:
            raise EdgeError(
                f"{flag}: does not apply to model {model!r} (model family {family!r} has no "
                f"{', '.join(missing)} setting)",
                EX_USAGE,
            )
        update: dict[str, Section] = {}
        for name in {family} | others:
            section = self.for_family(name)
            if all(key in type(section).model_fields for key in values):
                update[name] = section.model_copy(update=values)
        return self.model_copy(update=update)
