"""Fixtures for the live-view tests (helpers in preview_helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from preview_helpers import Daemon, artifacts_dir, chromium


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    """Where a test leaves its screenshots and snapshots (see preview_helpers.artifacts_dir)."""
    return artifacts_dir(tmp_path)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """A headless Debian Chromium under Selenium, closed at teardown."""
    driver = chromium(tmp_path / "chromium-profile")
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    """Daemons a test started (append them): killed at teardown whatever happened."""
    started: list[Daemon] = []
    yield started
    for daemon in started:
        daemon.kill()
