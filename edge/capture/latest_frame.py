"""A one-slot "latest frame" buffer between the capture thread and the main loop: a new frame
overwrites one the model has not taken yet (counted as dropped), so a slow model drops frames
instead of building up latency (picamera2's frame-server pattern)."""

from __future__ import annotations

import threading

from edge.types import Frame


class LatestFrame:
    """Holds at most one frame. `put` never blocks unless asked to wait for the consumer (file
    sources without real-time pacing hand over every frame); `get` waits up to a timeout."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._closed = False
        self.put_count = 0
        self.dropped = 0

    def put(self, frame: Frame, wait_for_consumer: bool = False, timeout_s: float | None = None) -> None:
        """Store `frame`, replacing (and counting as dropped) one not yet taken, whose `new_pass` flag it
        takes over. With `wait_for_consumer`, first wait up to `timeout_s` for the slot to empty; if it
        is still full then, nothing is stored (`put_count` does not move: the caller tries again,
        nothing is dropped)."""
        with self._cond:
            if wait_for_consumer:
                emptied = self._cond.wait_for(lambda: self._frame is None or self._closed, timeout_s)
                if not emptied:
                    return
            if self._frame is not None:
                self.dropped += 1
                if self._frame.new_pass:  # the jump happened even if its frame is dropped
                    frame.new_pass = True
            self._frame = frame
            self.put_count += 1
            self._cond.notify_all()

    def get(self, timeout_s: float) -> Frame | None:
        """The newest frame, waiting up to `timeout_s` for one; None on timeout or when closed."""
        with self._cond:
            self._cond.wait_for(lambda: self._frame is not None or self._closed, timeout_s)
            frame, self._frame = self._frame, None
            self._cond.notify_all()
            return frame

    def close(self) -> None:
        """Wake every waiter; later `get` calls return what is left, then None at once."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        """True after `close()`."""
        return self._closed
