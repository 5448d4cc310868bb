"""systemd's notify protocol, spoken for real: a datagram socket stands in for systemd (the only fake,
at the hardware/OS edge). The daemon runs as a real process on the real model and a real clip."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from pathlib import Path

from daemon_helpers import DEMO_CLIP, NotifySocket, base_config, write_config

from edge.pose.registry import DEFAULT_MODEL
from edge.service.notify import Notifier, socket_address, watchdog_interval_s

WATCHDOG_USEC = 2_000_000  # 2 s: the daemon pings every 1 s, and counts a loop stuck after 1 s
HANG_AFTER = 40  # frames: 4 s of the 10 fps clip in real time
HANG_LOOP = Path(__file__).resolve().parent / "hang_loop"  # a sitecustomize that hangs Pipeline.process


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


def test_daemon_ready_status_and_watchdog_stops_within_one_interval_of_a_hung_loop(
    tmp_path: Path, notify_socket: NotifySocket, start_daemon: object
) -> None:
    """The real daemon, its main loop hung from outside (tests/service/hang_loop: Pipeline.process blocks
    after HANG_AFTER frames; nothing in edge/ has a hook for it): the pings stop within one watchdog
    interval of the hang, although the camera (10 s stall timeout) and every other thread are fine."""
    config = base_config(
        f"file:{DEMO_CLIP}",
        camera={"loop": True, "realtime": True},
        service={"status_interval_s": 0.5},
        outbox={"path": str(tmp_path / "outbox.sqlite")},
    )
    path = write_config(tmp_path / "config.yaml", config)
    mark = tmp_path / "hang.mark"
    daemon = start_daemon(  # type: ignore[operator]
        path,
        notify=notify_socket,
        env={
            "WATCHDOG_USEC": str(WATCHDOG_USEC),
            "PYTHONPATH": str(HANG_LOOP),
            "EDGE_POSE_TEST_HANG_AFTER": str(HANG_AFTER),
            "EDGE_POSE_TEST_HANG_MARK": str(mark),
        },
    )
    ready_t, ready = notify_socket.wait_for("READY", "1", timeout=60)
    # READY only after the model is loaded and a frame went through the pipeline
    assert "1 frames" in ready["STATUS"], ready
    assert f"model {DEFAULT_MODEL} loaded" in daemon.log()
    deadline = ready_t + 60
    while not mark.exists() and time.monotonic() < deadline and daemon.proc.poll() is None:
        time.sleep(0.1)
    assert mark.exists(), daemon.log()
    hung_at = float(mark.read_text())
    time.sleep(2 * WATCHDOG_USEC / 1e6 + 2.0)  # well past one interval
    assert daemon.proc.poll() is None, daemon.log()
    interval = WATCHDOG_USEC / 1e6
    pings = notify_socket.times("WATCHDOG")
    statuses = [f["STATUS"] for _, f in notify_socket.messages if "STATUS" in f and "READY" not in f]
    assert any(" fps" in s and not s.startswith("0.0 fps") for s in statuses), statuses
    before = [t for t in pings if t < hung_at]
    assert len(before) >= 2, (pings, hung_at)  # pings flowed while frames did (about one a second)
    last = pings[-1]
    print(f"\n[watchdog] last ping {last - hung_at:+.2f} s after the loop hung (interval {interval:.1f} s)")
    assert last - hung_at <= interval, (pings, hung_at)  # by design at most half an interval
    assert time.monotonic() - last >= interval + 1.0  # and none since, although the process is alive
    assert "main loop stuck" in daemon.log()
    # A hung loop does not stop on SIGTERM either; systemd ends it (watchdog: SIGABRT, then SIGKILL).
    daemon.kill()
