"""`RulesConfig`: every threshold of the safety rules, typed, bounded and documented.

The daemon mounts this model as the `rules:` section of its YAML config; `edge-pose replay --rules FILE`
and `edge-pose eval-events --rules FILE` load it on its own (a file holding either the section's content
or a whole config with a `rules:` key), through the same strict loader (edge/loader.py): unknown keys,
`"0.5"` for a number, `0`/`1`/`yes` for a boolean and duplicate keys are errors naming the key path.

Units: lengths are in torso lengths (TL, the shoulder-centre to hip-centre distance in pixels, so rules
work at any distance from the camera), angles in degrees, times in seconds of frame time."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from edge.errors import ConfigError
from edge.loader import Section, read_document, validate_section


class ZoneConfig(Section):
    """A polygon in normalised image coordinates (0..1 of width and height). A rule with include zones
    only looks at people whose hip centre is inside one of them; exclude zones (a bed, a bench, a pit)
    remove people from the rule wherever they are."""

    name: str = Field(description="label shown in event details", min_length=1, max_length=64)
    mode: Literal["include", "exclude"] = Field(description="include: only here; exclude: never here")
    points: list[tuple[float, float]] = Field(
        description="polygon corners [x, y], normalised to the frame (0..1)", min_length=3, max_length=64
    )

    @field_validator("points", mode="before")
    @classmethod
    def _pairs(cls, points: Any) -> Any:
        # YAML has no tuples: each [x, y] list becomes a pair (its numbers are still checked strictly)
        if isinstance(points, list):
            return [tuple(p) if isinstance(p, list) and len(p) == 2 else p for p in points]
        return points

    @field_validator("points")
    @classmethod
    def _inside_frame(cls, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        for x, y in points:
            if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                raise ValueError(f"point [{x}, {y}] is outside the frame (coordinates must be 0..1)")
        crossing = first_crossing(points)
        if crossing is not None:
            raise ValueError(
                f"the outline crosses itself (edges {crossing[0] + 1} and {crossing[1] + 1}): "
                "give the corners in order around the zone"
            )
        if abs(polygon_area(points)) < MIN_ZONE_AREA:
            raise ValueError(
                f"the polygon encloses (almost) no area (under {MIN_ZONE_AREA:g} of the frame): "
                "are its corners on one line or repeated?"
            )
        return points


MIN_ZONE_AREA = 1e-4  # of the frame's area: a zone smaller than 1% by 1% of the view is a slip of the mouse


def polygon_area(points: list[tuple[float, float]]) -> float:
    """Signed area (shoelace formula) of a polygon given by its corners in order."""
    n = len(points)
    return 0.5 * sum(
        points[i][0] * points[(i + 1) % n][1] - points[(i + 1) % n][0] * points[i][1] for i in range(n)
    )


def _segments_cross(
    p1: tuple[float, float], p2: tuple[float, float], q1: tuple[float, float], q2: tuple[float, float]
) -> bool:
    def orient(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> float:
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    d1, d2 = orient(q1, q2, p1), orient(q1, q2, p2)
    d3, d4 = orient(p1, p2, q1), orient(p1, p2, q2)
    return d1 * d2 < 0 and d3 * d4 < 0  # a proper crossing; touching corners are allowed


def first_crossing(points: list[tuple[float, float]]) -> tuple[int, int] | None:
    """The first pair of non-adjacent edges (i, j) that cross, or None for a simple polygon."""
    n = len(points)
    edges = [(points[i], points[(i + 1) % n]) for i in range(n)]
    for i in range(n):
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue  # the first and the last edge share a corner
            if _segments_cross(*edges[i], *edges[j]):
                return i, j
    return None


class PostureConfig(Section):
    """How one frame's keypoints are read as a posture (shared by every rule)."""

    min_keypoint_score: float = Field(
        0.2,
        ge=0.0,
        le=1.0,
        description="keypoints scoring below this are treated as not seen (tfjs MoveNet: 0.2)",
    )
    min_torso_score: float = Field(
        0.3,
        ge=0.0,
        le=1.0,
        description="mean score of the shoulders and hips needed to call a person down (a doubtful reading of "
        "someone bent over close to the camera looks like lying)",
    )
    lying_trunk_deg: float = Field(
        60.0,
        ge=30.0,
        le=90.0,
        description="trunk angle from vertical (deg) at or above which a person may be lying",
    )
    standing_ankle_drop_tl: float = Field(
        1.3,
        ge=0.5,
        le=3.0,
        description="ankles this far below the hip centre (TL) mean the legs are standing: a person bent "
        "over at the waist is not lying",
    )
    standing_knee_drop_tl: float = Field(
        0.6, ge=0.2, le=2.0, description="as standing_ankle_drop_tl, for knees when the ankles are not seen"
    )
    low_ankle_drop_tl: float = Field(
        0.35,
        ge=0.0,
        le=1.0,
        description="ankles at most this far below the hip centre (TL) with the trunk upright: sitting on the floor",
    )
    min_leg_score: float = Field(
        0.3,
        ge=0.0,
        le=1.0,
        description="knees and ankles must score this much to judge 'sitting on the floor'",
    )
    end_on_head_beyond_tl: float = Field(
        0.1,
        ge=-1.0,
        le=1.0,
        description="a trunk lying in the image plane shows the head past the shoulders along it (0.17-0.8 TL "
        "measured on people lying on the floor); with the head closer than this (TL) and the shoulders wide "
        "(end_on_shoulder_ratio) the trunk points at the camera (someone sitting, seen from above) and its "
        "angle in the image is not read as lying or bent; -1 turns the check off",
    )
    end_on_shoulder_ratio: float = Field(
        1.0,
        ge=0.5,
        le=5.0,
        description="... shoulder breadth over this frame's torso length at least this: a trunk seen end-on is "
        "shortened, its shoulders are not (people lying measure 0.2-0.75)",
    )
    slumped_max_ankle_drop_tl: float = Field(
        0.7,
        ge=0.0,
        le=2.0,
        description="sitting on the floor with the legs stretched out (how a fall into sitting ends): ankles at "
        "most this far below the hip centre (TL; a chair puts them a shin, 0.9 TL or more, below)",
    )
    slumped_min_knee_deg: float = Field(
        120.0,
        ge=90.0,
        le=180.0,
        description="... and the straighter leg's knee angle (deg, 180 = straight) at least this: a squat or "
        "kneeling on the heels folds both knees (under 60 deg)",
    )
    sitting_counts_as_down: bool = Field(
        False,
        description="count sitting on the floor (upright trunk, ankles at hip level) as down; off by default "
        "because from one 2D view it looks like kneeling on the heels, a normal working posture",
    )


