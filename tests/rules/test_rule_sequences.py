"""Table-driven keypoint sequences for every rule, at 5 and 30 FPS: what must raise an event and
what must not (bending, crouching, sitting, lying down slowly, getting up, leaving the frame)."""

from __future__ import annotations

import numpy as np
import pytest
from rule_sequences import (
    ARMS_UP,
    BEND,
    HEIGHT,
    KNEEL,
    LIE,
    RULE_DETECTOR,
    SIT_CHAIR,
    SLUMP,
    SQUAT,
    STAND,
    STOOL,
    WIDTH,
    Script,
    keypoints,
    run_script,
    seen_from_above,
    shifted,
    starts,
)

from edge.layouts import BLAZEPOSE33_TO_COCO17
from edge.rules.config import RulesConfig, ZoneConfig
from edge.rules.engine import RulesEngine
from edge.rules.event import Event
from edge.types import Frame, Pose

GET_DOWN_SLOWLY: Script = [(2, STAND), (2, KNEEL), (3, LIE)]
GET_UP: Script = [(2, KNEEL), (1.5, STAND), (4, STAND)]

# name, script, {event type: number of starts}, posture kinds expected in unsafe_posture events
CASES: list[tuple[str, Script, dict[str, int], set[str]]] = [
    ("fall and stay down", [(2, STAND), (0.5, LIE), (8, LIE)], {"fall": 1, "person_down": 1}, set()),
    ("fall then get up after 3 s", [(2, STAND), (0.5, LIE), (3, LIE), *GET_UP], {"fall": 1}, set()),
    ("bend over for 6 s", [(2, STAND), (1, BEND), (6, BEND), (1, STAND), (2, STAND)], {"unsafe_posture": 1},
     {"trunk_flexion"}),
    ("quick bend to tie a shoe", [(2, STAND), (0.5, BEND), (2, BEND), (0.5, STAND), (2, STAND)], {}, set()),
    ("crouch fast into a deep squat, 7 s", [(2, STAND), (0.6, SQUAT), (7, SQUAT), (1, STAND), (2, STAND)],
     {"unsafe_posture": 1}, {"kneeling_squat"}),
    ("sit down fast on a chair", [(2, STAND), (0.5, SIT_CHAIR), (10, SIT_CHAIR), (1, STAND)], {}, set()),
    ("kneel for 7 s", [(2, STAND), (1, KNEEL), (7, KNEEL), (1, STAND), (2, STAND)], {"unsafe_posture": 1},
     {"kneeling_squat"}),
    ("lie down slowly", [*GET_DOWN_SLOWLY, (8, LIE)], {"person_down": 1}, set()),
    ("lie down slowly, get up after 3 s", [*GET_DOWN_SLOWLY, (3, LIE), *GET_UP], {}, set()),
    ("lie 8 s then get up", [*GET_DOWN_SLOWLY, (8, LIE), *GET_UP], {"person_down": 1}, set()),
    ("arms above the shoulders 6 s", [(1, STAND), (0.5, ARMS_UP), (6, ARMS_UP), (0.5, STAND), (2, STAND)],
     {"unsafe_posture": 1}, {"arms_raised"}),
    ("walk across the room", [(3, shifted(STAND, 200)), (3, shifted(STAND, -200))], {}, set()),
    # the collapse path: a fast descent without the trunk turn that ends slumped on the floor
    ("slump to the floor, legs stretched out", [(2, STAND), (0.5, SLUMP), (8, SLUMP)], {"fall": 1}, set()),
    ("slump to the floor, get up after 3 s", [(2, STAND), (0.5, SLUMP), (3, SLUMP), *GET_UP], {"fall": 1},
     set()),
    ("drop onto a low stool", [(2, STAND), (0.4, STOOL), (10, STOOL), (1, STAND)], {}, set()),
    ("sit down on the floor calmly", [(2, STAND), (1.5, SQUAT), (1.5, SLUMP), (8, SLUMP)], {}, set()),
    ("hips read low, the 'slumped' figure walks on", [(2, STAND), (0.3, SLUMP), (2, shifted(SLUMP, 150)),
     (2, shifted(STAND, 200))], {}, set()),
    ("crouch fast, sit on the floor 3 s later", [(2, STAND), (0.6, SQUAT), (3, SQUAT), (1, SLUMP), (8, SLUMP)],
     {}, set()),
]  # fmt: skip


def counts(events: list[Event]) -> dict[str, int]:
    """Starts per event type."""
    out: dict[str, int] = {}
    for e in starts(events):
        out[e.type] = out.get(e.type, 0) + 1
    return out


