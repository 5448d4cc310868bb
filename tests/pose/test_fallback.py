"""The invalid-output guard and the model fallback, driven by a real (tiny) TFLite model that emits
NaN and out-of-range values, then handing over to the real MoveNet Lightning."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from edge.pipeline import Pipeline
from edge.pose.blazepose import BlazePose
from edge.pose.fallback import FallbackEstimator
from edge.pose.registry import create_estimator
from edge.types import Frame

GARBAGE_SIZE = 192  # the garbage model's input side (tests/pose/conftest.py)


def uniform(value: int, index: int) -> Frame:
    image = np.full((GARBAGE_SIZE, GARBAGE_SIZE, 3), value, dtype=np.uint8)
    return Frame(image=image, timestamp_ns=index * 33_000_000, source="uniform", index=index)


def assert_publishable(payload: dict[str, object]) -> None:
    """Strict JSON (no NaN/Infinity) and every keypoint finite and in range."""
    json.dumps(payload, allow_nan=False)
    for pose in payload["poses"]:  # type: ignore[attr-defined]
        assert 0.0 <= pose["score"] <= 1.0
        for x, y, s in pose["keypoints"]:
            assert math.isfinite(x) and math.isfinite(y) and 0.0 <= s <= 1.0


def test_nan_and_out_of_range_are_dropped_then_fallback_engages(
    garbage_model_dir: Path, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    estimator = create_estimator("garbage", model_dir=garbage_model_dir, max_invalid_frames=3)
    assert isinstance(estimator, FallbackEstimator)
    pipeline = Pipeline(estimator, device="test")

    # Valid output passes: gray 100 → every value 100·2/255 = 0.78.
    good = pipeline.process(uniform(100, 0)).messages[0].payload
    assert good["model"] == "garbage"
    assert len(good["poses"]) == 1
    assert good["poses"][0]["keypoints"][0][2] == pytest.approx(0.784, abs=1e-3)

    # Two invalid frames (NaN, then > 1): dropped and counted, model unchanged.
    caplog.set_level(logging.WARNING, logger="edge.pose.fallback")
    for i, value in enumerate((0, 250), start=1):
        payload = pipeline.process(uniform(value, i)).messages[0].payload
        assert payload["poses"] == []
        assert payload["model"] == "garbage"
        assert_publishable(payload)
    assert estimator.stats.invalid_outputs == 2
    assert not caplog.records

    # The third consecutive invalid frame switches to Lightning, which re-runs that frame.
    payload = pipeline.process(uniform(0, 3)).messages[0].payload
    assert payload["model"] == "movenet_lightning"
    assert_publishable(payload)
    assert estimator.using_fallback and estimator.name == "movenet_lightning"
    assert estimator.stats.invalid_outputs == 3
    switch_logs = [r for r in caplog.records if "switching to fallback" in r.getMessage()]
    assert len(switch_logs) == 1 and "3 consecutive frames" in switch_logs[0].getMessage()

    # From now on the real model runs: a real photo gives a published, valid pose.
    image = cv2.imread(str(data_dir / "opencv_samples" / "messi5.jpg"))
    pipeline.reset()
    payload = pipeline.process(Frame(image, 4 * 33_000_000, "messi5.jpg", 4)).messages[0].payload
    assert payload["model"] == "movenet_lightning"
    assert len(payload["poses"]) == 1 and payload["poses"][0]["score"] > 0.3
    assert_publishable(payload)
    # Logged once: more frames do not log again.
    pipeline.process(uniform(0, 5))
    assert len([r for r in caplog.records if "switching to fallback" in r.getMessage()]) == 1


def test_isolated_invalid_frames_do_not_switch(garbage_model_dir: Path) -> None:
    estimator = create_estimator("garbage", model_dir=garbage_model_dir, max_invalid_frames=3)
    pipeline = Pipeline(estimator, device="test")
    for i in range(12):
        value = 0 if i % 3 == 2 else 100  # every third frame NaN: never 3 in a row
        payload = pipeline.process(uniform(value, i)).messages[0].payload
        assert payload["model"] == "garbage"
        assert len(payload["poses"]) == (0 if value == 0 else 1)
        assert_publishable(payload)
    assert estimator.stats.invalid_outputs == 4


def test_model_that_fails_to_load_falls_back(
    garbage_model_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="edge.pose.fallback")
    estimator = create_estimator("broken", model_dir=garbage_model_dir)
    assert estimator.name == "movenet_lightning"
    (record,) = caplog.records
    assert "cannot load 'broken'" in record.getMessage() and "sha256" in record.getMessage()


def test_no_fallback_means_the_load_error_is_raised(garbage_model_dir: Path) -> None:
    from edge.errors import ModelError

    with pytest.raises(ModelError, match="sha256"):
        create_estimator("broken", model_dir=garbage_model_dir, fallback=None)
    with pytest.raises(ModelError, match="unknown model 'nonesuch'"):
        create_estimator("nonesuch", model_dir=garbage_model_dir)


class NaNLandmarks:
    """A real interpreter whose landmark output reads as NaN (the seed's BlazePose-gives-NaN case);
    everything else passes through."""

    def __init__(self, inner: Any, nan_index: int) -> None:
        self.inner = inner
        self.nan_index = nan_index

    def get_tensor(self, index: int) -> np.ndarray:
        out = self.inner.get_tensor(index)
        return np.full_like(out, np.nan) if index == self.nan_index else out

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_blazepose_nan_landmarks_are_dropped_then_fallback_engages(data_dir: Path) -> None:
    estimator = create_estimator("blazepose_lite", max_invalid_frames=3)
    assert isinstance(estimator, FallbackEstimator)
    blazepose = estimator._current
    assert isinstance(blazepose, BlazePose)
    image = cv2.imread(str(data_dir / "person_ambianic_edge" / "person-couch.jpg"))
    pipeline = Pipeline(estimator, device="test")
    ok = pipeline.process(Frame(image, 0, "couch", 0)).messages[0].payload
    assert ok["model"] == "blazepose_lite" and len(ok["poses"]) == 1
    assert ok["poses"][0]["layout"] == "blazepose33" and len(ok["poses"][0]["keypoints"]) == 33
    blazepose._landmarker = NaNLandmarks(blazepose._landmarker, blazepose._lm_out)
    models = []
    for i in range(1, 5):
        payload = pipeline.process(Frame(image, i * 33_000_000, "couch", i)).messages[0].payload
        assert_publishable(payload)
        models.append(payload["model"])
        if payload["model"] == "blazepose_lite":
            assert payload["poses"] == []
    assert models == ["blazepose_lite", "blazepose_lite", "movenet_lightning", "movenet_lightning"]
    assert blazepose.stats.invalid_outputs == 3
    assert len(payload["poses"]) == 1 and payload["poses"][0]["layout"] == "coco17"
