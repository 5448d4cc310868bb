"""Unit tests for the smart-crop geometry (pure functions)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.layouts import COCO17_INDEX
from edge.pose.crop_resize import crop_resize_into
from edge.pose.smart_crop import (
    CropRegion,
    crop_to_frame,
    crop_to_input_matrix,
    determine_crop_region,
    padded_square_region,
    torso_visible,
)


def standing_person(cx: float, cy: float, scale: float, score: float = 0.9) -> np.ndarray:
    """COCO-17 keypoints (x, y, score) of an upright person in normalised coordinates."""
    offsets = {
        "nose": (0, -0.45), "left_eye": (0.02, -0.47), "right_eye": (-0.02, -0.47),
        "left_ear": (0.04, -0.46), "right_ear": (-0.04, -0.46),
        "left_shoulder": (0.1, -0.3), "right_shoulder": (-0.1, -0.3),
        "left_elbow": (0.14, -0.1), "right_elbow": (-0.14, -0.1),
        "left_wrist": (0.15, 0.08), "right_wrist": (-0.15, 0.08),
        "left_hip": (0.07, 0.05), "right_hip": (-0.07, 0.05),
        "left_knee": (0.07, 0.3), "right_knee": (-0.07, 0.3),
        "left_ankle": (0.07, 0.55), "right_ankle": (-0.07, 0.55),
    }  # fmt: skip
    kps = np.zeros((17, 3), np.float32)
    for name, (dx, dy) in offsets.items():
        kps[COCO17_INDEX[name]] = (cx + dx * scale, cy + dy * scale, score)
    return kps


def square_in_pixels(r: CropRegion, h: int, w: int) -> tuple[float, float]:
    return r.width * w, r.height * h


@pytest.mark.parametrize(("h", "w"), [(480, 640), (640, 480), (500, 500), (1080, 1920)])
def test_padded_square_contains_frame_and_is_square(h: int, w: int) -> None:
    r = padded_square_region(h, w)
    assert r.x_min <= 0 and r.y_min <= 0 and r.x_max >= 1 and r.y_max >= 1
    pw, ph = square_in_pixels(r, h, w)
    assert pw == pytest.approx(ph) == pytest.approx(max(h, w))
    assert (r.x_min + r.x_max) / 2 == pytest.approx(0.5) and (r.y_min + r.y_max) / 2 == pytest.approx(0.5)


def test_torso_visible_needs_a_hip_and_a_shoulder() -> None:
    kps = standing_person(0.5, 0.5, 0.5)
    assert torso_visible(kps)
    no_hips = kps.copy()
    no_hips[[COCO17_INDEX["left_hip"], COCO17_INDEX["right_hip"]], 2] = 0.1
    assert not torso_visible(no_hips)
    one_each = kps.copy()
    one_each[[COCO17_INDEX["left_hip"], COCO17_INDEX["left_shoulder"]], 2] = 0.1
    assert torso_visible(one_each)


def test_crop_is_centred_on_hips_square_and_holds_every_confident_keypoint() -> None:
    h, w = 480, 640
    kps = standing_person(0.4, 0.55, 0.5)
    r = determine_crop_region(kps, h, w)
    pw, ph = square_in_pixels(r, h, w)
    assert pw == pytest.approx(ph)
    hip_x = kps[[11, 12], 0].mean()
    hip_y = kps[[11, 12], 1].mean()
    assert (r.x_min + r.x_max) / 2 == pytest.approx(hip_x, abs=1e-6)
    assert (r.y_min + r.y_max) / 2 == pytest.approx(hip_y, abs=1e-6)
    assert (kps[:, 0] >= r.x_min).all() and (kps[:, 0] <= r.x_max).all()
    assert (kps[:, 1] >= r.y_min).all() and (kps[:, 1] <= r.y_max).all()
    # Smaller than the frame: the model gets more pixels per person than a letterbox would.
    assert pw < max(h, w)


def test_low_score_keypoints_do_not_widen_the_crop() -> None:
    h, w = 480, 640
    kps = standing_person(0.5, 0.5, 0.3)
    base = determine_crop_region(kps, h, w)
    far = kps.copy()
    far[COCO17_INDEX["left_wrist"]] = (0.99, 0.01, 0.1)  # a stray, unconfident point
    assert determine_crop_region(far, h, w) == base
    far[COCO17_INDEX["left_wrist"], 2] = 0.9  # the same point, confident: every keypoint counts
    assert determine_crop_region(far, h, w).width > base.width


def test_crop_falls_back_without_torso_or_when_too_big() -> None:
    h, w = 480, 640
    kps = standing_person(0.5, 0.5, 0.3)
    kps[[5, 6], 2] = 0.05
    assert determine_crop_region(kps, h, w) == padded_square_region(h, w)
    huge = standing_person(0.5, 0.5, 3.0)
    assert determine_crop_region(huge, h, w) == padded_square_region(h, w)


def test_warp_and_back_mapping_agree() -> None:
    """A marker drawn in the frame lands where crop_to_frame says the model would report it."""
    h, w, size = 480, 640, 192
    image = np.zeros((h, w, 3), np.uint8)
    px, py = 400, 300
    cv2.circle(image, (px, py), 3, (255, 255, 255), -1)
    region = CropRegion(0.45, 0.4, 0.75, 0.8)  # 192×192 px in a 640×480 frame
    warped = cv2.warpAffine(image, crop_to_input_matrix(region, h, w, size), (size, size))
    ys, xs = np.nonzero(warped[:, :, 0] > 128)
    crop_yx = np.array([[(ys.mean() + 0.5) / size, (xs.mean() + 0.5) / size]])
    x, y = crop_to_frame(crop_yx, region)[0]
    assert x * w == pytest.approx(px + 0.5, abs=0.6)
    assert y * h == pytest.approx(py + 0.5, abs=0.6)


@pytest.mark.parametrize(
    "region",
    [
        CropRegion(0.45, 0.4, 0.75, 0.8),  # inside the frame, shrunk 1:1
        CropRegion(0.55, 0.55, 0.7, 0.75),  # small: zoomed in
        CropRegion(0.4, -0.2, 1.3, 1.0),  # past two edges: padded
        padded_square_region(480, 640),  # the whole frame, letterboxed
    ],
)
def test_crop_resize_shows_the_region_it_returns(region: CropRegion) -> None:
    """A marker in the frame lands, through the returned region, where it was; padding is black."""
    h, w, size = 480, 640, 192
    image = np.full((h, w, 3), 60, np.uint8)
    px, py = 400, 300
    cv2.circle(image, (px, py), 3, (255, 255, 255), -1)
    out = np.full((size, size, 3), 7, np.uint8)  # stale content must not survive
    shown = crop_resize_into(image, region, out)
    assert shown.width == pytest.approx(region.width, rel=0.02) and shown.x_min == pytest.approx(
        region.x_min, abs=0.01
    )
    bright = out[:, :, 0].astype(float) - 60
    ys, xs = np.nonzero(bright > 20)
    wts = bright[ys, xs]
    crop_yx = np.array(
        [[(np.average(ys, weights=wts) + 0.5) / size, (np.average(xs, weights=wts) + 0.5) / size]]
    )
    x, y = crop_to_frame(crop_yx, shown)[0]
    assert x * w == pytest.approx(px + 0.5, abs=0.75)
    assert y * h == pytest.approx(py + 0.5, abs=0.75)
    assert not (out == 7).all(axis=2).any()
    if region.y_min < 0:  # rows above the frame are black padding
        assert (out[: int(-region.y_min / region.height * size) - 1] == 0).all()
