"""Fixtures of the rule tests (the synthetic sequences themselves are in rule_sequences.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.pose.registry import PoseEstimator, create_estimator


@pytest.fixture(params=[5.0, 30.0], ids=["5fps", "30fps"])
def fps(request: pytest.FixtureRequest) -> float:
    """Rules must behave the same on a Pi 4 at 5 FPS and a desktop at 30 FPS."""
    return float(request.param)


@pytest.fixture(scope="session")
def lightning() -> PoseEstimator:
    """The default model, loaded once (reset it before use)."""
    return create_estimator("movenet_lightning")


@pytest.fixture(scope="session")
def labels_file() -> Path:
    """Our labels for the shared-data files that have none upstream."""
    return Path(__file__).with_name("labels.yaml")
