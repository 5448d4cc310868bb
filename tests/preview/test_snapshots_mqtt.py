"""Event snapshots end to end: `edge-pose run` on a real fall clip with a real Mosquitto publishes one
snapshot per event at each privacy level, valid against edge/schemas/snapshot.json; the `skeleton` one
holds no pixel of the camera image (it is redrawn exactly from its own payload, and its background is
flat), the `blurred` one keeps the scene and blurs the person, the `full` one is the frame. The ACL
example (docs/mosquitto/acl) lets the dashboard user read events but not snapshots."""

from __future__ import annotations

import base64
import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import cv2
import jsonschema
import numpy as np
import paho.mqtt.client as mqtt
import pytest
from mosquitto import Mosquitto, password_for
from paho.mqtt.enums import CallbackAPIVersion
from preview_helpers import EDGE_POSE, FALL_CLIP, REPO, write_config

from edge.annotate import draw_poses
from edge.preview.snapshot import (
    BLUR_MARGIN,
    SKELETON_BACKGROUND,
    encode_jpeg,
    poses_from_payload,
    render_skeleton,
)

SCHEMA = json.loads((REPO / "edge" / "schemas" / "snapshot.json").read_text())
RUN_TIMEOUT_S = 120  # a 285-frame clip as fast as the model goes, on a loaded machine


