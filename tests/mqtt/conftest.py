"""Fixtures for the MQTT tests: private brokers (for tests that kill them or need TLS + ACL) and a
capture of the `edge` log records."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from mosquitto import Mosquitto
from mqtt_helpers import LogRecords


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A private plain broker for one test (free to SIGKILL and restart)."""
    b = Mosquitto(tmp_path / "broker")
    b.start()
    yield b
    b.stop()


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """A broker started from docs/mosquitto/mosquitto.conf + acl: TLS, users dev1/dev2/dashboard/
    homeassistant (password "<user>-secret"), each device confined to edge-pose/<device>/#."""
    b = Mosquitto(tmp_path_factory.mktemp("secure-broker"), secure=True)
    b.start()
    yield b
    b.stop()


@pytest.fixture
def edge_logs() -> Iterator[LogRecords]:
    """Capture of the `edge` package's log records for one test."""
    handler = LogRecords()
    log = logging.getLogger("edge")
    old = log.level
    log.setLevel(logging.DEBUG)
    log.addHandler(handler)
    yield handler
    log.removeHandler(handler)
    log.setLevel(old)
