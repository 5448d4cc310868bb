"""A real Mosquitto broker for tests, started from a generated config on a free loopback port.

    broker = Mosquitto(tmp_path)                 # anonymous, plain TCP, persistence on
    broker = Mosquitto(tmp_path, secure=True)    # docs/mosquitto/mosquitto.conf + acl: TLS, users, ACL
    broker.start(); broker.kill(); broker.start()   # SIGKILL and restart on the same port
    sub = broker.subscribe_collect("edge-pose/#")  # a paho subscriber collecting every message
    sub.wait_for(lambda msgs: len(msgs) >= 3)

With `secure=True` the helper makes a CA, a server certificate for 127.0.0.1/localhost (or `server_san`) and a second,
unrelated CA (`wrong_ca_file`) with openssl, and a password file with `users` (default: devices dev1,
dev2, plus dashboard and homeassistant; password = "<user>-secret")."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

REPO = Path(__file__).resolve().parents[1]
DOCS_CONF = REPO / "docs" / "mosquitto" / "mosquitto.conf"
DOCS_ACL = REPO / "docs" / "mosquitto" / "acl"
DEFAULT_USERS = ("dev1", "dev2", "dashboard", "homeassistant")
START_TIMEOUT_S = 10.0


def free_port() -> int:
    """A TCP port nobody listens on right now (loopback)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def password_for(user: str) -> str:
    """The test password of `user`."""
    return f"{user}-secret"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed CA (RSA 2048, 2 days): returns (cert, key)."""
    key, cert = directory / f"{name}.key", directory / f"{name}.crt"
    _openssl("genrsa", "-out", str(key), "2048", cwd=directory)
    _openssl(
        "req", "-x509", "-new", "-key", str(key), "-days", "2", "-subj", f"/CN={name}", "-out", str(cert),
        cwd=directory,
    )  # fmt: skip
    return cert, key


def make_cert(directory: Path, name: str, ca: tuple[Path, Path], san: str) -> tuple[Path, Path]:
    """A certificate for `name` signed by `ca`, with subjectAltName `san`: returns (cert, key)."""
    key, csr, cert = directory / f"{name}.key", directory / f"{name}.csr", directory / f"{name}.crt"
    ext = directory / f"{name}.ext"
    ext.write_text(f"subjectAltName={san}\n")
    _openssl("genrsa", "-out", str(key), "2048", cwd=directory)
    _openssl("req", "-new", "-key", str(key), "-subj", f"/CN={name}", "-out", str(csr), cwd=directory)
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]), "-CAcreateserial",
        "-days", "2", "-extfile", str(ext), "-out", str(cert),
        cwd=directory,
    )  # fmt: skip
    return cert, key


@dataclass
class Received:
    """One message a collector saw."""

    topic: str
    payload: bytes
    retain: bool
    qos: int
    t: float  # time.monotonic() on arrival


class Collector:
    """A paho subscriber that keeps every message it receives (reconnecting and re-subscribing on
    its own). `persistent=True` uses a persistent MQTT 3.1.1 session, so QoS 1 messages published
    while it was away (broker restart) reach it when it is back."""

    def __init__(
        self,
        broker: Mosquitto,
        topic: str,
        qos: int = 1,
        username: str | None = None,
        persistent: bool = False,
        client_id: str | None = None,
    ) -> None:
        self.topic = topic
        self.messages: list[Received] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        cid = client_id or f"collector-{os.getpid()}-{id(self)}"
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv311, clean_session=not persistent
        )
        if username:
            self.client.username_pw_set(username, password_for(username))
        if broker.secure:
            self.client.tls_set(ca_certs=str(broker.ca_file))
        self.client.reconnect_delay_set(1, 2)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.connect_async(broker.host, broker.port, keepalive=10)
        self.client.loop_start()
        if not self._subscribed.wait(START_TIMEOUT_S):
            raise TimeoutError(f"collector could not subscribe to {topic} on {broker.host}:{broker.port}")
        self.qos = qos

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if not reason.is_failure:
            client.subscribe(self.topic, qos=1)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
        self._subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.messages.append(
                Received(msg.topic, msg.payload, bool(msg.retain), msg.qos, time.monotonic())
            )
            self._cond.notify_all()

    @property
    def connected(self) -> bool:
        """True while connected to the broker."""
        return bool(self.client.is_connected())

    def snapshot(self, topic: str | None = None) -> list[Received]:
        """The messages so far (only those on `topic` if given)."""
        with self._cond:
            return [m for m in self.messages if topic is None or m.topic == topic]

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float = 10.0) -> list[Received]:
        """Wait until `predicate(messages)` holds; returns the messages, or raises TimeoutError."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.messages):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"condition not met in {timeout} s; {len(self.messages)} messages")
                self._cond.wait(remaining)
            return list(self.messages)

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()


