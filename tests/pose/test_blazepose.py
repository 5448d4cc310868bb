"""BlazePose two-stage pipeline: anchor and ROI geometry, and tracking on a real video without
re-running the detector on most frames, its landmarks agreeing with per-frame detection."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.capture.media_file import probe, read_frames
from edge.pose.blazepose import BlazePose
from edge.pose.blazepose_anchors import NUM_ANCHORS, decode_detections, ssd_anchor_centres
from edge.pose.blazepose_roi import RotatedRoi, roi_from_alignment, roi_input_matrix, roi_to_frame_px
from edge.pose.manifest import find_model
from edge.pose.registry import load_estimator
from edge.pose.settings import BlazePoseSettings
from edge.types import Frame

VIDEO = ("fall_video_care_home", "video_3.mp4")  # 123 frames, one person walking, then falling


def test_anchor_grid_matches_the_detector_output() -> None:
    anchors = ssd_anchor_centres()
    assert anchors.shape == (NUM_ANCHORS, 2)
    # First anchors: the 28×28 grid (stride 8), two per cell; last: the 7×7 grid, six per cell.
    assert anchors[0] == pytest.approx((0.5 / 28, 0.5 / 28))
    assert anchors[1] == pytest.approx(anchors[0])
    assert anchors[2] == pytest.approx((1.5 / 28, 0.5 / 28))
    assert anchors[-1] == pytest.approx((6.5 / 7, 6.5 / 7))
    assert anchors[-6] == pytest.approx(anchors[-1])


def test_decoding_and_weighted_nms() -> None:
    anchors = ssd_anchor_centres()
    boxes = np.zeros((NUM_ANCHORS, 12), dtype=np.float32)
    scores = np.full(NUM_ANCHORS, -10.0, dtype=np.float32)
    boxes[[0, 1], 2:4] = 40.0  # two anchors of one cell: a 40 px box
    boxes[0, 4:6] = (4.0, 0.0)
    boxes[1, 4:6] = (8.0, 0.0)
    scores[[0, 1]] = (3.0, 3.0)  # equal scores → keypoint 0 averaged to x + 6 px
    (det,) = decode_detections(boxes, scores, anchors)
    assert det.score == pytest.approx(1 / (1 + math.exp(-3.0)))
    assert det.keypoints[0] == pytest.approx((anchors[0, 0] + 6 / 224, anchors[0, 1]))
    assert det.box[2] - det.box[0] == pytest.approx(40 / 224)
    assert decode_detections(boxes, np.full(NUM_ANCHORS, -10.0, np.float32), anchors) == []


def test_roi_points_up_the_body_and_warp_matches_projection() -> None:
    # Hip centre at (100, 200), body-circle point straight above it: no rotation.
    roi = roi_from_alignment(np.array([100.0, 200.0]), np.array([100.0, 120.0]))
    assert roi is not None
    assert roi.rotation == pytest.approx(0.0)
    assert roi.size == pytest.approx(2 * 80 * 1.25)
    # Body lying to the right (the point is right of the hips): turned by +90°.
    lying = roi_from_alignment(np.array([100.0, 200.0]), np.array([180.0, 200.0]))
    assert lying is not None and lying.rotation == pytest.approx(math.pi / 2)
    # The warp matrix and the landmark projection are the same mapping.
    roi = RotatedRoi(300.0, 200.0, 150.0, 0.7)
    m = roi_input_matrix(roi, 256)
    for i, j in ((0, 0), (255, 0), (128, 40), (10, 200)):
        via_matrix = m @ np.array([i, j, 1.0]) + 0.5  # pixel index → continuous coordinate
        via_projection = roi_to_frame_px(np.array([(i + 0.5) / 256, (j + 0.5) / 256]), roi)
        assert via_matrix == pytest.approx(via_projection, abs=1e-9)


def test_rotated_person_is_found(data_dir: Path) -> None:
    """A person lying on their side (the image turned 90°) gets a rotated ROI and landmarks on the body."""
    image = cv2.imread(str(data_dir / "person_ambianic_edge" / "person-couch.jpg"))
    upright = load_estimator("blazepose_full")
    (pose,) = upright.estimate(Frame(image, 0, "upright", 0))
    turned = cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE)
    lying = load_estimator("blazepose_full")
    (pose_lying,) = lying.estimate(Frame(turned, 0, "turned", 0))
    assert isinstance(lying, BlazePose) and lying.last_roi is not None
    assert abs(lying.last_roi.rotation) == pytest.approx(math.pi / 2, abs=0.35)
    # Rotate the upright landmarks the same way and compare (pixels of the turned image).
    h, w = image.shape[:2]
    ref = np.stack([(1 - pose.keypoints[:, 1]) * h, pose.keypoints[:, 0] * w], axis=1)
    got = pose_lying.keypoints[:, :2] * (h, w)
    seen = (pose.keypoints[:, 2] > 0.5) & (pose_lying.keypoints[:, 2] > 0.5)
    assert seen.sum() >= 20
    assert float(np.median(np.linalg.norm(got[seen] - ref[seen], axis=1))) < 0.03 * h


def _run(
    name: str, data_dir: Path, track: bool, filter: bool = False
) -> tuple[BlazePose, dict[int, np.ndarray], dict[int, float]]:
    """Landmarks per frame index, and the ROI size (px) each frame's landmarks came from."""
    spec = find_model(name)
    settings = BlazePoseSettings(track=track, filter=filter)
    estimator = BlazePose(spec, find_model("blazepose_detector"), 2, settings)
    landmarks: dict[int, np.ndarray] = {}
    roi_px: dict[int, float] = {}
    for frame in read_frames(probe(str(data_dir.joinpath(*VIDEO)))):
        poses = estimator.estimate(frame)
        if poses:
            landmarks[frame.index] = poses[0].keypoints * (frame.width, frame.height, 1)
            assert estimator.last_roi is not None
            roi_px[frame.index] = estimator.last_roi.size
    return estimator, landmarks, roi_px


