"""Shared fixtures: where the real data and models are. Area-specific fixtures live in each
tests/<area>/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mosquitto import Mosquitto

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


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """A real Mosquitto on 127.0.0.1 and a free port for the whole session: anonymous, plain TCP.
    Use `mosquitto.host`, `.port`, `.subscribe_collect(topic)` (a collecting subscriber with
    `.wait_for(predicate)` / `.snapshot(topic)`); `.kill()` / `.start()` SIGKILL and restart it on the
    same port. Tests that kill it or need TLS + ACL should make their own `Mosquitto(tmp_path, ...)`
    (tests/mosquitto.py)."""
    broker = Mosquitto(tmp_path_factory.mktemp("mosquitto"))
    broker.start()
    yield broker
    broker.stop()
