"""Draws skeletons on frames so a person can look at what the model saw (replay --annotate).

Stills become PNGs, videos MP4s, named after the input. Images never leave the device unless an
operator asks for these files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from edge.errors import EdgeError
from edge.layouts import COCO17_EDGES, to_coco17
from edge.pose.smart_crop import CropBox
from edge.rules.config import ZoneConfig
from edge.types import Frame, Image, Pose

MIN_DRAW_SCORE = 0.3  # keypoints below this are not drawn
_COLOURS = ((0, 200, 255), (255, 120, 0), (80, 220, 80), (220, 80, 220), (0, 80, 255), (255, 255, 0))
ZONE_COLOURS = {"include": (0, 230, 0), "exclude": (40, 40, 235)}  # BGR: green where a rule looks, red not
CROP_COLOUR = (160, 160, 160)  # a search of the frame, or a single-pose model's crop


def track_colour(track_id: int | None) -> tuple[int, int, int]:
    """The BGR colour a track's skeleton is drawn in (track 0 and untracked poses: amber)."""
    return _COLOURS[(track_id or 0) % len(_COLOURS)]


def draw_zones(image: Image, zones: Sequence[tuple[str, ZoneConfig]]) -> None:
    """Draw `(rule, zone)` polygons in place: outline in the mode's colour, a light fill, `rule: name`."""
    h, w = image.shape[:2]
    scale = max(0.35, min(w, h) / 900)
    for rule, zone in zones:
        colour = ZONE_COLOURS[zone.mode]
        pts = np.array([[round(x * w), round(y * h)] for x, y in zone.points], dtype=np.int32)
        overlay = image.copy()
        cv2.fillPoly(overlay, [pts], colour, cv2.LINE_AA)
        cv2.addWeighted(overlay, 0.15, image, 0.85, 0.0, dst=image)
        cv2.polylines(image, [pts], True, colour, 2, cv2.LINE_AA)
        x, y = int(pts[:, 0].min()), int(pts[:, 1].min())
        label = f"{rule}: {zone.name} ({zone.mode})"
        cv2.putText(
            image, label, (x + 3, max(12, y + 14)), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA
        )


def _label_scale(w: int, h: int) -> float:
    return max(0.35, min(w, h) / 900)


def draw_regions(image: Image, regions: Sequence[CropBox]) -> None:
    """Draw where the model looked, in place: a person's own crop (the multi-person front-end) in their
    track colour with their id inside its bottom-left corner (clear of the skeleton's label above the
    person); a single-pose model's crop in grey. A crop may reach past the frame (padding): it is
    drawn clipped, its id kept inside the image."""
    h, w = image.shape[:2]
    scale = _label_scale(w, h)
    for box in regions:
        r = box.region
        p0 = (round(r.x_min * w), round(r.y_min * h))
        p1 = (round(r.x_max * w), round(r.y_max * h))
        colour = CROP_COLOUR if box.track_id is None else track_colour(box.track_id)
        cv2.rectangle(image, p0, p1, colour, 1, cv2.LINE_AA)
        if box.track_id is not None:
            at = (min(max(p0[0], 0), w - 40) + 3, min(max(p1[1], 0), h) - 5)
            cv2.putText(
                image, f"#{box.track_id}", at, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA
            )


def draw_scene(
    image: Image,
    poses: list[Pose],
    regions: Sequence[CropBox] = (),
    zones: Sequence[tuple[str, ZoneConfig]] = (),
    out: Image | None = None,
) -> Image:
    """`image` with the zones, the crop boxes and the skeletons (what the live view, replay --annotate
    and the snapshots show), drawn into `out` when given (same shape: a buffer reused frame after
    frame), else into a copy."""
    if out is None or out.shape != image.shape:
        out = image.copy()
    else:
        np.copyto(out, image)
    draw_zones(out, zones)
    draw_regions(out, regions)
    draw_poses_into(out, poses)
    return out


def draw_poses(image: Image, poses: list[Pose], regions: Sequence[CropBox] = ()) -> Image:
    """A copy of `image` (BGR) with each pose's skeleton, box and track id, and the crop boxes."""
    return draw_scene(image, poses, regions)


