"""Table-driven keypoint sequences for the learned fall rule's state machine, at 5 and 30 fps: a track
lost during the fall and re-acquired on the floor under a new id, a new track on the floor far from any
lost one, a lost track that stays away too long, a shot cut, standing still.

The scorer here is a transparent hand-set model file (p > 0.5 once the hip has dropped 0.8 TL within
the window): these tests are about tracks, handover and event timing; the shipped model's decisions on
real falls are in test_shipped_model.py."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rules"))
from rule_sequences import HEIGHT, LIE, STAND, WIDTH, Stance, keypoints, play

from edge.rules.config import RulesConfig
from edge.rules.engine import RulesEngine
from edge.rules.event import Event
from edge.rules.fall_features import FEATURE_NAMES
from edge.rules.fall_model import FallModel, parse_fall_model
from edge.types import Frame, Pose


def hip_drop_model() -> FallModel:
    n = len(FEATURE_NAMES)
    coef = [0.0] * n
    coef[FEATURE_NAMES.index("hip_drop_tl")] = 20.0
    doc = {"format": "edge-pose-fall-model", "version": 1, "kind": "logistic", "threshold": 0.5,
           "features": list(FEATURE_NAMES),
           "logistic": {"mean": [0.0] * n, "scale": [1.0] * n, "coef": coef, "intercept": -16.0}}  # fmt: skip
    return parse_fall_model(doc, "hip-drop")


# A segment: (seconds, stance or None for nobody seen, track id, scale of the figure about the frame centre)
Segment = tuple[float, Stance | None, int, float]


def run(
    segments: list[Segment],
    fps: float,
    engine: RulesEngine | None = None,
    coast: tuple[float, float, str] | None = None,
) -> list[Event]:
    """Play the segments through `engine` (default: the learned rule with the hip-drop model). With
    `coast` = (from_s, to_s, how) the poses in that span are the front-end's coasting poses: "coast"
    repeats the last measured keypoints with origin "coast", "lying" puts a lying figure there (a
    velocity extrapolated wrongly), "drop" leaves those frames empty."""
    engine = engine or RulesEngine(RulesConfig(), fall_scorer=hip_drop_model())
    image = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    events: list[Event] = []
    index, t0, current, seen = 0, 0.0, STAND, True
    last: Pose | None = None
    for duration, target, track_id, size in segments:
        if not seen and target is not None:
            current = target  # re-acquired: the person is found already there, not moving there
        seen = target is not None
        for ts, stance in play([(duration, target)], fps, current):
            poses = []
            if stance is not None:
                kp = keypoints(stance)
                kp[:, :2] = (kp[:, :2] - 0.5) * size + 0.5
                poses.append(Pose(kp, 0.8, "coco17", track_id, origin="crop"))
            if coast is not None and coast[0] <= t0 + ts < coast[1] and poses:
                held = Pose(keypoints(LIE), 0.8) if coast[2] == "lying" else (last or poses[0])
                poses = (
                    []
                    if coast[2] == "drop"
                    else [Pose(held.keypoints, 0.8, "coco17", track_id, origin="coast")]
                )
            elif poses:
                last = poses[0]
            frame = Frame(image, round((t0 + ts) * 1e9), "synthetic", index)
            events += engine.process(frame, poses)
            index += 1
        t0 += max(1, round(duration * fps)) / fps
        current = target if target is not None else current
    return events + engine.finish()


HALF_DOWN = Stance(trunk=45.0, thigh=-45.0, shin=-45.0)  # mid-fall: trunk tipping, knees giving way

# name, segments, fall starts expected, the track id the fall is reported on, person_down starts
CASES: list[tuple[str, list[Segment], int, int | None, int]] = [
    ("fall seen whole", [(2, STAND, 7, 1.0), (0.5, LIE, 7, 1.0), (7, LIE, 7, 1.0)], 1, 7, 1),
    ("track lost mid-fall, re-acquired on the floor as a new id",
     [(2, STAND, 7, 1.0), (0.25, HALF_DOWN, 7, 1.0), (0.4, None, 7, 1.0), (7, LIE, 8, 1.0)], 1, 8, 1),
    ("new track on the floor far from the lost one",
     [(2, Stance(hip_x=100.0), 7, 1.0), (0.4, None, 7, 1.0), (7, Stance(trunk=90.0, thigh=-90.0, shin=-90.0, hip_x=560.0), 8, 1.0)],
     0, None, 1),
    ("lost for 2 s, longer than max_absence_s, then on the floor",
     [(2, STAND, 7, 1.0), (0.25, HALF_DOWN, 7, 1.0), (2, None, 7, 1.0), (7, LIE, 8, 1.0)], 0, None, 1),
    ("shot cut: the same id becomes a person twice the size",
     [(3, STAND, 7, 0.5), (3, STAND, 7, 1.0)], 0, None, 0),
    ("standing still", [(8, STAND, 7, 1.0)], 0, None, 0),
]  # fmt: skip


@pytest.mark.parametrize("fps", [5.0, 30.0], ids=["5fps", "30fps"])
@pytest.mark.parametrize(
    ("name", "segments", "falls", "fall_track", "downs"), CASES, ids=[c[0] for c in CASES]
)
def test_sequence(
    name: str, segments: list[Segment], falls: int, fall_track: int | None, downs: int, fps: float
) -> None:
    events = run(segments, fps)
    fall_starts = [e for e in events if e.type == "fall" and e.state == "start"]
    assert len(fall_starts) == falls, events
    if fall_track is not None:
        assert fall_starts[0].track_id == fall_track
        assert all(e.track_id == fall_track for e in events if e.type == "fall" and e.state != "start")
        assert any(e.type == "fall" and e.state == "end" for e in events)  # an open event always ends
    assert sum(e.type == "person_down" and e.state == "start" for e in events) == downs, events


@pytest.mark.parametrize("fps", [5.0, 30.0], ids=["5fps", "30fps"])
@pytest.mark.parametrize("detector", ["rules", "model"])
def test_coasting_poses_of_the_front_end_are_not_read_as_motion(fps: float, detector: str) -> None:
    """The multi-person front-end coasts a person it did not measure this frame (compute budget): the
    last keypoints, origin "coast". Both fall detectors skip them per track: the person falling while
    coasted (their coasted pose still standing) raises the same events as with those frames empty."""
    segments: list[Segment] = [(2, STAND, 7, 1.0), (0.5, LIE, 7, 1.0), (7, LIE, 7, 1.0)]

    def engine() -> RulesEngine:
        return RulesEngine(RulesConfig(), fall_scorer=hip_drop_model() if detector == "model" else None)

    coasted = run(segments, fps, engine(), coast=(1.8, 2.3, "coast"))
    dropped = run(segments, fps, engine(), coast=(1.8, 2.3, "drop"))
    assert [(e.type, e.state, e.track_id, e.ts) for e in coasted] == [
        (e.type, e.state, e.track_id, e.ts) for e in dropped
    ]
    assert [(e.type, e.state) for e in coasted if e.type == "fall"] == [("fall", "start"), ("fall", "end")]
    # a coasted pose that drifts to the floor (1.5 s, longer than confirm_s) is no fall either
    standing: list[Segment] = [(8, STAND, 7, 1.0)]
    assert run(standing, fps, engine(), coast=(3.0, 4.5, "lying")) == []
