"""Shared fixtures: where the real data and models are. Area-specific fixtures live in each
tests/<area>/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = (REPO.parent / "shared" / "data").resolve()
MODELS = REPO / "models"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """../shared/data: real images and videos of people (read in place, never copied)."""
    if not DATA.is_dir():
        pytest.fail(f"shared test data not found at {DATA}")
    return DATA


@pytest.fixture(scope="session")
def repo_dir() -> Path:
    """The repository root."""
    return REPO
