"""Per-type alarm state derived from event messages: `ON` while at least one event of that type is
open (started, not yet ended) on any track, `OFF` otherwise. Published retained on
`<prefix>/<device>/alarm/<type>` so a dashboard or a Home Assistant binary sensor shows "someone is
down right now" without replaying the event stream, and two people down at once stay `ON` until both
are up."""

from __future__ import annotations

from typing import Any

# Event types of event schema 1 (issue 4). Each gets an alarm topic, OFF from the start.
EVENT_TYPES = ("fall", "person_down", "unsafe_posture", "repetitive_motion")
ON = "ON"
OFF = "OFF"


class AlarmState:
    """Open event ids per type; `update` returns the types whose ON/OFF value changed."""

    def __init__(self, types: tuple[str, ...] = EVENT_TYPES) -> None:
        self._open: dict[str, set[str]] = {t: set() for t in types}

    def update(self, event: dict[str, Any]) -> dict[str, str]:
        """Apply one event payload (`type`, `id`, `state`); returns {type: "ON"|"OFF"} for changes."""
        kind = str(event.get("type", ""))
        event_id = str(event.get("id", ""))
        if not kind or not event_id:
            return {}
        was_on = bool(self._open.setdefault(kind, set()))
        if event.get("state") == "end":
            self._open[kind].discard(event_id)
        else:
            self._open[kind].add(event_id)
        now_on = bool(self._open[kind])
        return {kind: ON if now_on else OFF} if now_on != was_on else {}

    def values(self) -> dict[str, str]:
        """Every known type with its current value (re-published after each connect)."""
        return {kind: ON if ids else OFF for kind, ids in self._open.items()}
