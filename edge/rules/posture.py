"""Reading one frame's measurements as a posture (lying, sitting on the floor, standing): pure
functions of a `Body` and the `posture:` thresholds, shared by every rule."""

from __future__ import annotations

from edge.rules.config import PostureConfig
from edge.rules.geometry import Body

UPRIGHT_TRUNK_DEG = 30.0  # trunk closer than this to vertical counts as upright (REBA's bands end at 20/60)


def legs_standing(body: Body, cfg: PostureConfig) -> bool:
    """The feet (or, unseen, the knees) are well below the hips: the person stands, even bent over."""
    if body.ankle_drop_tl is not None:
        return body.ankle_drop_tl >= cfg.standing_ankle_drop_tl
    if body.knee_drop_tl is not None:
        return body.knee_drop_tl >= cfg.standing_knee_drop_tl
    return False


def trunk_end_on(body: Body, cfg: PostureConfig) -> bool:
    """The trunk points at (or away from) the camera: the head is seen on top of the shoulders instead of
    past them, and the shoulders are drawn wider than the shortened trunk is long. Its angle in the image
    then says nothing about lying or bending (a person sitting upright seen from an overhead camera has
    a trunk that looks flat)."""
    return (
        body.head_beyond_tl is not None
        and body.head_beyond_tl < cfg.end_on_head_beyond_tl
        and body.shoulder_ratio is not None
        and body.shoulder_ratio >= cfg.end_on_shoulder_ratio
    )


def lying(body: Body, cfg: PostureConfig) -> bool:
    """Trunk towards horizontal, lying in the image plane, and the legs not standing under the hips."""
    return (
        body.trunk_deg >= cfg.lying_trunk_deg and not legs_standing(body, cfg) and not trunk_end_on(body, cfg)
    )


def sitting_on_floor(body: Body, cfg: PostureConfig) -> bool:
    """Trunk upright-ish with the ankles (seen with confidence) at about hip height."""
    return (
        body.trunk_deg < cfg.lying_trunk_deg
        and body.ankle_drop_tl is not None
        and body.knee_drop_tl is not None
        and body.leg_score >= cfg.min_leg_score
        and body.ankle_drop_tl <= cfg.low_ankle_drop_tl
    )


def slumped(body: Body, cfg: PostureConfig) -> bool:
    """Sitting on the floor with the legs stretched out, read with confidence: trunk not lying, ankles near
    hip height and a straight leg. Unlike a chair (shins hanging down) or a squat / kneeling on the heels
    (knees folded). Only the fall rule's collapse path uses it: on its own it is a normal way to sit."""
    return (
        body.score >= cfg.min_torso_score
        and body.trunk_deg < cfg.lying_trunk_deg
        and body.ankle_drop_tl is not None
        and body.leg_score >= cfg.min_leg_score
        and body.ankle_drop_tl <= cfg.slumped_max_ankle_drop_tl
        and body.knee_deg is not None
        and body.knee_deg >= cfg.slumped_min_knee_deg
    )


def down(body: Body, cfg: PostureConfig) -> bool:
    """Lying (or, when configured, sitting on the floor), read with confidence: what person_down and fall
    confirmation look for."""
    if body.score < cfg.min_torso_score:
        return False
    return lying(body, cfg) or (cfg.sitting_counts_as_down and sitting_on_floor(body, cfg))


def upright(body: Body, cfg: PostureConfig) -> bool:
    """Standing or walking: trunk near vertical and legs not folded under the body."""
    return body.trunk_deg < UPRIGHT_TRUNK_DEG and (
        legs_standing(body, cfg) or (body.ankle_drop_tl is None and body.knee_drop_tl is None)
    )
