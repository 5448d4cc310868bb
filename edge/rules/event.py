"""Safety events: the `Event` a rule emits and `OpenEvent`, which keeps one event's id stable across
its start, updates and end.

Ids are random UUID4s (122 random bits): unique across restarts and devices without any stored
counter, so a dashboard can key on them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

EventType = Literal["fall", "person_down", "unsafe_posture", "repetitive_motion"]
EventState = Literal["start", "update", "end"]
Severity = Literal["info", "warning", "critical"]
DETAIL_DECIMALS = 3


def new_event_id() -> str:
    """A fresh event id (32 hex digits)."""
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class Event:
    """One state change of a safety event on one track; `details` carries the rule's inputs (angles,
    speeds, durations) so a safety lead can see why it fired."""

    id: str
    type: EventType
    state: EventState
    severity: Severity
    track_id: int
    frame: int
    ts: float
    start_ts: float
    end_ts: float | None
    score: float
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        """Seconds from the start to this message (or to the end)."""
        return (self.end_ts if self.end_ts is not None else self.ts) - self.start_ts


def rounded(details: dict[str, Any]) -> dict[str, Any]:
    """`details` with floats rounded for the payload (nested dicts too)."""
    out: dict[str, Any] = {}
    for key, value in details.items():
        if isinstance(value, float):
            out[key] = round(value, DETAIL_DECIMALS)
        elif isinstance(value, dict):
            out[key] = rounded(value)
        else:
            out[key] = value
    return out


class OpenEvent:
    """One event from start to end: holds its id, start time and severity, and stamps each message."""

    def __init__(self, type_: EventType, track_id: int, start_ts: float, severity: Severity) -> None:
        self.id = new_event_id()
        self.type: EventType = type_
        self.track_id = track_id
        self.start_ts = start_ts
        self.severity: Severity = severity
        self.last_sent_ts = start_ts

    def _event(
        self, state: EventState, frame: int, ts: float, score: float, details: dict[str, Any]
    ) -> Event:
        self.last_sent_ts = ts
        return Event(
            id=self.id,
            type=self.type,
            state=state,
            severity=self.severity,
            track_id=self.track_id,
            frame=frame,
            ts=ts,
            start_ts=self.start_ts,
            end_ts=ts if state == "end" else None,
            score=score,
            details=rounded(details),
        )

    def start(self, frame: int, ts: float, score: float, details: dict[str, Any]) -> Event:
        """The `start` message."""
        return self._event("start", frame, ts, score, details)

    def update(self, frame: int, ts: float, score: float, details: dict[str, Any]) -> Event:
        """An `update` message (the caller decides when one is due)."""
        return self._event("update", frame, ts, score, details)

    def end(self, frame: int, ts: float, score: float, details: dict[str, Any]) -> Event:
        """The `end` message; the event is over after this."""
        return self._event("end", frame, ts, score, details)

    def update_due(self, ts: float, interval_s: float) -> bool:
        """True when the last message is at least `interval_s` old."""
        return ts - self.last_sent_ts >= interval_s