def _median_distance_at_input(
    a: dict[int, np.ndarray], b: dict[int, np.ndarray], roi_px: dict[int, float]
) -> float:
    """Median distance of landmarks visible (> 0.5) in both, in landmark-input pixels (256 per ROI side)."""
    d: list[float] = []
    for i in sorted(set(a) & set(b)):
        seen = (a[i][:, 2] > 0.5) & (b[i][:, 2] > 0.5)
        d += (np.linalg.norm(a[i][seen, :2] - b[i][seen, :2], axis=1) * 256 / roi_px[i]).tolist()
    return float(np.median(d))


@pytest.mark.parametrize("name", ["blazepose_lite", "blazepose_full"])
def test_tracking_skips_the_detector_and_agrees_with_per_frame_detection(name: str, data_dir: Path) -> None:
    tracked, lm_default, _ = _run(name, data_dir, track=True, filter=True)  # as shipped
    _, lm_tracked, roi_px = _run(name, data_dir, track=True)  # unfiltered, to compare landmarks
    detected, lm_detected, _ = _run(name, data_dir, track=False)
    fraction = tracked.detector_runs / tracked.frames
    found = len(lm_default) / tracked.frames
    distance = _median_distance_at_input(lm_tracked, lm_detected, roi_px)
    print(
        f"{name}: {tracked.frames} frames, person in {found:.0%}, detector on {tracked.detector_runs} "
        f"({fraction:.0%}); per-frame detection finds the person in {len(lm_detected) / detected.frames:.0%}; "
        f"tracked vs per-frame-detection landmarks: median {distance:.2f} px at 256 input"
    )
    assert detected.detector_runs == detected.frames
    assert fraction <= 0.2
    assert found >= 0.8
    assert distance <= 6.0  # the lite-vs-full spread on the same frames (below) is of this order
    assert tracked.stats.invalid_outputs == 0


def test_lite_and_full_spread(data_dir: Path) -> None:
    """How far the two float landmark models are apart: the yardstick for any quantised variant."""
    _, lite, roi_px = _run("blazepose_lite", data_dir, track=False)
    _, full, _ = _run("blazepose_full", data_dir, track=False)
    spread = _median_distance_at_input(lite, full, roi_px)
    print(f"blazepose lite vs full (per-frame detection, same frames): median {spread:.2f} px at 256 input")
    assert 1.0 <= spread <= 12.0
