"""Synthetic keypoint sequences for the rule tests: a side-view stick figure posed by a few angles,
moved between key poses over frame time, rendered as COCO-17 poses in a 640×480 frame.

The figure: torso TORSO px; thigh and shin 0.9 torso each; angles in degrees. `trunk` is the trunk's
angle from vertical (leaning towards +x), `thigh`/`shin` the angle of each leg segment from straight
down (positive: towards +x), `arm` the upper-arm elevation from the trunk.

These sequences exercise the hand-set rule detector (`fall.detector: rules`, RULE_DETECTOR); the learned
fall model is tested on real keypoint sequences in tests/fall/."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from edge.layouts import COCO17_INDEX
from edge.rules.config import FallConfig, RulesConfig
from edge.rules.engine import RulesEngine
from edge.rules.event import Event
from edge.types import Frame, Pose

WIDTH, HEIGHT = 640, 480
TORSO = 100.0  # px
LEG = 0.9 * TORSO  # thigh and shin, px
FLOOR_Y = 460.0  # px: where standing feet are
RULE_DETECTOR = RulesConfig(fall=FallConfig(detector="rules"))  # the descent/turn/confirm rule, not the model


@dataclass(frozen=True)
class Stance:
    """A key pose; `hip_y` None puts the lowest leg point on the floor."""

    trunk: float = 0.0
    thigh: float = 0.0
    shin: float = 0.0
    arm: float = 10.0
    hip_x: float = 320.0
    hip_y: float | None = None


STAND = Stance()
BEND = Stance(trunk=80.0)  # bent over at the waist, legs straight
SQUAT = Stance(trunk=30.0, thigh=-110.0, shin=40.0)  # deep squat: knees above the hips, heels under them
SIT_CHAIR = Stance(trunk=5.0, thigh=-90.0, shin=0.0)  # thighs level, shins vertical
KNEEL = Stance(trunk=5.0, thigh=0.0, shin=90.0)  # upright on the knees, shins flat on the floor
LIE = Stance(trunk=90.0, thigh=-90.0, shin=-90.0)  # flat on the floor (head towards +x)
SLUMP = Stance(trunk=-15.0, thigh=-85.0, shin=-95.0)  # sitting on the floor, leaning back, legs stretched out
STOOL = Stance(trunk=5.0, thigh=-115.0, shin=-10.0)  # on a low stool: knees above the hips, shins hanging
ARMS_UP = Stance(arm=160.0)


def _rot(v: tuple[float, float], deg: float) -> tuple[float, float]:
    a = math.radians(deg)
    return v[0] * math.cos(a) - v[1] * math.sin(a), v[0] * math.sin(a) + v[1] * math.cos(a)


def keypoints(s: Stance, score: float = 0.8) -> np.ndarray:
    """The 17×3 COCO keypoints (normalised) of stance `s`."""
    t = math.radians(s.trunk)
    up = (math.sin(t), -math.cos(t))  # hip → shoulder direction
    side = (math.cos(t), math.sin(t))  # across the body
    hip_rel = (0.0, 0.0)
    knee_rel = (LEG * math.sin(math.radians(-s.thigh)), LEG * math.cos(math.radians(s.thigh)))
    ankle_rel = (
        knee_rel[0] + LEG * math.sin(math.radians(-s.shin)),
        knee_rel[1] + LEG * math.cos(math.radians(s.shin)),
    )
    lowest = max(hip_rel[1], knee_rel[1], ankle_rel[1], TORSO * up[1] + 10.0)
    hip_y = s.hip_y if s.hip_y is not None else FLOOR_Y - lowest
    hip = (s.hip_x, hip_y)
    shoulder = (hip[0] + TORSO * up[0], hip[1] + TORSO * up[1])
    down = (-up[0], -up[1])
    arm_dir = _rot(down, -s.arm)
    pts: dict[str, tuple[float, float]] = {}
    for sign, name in ((1, "left"), (-1, "right")):
        w_s, w_h = 0.2 * TORSO * sign, 0.12 * TORSO * sign
        pts[f"{name}_shoulder"] = (shoulder[0] + w_s * side[0], shoulder[1] + w_s * side[1])
        pts[f"{name}_hip"] = (hip[0] + w_h * side[0], hip[1] + w_h * side[1])
        pts[f"{name}_knee"] = (hip[0] + knee_rel[0] + w_h * side[0], hip[1] + knee_rel[1])
        pts[f"{name}_ankle"] = (hip[0] + ankle_rel[0] + w_h * side[0], hip[1] + ankle_rel[1])
        elbow = (
            pts[f"{name}_shoulder"][0] + 0.6 * TORSO * arm_dir[0],
            pts[f"{name}_shoulder"][1] + 0.6 * TORSO * arm_dir[1],
        )
        pts[f"{name}_elbow"] = elbow
        pts[f"{name}_wrist"] = (elbow[0] + 0.5 * TORSO * arm_dir[0], elbow[1] + 0.5 * TORSO * arm_dir[1])
    head = (shoulder[0] + 0.35 * TORSO * up[0], shoulder[1] + 0.35 * TORSO * up[1])
    for name, dx in (
        ("nose", 0.0),
        ("left_eye", 0.05),
        ("right_eye", -0.05),
        ("left_ear", 0.1),
        ("right_ear", -0.1),
    ):
        pts[name] = (head[0] + dx * TORSO * side[0], head[1] + dx * TORSO * side[1])
    kp = np.zeros((17, 3), dtype=np.float32)
    for name, (x, y) in pts.items():
        kp[COCO17_INDEX[name]] = (x / WIDTH, y / HEIGHT, score)
    return kp


def _lerp(a: Stance, b: Stance, f: float) -> Stance:
    ay = a.hip_y if a.hip_y is not None else _hip_y(a)
    by = b.hip_y if b.hip_y is not None else _hip_y(b)
    mix = lambda u, v: u + (v - u) * f  # noqa: E731
    return Stance(
        trunk=mix(a.trunk, b.trunk),
        thigh=mix(a.thigh, b.thigh),
        shin=mix(a.shin, b.shin),
        arm=mix(a.arm, b.arm),
        hip_x=mix(a.hip_x, b.hip_x),
        hip_y=mix(ay, by),
    )


def _hip_y(s: Stance) -> float:
    kp = keypoints(s)
    return float((kp[COCO17_INDEX["left_hip"], 1] + kp[COCO17_INDEX["right_hip"], 1]) / 2 * HEIGHT)


Script = list[tuple[float, Stance | None]]
"""(seconds, stance): move to `stance` over that many seconds (None: nobody in view for that long)."""


def play(script: Script, fps: float, start: Stance = STAND) -> Iterator[tuple[float, Stance | None]]:
    """Frame times and stances of a script, sampled at `fps`."""
    t, current = 0.0, start
    step = 1.0 / fps
    for duration, target in script:
        n = max(1, round(duration * fps))
        for i in range(1, n + 1):
            if target is None:
                yield t, None
            else:
                yield t, _lerp(current, target, i / n)
            t += step
        if target is not None:
            current = target


def run_script(
    script: Script,
    fps: float,
    config: RulesConfig | None = None,
    track_id: int = 7,
    start: Stance = STAND,
    others: dict[int, Stance] | None = None,
    noise_px: float = 0.0,
    miss_rate: float = 0.0,
    seed: int = 1,
) -> list[Event]:
    """All events the engine raises over the script (plus `others`: people holding a stance), ended by
    `finish`. `noise_px` adds Gaussian jitter to every keypoint and random scores (0.35..0.9) like a real
    model's; `miss_rate` drops that share of frames (the model missing the person)."""
    engine = RulesEngine(config or RULE_DETECTOR)
    image = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    rng = np.random.default_rng(seed)
    events: list[Event] = []
    for index, (ts, stance) in enumerate(play(script, fps, start)):
        poses = []
        if stance is not None and rng.random() >= miss_rate:
            kp = keypoints(stance)
            if noise_px > 0.0:
                kp[:, 0] += rng.normal(0.0, noise_px / WIDTH, 17).astype(np.float32)
                kp[:, 1] += rng.normal(0.0, noise_px / HEIGHT, 17).astype(np.float32)
                kp[:, 2] = rng.uniform(0.35, 0.9, 17).astype(np.float32)
            poses.append(Pose(kp, 0.8, "coco17", track_id))
        for other_id, other in (others or {}).items():
            poses.append(Pose(keypoints(other), 0.8, "coco17", other_id))
        frame = Frame(image=image, timestamp_ns=round(ts * 1e9), source="synthetic", index=index)
        events += engine.process(frame, poses)
    return events + engine.finish()


