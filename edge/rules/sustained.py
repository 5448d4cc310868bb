"""`Sustained`: a condition that must hold for a while before it counts, and stay false for a while
before it stops counting (debounce with hysteresis, in frame time). Short gaps, such as a frame
where the pose model misses a joint, are bridged."""

from __future__ import annotations

from typing import Literal

Transition = Literal["on", "off"]


class Sustained:
    """Turns `on` once the condition has held for `on_after_s` (gaps up to `off_after_s` bridged)
    and `off` once it has been false for `off_after_s`."""

    def __init__(self, on_after_s: float, off_after_s: float) -> None:
        self.on_after_s = on_after_s
        self.off_after_s = off_after_s
        self.active = False
        self.since: float | None = None  # start of the current run of the condition
        self.last_true: float | None = None

    def update(self, ts: float, condition: bool) -> Transition | None:
        """Feed one frame; returns the transition it caused, if any."""
        if condition:
            if self.since is None or (self.last_true is not None and ts - self.last_true > self.off_after_s):
                self.since = ts
            self.last_true = ts
            if not self.active and ts - self.since >= self.on_after_s:
                self.active = True
                return "on"
            return None
        if self.last_true is not None and ts - self.last_true >= self.off_after_s:
            self.since = None
            self.last_true = None
            if self.active:
                self.active = False
                return "off"
        return None

    def held_s(self, ts: float) -> float:
        """How long the current run has lasted (0 when there is none)."""
        return 0.0 if self.since is None else ts - self.since
