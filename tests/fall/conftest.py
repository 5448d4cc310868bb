"""Fixtures of the fall-model tests: real keypoint sequences of a few labelled clips, extracted once per
session with the default pose model into a temporary cache (nothing derived from the non-commercial
clips is ever written into the repository)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.eval.fall_clips import Clip, load_fall_clips
from edge.eval.track_cache import ExtractSettings, TrackCache, model_files
from edge.pose.registry import DEFAULT_MODEL, create_estimator


@pytest.fixture(scope="session")
def fall_clips(data_dir: Path) -> dict[str, Clip]:
    """Every labelled clip of ../shared/data/fall_clips, by name."""
    return {c.name: c for c in load_fall_clips(data_dir / "fall_clips")}


@pytest.fixture(scope="session")
def track_cache(tmp_path_factory: pytest.TempPathFactory) -> TrackCache:
    """Sequences of the default model (every frame, last frame held 5 s) in a session temp folder."""
    return TrackCache(
        tmp_path_factory.mktemp("fall-cache"),
        DEFAULT_MODEL,
        ExtractSettings(),
        lambda: create_estimator(DEFAULT_MODEL, threads=1),
        model_files(DEFAULT_MODEL),
    )
