"""Event snapshots: a JPEG of the moment an event starts, at one of three privacy levels, and the MQTT
message that carries it (`<prefix>/<device>/event/snapshot`, schema in edge/schemas/snapshot.json).

- `skeleton`: the poses and the rule's zones drawn on a blank background. The renderer is never given
  the camera image, only its size, so no pixel of it can reach the picture; the poses drawn are exactly
  the rounded keypoints in the payload, so a dashboard can redraw the same picture from the message.
- `blurred`: the scene as the camera saw it, every person the model found pixelated and blurred
  (a box around their keypoints with a margin), skeletons and zones drawn on top.
- `full`: the camera image with the skeletons and zones.

Rendering (about 2-10 ms) runs on the snapshot thread, never on the frame loop."""

from __future__ import annotations

import base64
import contextlib
import logging
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import cv2
import numpy as np

from edge.annotate import draw_poses, draw_zones
from edge.publish.messages import Message, pose_payload, topic
from edge.publish.settings import SnapshotConfig, SnapshotPrivacy
from edge.rules.config import ZoneConfig
from edge.types import Image, Pose

logger = logging.getLogger(__name__)

SNAPSHOT_SCHEMA = 1
SNAPSHOT_TOPIC = "event/snapshot"  # under <prefix>/<device>/
SKELETON_BACKGROUND = (
    40,
    40,
    40,
)  # BGR: a flat dark grey, the only colour a skeleton snapshot has besides the drawing
SKELETON_CAPTION = "edge-pose skeleton snapshot: no camera image"
CAPTION_COLOUR = (170, 170, 170)
BLUR_MARGIN = 0.25  # of the person's box size, on every side: hair, hands and loose clothing stay covered
BLUR_CELLS = 8  # the person's box is pixelated to about this many cells across before the blur
MAX_PENDING = 16  # snapshots waiting to be rendered; beyond this new ones are dropped (counted)
CLOSE_WAIT_S = 1.0  # at shutdown: how long pending snapshots may take to render


def _scaled_size(width: int, height: int, max_width: int) -> tuple[int, int]:
    if width <= max_width:
        return width, height
    return max_width, max(1, round(height * max_width / width))


def resize(image: Image, size: tuple[int, int]) -> Image:
    """`image` scaled to `size` (width, height) with area averaging (a new array)."""
    return cast(Image, cv2.resize(image, size, interpolation=cv2.INTER_AREA))


def poses_from_payload(entries: Sequence[dict[str, Any]]) -> list[Pose]:
    """Poses back from the `poses` list of a pose or snapshot message (what a snapshot draws)."""
    return [
        Pose(
            keypoints=np.asarray(e["keypoints"], dtype=np.float32),
            score=float(e["score"]),
            layout=str(e["layout"]),
            track_id=e["track_id"],
            bbox=(float(e["bbox"][0]), float(e["bbox"][1]), float(e["bbox"][2]), float(e["bbox"][3])),
            origin=str(e.get("origin", "model")),
        )
        for e in entries
    ]


def render_skeleton(
    width: int, height: int, poses: list[Pose], zones: Sequence[tuple[str, ZoneConfig]]
) -> Image:
    """The poses and zones on a blank `width`×`height` background, built from numbers alone, with a
    caption saying so."""
    canvas = np.empty((height, width, 3), dtype=np.uint8)
    canvas[:] = SKELETON_BACKGROUND
    draw_zones(canvas, zones)
    out = draw_poses(canvas, poses)
    scale = max(0.35, min(width, height) / 900)
    cv2.putText(
        out,
        SKELETON_CAPTION,
        (6, height - 8),
        cv2.FONT_HERSHEY_SIMPLEX,
        scale,
        CAPTION_COLOUR,
        1,
        cv2.LINE_AA,
    )
    return out


