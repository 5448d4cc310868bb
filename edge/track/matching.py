"""Greedy assignment of detections to tracks (tfjs-models' trackers): detections in the order given
(best first) each take the most similar track not yet taken, if that similarity reaches the minimum.

The tracker matches; it does not crop or filter. Both the whole-frame MultiPose tracker
(`tracker.PoseTracker`) and the multi-person front-end's discovery (`edge/pose/multi_person.py`) use it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

D = TypeVar("D")
T = TypeVar("T")


def greedy_match(
    detections: Sequence[D], tracks: Sequence[T], similarity: Callable[[D, T], float], min_similarity: float
) -> list[int | None]:
    """For each detection (in order), the index of the track it continues, or None to start a new one.
    A tie goes to the earlier track."""
    free = list(range(len(tracks)))
    out: list[int | None] = []
    for detection in detections:
        best: int | None = None
        best_sim = min_similarity
        for i in free:
            sim = similarity(detection, tracks[i])
            if sim >= best_sim and (best is None or sim > best_sim):
                best, best_sim = i, sim
        if best is not None:
            free.remove(best)
        out.append(best)
    return out
