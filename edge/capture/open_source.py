"""Camera URI → source object: the one place that knows which class serves which URI kind."""

from __future__ import annotations

from edge.capture.file_source import FileSource
from edge.capture.frame_source import FrameSource
from edge.capture.opencv_source import OpenCvSource
from edge.capture.picamera2_source import Picamera2Source
from edge.capture.source_uri import SourceUri


def open_source(
    uri: SourceUri,
    model_input: int,
    loop: bool = True,
    realtime: bool = True,
    width: int | None = None,
    height: int | None = None,
    fps: float | None = None,
    rtsp_transport: str = "tcp",
    timeout_s: float = 10.0,
) -> FrameSource:
    """The (not yet opened) source for `uri`; `model_input` sizes the Pi camera's lores stream."""
    if uri.kind == "file":
        return FileSource(uri.target, loop=loop, realtime=realtime)
    if uri.kind == "picamera2":
        main = (width, height) if width and height else None
        return Picamera2Source(int(uri.target), model_input, main_size=main, fps=fps)
    return OpenCvSource(uri, width, height, fps, rtsp_transport, timeout_s)