def decode(payload: dict[str, Any]) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(base64.b64decode(payload["jpeg_b64"]), np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape[:2] == (payload["height"], payload["width"])
    return image


def clip_frame(clip: Path, index: int) -> np.ndarray:
    capture = cv2.VideoCapture(str(clip))
    capture.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, image = capture.read()
    capture.release()
    assert ok
    return image


def drawing_mask(poses: list[Any], shape: tuple[int, ...]) -> np.ndarray:
    """Where the skeletons and their labels are drawn (dilated by a JPEG block: anti-aliasing and ringing spread them)."""
    canvas = draw_poses(np.zeros(shape, np.uint8), poses)
    return cv2.dilate((canvas.max(axis=2) > 0).astype(np.uint8), np.ones((17, 17), np.uint8)) > 0


def person_mask(poses: list[Any], shape: tuple[int, ...]) -> np.ndarray:
    """The boxes the blurred level blurs (as edge.preview.snapshot.blur_people computes them)."""
    h, w = shape[:2]
    mask = np.zeros((h, w), bool)
    for pose in poses:
        x0, y0, x1, y1 = pose.bbox
        mx, my = (x1 - x0) * BLUR_MARGIN + 0.02, (y1 - y0) * BLUR_MARGIN + 0.02
        mask[max(0, int((y0 - my) * h)) : int(np.ceil((y1 + my) * h)), max(0, int((x0 - mx) * w)) : int(np.ceil((x1 + mx) * w))] = True  # fmt: skip
    return mask


def detail(image: np.ndarray, mask: np.ndarray) -> float:
    """High-frequency energy (variance of the Laplacian) of the grey image under `mask`."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float64)
    return float(cv2.Laplacian(grey, cv2.CV_64F)[mask].var())


def run_clip(
    tmp_path: Path, broker: Mosquitto, privacy: str, clip: Path
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run the daemon over `clip` once (not looping, every frame); (event starts, snapshots)."""
    device = f"cam-{uuid.uuid4().hex[:8]}"
    sub = broker.subscribe_collect(f"edge-pose/{device}/#")
    config = {
        "device": {"id": device},
        "camera": {"source": f"file:{clip}", "loop": False, "realtime": False},
        "mqtt": {"enabled": True, "host": broker.host, "port": broker.port},
        "outbox": {"path": str(tmp_path / "outbox.sqlite")},
        "snapshots": {"enabled": True, "privacy": privacy},
    }
    path = write_config(tmp_path / "config.yaml", config)
    result = subprocess.run(
        [str(EDGE_POSE), "run", "--config", str(path)], capture_output=True, text=True, timeout=RUN_TIMEOUT_S
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "preview ON" not in result.stderr  # snapshots need no web server
    messages = sub.wait_for(lambda ms: any(m.payload == b"stopped" for m in ms), timeout=10)
    events = [json.loads(m.payload) for m in messages if m.topic.endswith("/event")]
    snapshots = [json.loads(m.payload) for m in messages if m.topic.endswith("/event/snapshot")]
    return [e for e in events if e["state"] == "start"], snapshots


@pytest.mark.parametrize("privacy", ["skeleton", "blurred", "full"])
def test_one_snapshot_per_event_at_the_broker(
    privacy: str, tmp_path: Path, mosquitto: Mosquitto, data_dir: Path, artifacts: Path
) -> None:
    starts, snapshots = run_clip(tmp_path, mosquitto, privacy, data_dir / FALL_CLIP)
    assert any(e["type"] == "fall" for e in starts), starts  # the clip's fall was raised
    assert sorted(s["event_id"] for s in snapshots) == sorted(e["id"] for e in starts)  # exactly one each
    for snapshot in snapshots:
        jsonschema.validate(snapshot, SCHEMA)
        event = next(e for e in starts if e["id"] == snapshot["event_id"])
        assert (snapshot["type"], snapshot["frame"], snapshot["ts"]) == (
            event["type"],
            event["frame"],
            event["ts"],
        )
        assert snapshot["privacy"] == privacy
        picture = decode(snapshot)
        cv2.imwrite(str(artifacts / f"snapshot-{privacy}-{snapshot['type']}.png"), picture)
        poses = poses_from_payload(snapshot["poses"])
        assert poses, "the snapshot of an event shows the person"
        print(
            f"{privacy} snapshot: {snapshot['width']}x{snapshot['height']}, {len(json.dumps(snapshot))} bytes"
        )
        if privacy == "skeleton":
            # Everything in it comes from its own numbers: redrawn on a blank canvas it is the same JPEG.
            again = encode_jpeg(render_skeleton(snapshot["width"], snapshot["height"], poses, []), 75)
            assert base64.b64decode(snapshot["jpeg_b64"]) == again
            # and away from the drawing it is the flat background, not the room
            mask = ~drawing_mask(poses, picture.shape)
            mask[-20:, :] = False  # the caption
            flat = np.abs(picture[mask].astype(int) - SKELETON_BACKGROUND).max(axis=1) <= 4
            assert flat.mean() >= 0.995, flat.mean()  # JPEG ringing next to the lines, never the room
            continue
        raw = clip_frame(data_dir / FALL_CLIP, snapshot["frame"])
        assert raw.shape == picture.shape  # 320×240: no scaling below max_width 640
        drawn = drawing_mask(poses, picture.shape)
        people = person_mask(poses, picture.shape) & ~drawn
        scene = ~person_mask(poses, picture.shape) & ~drawn
        diff = np.abs(picture.astype(int) - raw.astype(int)).mean(axis=2)
        assert diff[scene].mean() < 6.0, diff[scene].mean()  # the room as the camera saw it
        ratio = detail(picture, people) / detail(raw, people)
        print(
            f"{privacy}: scene differs by {diff[scene].mean():.2f}, the person keeps {ratio:.2f} of the detail"
        )
        if privacy == "blurred":
            assert ratio < 0.3 and diff[people].mean() > 2 * diff[scene].mean()
        else:
            assert ratio > 0.6 and diff[people].mean() < 8.0


def test_skeleton_render_never_reads_the_image(data_dir: Path) -> None:
    """The skeleton level gets only the frame's size: the real frame and noise give the same bytes."""
    from edge.preview.snapshot import render_snapshot

    image = clip_frame(data_dir / FALL_CLIP, 160)
    noise = np.random.default_rng(1).integers(0, 256, image.shape, dtype=np.uint8)
    pose = poses_from_payload(
        [{"track_id": 0, "score": 0.7, "bbox": [0.4, 0.5, 0.7, 0.9], "layout": "coco17",
          "keypoints": [[0.4 + 0.015 * i, 0.5 + 0.02 * i, 0.9] for i in range(17)]}]
    )  # fmt: skip
    a = encode_jpeg(render_snapshot("skeleton", image, pose, [], 640), 75)
    b = encode_jpeg(render_snapshot("skeleton", noise, pose, [], 640), 75)
    c = encode_jpeg(render_snapshot("full", image, pose, [], 640), 75)
    assert a == b and a != c


def _publish(broker: Mosquitto, user: str, topic: str, payload: bytes) -> None:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"{user}-{uuid.uuid4().hex[:6]}", protocol=mqtt.MQTTv5
    )
    client.username_pw_set(user, password_for(user))
    client.tls_set(ca_certs=str(broker.ca_file))
    client.connect(broker.host, broker.port)
    client.loop_start()
    client.publish(topic, payload, qos=1).wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


def test_acl_example_keeps_snapshots_from_the_dashboard(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "broker", secure=True, users=("dev1", "dashboard", "safety-lead"))
    broker.start()
    try:
        dashboard = broker.subscribe_collect("edge-pose/#", username="dashboard")
        lead = broker.subscribe_collect("edge-pose/+/event/#", username="safety-lead")
        _publish(broker, "dev1", "edge-pose/dev1/event/snapshot", b'{"schema": 1}')
        _publish(broker, "dev1", "edge-pose/dev1/event", b'{"schema": 1, "state": "start"}')
        lead.wait_for(lambda ms: len(ms) >= 2, timeout=10)
        dashboard.wait_for(lambda ms: any(m.topic == "edge-pose/dev1/event" for m in ms), timeout=10)
        assert sorted(m.topic for m in lead.snapshot()) == [
            "edge-pose/dev1/event",
            "edge-pose/dev1/event/snapshot",
        ]
        assert [m.topic for m in dashboard.snapshot()] == ["edge-pose/dev1/event"]
    finally:
        broker.stop()
