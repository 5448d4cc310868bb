"""What the pipeline hands its messages to. The frame loop only ever calls `publish`, which must
never block on the network; the MQTT publisher and the JSONL writer both fit."""

from __future__ import annotations

from typing import Protocol

from edge.publish.messages import Message


class Publisher(Protocol):
    """A sink for messages: `publish` returns at once; `close` flushes what it can."""

    def publish(self, message: Message) -> None: ...
    def close(self) -> None: ...