@pytest.mark.parametrize(("name", "script", "expected", "postures"), CASES, ids=[c[0] for c in CASES])
def test_sequence(
    name: str, script: Script, expected: dict[str, int], postures: set[str], fps: float
) -> None:
    events = run_script(script, fps)
    assert counts(events) == expected, [(e.type, e.state, e.ts, e.details) for e in events]
    assert {e.details["posture"] for e in starts(events, "unsafe_posture")} == postures
    # every event that starts also ends (at the latest when the input ends), with the same id
    for start in starts(events):
        ends = [e for e in events if e.id == start.id and e.state == "end"]
        assert len(ends) == 1 and ends[0].end_ts is not None and ends[0].end_ts >= start.ts


def test_fall_details_explain_the_alarm(fps: float) -> None:
    events = run_script([(2, STAND), (0.5, LIE), (8, LIE)], fps)
    (fall,) = starts(events, "fall")
    assert fall.severity == "critical"
    assert 1.9 <= fall.start_ts <= 2.6  # the impact, not the confirmation
    assert fall.ts - fall.start_ts >= RULE_DETECTOR.fall.confirm_s
    assert fall.details["descent_speed_tl_s"] >= RULE_DETECTOR.fall.min_descent_speed_tl_s
    assert fall.details["trunk_turn_deg"] >= 30
    assert fall.details["lying"] is True


def test_collapse_details_and_end(fps: float) -> None:
    """A slump to the floor is a fall of kind "collapse" that lasts until the person stands up."""
    events = run_script([(2, STAND), (0.5, SLUMP), (8, SLUMP), *GET_UP], fps)
    (fall,) = starts(events, "fall")
    assert fall.details["kind"] == "collapse" and fall.details["slumped"] is True
    assert fall.details["trunk_turn_deg"] < RULE_DETECTOR.fall.min_trunk_turn_deg
    assert 1.9 <= fall.start_ts <= 2.6
    (end,) = [e for e in events if e.type == "fall" and e.state == "end"]
    assert end.details["reason"] == "up" and end.ts >= 2 + 0.5 + 8 + 2  # not before they stand
    off = RulesConfig.model_validate({"fall": {"collapse": False, "detector": "rules"}})
    assert counts(run_script([(2, STAND), (0.5, SLUMP), (8, SLUMP)], fps, off)) == {}


def test_a_trunk_pointing_at_the_camera_is_not_lying() -> None:
    """An overhead camera sees a person sitting upright with a trunk that looks flat in the image, but
    with the head on top of the shoulders: not person_down. The same trunk with the head past the
    shoulders (a person lying) is."""
    image = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    for kp, expected in ((seen_from_above(keypoints(LIE)), {}), (keypoints(LIE), {"person_down": 1})):
        engine = RulesEngine(RULE_DETECTOR)
        events: list[Event] = []
        for i in range(40):
            events += engine.process(Frame(image, round(i * 0.2e9), "s", i), [Pose(kp, 0.8, "coco17", 1)])
        down = {k: v for k, v in counts(events + engine.finish()).items() if k in ("fall", "person_down")}
        assert down == expected
    off = RulesConfig.model_validate(
        {"posture": {"end_on_head_beyond_tl": -1}, "fall": {"detector": "rules"}}
    )
    engine = RulesEngine(off)
    above = [Pose(seen_from_above(keypoints(LIE)), 0.8, "coco17", 1)]
    events = [e for i in range(40) for e in engine.process(Frame(image, round(i * 0.2e9), "s", i), above)]
    assert counts(events) == {"person_down": 1}


def test_getting_up_ends_person_down_and_fall(fps: float) -> None:
    events = run_script([(2, STAND), (0.5, LIE), (8, LIE), *GET_UP], fps)
    for type_ in ("fall", "person_down"):
        (end,) = [e for e in events if e.type == type_ and e.state == "end"]
        assert end.details["reason"] == "up"


def test_leaving_the_frame_mid_event_ends_it(fps: float) -> None:
    cfg = RULE_DETECTOR
    events = run_script([*GET_DOWN_SLOWLY, (8, LIE), (3, None)], fps, cfg)
    (start,) = starts(events, "person_down")
    (end,) = [e for e in events if e.state == "end"]
    assert end.id == start.id and end.details["reason"] == "lost"
    last_seen = 2 + 2 + 3 + 8
    assert last_seen + cfg.max_absence_s <= end.ts <= last_seen + cfg.max_absence_s + 2 / fps


