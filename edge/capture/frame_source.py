"""What every camera source implements. The capture thread (camera.py) opens a source, reads
until it fails or ends, closes it and reopens it with back-off; a source never retries by itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from edge.types import Image


class SourceError(Exception):
    """A source cannot be opened or read right now (the capture thread retries with back-off)."""


@dataclass(slots=True)
class SourceFrame:
    """One image from a source; `timestamp_ns` when the source has its own timeline (files),
    None for live cameras (the capture thread stamps them with the monotonic clock). `new_pass`: the
    first frame of a looped file's second and later passes (see Frame.new_pass)."""

    image: Image
    timestamp_ns: int | None = None
    new_pass: bool = False


class FrameSource(Protocol):
    """A camera or file: `open` raises SourceError, `read` returns None when the stream ended or
    broke (then the capture thread closes and reopens it), `finished` is True when a source ended
    for good (a file played once)."""

    description: str

    def open(self) -> None: ...
    def read(self) -> SourceFrame | None: ...
    def close(self) -> None: ...
    @property
    def finished(self) -> bool: ...
