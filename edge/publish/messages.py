"""Message payloads and topics, defined in one place. Pose message schema 1 is fixed: later versions
may add fields, never change these (see docs/mqtt.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge.rules.event import Event
from edge.types import Frame, Keypoints, Pose

POSE_SCHEMA = 1
EVENT_SCHEMA = 1
DEFAULT_TOPIC_PREFIX = "edge-pose"
COORD_DECIMALS = 4  # 1e-4 of the frame: below a pixel for frames up to 10k wide
SCORE_DECIMALS = 3


@dataclass(frozen=True, slots=True)
class Message:
    """A message as the daemon would publish it."""

    topic: str
    payload: dict[str, Any]
    kind: str = "pose"  # pose | event | stats | status | discovery: how the publisher treats it
    qos: int = 0
    retain: bool = False


def topic(prefix: str, device: str, name: str) -> str:
    """`<prefix>/<device>/<name>`, the layout of every edge-pose topic."""
    return f"{prefix}/{device}/{name}"


def pose_payload(pose: Pose) -> dict[str, Any]:
    """One entry of a pose message's `poses` list (`origin` only for the multi-person front-end's
    "crop" / "discovery" / "coast": single-model estimators' messages are unchanged)."""
    payload: dict[str, Any] = {
        "track_id": pose.track_id,
        "score": round(float(pose.score), SCORE_DECIMALS),
        "bbox": [round(float(v), COORD_DECIMALS) for v in pose.bbox],
        "layout": pose.layout,
        "keypoints": _rounded_keypoints(pose.keypoints),
    }
    if pose.origin != "model":
        payload["origin"] = pose.origin
    return payload


def _rounded_keypoints(keypoints: Keypoints) -> list[list[float]]:
    """Keypoints as nested lists, coordinates and scores rounded (Python's correctly rounded `round`
    on plain floats: cheaper than numpy's calls at 17 points, and never prints 0.30000000000000004)."""
    return [
        [round(x, COORD_DECIMALS), round(y, COORD_DECIMALS), round(s, SCORE_DECIMALS)]
        for x, y, s in keypoints.tolist()
    ]


def pose_message(frame: Frame, poses: list[Pose], model: str, device: str, prefix: str) -> Message:
    """The pose message for one processed frame (sent even when `poses` is empty)."""
    return Message(
        kind="pose",
        topic=topic(prefix, device, "pose"),
        payload={
            "schema": POSE_SCHEMA,
            "device": device,
            "source": frame.source,
            "frame": frame.index,
            "ts": round(frame.ts, 6),
            "width": frame.width,
            "height": frame.height,
            "model": model,
            "poses": [pose_payload(p) for p in poses],
        },
    )


def event_message(event: Event, device: str, source: str, prefix: str) -> Message:
    """A safety event (schema 1, docs/events.md) on `<prefix>/<device>/event`, QoS 1: events must arrive."""
    return Message(
        kind="event",
        topic=topic(prefix, device, "event"),
        qos=1,
        payload={
            "schema": EVENT_SCHEMA,
            "id": event.id,
            "type": event.type,
            "state": event.state,
            "severity": event.severity,
            "device": device,
            "source": source,
            "track_id": event.track_id,
            "frame": event.frame,
            "ts": round(event.ts, 6),
            "start_ts": round(event.start_ts, 6),
            "end_ts": None if event.end_ts is None else round(event.end_ts, 6),
            "duration_s": round(event.duration_s, 3),
            "score": round(float(event.score), SCORE_DECIMALS),
            "details": event.details,
        },
    )


def restart_end(last: Message) -> Message:
    """The `end` of an event a crash left open, built from the last message the old process sent for it
    (start or update): same id, `ts`/`end_ts` of that message (the last time the event is known to have
    been open, so `duration_s` is a lower bound), the details it carried plus `reason: "restart"`."""
    payload = dict(last.payload)
    payload.update(
        state="end", end_ts=payload["ts"], details={**payload.get("details", {}), "reason": "restart"}
    )
    return Message(kind="event", topic=last.topic, payload=payload, qos=last.qos)
