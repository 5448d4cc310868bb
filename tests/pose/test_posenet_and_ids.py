"""PoseNet decoding and its configurable output stride; single-pose track ids (0 while tracked, a new
id after the person is lost, 0 again for a new source) for every single-pose family."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.errors import ModelError
from edge.pose.manifest import find_model
from edge.pose.posenet import PoseNet, decode_single_pose
from edge.pose.registry import load_estimator
from edge.pose.settings import PoseNetSettings
from edge.types import Frame


def test_decode_takes_best_cell_plus_offset() -> None:
    heatmap = np.full((5, 5, 17), -5.0, dtype=np.float32)
    offsets = np.zeros((5, 5, 34), dtype=np.float32)
    heatmap[2, 3, 0] = 4.0  # nose at cell (y 2, x 3)
    offsets[2, 3, 0], offsets[2, 3, 17] = 1.5, -2.0  # y, then x offsets
    heatmap[4, 0, 16] = 0.0
    out = decode_single_pose(heatmap, offsets, stride=16)
    assert out[0] == pytest.approx((2 * 16 + 1.5, 3 * 16 - 2.0, 1 / (1 + np.exp(-4.0))))
    assert out[16, :2] == pytest.approx((64.0, 0.0))
    assert out[16, 2] == pytest.approx(0.5)


def test_output_stride_is_configurable_and_checked() -> None:
    spec = find_model("posenet")
    assert PoseNet(spec).output_stride == 16  # from the manifest, consistent with 385 → 25×25
    assert PoseNet(spec, settings=PoseNetSettings(output_stride=16)).output_stride == 16
    with pytest.raises(ModelError, match="output stride 8 does not fit input 385"):
        PoseNet(spec, settings=PoseNetSettings(output_stride=8))


@pytest.mark.parametrize("name", ["movenet_thunder", "posenet", "blazepose_lite"])
def test_single_pose_track_id_is_zero_then_new_after_reset(name: str, data_dir: Path) -> None:
    image = cv2.imread(str(data_dir / "person_ambianic_edge" / "person-couch.jpg"))
    estimator = load_estimator(name)
    ids = [p.track_id for i in range(3) for p in estimator.estimate(Frame(image, i * 33_000_000, "c", i))]
    assert ids == [0, 0, 0]
    blank = np.zeros_like(image)
    assert estimator.estimate(Frame(blank, 10**9, "c", 3)) == []  # nobody: the person is lost
    assert [p.track_id for p in estimator.estimate(Frame(image, 2 * 10**9, "c", 4))] == [1]
    estimator.reset()  # a new source: ids start again
    assert [p.track_id for p in estimator.estimate(Frame(image, 0, "d", 0))] == [0]
