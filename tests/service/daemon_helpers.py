"""Helpers for the daemon tests (a module name of its own: `conftest` exists in every test area):
config files, a short real clip, a notify socket that speaks systemd's datagram protocol, and a
handle on a running `edge-pose run`."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import yaml

REPO = Path(__file__).resolve().parents[2]
EDGE_POSE = Path(sys.executable).parent / "edge-pose"
DEMO_CLIP = REPO / "demo" / "vtest_excerpt.mp4"  # 768x576, 10 fps, 150 frames; shipped with the repo


def base_config(source: str, **sections: Any) -> dict[str, Any]:
    """A valid config dict for tests (MQTT off unless a section says otherwise)."""
    config: dict[str, Any] = {
        "device": {"id": "cam-test"},
        "camera": {"source": source},
        "mqtt": {"enabled": False},
    }
    for name, values in sections.items():
        config.setdefault(name, {}).update(values)
    return config


def write_config(path: Path, config: dict[str, Any]) -> Path:
    """Write `config` as YAML to `path`."""
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def make_clip(path: Path, frames: int, source: Path = DEMO_CLIP) -> Path:
    """A short MJPEG/AVI clip of the first `frames` frames of `source` (written to tmp, never the repo)."""
    capture = cv2.VideoCapture(str(source))
    fps = capture.get(cv2.CAP_PROP_FPS) or 10.0
    writer: cv2.VideoWriter | None = None
    for _ in range(frames):
        ok, image = capture.read()
        assert ok, f"{source}: fewer than {frames} frames"
        if writer is None:
            height, width = image.shape[:2]
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (width, height))
        writer.write(image)
    capture.release()
    assert writer is not None
    writer.release()
    return path


@dataclass
class NotifySocket:
    """A datagram socket standing in for systemd's notify socket; collects (time, fields) pairs."""

    address: str  # the value for $NOTIFY_SOCKET
    sock: socket.socket
    messages: list[tuple[float, dict[str, str]]] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _stop: bool = False

    def start(self) -> None:
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().split("\n") if "=" in line)
            with self._cond:
                self.messages.append((time.monotonic(), fields))
                self._cond.notify_all()

    def wait_for(
        self, key: str, value: str | None = None, timeout: float = 30.0
    ) -> tuple[float, dict[str, str]]:
        """The first message with `key` (= `value` if given), waiting up to `timeout`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for t, fields in self.messages:
                    if key in fields and (value is None or fields[key] == value):
                        return t, fields
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {key} notification in {timeout} s; got {self.messages}")
                self._cond.wait(left)

    def times(self, key: str) -> list[float]:
        """Arrival times of every message carrying `key`."""
        with self._cond:
            return [t for t, fields in self.messages if key in fields]

    def close(self) -> None:
        self._stop = True
        self.sock.close()


@dataclass
class DaemonProcess:
    """A running `edge-pose run`."""

    proc: subprocess.Popen[str]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminate(self, timeout: float = 10.0) -> tuple[int, float]:
        """SIGTERM; returns (exit code, seconds until exit)."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        return code, time.monotonic() - t0

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