class Mosquitto:
    """One broker process on 127.0.0.1 and a free port (kept across restarts)."""

    host = "127.0.0.1"

    def __init__(
        self,
        workdir: Path,
        secure: bool = False,
        users: tuple[str, ...] = DEFAULT_USERS,
        server_san: str = "IP:127.0.0.1,DNS:localhost",
    ) -> None:
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.secure = secure
        self.users = users
        self.server_san = server_san  # the names the server certificate is issued to (secure=True)
        self.port = free_port()
        self.conf = self.dir / "mosquitto.conf"
        self.log = self.dir / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._collectors: list[Collector] = []
        (self.dir / "data").mkdir(exist_ok=True)
        if secure:
            self._make_secrets()
        self.conf.write_text(self._config())

    # --- configuration --------------------------------------------------------------------------

    def _make_secrets(self) -> None:
        certs = self.dir / "certs"
        certs.mkdir(exist_ok=True)
        ca = make_ca(certs, "ca")
        self.ca_file = ca[0]
        self.wrong_ca_file = make_ca(certs, "wrong-ca")[0]
        self.server_cert, self.server_key = make_cert(certs, "server", ca, self.server_san)
        self.passwd = self.dir / "passwd"
        self.passwd.unlink(missing_ok=True)
        for i, user in enumerate(self.users):
            flags = ["-c"] if i == 0 else []
            subprocess.run(
                ["mosquitto_passwd", "-b", *flags, str(self.passwd), user, password_for(user)],
                check=True,
                capture_output=True,
            )
        self.acl = DOCS_ACL

    def _config(self) -> str:
        lines: list[str] = []
        if os.getuid() == 0:
            lines.append("user root")  # else mosquitto drops to user mosquitto and cannot write here
        if self.secure:
            replace = {
                "listener": f"listener {self.port} {self.host}",
                "cafile": f"cafile {self.ca_file}",
                "certfile": f"certfile {self.server_cert}",
                "keyfile": f"keyfile {self.server_key}",
                "password_file": f"password_file {self.passwd}",
                "acl_file": f"acl_file {self.acl}",
                "persistence_location": f"persistence_location {self.dir / 'data'}/",
                "autosave_interval": "autosave_interval 1",
            }
            for line in DOCS_CONF.read_text().splitlines():
                key = line.split(" ", 1)[0]
                lines.append(replace.get(key, line))
        else:
            lines += [
                f"listener {self.port} {self.host}",
                "allow_anonymous true",
                "persistence true",
                f"persistence_location {self.dir / 'data'}/",
                "autosave_interval 1",
            ]
        lines += [f"log_dest file {self.log}", "log_type all", "log_timestamp_format %H:%M:%S"]
        return "\n".join(lines) + "\n"

    # --- process control ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the broker and wait until it accepts connections."""
        if self.running:
            return
        self.proc = subprocess.Popen(
            ["mosquitto", "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=(self.dir / "stderr.log").open("ab"),
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}; see {self.dir}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"mosquitto did not listen on {self.port} within {START_TIMEOUT_S} s")

    @property
    def running(self) -> bool:
        """True while the broker process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the broker (no clean shutdown, no final persistence save)."""
        if self.proc is not None and self.running:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        """SIGTERM the broker and wait for it to exit; closes the collectors first."""
        for collector in self._collectors:
            collector.close()
        self._collectors.clear()
        if self.proc is not None and self.running:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    # --- clients --------------------------------------------------------------------------------

    def subscribe_collect(
        self,
        topic: str = "#",
        username: str | None = None,
        persistent: bool = False,
        client_id: str | None = None,
    ) -> Collector:
        """A subscriber on `topic` (QoS 1) that collects what it receives; closed by `stop()`."""
        if self.secure and username is None:
            username = "dashboard"
        collector = Collector(self, topic, username=username, persistent=persistent, client_id=client_id)
        self._collectors.append(collector)
        return collector

    def tls_context(self) -> ssl.SSLContext:
        """A client SSLContext trusting this broker's CA."""
        return ssl.create_default_context(cafile=str(self.ca_file))
