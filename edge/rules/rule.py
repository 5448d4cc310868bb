"""The contract every rule meets: one instance per track, fed that track's measurements frame by
frame (driven by frame time), ended when the track goes away."""

from __future__ import annotations

from typing import Any, Protocol

from edge.rules.event import Event, OpenEvent
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


class OneEventRule:
    """What the rules with at most one open event per track share (fall, the learned fall, person_down,
    repetitive_motion): a handover renames that event, and the end of the track ends it with the
    details of the last body seen. A subclass sets `track_id`, `open` and `_last`, and says its
    `_details`."""

    track_id: int
    open: OpenEvent | None
    _last: Body | None

    def _details(self, body: Body, ts: float) -> dict[str, Any]:
        """The event's details at `ts` (its start, update and end messages carry them)."""
        raise NotImplementedError

    def rename(self, track_id: int) -> None:
        """Continue under a new track id."""
        self.track_id = track_id
        if self.open is not None:
            self.open.track_id = track_id

    def finish(self, frame: int, ts: float, reason: str) -> list[Event]:
        """End the open event, if any, with `reason` in its details."""
        if self.open is None or self._last is None:
            return []
        details = self._details(self._last, ts) | {"reason": reason}
        event = self.open.end(frame, ts, self._last.score, details)
        self.open = None
        return [event]
