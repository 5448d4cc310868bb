"""Feeds systemd's watchdog only while the daemon is really working. A thread pings every half
WatchdogSec= while `healthy()` says frames are progressing (or the camera is being reopened by a
capture thread that is itself alive); a hung interpreter, a stuck main loop or a capture call that
never returns stops the pings, and systemd restarts the service (WatchdogSec=, Restart=on-failure)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from edge.service.notify import Notifier

logger = logging.getLogger(__name__)


class Watchdog:
    """Pings `notifier` every `interval_s / 2` while `healthy()` returns (True, reason)."""

    def __init__(
        self, notifier: Notifier, interval_s: float, healthy: Callable[[], tuple[bool, str]]
    ) -> None:
        self.notifier = notifier
        self.period_s = interval_s / 2  # sd_watchdog_enabled(3): ping at half the interval
        self.healthy = healthy
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
        self._unhealthy_logged = False

    def start(self) -> None:
        """Start pinging."""
        self._thread.start()

    def stop(self) -> None:
        """Stop pinging (at shutdown)."""
        self._stop.set()
        self._thread.join(self.period_s + 1)

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            ok, reason = self.healthy()
            if ok:
                if self._unhealthy_logged:
                    logger.warning("healthy again (%s): feeding the watchdog", reason)
                    self._unhealthy_logged = False
                self.notifier.watchdog()
            else:
                if not self._unhealthy_logged:
                    logger.error("not healthy (%s): no watchdog ping; systemd will restart us", reason)
                    self._unhealthy_logged = True
