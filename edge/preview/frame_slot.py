"""The live view's latest-annotated-frame slot: the frame loop offers a frame, a viewer reads the newest
JPEG, and neither ever waits for the other.

The frame loop asks `due()` (two comparisons) on every frame; only when someone watches and the stream
rate allows it does it `put()` a sample (references, no copy of the image). The encoder thread takes
the newest sample, draws and encodes it, and stores the JPEG with a sequence number; viewers wait on
that number. A slow encoder or a slow viewer only means fewer frames on the page."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edge.pose.smart_crop import CropBox
from edge.rules.config import ZoneConfig
from edge.rules.geometry import Body
from edge.types import Image, Pose

WATCH_GRACE_S = 2.0
TIME_EPSILON_S = 1e-6  # frame times that should coincide with the schedule may differ by float rounding  # a page that fetched a frame or the state this recently still counts as watching


@dataclass(frozen=True, slots=True)
class Sample:
    """One frame as the loop saw it, for the encoder thread."""

    image: Image
    poses: list[Pose]
    regions: list[CropBox]
    zones: list[tuple[str, ZoneConfig]]
    bodies: dict[int, Body]
    frame: int
    ts: float
    source: str


@dataclass(frozen=True, slots=True)
class Encoded:
    """The newest annotated frame: JPEG bytes, its sequence number and what the page lists beside it."""

    seq: int
    jpeg: bytes
    width: int
    height: int
    frame: int
    ts: float
    tracks: list[dict[str, Any]] = field(default_factory=list)
    mono: float = 0.0  # time.monotonic() when it was encoded


class FrameSlot:
    """Thread-safe hand-over between the frame loop, the encoder thread and the viewers."""

    def __init__(self, max_fps: float) -> None:
        self.interval_s = 1.0 / max_fps
        self._cond = threading.Condition()
        self._sample: Sample | None = None
        self._encoded: Encoded | None = None
        self._next_due = -1e9  # monotonic time the next frame may be offered
        self._streams = 0  # open MJPEG streams
        self._last_poll = -1e9  # monotonic time of the last single-frame or state request
        self._closed = False
        self.offered = 0  # samples the loop handed over
        self.encoded = 0  # frames encoded
        self._listeners: list[Callable[[], None]] = []

    # --- the frame loop ------------------------------------------------------------------------

    def due(self, now: float) -> bool:
        """True when someone watches and the stream rate allows another frame."""
        if now + TIME_EPSILON_S < self._next_due:
            return False
        return self._streams > 0 or now - self._last_poll < WATCH_GRACE_S

    def put(self, sample: Sample, now: float) -> None:
        """Hand a sample to the encoder (replacing one it has not taken yet). The schedule advances by
        the stream period, so camera frames that do not fall on it still average `max_fps`; it never
        runs more than half a period ahead of a burst."""
        with self._cond:
            self._sample = sample
            self._next_due = max(self._next_due + self.interval_s, now + self.interval_s / 2)
            self.offered += 1
            self._cond.notify_all()

    # --- the encoder thread --------------------------------------------------------------------

    def take(self, timeout_s: float) -> Sample | None:
        """The newest sample, waiting up to `timeout_s`; None on timeout or after `close`."""
        with self._cond:
            self._cond.wait_for(lambda: self._sample is not None or self._closed, timeout_s)
            sample, self._sample = self._sample, None
            return sample

    def store(self, encoded: Encoded) -> None:
        """Publish a finished frame to the viewers."""
        with self._cond:
            self._encoded = encoded
            self.encoded += 1
            self._cond.notify_all()
            listeners = list(self._listeners)
        for callback in listeners:
            callback()

    def next_seq(self) -> int:
        """The sequence number for the next encoded frame."""
        with self._cond:
            return (self._encoded.seq if self._encoded else 0) + 1

    # --- the viewers ---------------------------------------------------------------------------

    def on_frame(self, callback: Callable[[], None]) -> None:
        """Call `callback()` (from the encoder thread) after every stored frame: the server's wake-up."""
        with self._cond:
            self._listeners.append(callback)

    def latest(self) -> Encoded | None:
        """The newest encoded frame, if any."""
        return self._encoded

    def poll(self) -> None:
        """A page asked for a frame or for the state: keep frames coming for WATCH_GRACE_S."""
        self._last_poll = time.monotonic()

    def stream_opened(self) -> None:
        """An MJPEG viewer connected."""
        with self._cond:
            self._streams += 1

    def stream_closed(self) -> None:
        """An MJPEG viewer went away."""
        with self._cond:
            self._streams -= 1

    @property
    def viewers(self) -> int:
        """Open streams, plus one for a page that polled recently."""
        recent = 1 if time.monotonic() - self._last_poll < WATCH_GRACE_S else 0
        return self._streams or recent

    def close(self) -> None:
        """Wake the encoder thread for good."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
