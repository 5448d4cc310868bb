"""Body geometry from COCO-17 keypoints: pure functions, no state.

Keypoints arrive normalised to the frame (x by width, y by height), so they are converted to pixels
(plain Python rows: at 17 points numpy's per-call cost outweighs its arithmetic) before any angle or
length is measured; lengths are then expressed in torso lengths (TL) so the rules
work at any distance from the camera. Image y grows downwards: "drop" values are positive when a point
is below another."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from edge.layouts import COCO17_INDEX, to_coco17
from edge.types import Keypoints

Point = tuple[float, float]
PixelKeypoints = Sequence[Sequence[float]]
"""17 COCO-17 rows of (x, y, score) in pixels (a list of tuples from `to_pixels`; a 17×3 array also works)."""

L_SHOULDER, R_SHOULDER = COCO17_INDEX["left_shoulder"], COCO17_INDEX["right_shoulder"]
L_ELBOW, R_ELBOW = COCO17_INDEX["left_elbow"], COCO17_INDEX["right_elbow"]
L_HIP, R_HIP = COCO17_INDEX["left_hip"], COCO17_INDEX["right_hip"]
L_KNEE, R_KNEE = COCO17_INDEX["left_knee"], COCO17_INDEX["right_knee"]
L_ANKLE, R_ANKLE = COCO17_INDEX["left_ankle"], COCO17_INDEX["right_ankle"]
TORSO_JOINTS = (L_SHOULDER, R_SHOULDER, L_HIP, R_HIP)
HEAD_JOINTS = tuple(COCO17_INDEX[n] for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear"))
LEGS = ((L_HIP, L_KNEE, L_ANKLE), (R_HIP, R_KNEE, R_ANKLE))
MIN_TORSO_PX = 4.0  # below this the shoulders and hips coincide: no usable scale
# An upper arm (about 0.6 TL side-on) drawn shorter than this points at or away from the camera, or a
# keypoint is misplaced (an elbow read on the head): its angle in the image means nothing.
MIN_UPPER_ARM_TL = 0.4


def to_pixels(keypoints: Keypoints, layout: str, width: int, height: int) -> PixelKeypoints:
    """COCO-17 keypoints in pixels of a `width`×`height` frame, from any declared layout."""
    rows = keypoints.tolist()
    return [(rows[i][0] * width, rows[i][1] * height, float(rows[i][2])) for i in to_coco17(layout)]


def midpoint(kp: PixelKeypoints, a: int, b: int, min_score: float) -> Point | None:
    """Mean of joints `a` and `b` that score at least `min_score` (one is enough); None if neither does."""
    pa, pb = kp[a], kp[b]
    if pa[2] >= min_score and pb[2] >= min_score:
        return (pa[0] + pb[0]) / 2.0, (pa[1] + pb[1]) / 2.0
    if pa[2] >= min_score:
        return pa[0], pa[1]
    if pb[2] >= min_score:
        return pb[0], pb[1]
    return None


def distance(p: Point, q: Point) -> float:
    """Euclidean distance in pixels."""
    return math.hypot(p[0] - q[0], p[1] - q[1])


def angle_from_vertical_deg(lower: Point, upper: Point) -> float:
    """Angle (0..180°) between the segment lower→upper and the image's upward direction:
    0 upright, 90 horizontal, 180 upside down."""
    dx, dy = upper[0] - lower[0], upper[1] - lower[1]
    return math.degrees(math.atan2(abs(dx), -dy))


def angle_between_deg(v: Point, w: Point) -> float:
    """Unsigned angle (0..180°) between two vectors; 0 when either is zero."""
    nv, nw = math.hypot(*v), math.hypot(*w)
    if nv == 0.0 or nw == 0.0:
        return 0.0
    cos = (v[0] * w[0] + v[1] * w[1]) / (nv * nw)
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


def upper_arm_elevation_deg(
    kp: PixelKeypoints, side: str, min_score: float, min_length_px: float = 0.0
) -> float | None:
    """Angle between the upper arm (shoulder→elbow) and the trunk pointing down (shoulder→hip) on
    `side` ("left"/"right"): 0 arm along the body, 90 level with the shoulder, 180 straight up.
    None when a joint is not seen or the arm is drawn shorter than `min_length_px`."""
    s, e, h = (L_SHOULDER, L_ELBOW, L_HIP) if side == "left" else (R_SHOULDER, R_ELBOW, R_HIP)
    shoulder, elbow, hip = kp[s], kp[e], kp[h]
    if min(shoulder[2], elbow[2], hip[2]) < min_score:
        return None
    arm = (elbow[0] - shoulder[0], elbow[1] - shoulder[1])
    if math.hypot(*arm) < min_length_px:
        return None
    trunk_down = (hip[0] - shoulder[0], hip[1] - shoulder[1])
    return angle_between_deg(arm, trunk_down)


def reba_trunk_score(trunk_deg: float) -> int:
    """REBA trunk score from flexion alone (1 upright, 2 up to 20°, 3 up to 60°, 4 beyond)."""
    if trunk_deg < 5.0:
        return 1
    if trunk_deg <= 20.0:
        return 2
    if trunk_deg <= 60.0:
        return 3
    return 4


def reba_upper_arm_score(elevation_deg: float | None) -> int:
    """REBA/RULA upper-arm score from elevation (1 up to 20°, 2 up to 45°, 3 up to 90°, 4 beyond);
    1 when the arm is not seen."""
    if elevation_deg is None or elevation_deg <= 20.0:
        return 1
    if elevation_deg <= 45.0:
        return 2
    if elevation_deg <= 90.0:
        return 3
    return 4


@dataclass(frozen=True, slots=True)
class Body:
    """One person's measurements in one frame; drops are in torso lengths of `scale_px`, None when
    the joints are not seen."""

    hip: Point  # hip centre, pixels
    shoulder: Point  # shoulder centre, pixels
    hip_norm: Point  # hip centre, normalised to the frame (for zones)
    torso_px: float  # this frame's shoulder-centre to hip-centre distance
    scale_px: float  # the torso length used as unit (the track's reference, at least torso_px)
    trunk_deg: float  # trunk angle from vertical
    ankle_drop_tl: float | None  # ankles below the hip centre
    knee_drop_tl: float | None  # knees below the hip centre
    shin_drop_tl: float | None  # ankles below the knees
    leg_score: float  # lowest score among the knees and ankles used
    arm_left_deg: float | None  # upper-arm elevation
    arm_right_deg: float | None
    score: float  # mean score of the four torso joints
    head_beyond_tl: float | None  # head centre past the shoulder centre along the trunk axis
    shoulder_ratio: float | None  # shoulder breadth over this frame's torso length (both shoulders seen)
    knee_deg: float | None  # knee angle of the straighter leg seen (180 straight)
    head: Point | None = None  # mean of the seen head joints, pixels
    box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # seen keypoints' box, pixels
    keypoint_score: float = 0.0  # mean score of all 17 keypoints
    seen_fraction: float = 0.0  # share of the 17 keypoints scoring at least min_score

    @property
    def arm_deg(self) -> float | None:
        """The more raised upper arm (None if neither is seen)."""
        seen = [a for a in (self.arm_left_deg, self.arm_right_deg) if a is not None]
        return max(seen) if seen else None


def head_beyond_shoulders_tl(
    kp: PixelKeypoints, shoulder: Point, hip: Point, min_score: float, scale_px: float
) -> float | None:
    """How far the head centre (mean of the seen nose, eyes and ears) lies past the shoulder centre
    along the hip→shoulder axis, in TL of `scale_px`; None when no head joint is seen.

    A trunk lying in the image plane has the neck and head beyond the shoulders (0.2-0.8 TL measured
    on people lying on the floor); a trunk pointing at the camera (someone sitting, seen from above)
    shows the head on top of the shoulders, about 0."""
    seen = [kp[i] for i in HEAD_JOINTS if kp[i][2] >= min_score]
    if not seen:
        return None
    head_x, head_y = sum(p[0] for p in seen) / len(seen), sum(p[1] for p in seen) / len(seen)
    axis = (shoulder[0] - hip[0], shoulder[1] - hip[1])
    length = math.hypot(*axis)
    if length == 0.0:
        return None
    along = ((head_x - shoulder[0]) * axis[0] + (head_y - shoulder[1]) * axis[1]) / length
    return along / scale_px


def straightest_knee_deg(kp: PixelKeypoints, min_score: float) -> float | None:
    """The larger knee angle (hip-knee-ankle, 180 = straight leg) of the legs whose three joints are
    seen; None when neither is. A straight leg stays straight in any projection."""
    angles = [
        angle_between_deg((hip[0] - knee[0], hip[1] - knee[1]), (ankle[0] - knee[0], ankle[1] - knee[1]))
        for hip, knee, ankle in ((kp[h], kp[k], kp[a]) for h, k, a in LEGS)
        if min(hip[2], knee[2], ankle[2]) >= min_score
    ]
    return max(angles) if angles else None


def torso_length_px(kp: PixelKeypoints, min_score: float) -> float | None:
    """Shoulder-centre to hip-centre distance in pixels, None when the torso is not seen."""
    shoulder = midpoint(kp, L_SHOULDER, R_SHOULDER, min_score)
    hip = midpoint(kp, L_HIP, R_HIP, min_score)
    if shoulder is None or hip is None:
        return None
    length = distance(shoulder, hip)
    return length if length >= MIN_TORSO_PX else None


def measure(kp: PixelKeypoints, width: int, height: int, min_score: float, scale_px: float) -> Body | None:
    """Measure a person; None when a shoulder and a hip are not seen (no torso, no scale)."""
    shoulder = midpoint(kp, L_SHOULDER, R_SHOULDER, min_score)
    hip = midpoint(kp, L_HIP, R_HIP, min_score)
    if shoulder is None or hip is None:
        return None
    torso = distance(shoulder, hip)
    if torso < MIN_TORSO_PX:
        return None
    scale = max(scale_px, torso)
    knee = midpoint(kp, L_KNEE, R_KNEE, min_score)
    ankle = midpoint(kp, L_ANKLE, R_ANKLE, min_score)
    leg_scores = [s for s in (kp[i][2] for i in (L_KNEE, R_KNEE, L_ANKLE, R_ANKLE)) if s >= min_score]
    left, right = kp[L_SHOULDER], kp[R_SHOULDER]
    breadth = (
        math.hypot(left[0] - right[0], left[1] - right[1]) if min(left[2], right[2]) >= min_score else None
    )
    seen = [p for p in kp if p[2] >= min_score]
    heads = [kp[i] for i in HEAD_JOINTS if kp[i][2] >= min_score]
    xs, ys = [p[0] for p in seen], [p[1] for p in seen]
    return Body(
        hip=hip,
        shoulder=shoulder,
        hip_norm=(hip[0] / width, hip[1] / height),
        torso_px=torso,
        scale_px=scale,
        trunk_deg=angle_from_vertical_deg(hip, shoulder),
        ankle_drop_tl=None if ankle is None else (ankle[1] - hip[1]) / scale,
        knee_drop_tl=None if knee is None else (knee[1] - hip[1]) / scale,
        shin_drop_tl=None if knee is None or ankle is None else (ankle[1] - knee[1]) / scale,
        leg_score=float(min(leg_scores)) if leg_scores else 0.0,
        arm_left_deg=upper_arm_elevation_deg(kp, "left", min_score, MIN_UPPER_ARM_TL * scale),
        arm_right_deg=upper_arm_elevation_deg(kp, "right", min_score, MIN_UPPER_ARM_TL * scale),
        score=float(sum(kp[i][2] for i in TORSO_JOINTS) / len(TORSO_JOINTS)),
        head_beyond_tl=head_beyond_shoulders_tl(kp, shoulder, hip, min_score, scale),
        shoulder_ratio=None if breadth is None else breadth / torso,
        knee_deg=straightest_knee_deg(kp, min_score),
        head=(sum(p[0] for p in heads) / len(heads), sum(p[1] for p in heads) / len(heads))
        if heads
        else None,
        box=(min(xs), min(ys), max(xs), max(ys)),
        keypoint_score=float(sum(p[2] for p in kp) / len(kp)),
        seen_fraction=len(seen) / len(kp),
    )


def jumped(previous: Body, current: Body, max_ratio: float) -> bool:
    """The torso length changed by more than `max_ratio` between two readings of one track: not the same
    body moving (a shot cut, a camera switch, another person taking the track over)."""
    longer, shorter = max(previous.torso_px, current.torso_px), min(previous.torso_px, current.torso_px)
    return longer > max_ratio * shorter