def test_short_dropouts_do_not_break_person_down(fps: float) -> None:
    """A lying person the model misses for a few frames stays one event."""
    script: Script = [*GET_DOWN_SLOWLY, (3, LIE), (0.4, None), (3, LIE), (0.4, None), (4, LIE)]
    events = run_script(script, fps)
    assert counts(events) == {"person_down": 1}


def test_two_people_only_the_one_on_the_floor_raises(fps: float) -> None:
    lying_far = shifted(LIE, -220)
    events = run_script([(3, shifted(STAND, 150)), (6, shifted(STAND, 200))], fps, others={3: lying_far})
    assert counts(events) == {"person_down": 1}
    assert starts(events)[0].track_id == 3


def test_two_people_fall_and_stand(fps: float) -> None:
    standing = shifted(STAND, 250)
    events = run_script([(2, shifted(STAND, -150)), (0.5, shifted(LIE, -150)), (8, shifted(LIE, -150))], fps,
                        track_id=1, others={2: standing})  # fmt: skip
    assert {(e.type, e.track_id) for e in starts(events)} == {("fall", 1), ("person_down", 1)}


def test_repetitive_bend_and_lift_counted(fps: float) -> None:
    cycle: Script = [(1, BEND), (1, STAND), (3, STAND)]  # one lift every 5 s: 12/min
    events = run_script([(1, STAND), *cycle * 18], fps)
    (start,) = starts(events, "repetitive_motion")
    assert start.details["rate_per_min"] > RULE_DETECTOR.repetitive_motion.max_cycles_per_min
    assert start.details["cycles_in_window"] == 7  # 7 cycles in 60 s is the first rate above 6/min
    assert counts(events) == {"repetitive_motion": 1}


def test_slow_bend_and_lift_not_raised(fps: float) -> None:
    cycle: Script = [(1, BEND), (1, STAND), (13, STAND)]  # one lift every 15 s: 4/min
    assert counts(run_script([(1, STAND), *cycle * 8], fps)) == {}


BED = ZoneConfig(name="bed", mode="exclude", points=[(0.3, 0.8), (0.7, 0.8), (0.7, 1.0), (0.3, 1.0)])


def test_exclude_zone_silences_a_bed(fps: float) -> None:
    cfg = RulesConfig.model_validate(
        {"person_down": {"zones": [BED.model_dump()]}, "fall": {"detector": "rules"}}
    )
    assert counts(run_script([*GET_DOWN_SLOWLY, (8, LIE)], fps, cfg)) == {}
    outside = RulesConfig.model_validate(
        {
            "person_down": {"zones": [BED.model_dump() | {"points": [(0, 0), (0.2, 0), (0.2, 0.2)]}]},
            "fall": {"detector": "rules"},
        }
    )
    assert counts(run_script([*GET_DOWN_SLOWLY, (8, LIE)], fps, outside)) == {"person_down": 1}


def test_include_zone_limits_the_rule(fps: float) -> None:
    pit = {"name": "pit", "mode": "include", "points": [(0.0, 0.0), (0.2, 0.0), (0.2, 0.2), (0.0, 0.2)]}
    cfg = RulesConfig.model_validate(
        {"fall": {"zones": [pit], "detector": "rules"}, "person_down": {"zones": [pit]}}
    )
    assert counts(run_script([(2, STAND), (0.5, LIE), (8, LIE)], fps, cfg)) == {}


def test_event_id_stable_across_start_update_end_and_unique() -> None:
    events = run_script([*GET_DOWN_SLOWLY, (45, LIE), *GET_UP], 5.0)
    down = [e for e in events if e.type == "person_down"]
    assert down[0].state == "start" and down[-1].state == "end"
    assert "update" in {e.state for e in down}
    assert len({e.id for e in down}) == 1
    assert {e.severity for e in down} == {"warning", "critical"}  # escalates after 30 s down
    again = run_script([*GET_DOWN_SLOWLY, (8, LIE)], 5.0)
    assert starts(again)[0].id != down[0].id


