"""A JSON Lines sink: one `{"topic": ..., "payload": ...}` per line, in publish order (replay output)."""

from __future__ import annotations

import json
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
        try:
            self._fh: IO[str] = sys.stdout if path == "-" else Path(path).open("w", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise EdgeError(f"{path}: cannot write: {exc.strerror}") from None

    def publish(self, message: Message) -> None:
        """Append one message as a line (the Publisher interface)."""
        self.write(message)

    def write(self, message: Message) -> None:
        """Append one message as a line."""
        self._fh.write(json.dumps({"topic": message.topic, "payload": message.payload}, allow_nan=False))
        self._fh.write("\n")
        self.count += 1

    def close(self) -> None:
        """Flush and close the file (stdout is only flushed)."""
        if self._fh is sys.stdout:
            self._fh.flush()
        else:
            self._fh.close()

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
