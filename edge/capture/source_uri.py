"""`camera.source` URIs: which kind of camera and where it is. Pure parsing, no I/O, so
`check-config` can validate a URI on a machine without the camera.

Accepted forms:
    picamera2            the Raspberry Pi camera (camera 0); `picamera2:N` for camera N
    v4l2:/dev/videoN     a USB/V4L2 camera by device path (any path under /dev, e.g. /dev/v4l/by-id/...)
    rtsp://host[:port]/path, rtsps://...   an IP camera
    file:PATH            a video (or still image) file, for demos and soak tests
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from edge.redact import mask_passwords

SourceKind = Literal["picamera2", "v4l2", "rtsp", "file"]

FORMS = "picamera2, picamera2:N, v4l2:/dev/videoN, rtsp://host/path, rtsps://host/path or file:PATH"


@dataclass(frozen=True, slots=True)
class SourceUri:
    """A parsed `camera.source`: `kind` and `target` (camera index, device path, URL or file path)."""

    kind: SourceKind
    target: str
    uri: str

    @property
    def redacted(self) -> str:
        """The URI with any password replaced by `***`, for logs and stats."""
        return mask_passwords(self.uri)


def parse_source_uri(uri: str) -> SourceUri:
    """Parse `uri`; ValueError with a one-line reason when it is not one of the accepted forms."""
    text = uri.strip()
    if not text:
        raise ValueError(f"empty camera source; expected {FORMS}")
    if text == "picamera2":
        return SourceUri("picamera2", "0", text)
    if text.startswith("picamera2:"):
        index = text.removeprefix("picamera2:")
        if not index.isdigit() or int(index) > 15:
            raise ValueError(f"{text!r}: picamera2:N needs a camera number 0..15")
        return SourceUri("picamera2", str(int(index)), text)
    if text.startswith("v4l2:"):
        device = text.removeprefix("v4l2:")
        if not device.startswith("/dev/") or len(device) <= len("/dev/") or ".." in device:
            raise ValueError(f"{text!r}: v4l2: needs a device path under /dev, e.g. v4l2:/dev/video0")
        return SourceUri("v4l2", device, text)
    if text.startswith(("rtsp://", "rtsps://")):
        parts = urlsplit(text)
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"{mask_passwords(text)!r}: invalid port") from None
        if not parts.hostname:
            raise ValueError(f"{mask_passwords(text)!r}: rtsp URL has no host")
        if port == 0:
            raise ValueError(f"{mask_passwords(text)!r}: invalid port")
        if any(c.isspace() for c in text):
            raise ValueError(f"{mask_passwords(text)!r}: URL contains whitespace")
        return SourceUri("rtsp", text, text)
    if text.startswith("file:"):
        path = text.removeprefix("file:")
        if path.startswith("//"):  # file:///abs/path
            path = path[2:]
        if not path:
            raise ValueError(f"{text!r}: file: needs a path, e.g. file:/srv/clips/demo.mp4")
        return SourceUri("file", path, text)
    scheme = text.split(":", 1)[0] if ":" in text else text
    raise ValueError(f"unsupported camera source {scheme!r}; expected {FORMS}")