FallDetector = Literal["model", "rules"]  # how `fall` decides: the learned model or the rules


class FallConfig(Section):
    """`fall`: a rapid descent of the hip centre (with or without the trunk turning), confirmed by the
    person staying down: `detector: rules` (default; its thresholds fit on the fall clips by
    `make fall-model`). `detector: model` instead scores each track's last 1.5 s of motion with the
    learned model (edge/rules/fall_features.py) and raises at the impact. docs/events.md has the
    held-out figures of both and why the rule is the default."""

    enabled: bool = Field(True, description="run this rule")
    detector: FallDetector = Field(
        "rules",
        description="rules: the descent / trunk-turn / confirmation thresholds below (better held out, see "
        "docs/events.md); model: the learned fall model named by `model`",
    )
    model: str = Field(
        "fall_gbt",
        min_length=1,
        description="fall model name from the `fall_models` list of models/manifest.json (checksum verified)",
    )
    min_probability: float | None = Field(
        None,
        gt=0.0,
        lt=1.0,
        description="probability at which the model raises `fall`; null: the threshold chosen with the model "
        "on its training data (higher: fewer false alarms, more missed falls)",
    )
    jump_scale_ratio: float = Field(
        2.5,
        gt=1.0,
        le=10.0,
        description="a track whose torso length changes by more than this factor between two frames is taken "
        "to have jumped (a shot cut, another person): the model forgets the motion before it (detector: model; "
        "Lightning's torso halves within a frame during real falls, so lower values cost falls)",
    )
    descent_window_s: float = Field(
        1.0, gt=0.1, le=5.0, description="how far back (s) the descent and the trunk turn are measured"
    )
    min_descent_tl: float = Field(
        0.5, gt=0.0, le=5.0, description="the hip centre must drop at least this much (TL) within the window"
    )
    min_descent_speed_tl_s: float = Field(
        1.2,
        gt=0.0,
        le=20.0,
        description="mean downward hip speed (TL/s) over that drop; sitting down is about 1, falls 2-6 (1.2: fit on "
        "the fall clips by make fall-model with the default front-end, with min_descent_tl and confirm_s)",
    )
    max_start_drop_tl: float | None = Field(
        None,
        gt=0.0,
        le=5.0,
        description="the descent must start within this much (TL) of the track's highest hip over the last "
        "3 s (a fall is one drop; a controlled lie-down pauses low, kneeling or sitting, before its last "
        "drop); null: off. Fit by make fall-model with the other thresholds",
    )
    min_trunk_turn_deg: float = Field(
        30.0,
        ge=0.0,
        le=180.0,
        description="trunk angle increase (deg) within the window, unless already lying",
    )
    collapse: bool = Field(
        True,
        description="also a fall without the trunk turn: the same fast descent ending slumped on the floor "
        "(sitting, legs stretched out; see posture.slumped_*) or lying, confirmed for confirm_s; ended when "
        "the person stands up",
    )
    collapse_max_drift_tl: float = Field(
        0.5,
        gt=0.0,
        le=5.0,
        description="someone who collapsed stays where they landed: the hip centre moving further than this "
        "(TL) while a collapse is being confirmed is someone walking on (a misread pose or a switch to another "
        "person), not a fall",
    )
    confirm_s: float = Field(
        1.0, ge=0.0, le=60.0, description="the person must then stay down (lying or low) this long (s)"
    )
    confirm_window_s: float = Field(
        4.0, gt=0.0, le=120.0, description="the confirmation must come within this time (s) of the descent"
    )
    clear_s: float = Field(2.0, gt=0.0, le=60.0, description="up for this long (s) ends the fall event")
    zones: list[ZoneConfig] = Field(default_factory=list, description="include/exclude zones for this rule")


