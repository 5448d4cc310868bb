"""Helpers for the live-view tests: a config with the preview on, a running `edge-pose run` whose web
server answers, plain HTTP requests (urllib, and raw sockets for what urllib would clean up), and
headless Chromium through Selenium and Debian's chromedriver."""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
EDGE_POSE = Path(sys.executable).parent / "edge-pose"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Debian's chromium on a closed network: no background connections, no first-run, no sandbox as root
# (/work/.library/env/machines/python.md); a fresh profile per run.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1100",
)
START_TIMEOUT_S = 60.0  # model load + first frame on a loaded 2-core machine, with a wide margin
FALL_CLIP = "fall_clips/le2i_home_077.mp4"  # 285 frames at 24 fps: a fall at frame ~149, he gets up again
# On FALL_CLIP today's rules raise one fall per pass, also when it loops (checked with the pipeline and
# the default multi-person front-end and fall thresholds: starts at frames 154, 439, 724 over three
# passes, each ended at the wrap with reason "loop"), so a fall comes back every 11.9 s of a looping run.


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def artifacts_dir(tmp_path: Path) -> Path:
    """Where screenshots and snapshots go: $EDGE_POSE_TEST_ARTIFACTS (to look at them) or the test's tmp."""
    chosen = os.environ.get("EDGE_POSE_TEST_ARTIFACTS")
    path = Path(chosen) if chosen else tmp_path / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def preview_config(source: str, port: int, outbox: Path, **sections: Any) -> dict[str, Any]:
    """A config with the preview on at 127.0.0.1:`port` and MQTT off unless `sections` say otherwise."""
    config: dict[str, Any] = {
        "device": {"id": "cam-preview"},
        "camera": {"source": source},
        "mqtt": {"enabled": False},
        "outbox": {"path": str(outbox)},
        "preview": {"enabled": True, "port": port},
    }
    for name, values in sections.items():
        config.setdefault(name, {}).update(values)
    return config


def write_config(path: Path, config: dict[str, Any]) -> Path:
    """`config` as YAML at `path`."""
    path.write_text("# a test config\n" + yaml.safe_dump(config, sort_keys=False))
    return path


@dataclass
class Response:
    """An HTTP answer."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Daemon:
    """A running `edge-pose run` with its preview at `base_url`."""

    proc: subprocess.Popen[str]
    log_path: Path
    config_path: Path
    base_url: str
    host: str
    port: int
    tls_context: ssl.SSLContext | None = None
    auth: tuple[str, str] | None = None
    _conns: list[http.client.HTTPConnection] = field(default_factory=list)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | bool | None = True,
        timeout: float = 15.0,
    ) -> Response:
        """One request on a fresh connection; `auth=True` uses the daemon's login (if any)."""
        login = self.auth if auth is True else (auth or None)
        all_headers = dict(headers or {})
        if login is not None:
            token = base64.b64encode(f"{login[0]}:{login[1]}".encode()).decode()
            all_headers["Authorization"] = f"Basic {token}"
        if self.tls_context is not None:
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                "127.0.0.1", self.port, timeout=timeout, context=self.tls_context
            )
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=all_headers)
            answer = conn.getresponse()
            data = answer.read() if path != "/stream.mjpg" or answer.status != 200 else answer.read(2048)
            return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, data)
        finally:
            conn.close()

    def raw(self, request: bytes, timeout: float = 10.0) -> bytes:
        """Send `request` bytes as they are (no client-side path clean-up) and return the whole answer."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            sock.sendall(request)
            chunks = []
            while True:
                try:
                    chunk = sock.recv(65536)
                except TimeoutError:
                    break
                if not chunk:
                    break
                chunks.append(chunk)
        return b"".join(chunks)

    def terminate(self, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def start_daemon(
    config_path: Path,
    log_path: Path,
    port: int,
    credentials: Path | None = None,
    tls_context: ssl.SSLContext | None = None,
    auth: tuple[str, str] | None = None,
) -> Daemon:
    """Start `edge-pose run` and wait until its web server answers (any status) on `port`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "CREDENTIALS_DIRECTORY")
    }
    args = [str(EDGE_POSE), "run", "--config", str(config_path)]
    if credentials is not None:
        args += ["--credentials-dir", str(credentials)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log_path.open("w"), env=env, text=True)
    scheme = "https" if tls_context is not None else "http"
    daemon = Daemon(
        proc, log_path, config_path, f"{scheme}://127.0.0.1:{port}/", "127.0.0.1", port, tls_context, auth
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"edge-pose run exited with {proc.returncode}:\n{daemon.log()}")
        if "preview ON at" in daemon.log():
            try:
                daemon.request("GET", "/api/zones", timeout=2.0)
                return daemon
            except OSError:
                pass
        time.sleep(0.2)
    daemon.kill()
    raise TimeoutError(f"the preview did not answer within {START_TIMEOUT_S} s:\n{daemon.log()}")


def chromium(profile: Path) -> Any:
    """A headless Chromium driven by Debian's chromedriver (Selenium never downloads a driver here)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
