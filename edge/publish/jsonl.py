"""A JSON Lines sink: one `{"topic": ..., "payload": ...}` per line, in publish order (replay output).

The file appears only when the run succeeds: lines go to a hidden temporary file beside it, renamed into
place by `close()`; a run that fails (`discard()`, or an exception inside `with`) leaves no file, neither
an empty one nor a partial one that looks complete."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from types import TracebackType
from typing import IO

from edge.errors import EdgeError
from edge.publish.messages import Message


class JsonlWriter:
    """Writes messages to a .jsonl file (or '-' for stdout)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.count = 0
        target = Path(path)
        self._partial = None if path == "-" else target.with_name(f".{target.name}.{os.getpid()}.partial")
        try:
            self._fh: IO[str] = (
                sys.stdout if self._partial is None else self._partial.open("w", encoding="utf-8")
            )
        except OSError as exc:
            raise EdgeError(f"{path}: cannot write: {exc.strerror}") from None

    def write(self, message: Message) -> None:
        """Append one message as a line."""
        self._fh.write(json.dumps({"topic": message.topic, "payload": message.payload}, allow_nan=False))
        self._fh.write("\n")
        self.count += 1

    def close(self) -> None:
        """Flush and close the file and move it into place (stdout is only flushed)."""
        if self._partial is None:
            self._fh.flush()
            return
        if self._fh.closed:
            return
        self._fh.close()
        try:
            self._partial.replace(self.path)
        except OSError as exc:
            self._partial.unlink(missing_ok=True)
            raise EdgeError(f"{self.path}: cannot write: {exc.strerror}") from None

    def discard(self) -> None:
        """Drop what was written: the run failed, so no output file appears."""
        if self._partial is None:
            self._fh.flush()
            return
        if not self._fh.closed:
            self._fh.close()
        self._partial.unlink(missing_ok=True)

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()