def draw_poses_into(out: Image, poses: list[Pose]) -> None:
    """Each pose's skeleton and label, in place. A coasting pose (the multi-person front-end did not
    measure that person this frame: their last keypoints moved on) is drawn thin, without dots, and
    labelled "coast", so a prediction never looks like a measurement."""
    h, w = out.shape[:2]
    scale = _label_scale(w, h)
    for pose in poses:
        colour = track_colour(pose.track_id)
        coasting = pose.origin == "coast"
        kps = pose.keypoints[list(to_coco17(pose.layout))]
        pts = np.stack([kps[:, 0] * w, kps[:, 1] * h], axis=1).round().astype(int)
        ok = kps[:, 2] >= MIN_DRAW_SCORE
        # Line and dot sizes follow the person's size, so small people far away stay visible under them.
        person_px = max((pose.bbox[3] - pose.bbox[1]) * h, (pose.bbox[2] - pose.bbox[0]) * w, 1.0)
        thickness = 1 if coasting else int(np.clip(person_px / 80, 1, 6))
        radius = int(np.clip(person_px / 60, 1, 8))
        for a, b in COCO17_EDGES:
            if ok[a] and ok[b]:
                cv2.line(out, tuple(pts[a]), tuple(pts[b]), colour, thickness, cv2.LINE_AA)
        if not coasting:
            for i in np.flatnonzero(ok):
                cv2.circle(out, tuple(pts[i]), radius + 1, (255, 255, 255), -1, cv2.LINE_AA)
                cv2.circle(out, tuple(pts[i]), radius, colour, -1, cv2.LINE_AA)
        x0, y0 = round(pose.bbox[0] * w), round(pose.bbox[1] * h)
        label = f"#{pose.track_id} {pose.score:.2f}" if pose.track_id is not None else f"{pose.score:.2f}"
        if coasting:
            label += " coast"
        cv2.putText(
            out, label, (x0, max(12, y0 - 6)), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA
        )


class Annotator:
    """Writes annotated frames under `directory`: `<stem>.png` for stills, `<stem>.mp4` for videos."""

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EdgeError(f"{directory}: cannot create annotation directory: {exc.strerror}") from None
        self._writer: cv2.VideoWriter | None = None
        self._source: str | None = None
        self.written: list[Path] = []

    def _name(self, source: str, suffix: str) -> Path:
        path = self.directory / (Path(source).stem + suffix)
        n = 1
        while path in self.written:
            n += 1
            path = self.directory / f"{Path(source).stem}-{n}{suffix}"
        return path

    def still(self, frame: Frame, poses: list[Pose], regions: Sequence[CropBox]) -> None:
        """Write one annotated still as PNG (`regions`: where the model looked, the estimator's last_regions)."""
        path = self._name(frame.source, ".png")
        if not cv2.imwrite(str(path), draw_poses(frame.image, poses, regions)):
            raise EdgeError(f"{path}: cannot write annotated image")
        self.written.append(path)

    def video_frame(self, frame: Frame, poses: list[Pose], regions: Sequence[CropBox], fps: float) -> None:
        """Append one annotated frame to the MP4 of `frame.source` (opened on its first frame)."""
        if self._source != frame.source:
            self.close()
            path = self._name(frame.source, ".mp4")
            fourcc = cv2.VideoWriter.fourcc(*"mp4v")
            self._writer = cv2.VideoWriter(str(path), fourcc, fps, (frame.width, frame.height))
            if not self._writer.isOpened():
                raise EdgeError(f"{path}: cannot open video writer")
            self._source = frame.source
            self.written.append(path)
        assert self._writer is not None
        self._writer.write(draw_poses(frame.image, poses, regions))

    def discard(self) -> None:
        """Remove every file this run wrote (the run failed)."""
        self.close()
        for path in self.written:
            path.unlink(missing_ok=True)
        self.written.clear()

    def close(self) -> None:
        """Finish the current video file."""
        if self._writer is not None:
            self._writer.release()
        self._writer = None
        self._source = None

    def __enter__(self) -> Annotator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
