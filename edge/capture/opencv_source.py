"""`v4l2:/dev/videoN` (USB cameras) and `rtsp://…` (IP cameras) through OpenCV's V4L2 and FFmpeg
back-ends. Both have their own read timeouts, so a dead camera makes `read` fail instead of hanging;
the capture thread then reopens with back-off."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import cast

import cv2

from edge.capture.frame_source import SourceError, SourceFrame
from edge.capture.source_uri import SourceUri
from edge.types import Image

logger = logging.getLogger(__name__)

FFMPEG_OPTIONS_ENV = "OPENCV_FFMPEG_CAPTURE_OPTIONS"  # read by OpenCV's FFmpeg back-end at open


class OpenCvSource:
    """A V4L2 device or an RTSP stream. `timeout_s` bounds opening and each read of an RTSP stream."""

    def __init__(
        self,
        uri: SourceUri,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        rtsp_transport: str = "tcp",
        timeout_s: float = 10.0,
    ) -> None:
        if uri.kind not in ("v4l2", "rtsp"):
            raise ValueError(f"OpenCvSource cannot open {uri.kind} sources")
        self.uri = uri
        self.width = width
        self.height = height
        self.fps = fps
        self.rtsp_transport = rtsp_transport
        self.timeout_s = timeout_s
        self.description = uri.redacted
        self._capture: cv2.VideoCapture | None = None

    @property
    def finished(self) -> bool:
        """Live cameras never finish."""
        return False

    def _open_capture(self) -> cv2.VideoCapture:
        if self.uri.kind == "v4l2":
            if not Path(self.uri.target).exists():
                raise SourceError(f"{self.uri.target}: no such device")
            capture = cv2.VideoCapture(self.uri.target, cv2.CAP_V4L2)
        else:
            os.environ[FFMPEG_OPTIONS_ENV] = f"rtsp_transport;{self.rtsp_transport}"
            timeout_ms = round(self.timeout_s * 1000)
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms]
            capture = cv2.VideoCapture(self.uri.target, cv2.CAP_FFMPEG, params)
        return capture

    def open(self) -> None:
        """Open the device or stream; SourceError when it is not there."""
        self.close()
        capture = self._open_capture()
        if not capture.isOpened():
            capture.release()
            raise SourceError(f"{self.description}: cannot open")
        if self.width:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        if self.height:
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        if self.fps:
            capture.set(cv2.CAP_PROP_FPS, self.fps)
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not a queue of old ones
        self._capture = capture

    def read(self) -> SourceFrame | None:
        """The next frame, or None when the camera stopped delivering."""
        if self._capture is None:
            return None
        ok, image = self._capture.read()
        if not ok or image is None:
            return None
        return SourceFrame(image=cast(Image, image))

    def close(self) -> None:
        """Release the device or stream."""
        if self._capture is not None:
            self._capture.release()
            self._capture = None
