"""The capture thread: keeps a source open, writes its frames into the one-slot buffer, and
reopens a source that fails or ends with exponential back-off. The daemon never exits because a
camera went away; the state (`starting`, `streaming`, `reconnecting`, `ended`, `stopped`) shows in
stats, STATUS= and the log."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from edge.capture.frame_source import FrameSource, SourceError
from edge.capture.latest_frame import LatestFrame
from edge.types import Frame

logger = logging.getLogger(__name__)

HANDOVER_POLL_S = 0.5  # how often a waiting hand-over (non-realtime files) checks for stop


@dataclass(frozen=True, slots=True)
class Backoff:
    """Reopen waits: `min_s`, doubling up to `max_s`; back to `min_s` after a frame arrives."""

    min_s: float = 1.0
    max_s: float = 30.0

    def next(self, current: float) -> float:
        """The wait after one of `current`."""
        return min(self.max_s, max(self.min_s, current * 2))


class Camera:
    """Runs `source` on its own thread into `buffer`. `wait_for_consumer`: hand every frame over
    (files without real-time pacing) instead of overwriting untaken ones."""

    def __init__(
        self,
        source: FrameSource,
        buffer: LatestFrame,
        backoff: Backoff | None = None,
        wait_for_consumer: bool = False,
        source_name: str | None = None,
    ) -> None:
        self.source = source
        self.buffer = buffer
        self.backoff = backoff or Backoff()
        self.wait_for_consumer = wait_for_consumer
        self.source_name = source_name or source.description
        self.state = "starting"
        self.frames = 0
        self.reopens = 0
        self.failures = 0
        self.last_frame_mono: float | None = None
        self.heartbeat_mono = time.monotonic()  # updated whenever the thread is not blocked in the source
        self._last_ts_ns = -1
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)

    def start(self) -> None:
        """Start the capture thread."""
        self._thread.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        """Ask the thread to stop and wait up to `timeout_s` (a source stuck in a driver call is left
        behind: the thread is a daemon thread)."""
        self._stop.set()
        self.buffer.close()
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            logger.warning("capture thread did not stop within %.1f s (source blocked)", timeout_s)
        self.state = "stopped"

    @property
    def alive(self) -> bool:
        """True while the capture thread runs."""
        return self._thread.is_alive()

    def _set_state(self, state: str) -> None:
        if state != self.state:
            logger.info("camera %s: %s → %s", self.source_name, self.state, state)
            self.state = state

    def _stamp(self, source_ts_ns: int | None) -> int:
        ts = source_ts_ns if source_ts_ns is not None else time.monotonic_ns()
        ts = max(ts, self._last_ts_ns + 1)  # frame time never goes backwards, even across reopens
        self._last_ts_ns = ts
        return ts

    def _stream(self) -> None:
        """Read frames until the source fails, ends or we are stopped."""
        while not self._stop.is_set():
            item = self.source.read()
            self.heartbeat_mono = time.monotonic()
            if item is None:
                return
            frame = Frame(
                image=item.image,
                timestamp_ns=self._stamp(item.timestamp_ns),
                source=self.source_name,
                index=self.frames,
                new_pass=item.new_pass,
            )
            if self.wait_for_consumer:
                while not self._stop.is_set():
                    before = self.buffer.put_count
                    self.buffer.put(frame, wait_for_consumer=True, timeout_s=HANDOVER_POLL_S)
                    self.heartbeat_mono = time.monotonic()
                    if self.buffer.put_count > before:
                        break
            else:
                self.buffer.put(frame)
            self.frames += 1
            self.last_frame_mono = self.heartbeat_mono
            if self.state != "streaming":
                self._set_state("streaming")

    def _run(self) -> None:
        delay = self.backoff.min_s
        first = True
        while not self._stop.is_set():
            self.heartbeat_mono = time.monotonic()
            try:
                self.source.open()
            except SourceError as exc:
                self.failures += 1
                self._set_state("reconnecting")
                logger.warning("camera %s: %s; retrying in %.1f s", self.source_name, exc, delay)
                self._wait(delay)
                delay = self.backoff.next(delay)
                continue
            if not first:
                self.reopens += 1
                logger.info("camera %s: reopened", self.source_name)
            first = False
            frames_before = self.frames
            try:
                self._stream()
            finally:
                self.source.close()
            if self._stop.is_set():
                break
            if self.source.finished:
                self._set_state("ended")
                logger.info("camera %s: end of file after %d frames", self.source_name, self.frames)
                self.buffer.close()
                return
            if self.frames > frames_before:
                delay = self.backoff.min_s
            self.failures += 1
            self._set_state("reconnecting")
            logger.warning("camera %s: stream lost; reopening in %.1f s", self.source_name, delay)
            self._wait(delay)
            delay = self.backoff.next(delay)

    def _wait(self, seconds: float) -> None:
        """Sleep up to `seconds` in short steps, keeping the heartbeat fresh (we are not hung)."""
        deadline = time.monotonic() + seconds
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._stop.wait(min(left, HANDOVER_POLL_S))
            self.heartbeat_mono = time.monotonic()
