"""Pure geometry (pixels, angles, REBA bands), the Sustained debounce and zone polygons."""

from __future__ import annotations

import numpy as np
import pytest

from edge.layouts import COCO17_INDEX
from edge.rules.config import ZoneConfig
from edge.rules.geometry import (
    angle_from_vertical_deg,
    head_beyond_shoulders_tl,
    measure,
    reba_trunk_score,
    reba_upper_arm_score,
    straightest_knee_deg,
    to_pixels,
    torso_length_px,
)
from edge.rules.sustained import Sustained
from edge.rules.zones import ZoneFilter, inside


def torso_pose(shoulder: tuple[float, float], hip: tuple[float, float]) -> np.ndarray:
    """Normalised keypoints with only shoulders and hips seen."""
    kp = np.zeros((17, 3), dtype=np.float32)
    for name in ("left_shoulder", "right_shoulder"):
        kp[COCO17_INDEX[name]] = (*shoulder, 0.9)
    for name in ("left_hip", "right_hip"):
        kp[COCO17_INDEX[name]] = (*hip, 0.9)
    return kp


def test_angles_are_measured_in_pixels_not_normalised_units() -> None:
    """In a 640×360 frame a trunk 0.1 of the width across and 0.1 of the height up is not at 45°."""
    kp = to_pixels(torso_pose((0.6, 0.4), (0.5, 0.5)), "coco17", 640, 360)
    body = measure(kp, 640, 360, 0.2, 0.0)
    assert body is not None
    assert body.trunk_deg == pytest.approx(np.degrees(np.arctan2(64, 36)), abs=0.01)  # 60.6°, not 45°
    assert body.torso_px == pytest.approx(np.hypot(64, 36), abs=0.01)
    assert body.hip_norm == pytest.approx((0.5, 0.5))


@pytest.mark.parametrize(
    ("upper", "expected"), [((0, -1), 0.0), ((1, 0), 90.0), ((-1, 0), 90.0), ((1, -1), 45.0), ((0, 1), 180.0)]
)
def test_angle_from_vertical(upper: tuple[float, float], expected: float) -> None:
    assert angle_from_vertical_deg((0.0, 0.0), upper) == pytest.approx(expected)


def test_no_torso_no_measurement() -> None:
    kp = to_pixels(torso_pose((0.5, 0.5), (0.5, 0.5)), "coco17", 640, 480)
    assert torso_length_px(kp, 0.2) is None  # shoulders on the hips: no scale
    unseen = torso_pose((0.5, 0.3), (0.5, 0.5))
    unseen[:, 2] = 0.1
    assert measure(to_pixels(unseen, "coco17", 640, 480), 640, 480, 0.2, 0.0) is None


def test_arm_drawn_too_short_has_no_angle() -> None:
    """An elbow read on the head (0.3 TL above the shoulder) is not an arm raised above the shoulder."""
    kp = torso_pose((0.5, 0.3), (0.5, 0.5))  # torso 0.2 of 480 = 96 px
    kp[COCO17_INDEX["right_elbow"]] = (0.5, 0.3 - 0.3 * 0.2, 0.9)
    body = measure(to_pixels(kp, "coco17", 640, 480), 640, 480, 0.2, 0.0)
    assert body is not None and body.arm_right_deg is None
    kp[COCO17_INDEX["right_elbow"]] = (0.5, 0.3 - 0.6 * 0.2, 0.9)  # a real upper arm's length, straight up
    body = measure(to_pixels(kp, "coco17", 640, 480), 640, 480, 0.2, 0.0)
    assert body is not None and body.arm_right_deg == pytest.approx(180.0)


def test_reba_bands() -> None:
    assert [reba_trunk_score(a) for a in (0, 10, 40, 70)] == [1, 2, 3, 4]
    assert [reba_upper_arm_score(a) for a in (None, 10, 30, 60, 120)] == [1, 1, 2, 3, 4]


def test_sustained_needs_time_and_bridges_short_gaps() -> None:
    s = Sustained(on_after_s=2.0, off_after_s=1.0)
    assert [s.update(t, True) for t in (0.0, 1.0, 1.9)] == [None, None, None]
    assert s.update(2.2, False) is None  # a false frame 0.3 s after the last true one is bridged ...
    assert s.update(2.5, True) == "on"  # ... so the run from 0.0 counts
    assert s.update(3.0, False) is None
    assert s.update(3.5, False) == "off"  # false for 1 s since the last true frame
    assert s.update(4.0, True) is None and s.held_s(4.0) == 0.0  # a new run starts from zero
    t = Sustained(on_after_s=2.0, off_after_s=1.0)
    t.update(0.0, True)
    t.update(1.9, True)
    assert t.update(3.1, True) is None and t.since == 3.1  # 1.2 s without a true frame broke the run


def test_zone_polygons() -> None:
    square = [(0.2, 0.2), (0.4, 0.2), (0.4, 0.4), (0.2, 0.4)]
    assert inside(square, (0.3, 0.3)) and inside(square, (0.2, 0.3)) and not inside(square, (0.5, 0.3))
    bed = ZoneConfig(name="bed", mode="exclude", points=square)
    floor = ZoneConfig(name="floor", mode="include", points=[(0, 0.1), (1, 0.1), (1, 1), (0, 1)])
    zones = ZoneFilter([bed, floor])
    assert zones.applies((0.8, 0.8))
    assert not zones.applies((0.3, 0.3))  # on the bed
    assert not zones.applies((0.5, 0.05))  # above the include zone
    assert ZoneFilter([]).applies((0.0, 0.0))


def test_head_beyond_shoulders_along_the_trunk() -> None:
    """Measured along the hip→shoulder axis, whatever its direction in the image."""
    kp = np.zeros((17, 3))
    nose = COCO17_INDEX["nose"]
    kp[nose] = (150.0, 40.0, 0.9)  # trunk along +x from hip (0, 40) to shoulder (100, 40)
    assert head_beyond_shoulders_tl(kp, (100.0, 40.0), (0.0, 40.0), 0.2, 100.0) == pytest.approx(0.5)
    kp[nose] = (100.0, 90.0, 0.9)  # beside the shoulders, not past them
    assert head_beyond_shoulders_tl(kp, (100.0, 40.0), (0.0, 40.0), 0.2, 100.0) == pytest.approx(0.0)
    kp[nose, 2] = 0.1
    assert head_beyond_shoulders_tl(kp, (100.0, 40.0), (0.0, 40.0), 0.2, 100.0) is None


def test_straightest_knee() -> None:
    kp = np.zeros((17, 3))
    for name, xy in (("left_hip", (0, 0)), ("left_knee", (0, 50)), ("left_ankle", (50, 50))):
        kp[COCO17_INDEX[name]] = (*xy, 0.9)
    assert straightest_knee_deg(kp, 0.2) == pytest.approx(90.0)
    for name, xy in (("right_hip", (0, 0)), ("right_knee", (0, 50)), ("right_ankle", (0, 100))):
        kp[COCO17_INDEX[name]] = (*xy, 0.9)
    assert straightest_knee_deg(kp, 0.2) == pytest.approx(180.0)
    kp[:, 2] = 0.0
    assert straightest_knee_deg(kp, 0.2) is None