def blur_people(image: Image, poses: list[Pose]) -> None:
    """Pixelate and blur, in place, a box around each pose (its keypoint box plus BLUR_MARGIN)."""
    h, w = image.shape[:2]
    for pose in poses:
        x0, y0, x1, y1 = pose.bbox
        mx, my = (x1 - x0) * BLUR_MARGIN + 0.02, (y1 - y0) * BLUR_MARGIN + 0.02
        left, top = max(0, int((x0 - mx) * w)), max(0, int((y0 - my) * h))
        right, bottom = min(w, int(np.ceil((x1 + mx) * w))), min(h, int(np.ceil((y1 + my) * h)))
        if right - left < 2 or bottom - top < 2:
            continue
        box = image[top:bottom, left:right]
        cell = max(1, (right - left) // BLUR_CELLS)
        small = cv2.resize(
            box,
            (max(1, (right - left) // cell), max(1, (bottom - top) // cell)),
            interpolation=cv2.INTER_AREA,
        )
        coarse = cv2.resize(small, (right - left, bottom - top), interpolation=cv2.INTER_NEAREST)
        k = cell | 1  # an odd kernel about one cell wide smooths the cell edges
        box[:] = cv2.GaussianBlur(coarse, (k, k), 0)


def render_snapshot(
    privacy: SnapshotPrivacy,
    image: Image,
    poses: list[Pose],
    zones: Sequence[tuple[str, ZoneConfig]],
    max_width: int,
) -> Image:
    """The snapshot picture at `privacy` (BGR), at most `max_width` wide."""
    h, w = image.shape[:2]
    if privacy == "skeleton":  # the image's size only, never its pixels; drawn at max_width for legibility
        return render_skeleton(max_width, max(1, round(h * max_width / w)), poses, zones)
    sw, sh = _scaled_size(w, h, max_width)
    scene: Image = image.copy() if (sw, sh) == (w, h) else resize(image, (sw, sh))
    if privacy == "blurred":
        blur_people(scene, poses)
    draw_zones(scene, zones)
    return draw_poses(scene, poses)


def encode_jpeg(image: Image, quality: int) -> bytes:
    """`image` as JPEG bytes."""
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(data.tobytes())


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One rendered snapshot, kept for the live page's list and published over MQTT."""

    event: dict[str, Any]  # the event message's payload (the `start`)
    privacy: SnapshotPrivacy
    width: int
    height: int
    jpeg: bytes
    poses: list[dict[str, Any]]


def snapshot_message(snapshot: Snapshot, prefix: str, device: str) -> Message:
    """The MQTT message: kind `snapshot` (stored in the outbox like an event, QoS 1, not retained)."""
    e = snapshot.event
    return Message(
        kind="snapshot",
        topic=topic(prefix, device, SNAPSHOT_TOPIC),
        qos=1,
        payload={
            "schema": SNAPSHOT_SCHEMA,
            "device": device,
            "event_id": e["id"],
            "type": e["type"],
            "severity": e["severity"],
            "track_id": e["track_id"],
            "frame": e["frame"],
            "ts": e["ts"],
            "privacy": snapshot.privacy,
            "width": snapshot.width,
            "height": snapshot.height,
            "content_type": "image/jpeg",
            "poses": snapshot.poses,
            "jpeg_b64": base64.b64encode(snapshot.jpeg).decode("ascii"),
        },
    )


@dataclass(frozen=True, slots=True)
class _Job:
    image: Image
    poses: list[Pose]
    zones: list[tuple[str, ZoneConfig]]
    event: dict[str, Any]


class SnapshotWorker:
    """Renders snapshots on its own thread. The frame loop calls `submit` (a queue put) and `ready`
    (the finished messages, to publish in its own order); `close` renders what is left, briefly."""

    def __init__(self, config: SnapshotConfig, prefix: str, device: str) -> None:
        self.config = config
        self.prefix = prefix
        self.device = device
        self.dropped = 0  # snapshots not rendered because the queue was full
        self.failed = 0
        self._jobs: queue.Queue[_Job | None] = queue.Queue(MAX_PENDING)
        self._done: queue.SimpleQueue[Snapshot] = queue.SimpleQueue()
        self._listeners: list[Any] = []
        self._thread = threading.Thread(target=self._run, name="snapshots", daemon=True)

    def start(self) -> None:
        """Start the render thread."""
        self._thread.start()

    def on_snapshot(self, callback: Any) -> None:
        """Call `callback(snapshot)` (from the render thread) for every snapshot made: the live page's list."""
        self._listeners.append(callback)

    def wants(self, event: dict[str, Any]) -> bool:
        """Whether `event` (an event payload) gets a snapshot: its start, of a configured type."""
        return event.get("state") == "start" and event.get("type") in self.config.types

    def submit(
        self, image: Image, poses: list[Pose], zones: list[tuple[str, ZoneConfig]], event: dict[str, Any]
    ) -> None:
        """Queue one snapshot of `image` (not copied: frames are never written after capture)."""
        entries = [pose_payload(p) for p in poses]  # the rounded keypoints: drawn exactly as published
        job = _Job(image, poses_from_payload(entries), zones, event)
        try:
            self._jobs.put_nowait(job)
        except queue.Full:
            self.dropped += 1
            logger.warning(
                "snapshot of event %s dropped: %d already wait to be rendered", event["id"], MAX_PENDING
            )

    def ready(self) -> list[Message]:
        """The snapshot messages finished since the last call (cheap when there are none)."""
        out: list[Message] = []
        while True:
            try:
                snapshot = self._done.get_nowait()
            except queue.Empty:
                return out
            out.append(snapshot_message(snapshot, self.prefix, self.device))

    def close(self) -> list[Message]:
        """Render what is queued (up to CLOSE_WAIT_S), stop the thread; the messages left to publish."""
        if self._thread.is_alive():
            with contextlib.suppress(queue.Full):
                self._jobs.put(None, timeout=CLOSE_WAIT_S)
            self._thread.join(CLOSE_WAIT_S)
        return self.ready()

    def render(self, job: _Job) -> Snapshot:
        """One snapshot from a job (the render thread's work; public for tests)."""
        c = self.config
        picture = render_snapshot(c.privacy, job.image, job.poses, job.zones, c.max_width)
        return Snapshot(
            event=job.event,
            privacy=c.privacy,
            width=int(picture.shape[1]),
            height=int(picture.shape[0]),
            jpeg=encode_jpeg(picture, c.jpeg_quality),
            poses=[pose_payload(p) for p in job.poses],
        )

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                snapshot = self.render(job)
            except Exception:
                self.failed += 1
                logger.exception("snapshot of event %s could not be rendered", job.event.get("id"))
                continue
            self._done.put(snapshot)
            for callback in self._listeners:
                callback(snapshot)