class PersonDownConfig(Section):
    """`person_down`: someone lying or low on the floor for longer than `min_duration_s`, whether or not
    the fall was seen. On while they are down, off when they are up."""

    enabled: bool = Field(True, description="run this rule")
    min_duration_s: float = Field(5.0, ge=0.0, le=600.0, description="down this long (s) starts the event")
    clear_s: float = Field(
        2.0, gt=0.0, le=60.0, description="up this long (s) ends it (gaps shorter are bridged)"
    )
    critical_after_s: float = Field(
        30.0, ge=0.0, le=3600.0, description="down this long (s): severity goes from warning to critical"
    )
    zones: list[ZoneConfig] = Field(default_factory=list, description="include/exclude zones for this rule")


class UnsafePostureConfig(Section):
    """`unsafe_posture`: sustained trunk flexion, arms raised above the shoulders, kneeling or deep squat.
    Each posture is its own event with a REBA-style trunk/upper-arm score in the details."""

    enabled: bool = Field(True, description="run this rule")
    trunk_flexion_deg: float = Field(
        60.0, ge=10.0, le=120.0, description="trunk angle from vertical (deg); REBA's worst trunk band is >60"
    )
    trunk_min_duration_s: float = Field(
        4.0, ge=0.0, le=600.0, description="flexed this long (s) starts the event"
    )
    arm_raise_deg: float = Field(
        90.0,
        ge=30.0,
        le=180.0,
        description="upper-arm elevation from the trunk (deg); >90 is REBA's worst upper-arm band (above shoulder)",
    )
    arms_min_duration_s: float = Field(
        4.0, ge=0.0, le=600.0, description="raised this long (s) starts the event"
    )
    squat_ankle_drop_tl: float = Field(
        0.45,
        ge=0.0,
        le=1.5,
        description="ankles at most this far below the hips (TL), legs seen: hips down by the feet (deep squat, "
        "sitting on the heels)",
    )
    kneel_shin_drop_tl: float = Field(
        0.25,
        ge=0.0,
        le=1.0,
        description="ankles at most this far below the knees (TL): shins on the floor, kneeling",
    )
    kneel_min_duration_s: float = Field(
        5.0, ge=0.0, le=600.0, description="kneeling/squatting this long (s) starts the event"
    )
    clear_s: float = Field(
        1.0, gt=0.0, le=60.0, description="out of the posture this long (s) ends the event"
    )
    zones: list[ZoneConfig] = Field(default_factory=list, description="include/exclude zones for this rule")


