"""Zones: include/exclude polygons in normalised image coordinates, per rule. A person is judged by
their hip centre (where a body rests on a bed or a bench)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from edge.rules.config import ZoneConfig
from edge.rules.geometry import Point


def inside(polygon: Sequence[tuple[float, float]], point: Point) -> bool:
    """True when `point` is inside or on the edge of `polygon` (same coordinates)."""
    contour = np.asarray(polygon, dtype=np.float32).reshape(-1, 1, 2)
    return float(cv2.pointPolygonTest(contour, (float(point[0]), float(point[1])), False)) >= 0.0


class ZoneFilter:
    """Says whether a rule applies at a normalised point.

    `replace` swaps the zones in one assignment, so the live view's zone editor can change them from its
    own thread while the frame loop reads them: a frame sees either the old zones or the new ones."""

    def __init__(self, zones: Sequence[ZoneConfig]) -> None:
        self._zones = self._split(zones)

    @staticmethod
    def _split(zones: Sequence[ZoneConfig]) -> tuple[list[ZoneConfig], list[ZoneConfig]]:
        """(include zones, exclude zones)."""
        return [z for z in zones if z.mode == "include"], [z for z in zones if z.mode == "exclude"]

    def replace(self, zones: Sequence[ZoneConfig]) -> None:
        """Use `zones` from now on (an atomic swap)."""
        self._zones = self._split(zones)

    def applies(self, point: Point) -> bool:
        """Inside an include zone (when there are any) and outside every exclude zone."""
        include, exclude = self._zones
        if include and not any(inside(z.points, point) for z in include):
            return False
        return not any(inside(z.points, point) for z in exclude)
