"""Cached keypoint sequences through the real rules engine: the events a clip raises, exactly as the
daemon would raise them from the same poses."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.eval.track_cache import TrackedSequence
from edge.rules.config import RulesConfig
from edge.rules.engine import RulesEngine
from edge.types import Frame


@dataclass(frozen=True, slots=True)
class Start:
    """The start of one event: its type, frame time and the track that raised it."""

    type: str
    ts: float
    frame: int
    track_id: int
    start_ts: float


def replay(
    seq: TrackedSequence,
    engine: RulesEngine | None = None,
    config: RulesConfig | None = None,
    include_held: bool = True,
) -> list[Start]:
    """The event starts the sequence raises (the engine is reset first and finished after)."""
    engine = engine or RulesEngine(config)
    engine.reset()
    image = np.empty((seq.height, seq.width, 3), dtype=np.uint8)  # only its size is read
    starts: list[Start] = []
    for _, ts, index, poses in seq.frames(include_held):
        frame = Frame(image, round(ts * 1e9), seq.name, index)
        for e in engine.process(frame, poses):
            if e.state == "start":
                starts.append(Start(e.type, e.ts, e.frame, e.track_id, e.start_ts))
    engine.finish()
    return starts