class RepetitiveMotionConfig(Section):
    """`repetitive_motion`: bend-and-lift cycles counted per track; raised above a rate."""

    enabled: bool = Field(True, description="run this rule")
    bend_deg: float = Field(45.0, ge=10.0, le=120.0, description="trunk angle (deg) that counts as bent")
    lift_deg: float = Field(
        20.0, ge=0.0, le=90.0, description="trunk angle (deg) back below which a bend completes a cycle"
    )
    window_s: float = Field(
        60.0, ge=5.0, le=3600.0, description="cycles are counted over this sliding window (s)"
    )
    max_cycles_per_min: float = Field(
        6.0, gt=0.0, le=120.0, description="rate (cycles/min over the window) above which the event starts"
    )
    min_cycle_s: float = Field(
        0.5, ge=0.0, le=60.0, description="shorter bend-and-lift swings are noise, not cycles"
    )
    zones: list[ZoneConfig] = Field(default_factory=list, description="include/exclude zones for this rule")


class RulesConfig(Section):
    """The `rules:` section: shared settings and one section per rule."""

    max_absence_s: float = Field(
        1.0,
        ge=0.0,
        le=60.0,
        description="a track unseen (or without a readable torso) this long (s) is dropped and its events end "
        "(tfjs tracker maxAge: 1 s)",
    )
    handover_radius_tl: float = Field(
        1.5,
        ge=0.0,
        le=10.0,
        description="a new track id whose hip centre is this close (TL) to a track lost under max_absence_s ago "
        "takes over its state and open events (a single-pose model gives a new id after every miss); 0: off",
    )
    handover_below_tl: float = Field(
        1.5,
        ge=0.0,
        le=10.0,
        description="... plus up to this much (TL) straight below it: someone lost during a fall (motion blur) "
        "is re-acquired on the floor, lower than where they were last seen",
    )
    reference_window_s: float = Field(
        3.0,
        gt=0.0,
        le=60.0,
        description="torso length is the 75th percentile over this window (s): the scale",
    )
    update_interval_s: float = Field(
        10.0, gt=0.0, le=3600.0, description="an open event sends an `update` at most this often (s)"
    )
    posture: PostureConfig = Field(default_factory=PostureConfig, description="posture reading")
    fall: FallConfig = Field(default_factory=FallConfig, description="fall rule")
    person_down: PersonDownConfig = Field(default_factory=PersonDownConfig, description="person-down rule")
    unsafe_posture: UnsafePostureConfig = Field(
        default_factory=UnsafePostureConfig, description="unsafe-posture rule"
    )
    repetitive_motion: RepetitiveMotionConfig = Field(
        default_factory=RepetitiveMotionConfig, description="repetitive-motion rule"
    )


def parse_rules_config(data: Any, origin: str, prefix: str = "rules") -> RulesConfig:
    """Validate a mapping as `RulesConfig`; ConfigError naming `origin` and the key path (under
    `prefix`) on failure."""
    return validate_section(RulesConfig, data if data is not None else {}, origin, prefix=prefix)


def load_rules_config(path: str) -> RulesConfig:
    """Read a YAML file holding either a `rules:` section (a whole daemon config) or just its content;
    errors name the key as written in that file (`rules.fall.confirm_s`, or `fall.confirm_s`)."""
    data = read_document(path)
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of rule settings, got {type(data).__name__}")
    if isinstance(data, dict) and "rules" in data:
        return parse_rules_config(data["rules"], path)
    return parse_rules_config(data, path, prefix="")
