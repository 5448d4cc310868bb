"""Frames from image and video files, for replay, the demo and the `file:` camera source.

A still image is one frame at t = 0. A video yields every frame, timed from the container's frame
rate (frame i at i / fps), so replays are deterministic whatever the machine's speed. A video that ends
before the frame count its container states (truncated, or frames that do not decode) raises
PartialInputError once its last readable frame has been yielded, naming the file and the count read."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import cv2

from edge.errors import InputError, PartialInputError
from edge.types import Frame, Image

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm"})
FALLBACK_FPS = 30.0  # used when a container does not state its frame rate


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """What a file holds: a still or a video, its frame rate and (for videos) frame count."""

    path: str
    is_still: bool
    fps: float
    frame_count: int


def is_image_path(path: str) -> bool:
    """True when `path` has an image suffix (anything else is tried as a video)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def probe(path: str) -> MediaInfo:
    """Check `path` can be read and say what it holds; InputError with the reason if not."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{path}: no such file")
    if not p.is_file():
        raise InputError(f"{path}: not a file")
    if is_image_path(path):
        if cv2.imread(path, cv2.IMREAD_COLOR) is None:  # decoded once here, so nothing is written for it
            raise InputError(f"{path}: cannot decode image (corrupt or unsupported format)")
        return MediaInfo(path, True, 0.0, 1)
    capture = cv2.VideoCapture(path)
    try:
        ok = capture.isOpened() and capture.read()[0]
        if not ok:
            raise InputError(f"{path}: cannot decode video (corrupt or unsupported format)")
        fps = float(capture.get(cv2.CAP_PROP_FPS))
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        capture.release()
    if not math.isfinite(fps) or fps <= 0:
        logger.warning("%s: no frame rate in the container, assuming %.0f fps", path, FALLBACK_FPS)
        fps = FALLBACK_FPS
    return MediaInfo(path, False, fps, max(count, 0))


def read_frames(info: MediaInfo) -> Iterator[Frame]:
    """Every frame of the file described by `info`, with `source` = the path as given."""
    if info.is_still:
        image = cv2.imread(info.path, cv2.IMREAD_COLOR)
        if image is None:
            raise InputError(f"{info.path}: cannot decode image (corrupt or unsupported format)")
        yield Frame(image=cast(Image, image), timestamp_ns=0, source=info.path, index=0)
        return
    capture = cv2.VideoCapture(info.path)
    try:
        index = 0
        while True:
            ok, image = capture.read()
            if not ok:
                break
            ts_ns = round(index * 1e9 / info.fps)
            yield Frame(image=cast(Image, image), timestamp_ns=ts_ns, source=info.path, index=index)
            index += 1
        if index == 0:
            raise InputError(f"{info.path}: cannot decode video (no frames)")
    finally:
        capture.release()
    if 0 < index < info.frame_count:
        raise PartialInputError(info.path, index, info.frame_count)
