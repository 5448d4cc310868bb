"""The contract every rule meets: one instance per track, fed that track's measurements frame by
frame (driven by frame time), ended when the track goes away."""

from __future__ import annotations

from typing import Protocol

from edge.rules.event import Event
from edge.rules.geometry import Body


class TrackRule(Protocol):
    """A per-track state machine. `applies` is False when the person is outside the rule's zones:
    the rule then treats the frame as "condition not met"."""

    def update(self, body: Body, applies: bool, frame: int, ts: float) -> list[Event]:
        """Advance on one frame; returns the events it caused."""
        ...

    def rename(self, track_id: int) -> None:
        """The track continues under a new id (handover): later messages carry it."""
        ...

    def finish(self, frame: int, ts: float, reason: str) -> list[Event]:
        """The track is gone (or the input ended): end any open event, with `reason` in its details."""
        ...
