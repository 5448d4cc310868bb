"""The JSON Schemas in edge/schemas/ checked against real messages: pose messages from a real
`edge-pose replay` of real images and a real clip with the real model, event messages built by the
rules stage's own `event_message`, both as written by replay and as received from the broker."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from mosquitto import Mosquitto
from mqtt_helpers import load_schema, publisher_settings, validate

from edge.publish.messages import Message, event_message
from edge.publish.mqtt import MqttPublisher
from edge.rules.event import Event, new_event_id

EDGE_POSE = Path(sys.executable).parent / "edge-pose"


@pytest.fixture(scope="module")
def replayed(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Messages of a real replay: two real photos and a real CCTV clip (123 frames) with MoveNet."""
    out = tmp_path_factory.mktemp("replay") / "replay.jsonl"
    inputs = [
        data_dir / "mpii" / "004645041.jpg",
        data_dir / "person_ambianic_edge" / "person-couch.jpg",
        data_dir / "fall_video_care_home" / "video_3.mp4",
    ]
    subprocess.run(
        [
            str(EDGE_POSE),
            "replay",
            *map(str, inputs),
            "--out",
            str(out),
            "--threads",
            "1",
            "--device",
            "cam1",
        ],
        check=True,
        capture_output=True,
    )
    return [json.loads(line) for line in out.read_text().splitlines()]


def real_events() -> list[Message]:
    """A start/update/end sequence built by the rules stage's own message builder."""
    eid = new_event_id()
    common = {"id": eid, "type": "person_down", "track_id": 0, "start_ts": 10.0, "severity": "critical"}
    events = [
        Event(
            state="start", frame=250, ts=10.0, end_ts=None, score=0.8, details={"trunk_deg": 81.2}, **common
        ),
        Event(
            state="update", frame=500, ts=20.0, end_ts=None, score=0.85, details={"trunk_deg": 84.0}, **common
        ),
        Event(
            state="end", frame=600, ts=24.0, end_ts=24.0, score=0.85, details={"trunk_deg": 12.0}, **common
        ),
    ]  # type: ignore[arg-type]
    return [event_message(e, "cam1", "file:test.mp4", "edge-pose") for e in events]


def test_replayed_pose_messages_match_the_pose_schema(replayed: list[dict[str, Any]]) -> None:
    poses = [m["payload"] for m in replayed if m["topic"].endswith("/pose")]
    assert len(poses) >= 120
    assert sum(len(p["poses"]) for p in poses) >= 100  # people were found: the schema saw real keypoints
    for payload in poses:
        validate("pose", payload)
    for m in replayed:
        if m["topic"].endswith("/event"):
            validate("event", m["payload"])


def test_schemas_reject_what_a_dashboard_could_not_use(replayed: list[dict[str, Any]]) -> None:
    pose_v = jsonschema.Draft202012Validator(load_schema("pose"))
    event_v = jsonschema.Draft202012Validator(load_schema("event"))
    sample = next(m["payload"] for m in replayed if m["topic"].endswith("/pose") and m["payload"]["poses"])
    person = sample["poses"][0]
    bad_poses = [
        {k: v for k, v in sample.items() if k != "poses"},
        {**sample, "schema": 2},
        {**sample, "poses": [{**person, "keypoints": [[0.1, 0.2]] * 17}]},
        {**sample, "poses": [{**person, "layout": "openpose"}]},
        {**sample, "poses": [{**person, "bbox": [0, 0, 1]}]},
    ]
    for payload in bad_poses:
        assert list(pose_v.iter_errors(payload)), payload
    good = real_events()[0].payload
    for payload in [
        {**good, "state": "begin"},
        {**good, "end_ts": "never"},
        {k: v for k, v in good.items() if k != "id"},
    ]:
        assert list(event_v.iter_errors(payload)), payload


def test_messages_received_from_the_broker_match_the_schemas(
    mosquitto: Mosquitto, replayed: list[dict[str, Any]], tmp_path: Path
) -> None:
    sub = mosquitto.subscribe_collect("edge-pose/cam1/#")
    pub = MqttPublisher(
        publisher_settings(
            "cam1", mosquitto.host, mosquitto.port, tmp_path / "outbox.sqlite", pose_max_rate_hz=None
        )
    )
    pub.start()
    deadline = time.monotonic() + 10
    while not pub.connected:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    poses = [
        Message(kind="pose", topic=m["topic"].replace("/replay/", "/cam1/"), payload=m["payload"])
        for m in replayed
        if m["topic"].endswith("/pose")
    ]
    for message in poses + real_events():
        pub.publish(message)
    got = sub.wait_for(
        lambda msgs: (
            sum(m.topic.endswith("/pose") for m in msgs) >= len(poses)
            and sum(m.topic.endswith("/event") for m in msgs) >= 3
        )
    )
    pub.close()
    for m in got:
        name = m.topic.split("/")[2]
        if name in ("pose", "event"):
            validate(name, json.loads(m.payload))
        elif name == "status":
            validate("status", m.payload.decode())
        elif name == "alarm":
            validate("alarm", m.payload.decode())
    received = [json.loads(m.payload) for m in got if m.topic.endswith("/pose")]
    assert received == [p.payload for p in poses]  # the wire form is the replay form