def starts(events: list[Event], type_: str | None = None) -> list[Event]:
    """Start events (of one type)."""
    return [e for e in events if e.state == "start" and (type_ is None or e.type == type_)]


def seen_from_above(kp: np.ndarray) -> np.ndarray:
    """What an overhead camera shows of a person sitting upright whose trunk happens to lie along the
    image like `kp`'s: the trunk points at the camera, so it is drawn at 30 % of its length while the
    shoulders keep their breadth, and the head sits on top of the shoulders."""
    out = kp.copy()
    hip = (kp[COCO17_INDEX["left_hip"], :2] + kp[COCO17_INDEX["right_hip"], :2]) / 2
    for name in ("left_shoulder", "right_shoulder"):
        out[COCO17_INDEX[name], :2] = hip + 0.3 * (kp[COCO17_INDEX[name], :2] - hip)
    shoulder_centre = (out[COCO17_INDEX["left_shoulder"], :2] + out[COCO17_INDEX["right_shoulder"], :2]) / 2
    across = kp[COCO17_INDEX["left_shoulder"], :2] - kp[COCO17_INDEX["right_shoulder"], :2]
    for name in ("left_shoulder", "right_shoulder"):  # full breadth around the shortened trunk's top
        sign = 0.5 if name.startswith("left") else -0.5
        out[COCO17_INDEX[name], :2] = shoulder_centre + sign * across
    for name in ("nose", "left_eye", "right_eye", "left_ear", "right_ear"):
        out[COCO17_INDEX[name], :2] = shoulder_centre
    return out


def shifted(s: Stance, dx: float) -> Stance:
    """The same stance `dx` px to the side."""
    return replace(s, hip_x=s.hip_x + dx)
