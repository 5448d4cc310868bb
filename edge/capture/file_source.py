"""`file:PATH` — a video (or still image) played like a camera, for demos and soak tests.

With `realtime` the frames are paced at the file's frame rate and stamped with the monotonic clock
when handed over, exactly like a live camera (a slow model drops frames). Without it every frame is
handed over as soon as the main loop takes the previous one, stamped on the file's own timeline
(continuous across loops), so results are deterministic like `edge-pose replay`.
A file that disappears mid-run makes `read` fail at its end; the capture thread then retries `open`
with back-off until the file is back."""

from __future__ import annotations

import logging
import time
from typing import cast

import cv2

from edge.capture.frame_source import SourceError, SourceFrame
from edge.capture.media_file import FALLBACK_FPS, MediaInfo, probe
from edge.errors import InputError
from edge.types import Image

logger = logging.getLogger(__name__)


class FileSource:
    """Plays `path` once or in a loop; see the module docstring for timing."""

    def __init__(self, path: str, loop: bool = True, realtime: bool = True) -> None:
        self.path = path
        self.loop = loop
        self.realtime = realtime
        self.description = f"file:{path}"
        self._capture: cv2.VideoCapture | None = None
        self._still: Image | None = None
        self._info: MediaInfo | None = None
        self._index_in_pass = 0
        self._offset_ns = 0  # file time of the current pass's first frame (non-realtime timeline)
        self._next_due = 0.0  # monotonic time the next frame is due (realtime)
        self._finished = False
        self.passes = 0

    @property
    def finished(self) -> bool:
        """True once a non-looping file has been played to its end."""
        return self._finished

    @property
    def fps(self) -> float:
        """Frame rate frames are paced at (the container's, or the fallback for stills)."""
        info = self._info
        return info.fps if info is not None and info.fps > 0 else FALLBACK_FPS

    def open(self) -> None:
        """Open the file (again); SourceError when it is missing or undecodable."""
        self.close()
        try:
            info = probe(self.path)
        except InputError as exc:
            raise SourceError(str(exc)) from None
        self._info = info
        if info.is_still:
            image = cv2.imread(self.path, cv2.IMREAD_COLOR)
            if image is None:
                raise SourceError(f"{self.path}: cannot decode image")
            self._still = cast(Image, image)
        else:
            capture = cv2.VideoCapture(self.path)
            if not capture.isOpened():
                capture.release()
                raise SourceError(f"{self.path}: cannot open video")
            self._capture = capture
        self._index_in_pass = 0
        self._next_due = time.monotonic()

    def _next_image(self) -> Image | None:
        if self._still is not None:
            return self._still if (self.loop or self._index_in_pass == 0) else None
        if self._capture is None:
            return None
        ok, image = self._capture.read()
        return cast(Image, image) if ok else None

    def _report_short_pass(self) -> None:
        """Say so when a pass ended before the frame count the container states (bad input is named)."""
        info = self._info
        if info is not None and not info.is_still and 0 < self._index_in_pass < info.frame_count:
            logger.warning(
                "%s: truncated or partly undecodable: read %d of the %d frames its container states",
                self.path,
                self._index_in_pass,
                info.frame_count,
            )

    def _rewind(self) -> bool:
        """Start the next pass; False when the file can no longer be opened."""
        self._offset_ns += round(self._index_in_pass * 1e9 / self.fps)
        self.passes += 1
        try:
            self.open()
        except SourceError as exc:
            logger.warning("%s", exc)
            return False
        return True

    def read(self) -> SourceFrame | None:
        """The next frame, paced when `realtime`; None at the end (non-looping) or on failure. The
        first frame of each later pass of a looped video is flagged `new_pass` (a still repeats one
        picture: nothing jumps)."""
        image = self._next_image()
        new_pass = False
        if image is None:
            if self._index_in_pass == 0 and self._still is None:
                return None  # not a single frame decoded: broken file
            self._report_short_pass()
            if not self.loop:
                self._finished = True
                return None
            if self._still is None and not self._rewind():
                return None
            image = self._next_image()
            if image is None:
                return None
            new_pass = self._still is None
        if self.realtime:
            delay = self._next_due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            now = time.monotonic()
            # Never accumulate a debt: after a slow read the schedule restarts from now.
            self._next_due = max(self._next_due, now - 1.0 / self.fps) + 1.0 / self.fps
            stamp = None
        else:
            stamp = self._offset_ns + round(self._index_in_pass * 1e9 / self.fps)
        self._index_in_pass += 1
        return SourceFrame(image=image, timestamp_ns=stamp, new_pass=new_pass)

    def close(self) -> None:
        """Release the decoder."""
        if self._capture is not None:
            self._capture.release()
            self._capture = None
        self._still = None
