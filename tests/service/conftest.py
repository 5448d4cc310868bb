"""Fixtures for the daemon tests; the helpers they use live in daemon_helpers.py."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from daemon_helpers import EDGE_POSE, DaemonProcess, NotifySocket, make_clip


@pytest.fixture
def short_clip(tmp_path: Path) -> Path:
    """A 20-frame clip (2 s at 10 fps) cut from the demo clip."""
    return make_clip(tmp_path / "short.avi", 20)


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[NotifySocket]:
    """A bound AF_UNIX datagram socket at a path in tmp (what systemd gives a Type=notify service)."""
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    ns = NotifySocket(str(path), sock)
    ns.start()
    yield ns
    ns.close()


@pytest.fixture
def start_daemon(tmp_path: Path) -> Iterator[Any]:
    """start_daemon(config_path, notify=None, env=None) → DaemonProcess; killed at teardown."""
    started: list[DaemonProcess] = []

    def start(
        config: Path, notify: NotifySocket | None = None, env: dict[str, str] | None = None
    ) -> DaemonProcess:
        environ = dict(os.environ)
        for key in (
            "NOTIFY_SOCKET",
            "WATCHDOG_USEC",
            "WATCHDOG_PID",
            "JOURNAL_STREAM",
            "CREDENTIALS_DIRECTORY",
        ):
            environ.pop(key, None)
        if notify is not None:
            environ["NOTIFY_SOCKET"] = notify.address
        environ.update(env or {})
        log_path = tmp_path / f"daemon-{len(started)}.log"
        proc = subprocess.Popen(
            [str(EDGE_POSE), "run", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=log_path.open("w"),
            env=environ,
            text=True,
        )
        daemon = DaemonProcess(proc, log_path)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.kill()