def test_handover_keeps_the_event_when_the_model_renumbers_the_person() -> None:
    """A single-pose model gives a new track id after every miss; the event continues."""
    engine = RulesEngine(RULE_DETECTOR)
    image = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    events: list[Event] = []
    for i in range(100):  # 20 s at 5 fps; the id changes every 4 s
        frame = Frame(image, round(i * 0.2e9), "synthetic", i)
        events += engine.process(frame, [Pose(keypoints(LIE), 0.8, "coco17", i // 20)])
    events += engine.finish()
    down = [e for e in events if e.type == "person_down"]
    assert len({e.id for e in down}) == 1 and len(starts(down)) == 1
    assert down[-1].track_id == 4


def test_blazepose_layout_is_read_through_the_declared_map() -> None:
    engine = RulesEngine(RULE_DETECTOR)
    image = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    coco = keypoints(LIE)
    blaze = np.zeros((33, 3), dtype=np.float32)
    blaze[list(BLAZEPOSE33_TO_COCO17)] = coco
    events: list[Event] = []
    for i in range(40):
        events += engine.process(Frame(image, round(i * 0.2e9), "s", i), [Pose(blaze, 0.8, "blazepose33", 1)])
    assert counts(events) == {"person_down": 1}


def test_time_going_back_ends_open_events() -> None:
    engine = RulesEngine(RULE_DETECTOR)
    image = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    pose = [Pose(keypoints(LIE), 0.8, "coco17", 1)]
    events: list[Event] = []
    for i in range(40):
        events += engine.process(Frame(image, round(i * 0.2e9), "s", i), pose)
    back = engine.process(Frame(image, 0, "s", 0), pose)
    assert [e.state for e in back] == ["end"] and back[0].details["reason"] == "time_went_back"
    assert starts(events)[0].id == back[0].id


def test_low_confidence_torso_is_not_called_down() -> None:
    engine = RulesEngine(RULE_DETECTOR)
    image = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    events: list[Event] = []
    for i in range(60):
        kp = keypoints(LIE, score=0.25)  # seen, but below min_torso_score
        events += engine.process(Frame(image, round(i * 0.2e9), "s", i), [Pose(kp, 0.25, "coco17", 1)])
    assert counts(events) == {}


NOISY = {"noise_px": 4.0, "miss_rate": 0.1}  # 4 % of a torso length of jitter, one frame in ten missed


@pytest.mark.parametrize(
    ("name", "script", "expected"),
    [
        ("walk about for a minute", [(3, shifted(STAND, d)) for d in (150, -150) * 10], {}),
        ("bend and straighten now and then", [(4, STAND), (1, BEND), (1.5, BEND), (1, STAND)] * 6, {}),
        ("fall and stay down", [(2, STAND), (0.5, LIE), (8, LIE)], {"fall": 1, "person_down": 1}),
        ("lie down slowly", [*GET_DOWN_SLOWLY, (8, LIE)], {"person_down": 1}),
        ("slump to the floor", [(2, STAND), (0.5, SLUMP), (8, SLUMP)], {"fall": 1}),
        ("sit down fast on a chair", [(2, STAND), (0.5, SIT_CHAIR), (10, SIT_CHAIR), (1, STAND)], {}),
    ],
)
def test_noisy_keypoints_and_missed_frames(
    name: str, script: Script, expected: dict[str, int], fps: float
) -> None:
    """Keypoints as jittery as a real model's, with missed frames: the same outcome as clean input."""
    for seed in (1, 2, 3):
        assert counts(run_script(script, fps, seed=seed, **NOISY)) == expected, (name, seed)


def test_the_one_drop_lever_keeps_a_kneel_then_lie_down_silent_and_a_fall_loud(fps: float) -> None:
    """fall.max_start_drop_tl: a deliberate lie-down kneels first (the hip pauses low), then its last drop
    to the floor is fast; that drop starts far below the person's standing hip of the last 3 s, so it is
    no fall with the lever on (and is one without it). A fall from standing starts at that level."""
    kneel_then_lie: Script = [(2, STAND), (0.8, KNEEL), (1.2, KNEEL), (0.4, LIE), (8, LIE)]
    on = RULE_DETECTOR.model_copy(
        update={"fall": RULE_DETECTOR.fall.model_copy(update={"max_start_drop_tl": 0.5})}
    )
    off = RULE_DETECTOR.model_copy(
        update={"fall": RULE_DETECTOR.fall.model_copy(update={"min_descent_tl": 0.3})}
    )
    on = on.model_copy(update={"fall": on.fall.model_copy(update={"min_descent_tl": 0.3})})
    assert counts(run_script(kneel_then_lie, fps, off)).get("fall") == 1
    assert "fall" not in counts(run_script(kneel_then_lie, fps, on))
    assert counts(run_script([(2, STAND), (0.5, LIE), (8, LIE)], fps, on)).get("fall") == 1
