"""Keypoint layouts, declared once. Do not reorder: message consumers index keypoints by position."""

from __future__ import annotations

from typing import Final

# COCO-17, the order MoveNet and PoseNet emit and pose messages carry for layout "coco17".
COCO17: Final[tuple[str, ...]] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
COCO17_INDEX: Final[dict[str, int]] = {name: i for i, name in enumerate(COCO17)}

# BlazePose-33 (MediaPipe), left before right. Messages with layout "blazepose33" use this order.
BLAZEPOSE33: Final[tuple[str, ...]] = (
    "nose",
    "left_eye_inner",
    "left_eye",
    "left_eye_outer",
    "right_eye_inner",
    "right_eye",
    "right_eye_outer",
    "left_ear",
    "right_ear",
    "mouth_left",
    "mouth_right",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_pinky",
    "right_pinky",
    "left_index",
    "right_index",
    "left_thumb",
    "right_thumb",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
    "left_foot_index",
    "right_foot_index",
)

# The one declared BlazePose-33 -> COCO-17 map: COCO17[i] is BLAZEPOSE33[BLAZEPOSE33_TO_COCO17[i]].
BLAZEPOSE33_TO_COCO17: Final[tuple[int, ...]] = tuple(BLAZEPOSE33.index(name) for name in COCO17)

# Bones drawn in annotations, as pairs of COCO-17 names.
COCO17_EDGES: Final[tuple[tuple[int, int], ...]] = tuple(
    (COCO17_INDEX[a], COCO17_INDEX[b])
    for a, b in (
        ("nose", "left_eye"),
        ("nose", "right_eye"),
        ("left_eye", "left_ear"),
        ("right_eye", "right_ear"),
        ("left_shoulder", "right_shoulder"),
        ("left_shoulder", "left_elbow"),
        ("left_elbow", "left_wrist"),
        ("right_shoulder", "right_elbow"),
        ("right_elbow", "right_wrist"),
        ("left_shoulder", "left_hip"),
        ("right_shoulder", "right_hip"),
        ("left_hip", "right_hip"),
        ("left_hip", "left_knee"),
        ("left_knee", "left_ankle"),
        ("right_hip", "right_knee"),
        ("right_knee", "right_ankle"),
    )
)


def to_coco17(layout: str) -> tuple[int, ...]:
    """Indices that pick the COCO-17 keypoints out of a pose in `layout` (identity for coco17)."""
    if layout == "coco17":
        return tuple(range(17))
    if layout == "blazepose33":
        return BLAZEPOSE33_TO_COCO17
    raise ValueError(f"unknown keypoint layout {layout!r}")
