"""systemd's notify protocol, spoken directly: newline-separated `KEY=value` assignments sent as one
datagram to the AF_UNIX socket named by $NOTIFY_SOCKET (a leading `@` means Linux's abstract
namespace). Outside systemd (no $NOTIFY_SOCKET) every call is a no-op, so the daemon runs the same
in a shell. See sd_notify(3) for the assignments used: READY=1, STATUS=…, WATCHDOG=1, STOPPING=1."""

from __future__ import annotations

import logging
import os
import socket

logger = logging.getLogger(__name__)

NOTIFY_SOCKET_ENV = "NOTIFY_SOCKET"
WATCHDOG_USEC_ENV = "WATCHDOG_USEC"
WATCHDOG_PID_ENV = "WATCHDOG_PID"


def socket_address(name: str) -> str | bytes:
    """The address for a $NOTIFY_SOCKET value: a path, or `@name` → the abstract name `\\0name`."""
    if name.startswith("@"):
        return b"\0" + name[1:].encode()
    return name


def watchdog_interval_s(environ: dict[str, str] | None = None) -> float | None:
    """systemd's WatchdogSec= for this process in seconds (from $WATCHDOG_USEC, when $WATCHDOG_PID is
    unset or names us), or None when no watchdog is armed."""
    env = os.environ if environ is None else environ
    usec = env.get(WATCHDOG_USEC_ENV, "")
    pid = env.get(WATCHDOG_PID_ENV, "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and (not pid.isdigit() or int(pid) != os.getpid()):
        return None
    return int(usec) / 1e6


class Notifier:
    """Sends notify datagrams to systemd (or to whatever listens on $NOTIFY_SOCKET in a test)."""

    def __init__(self, socket_name: str | None = None) -> None:
        name = socket_name if socket_name is not None else os.environ.get(NOTIFY_SOCKET_ENV, "")
        self.socket_name = name or None
        self._socket: socket.socket | None = None
        self.failed = 0
        self._failing = False
        if self.socket_name:
            # Non-blocking: a datagram socket whose reader lags has a short queue (net.unix.max_dgram_qlen,
            # 10 by default) and a blocking send would then stall the frame loop. Found by the soak run.
            self._socket = socket.socket(
                socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK
            )
        self._address = socket_address(self.socket_name) if self.socket_name else None

    @property
    def enabled(self) -> bool:
        """True when there is a socket to talk to."""
        return self._socket is not None

    def notify(self, **assignments: str) -> bool:
        """Send `KEY=value` lines as one datagram; False when it fails (logged when failures start and
        when they stop). Never blocks and never raises: a lost notification must not stop the frame loop."""
        if self._socket is None or self._address is None:
            return False
        lines = [f"{key}={value.replace(chr(10), ' ')}" for key, value in assignments.items()]
        try:
            self._socket.sendto("\n".join(lines).encode(), self._address)
        except OSError as exc:
            self.failed += 1
            if not self._failing:
                self._failing = True
                logger.warning(
                    "sd_notify to %s failed: %s (further failures logged at debug)", self.socket_name, exc
                )
            else:
                logger.debug("sd_notify to %s failed: %s", self.socket_name, exc)
            return False
        if self._failing:
            self._failing = False
            logger.warning("sd_notify to %s works again after %d failed sends", self.socket_name, self.failed)
        return True

    def ready(self, status: str) -> bool:
        """READY=1 together with a first STATUS= line."""
        return self.notify(READY="1", STATUS=status)

    def status(self, status: str) -> bool:
        """A free-form status line (`systemctl status` shows it)."""
        return self.notify(STATUS=status)

    def watchdog(self) -> bool:
        """Feed the watchdog."""
        return self.notify(WATCHDOG="1")

    def stopping(self, status: str = "stopping") -> bool:
        """Tell systemd that shutdown has begun."""
        return self.notify(STOPPING="1", STATUS=status)

    def close(self) -> None:
        """Close the socket."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None
