"""`PreviewStage`: what the daemon calls to run the live view and the event snapshots beside the frame loop.

    stage = PreviewStage(loaded, pipeline, publisher)   # None of this exists when both are off
    stage.start()                                        # encoder + snapshot threads, the web server
    per frame:  for m in stage.after_frame(result): publish(m)   # O(1) unless a viewer is due a frame
    per loop:   stage.tick(stats)                        # the page's figures, once a second
    at the end: for m in stage.close(): publish(m)       # snapshots still being rendered

The frame loop never waits here: it hands references to the encoder thread (only when someone watches,
at most `preview.max_fps` times a second) and to the snapshot thread (on an event's start), and takes the
finished snapshot messages back to publish them in its own order. Zones saved on the page go to the
rules engine with an atomic swap (RulesEngine.set_zones): tracks, open events, the camera and the MQTT
session carry on."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

from edge.annotate import draw_scene
from edge.config import LoadedConfig, preview_tls_files
from edge.errors import ConfigError
from edge.pipeline import FrameResult, Pipeline
from edge.preview.frame_slot import Encoded, FrameSlot, Sample
from edge.preview.snapshot import Snapshot, SnapshotWorker, encode_jpeg, resize
from edge.preview.zone_editor import ZoneSaveError, parse_zones, save_zones
from edge.publish.messages import Message
from edge.publish.stats import StatsSnapshot
from edge.rules.config import RulesConfig, ZoneConfig
from edge.rules.engine import ZONED_RULES, RulesEngine
from edge.rules.unsafe_posture import reba_details
from edge.types import Image, Pose

logger = logging.getLogger(__name__)

EVENTS_KEPT = 50  # the page lists this many recent event messages
SNAPSHOTS_KEPT = 20  # and keeps this many snapshots in memory to show
STATS_REFRESH_S = 1.0
ENCODER_IDLE_S = 0.5
STALE_FRAMES = 3  # /frame.jpg waits for a new frame when the newest is older than this many stream periods
EGRESS_NOTICE = (
    "Preview is ON: annotated camera frames leave the edge-pose process to this page and to anyone else "
    "who opens it. Turn preview.enabled off when the camera is set up."
)


class Connected(Protocol):
    """The bit of the publisher the page shows."""

    @property
    def connected(self) -> bool: ...


def zones_by_rule(rules: RulesConfig) -> dict[str, list[dict[str, Any]]]:
    """The zones of every rule as plain data (the page's format and the PUT body's)."""
    return {
        rule: [z.model_dump(mode="json") for z in RulesEngine.zones_of(rules, rule)] for rule in ZONED_RULES
    }


def zone_list(rules: RulesConfig) -> list[tuple[str, ZoneConfig]]:
    """Every (rule, zone) pair, for drawing."""
    return [(rule, z) for rule in ZONED_RULES for z in RulesEngine.zones_of(rules, rule)]


def track_rows(poses: list[Pose], bodies: dict[int, Any]) -> list[dict[str, Any]]:
    """One row per pose for the page: id, score, box, and the posture the rules measured."""
    rows = []
    for pose in poses:
        row: dict[str, Any] = {
            "track_id": pose.track_id,
            "score": round(float(pose.score), 3),
            "bbox": [round(float(v), 4) for v in pose.bbox],
        }
        body = bodies.get(pose.track_id if pose.track_id is not None else 0)
        if body is not None:
            details = reba_details(body)
            row |= {k: (round(v, 1) if isinstance(v, float) else v) for k, v in details.items()}
        rows.append(row)
    return rows


class PreviewStage:
    """The live view and the snapshots of one daemon run (either may be off)."""

    def __init__(self, loaded: LoadedConfig, pipeline: Pipeline, publisher: Connected) -> None:
        config = loaded.config
        self.loaded = loaded
        self.preview = config.preview
        self.snapshot_config = config.snapshots
        self.pipeline = pipeline
        self.publisher = publisher
        self.mqtt_enabled = config.mqtt.enabled
        if pipeline.rules is None:
            raise ValueError("the live view needs the rules stage")
        self.rules: RulesEngine = pipeline.rules
        self.slot = FrameSlot(self.preview.max_fps)
        self.snapshots = (
            SnapshotWorker(config.snapshots, config.mqtt.topic_prefix, config.device.id)
            if config.snapshots.enabled
            else None
        )
        self._events: deque[dict[str, Any]] = deque(maxlen=EVENTS_KEPT)
        self._kept: OrderedDict[str, Snapshot] = OrderedDict()
        self._kept_lock = threading.Lock()
        self._stats: dict[str, Any] = {}
        self._last_stats = -1e9
        self._encoder: threading.Thread | None = None
        self._canvas: Image | None = None  # the encoder thread's drawing buffer
        self._server: Any = None
        self._stopping = threading.Event()
        self.preview_state = "off"  # off | on | failed (the stats message's `preview`)

    # --- the daemon's hooks --------------------------------------------------------------------

    def start(self) -> None:
        """Start the snapshot thread and, with the preview on, the encoder thread and the web server.
        A server that cannot bind is logged and left off: the safety function carries on."""
        if self.snapshots is not None:
            self.snapshots.on_snapshot(self._keep)
            self.snapshots.start()
            logger.info(
                "event snapshots on (privacy %s) to <prefix>/%s/event/snapshot",
                self.snapshot_config.privacy,
                self.loaded.config.device.id,
            )
        if not self.preview.enabled:
            return
        from edge.preview.server import PreviewServer  # aiohttp is loaded only here

        secrets = self.loaded.secrets
        server = PreviewServer(self.preview, self, secrets.preview_password, preview_tls_files(secrets))
        try:
            server.start()
        except (OSError, ValueError, ConfigError) as exc:  # check-config passed: the files changed since
            self.preview_state = "failed"
            logger.error(
                "preview: cannot serve on %s:%d (%s); running without the live view",
                self.preview.host,
                self.preview.port,
                exc,
            )
            return
        self._server = server
        self._encoder = threading.Thread(target=self._encode_loop, name="preview-encoder", daemon=True)
        self._encoder.start()
        self.preview_state = "on"
        login = "login required" if secrets.preview_password is not None else "this machine only, no login"
        logger.warning(
            "preview ON at %s (%s): annotated camera frames leave this process while anyone watches",
            server.address,
            login,
        )

    def after_frame(self, result: FrameResult) -> list[Message]:
        """After each frame: note its events, hand a sample to a due viewer, queue and collect snapshots."""
        out: list[Message] = []
        for message in result.messages:
            if message.kind != "event":
                continue
            self._events.append(message.payload | {"received": round(time.time(), 3)})
            if self.snapshots is not None and self.snapshots.wants(message.payload):
                zones = [(r, z) for r, z in zone_list(self.rules.config) if r == message.payload["type"]]
                self.snapshots.submit(result.frame.image, result.poses, zones, message.payload)
        if self._encoder is not None:
            now = time.monotonic()
            if self.slot.due(now):
                self.slot.put(self._sample(result), now)
        if self.snapshots is not None:
            out += self.snapshots.ready()
        return out

    def tick(self, stats: Callable[[], StatsSnapshot]) -> None:
        """Once a second with the preview on: refresh the figures the page shows (on the frame loop's
        thread, which owns them)."""
        if self._server is None:
            return
        now = time.monotonic()
        if now - self._last_stats < STATS_REFRESH_S:
            return
        self._last_stats = now
        figures = asdict(stats())
        if not self.mqtt_enabled:
            broker = "off"
        else:
            broker = "connected" if self.publisher.connected else "disconnected"
        self._stats = figures | {"broker": broker} | self.stats_fields()

    def stats_fields(self) -> dict[str, Any]:
        """The privacy state for the stats message: is the preview serving, to how many, and snapshots."""
        return {
            "preview": self.preview_state,
            "preview_viewers": self.slot.viewers if self._server is not None else 0,
            "snapshots": self.snapshot_config.privacy if self.snapshots is not None else "off",
        }

    def close(self) -> list[Message]:
        """Stop the server and the encoder; render pending snapshots briefly; their messages."""
        self._stopping.set()
        self.slot.close()
        if self._server is not None:
            self._server.stop()
        if self._encoder is not None:
            self._encoder.join(1.0)
        return self.snapshots.close() if self.snapshots is not None else []

    # --- the encoder thread --------------------------------------------------------------------

    def _sample(self, result: FrameResult) -> Sample:
        poses = [
            Pose(p.keypoints.copy(), p.score, p.layout, p.track_id, p.bbox, p.origin) for p in result.poses
        ]  # 17×3 floats each: the estimator may reuse its arrays
        frame = result.frame
        return Sample(
            image=frame.image,
            poses=poses,
            regions=list(self.pipeline.estimator.last_regions),  # every person's crop (front-end)
            zones=zone_list(self.rules.config),
            bodies=self.rules.bodies(),
            frame=frame.index,
            ts=frame.ts,
            source=frame.source,
        )

    def _encode_loop(self) -> None:
        while not self._stopping.is_set():
            sample = self.slot.take(ENCODER_IDLE_S)
            if sample is None:
                continue
            try:
                self.slot.store(self.encode(sample, self.slot.next_seq()))
            except Exception:
                logger.exception("preview: a frame could not be encoded")

    def encode(self, sample: Sample, seq: int) -> Encoded:
        """Draw and encode one sample (downscaled to `preview.max_width` first: less to draw and send)."""
        image = sample.image
        h, w = image.shape[:2]
        if w > self.preview.max_width:
            size = (self.preview.max_width, max(1, round(h * self.preview.max_width / w)))
            image = resize(image, size)
        picture = draw_scene(image, sample.poses, sample.regions, sample.zones, out=self._canvas)
        self._canvas = picture  # drawn into the same buffer next time (no per-frame image allocation)
        return Encoded(
            seq=seq,
            jpeg=encode_jpeg(picture, self.preview.jpeg_quality),
            width=int(picture.shape[1]),
            height=int(picture.shape[0]),
            frame=sample.frame,
            ts=sample.ts,
            tracks=track_rows(sample.poses, sample.bodies),
            mono=time.monotonic(),
        )

    def frame_is_stale(self, encoded: Encoded) -> bool:
        """Whether `encoded` is older than a few stream periods (the page was away)."""
        return time.monotonic() - encoded.mono > STALE_FRAMES * self.slot.interval_s

    # --- what the server reads -----------------------------------------------------------------

    def _keep(self, snapshot: Snapshot) -> None:
        with self._kept_lock:
            self._kept[snapshot.event["id"]] = snapshot
            while len(self._kept) > SNAPSHOTS_KEPT:
                self._kept.popitem(last=False)

    def snapshot_jpeg(self, event_id: str) -> bytes | None:
        """A kept snapshot's JPEG."""
        with self._kept_lock:
            snapshot = self._kept.get(event_id)
        return snapshot.jpeg if snapshot is not None else None

    def zones(self) -> dict[str, list[dict[str, Any]]]:
        """The zones in force."""
        return zones_by_rule(self.rules.config)

    def state(self) -> dict[str, Any]:
        """Everything the page shows beside the image, as JSON-ready data."""
        latest = self.slot.latest()
        with self._kept_lock:
            kept = list(self._kept.values())
        config = self.loaded.config
        return {
            "device": config.device.id,
            "notice": EGRESS_NOTICE,
            "preview": {
                "max_fps": self.preview.max_fps,
                "viewers": self.slot.viewers,
                "login": self.loaded.secrets.preview_password is not None,
                "tls": self.preview.tls is not None,
                "snapshots": self.snapshot_config.privacy if self.snapshots is not None else "off",
            },
            "frame": None
            if latest is None
            else {
                "seq": latest.seq,
                "frame": latest.frame,
                "ts": round(latest.ts, 3),
                "width": latest.width,
                "height": latest.height,
            },
            "tracks": latest.tracks if latest is not None else [],
            "events": list(self._events)[::-1],
            "snapshots": [
                {
                    "event_id": s.event["id"],
                    "type": s.event["type"],
                    "ts": s.event["ts"],
                    "privacy": s.privacy,
                    "url": f"snapshots/{s.event['id']}.jpg",
                }
                for s in reversed(kept)
            ],
            "stats": self._stats,
            "zones": self.zones(),
            "rules": list(ZONED_RULES),
        }

    def save_zones(self, body: bytes) -> dict[str, Any]:
        """Validate and save the zones in `body`, then apply them to the running rules (server's executor)."""
        zones = parse_zones(body)
        loaded = save_zones(self.loaded.path, self.loaded.credentials_dir, zones)
        self.rules.set_zones(loaded.config.rules)
        logger.info("zones applied to the running rules (no restart)")
        return {"zones": self.zones(), "saved_to": str(Path(self.loaded.path).resolve())}


__all__ = ["EGRESS_NOTICE", "PreviewStage", "ZoneSaveError"]
