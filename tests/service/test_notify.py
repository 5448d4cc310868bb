"""systemd's notify protocol, spoken for real: a datagram socket stands in for systemd (the only fake,
at the hardware/OS edge). The daemon runs as a real process on the real model and a real clip."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from pathlib import Path

from daemon_helpers import DEMO_CLIP, NotifySocket, base_config, write_config

from edge.service.notify import Notifier, socket_address, watchdog_interval_s

WATCHDOG_USEC = 1_000_000  # 1 s: the daemon pings every 0.5 s
HANG_AFTER = 40  # frames: 4 s of the 10 fps clip in real time


def recv_fields(sock: socket.socket) -> dict[str, str]:
    sock.settimeout(5)
    data = sock.recv(4096).decode()
    return dict(line.split("=", 1) for line in data.split("\n"))


def test_notifier_sends_datagrams_to_a_path_socket(tmp_path: Path) -> None:
    path = tmp_path / "n.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        notifier = Notifier(str(path))
        assert notifier.ready("12.0 fps, camera streaming")
        assert recv_fields(server) == {"READY": "1", "STATUS": "12.0 fps, camera streaming"}
        assert notifier.watchdog()
        assert recv_fields(server) == {"WATCHDOG": "1"}
        assert notifier.status("line\nbreak")
        assert recv_fields(server) == {"STATUS": "line break"}  # a newline would start a new assignment
        notifier.close()


def test_notifier_reaches_an_abstract_socket() -> None:
    name = f"edge-pose-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(b"\0" + name.encode())
        assert socket_address(f"@{name}") == b"\0" + name.encode()
        notifier = Notifier(f"@{name}")
        assert notifier.stopping("bye")
        assert recv_fields(server) == {"STOPPING": "1", "STATUS": "bye"}
        notifier.close()


def test_notifier_without_socket_is_a_no_op(monkeypatch: object) -> None:
    notifier = Notifier("")
    assert not notifier.enabled
    assert notifier.ready("x") is False


def test_notifier_survives_a_vanished_socket(tmp_path: Path) -> None:
    notifier = Notifier(str(tmp_path / "gone.sock"))
    assert notifier.watchdog() is False  # logged, never raised


def test_notifier_never_blocks_on_a_reader_that_does_not_read(tmp_path: Path) -> None:
    """A datagram queue holds few messages (net.unix.max_dgram_qlen); a blocking send would then stall
    the frame loop (seen in the 10-minute soak run before the socket was made non-blocking)."""
    path = tmp_path / "n.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        notifier = Notifier(str(path))
        results: list[bool] = []
        sender = threading.Thread(target=lambda: results.extend(notifier.status(f"{i}") for i in range(200)))
        sender.start()
        sender.join(5)
        assert not sender.is_alive(), "notify blocked"
        assert results.count(False) > 0 and notifier.failed == results.count(False)
        assert recv_fields(server) == {"STATUS": "0"}  # what was queued is intact
        notifier.close()


def test_watchdog_interval_from_environment() -> None:
    assert watchdog_interval_s({"WATCHDOG_USEC": "2000000"}) == 2.0
    assert watchdog_interval_s({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "1"}) is None  # not us
    assert watchdog_interval_s({"WATCHDOG_USEC": "0"}) is None
    assert watchdog_interval_s({}) is None


def test_daemon_ready_status_and_watchdog_stop_when_the_loop_stalls(
    tmp_path: Path, notify_socket: NotifySocket, start_daemon: object
) -> None:
    config = base_config(
        f"file:{DEMO_CLIP}",
        camera={"loop": True, "realtime": True, "stall_timeout_s": 1.0},
        service={"status_interval_s": 0.5},
        outbox={"path": str(tmp_path / "outbox.sqlite")},
    )
    path = write_config(tmp_path / "config.yaml", config)
    daemon = start_daemon(  # type: ignore[operator]
        path,
        notify=notify_socket,
        env={"WATCHDOG_USEC": str(WATCHDOG_USEC), "EDGE_POSE_TEST_HANG_AFTER_FRAMES": str(HANG_AFTER)},
    )
    ready_t, ready = notify_socket.wait_for("READY", "1", timeout=60)
    # READY only after the model is loaded and a frame went through the pipeline
    assert "1 frames" in ready["STATUS"], ready
    assert "model movenet_lightning loaded" in daemon.log()
    # the loop hangs after HANG_AFTER frames at 10 fps; wait until well past that
    deadline = ready_t + HANG_AFTER / 10 + 6
    while time.monotonic() < deadline and daemon.proc.poll() is None:
        time.sleep(0.2)
    assert daemon.proc.poll() is None, daemon.log()
    pings = notify_socket.times("WATCHDOG")
    statuses = [f["STATUS"] for _, f in notify_socket.messages if "STATUS" in f and "READY" not in f]
    assert any(" fps" in s and not s.startswith("0.0 fps") for s in statuses), statuses
    # pings flowed while frames did: every ~0.5 s during the ~4 s before the hang
    flowing = [t for t in pings if t < ready_t + HANG_AFTER / 10 - 0.5]
    assert len(flowing) >= 4, (pings, ready_t)
    # and stopped once the loop stalled: nothing in the last 3 s although the process is alive
    assert pings, "no watchdog pings at all"
    silence = time.monotonic() - pings[-1]
    assert silence >= 3.0, (silence, pings)
    assert "no watchdog ping" in daemon.log()
    code, took = daemon.terminate()
    assert code == 0, daemon.log()
    assert took < 5.0
    assert notify_socket.wait_for("STOPPING", "1", timeout=1)
