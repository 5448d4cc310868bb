"""The live view's parts without a browser: the config section, the lazy web import, the zone checks
that check-config now makes, the zone editor's file handling, the live zone swap in the rules engine,
the frame slot's rate, and the outbox bound on snapshots."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from preview_helpers import REPO, write_config

from edge.config import load_config, validate
from edge.errors import ConfigError
from edge.preview.config import PreviewConfig, check_preview_install
from edge.preview.frame_slot import FrameSlot, Sample
from edge.preview.zone_editor import ZoneSaveError, save_zones
from edge.publish.messages import Message
from edge.publish.mqtt import MqttPublisher, MqttSettings
from edge.publish.outbox import Outbox
from edge.publish.settings import OutboxConfig, SnapshotConfig
from edge.rules.config import RulesConfig, ZoneConfig
from edge.rules.engine import RulesEngine
from edge.rules.zones import ZoneFilter
from edge.types import Frame, Pose

BASE = {"device": {"id": "cam-1"}, "camera": {"source": "picamera2"}}
# For load_config, which checks this machine as `run` would (a Pi camera's driver is not here): a file
# source, MQTT off (no outbox location to check)
CLIP_SOURCE = f"file:{REPO / 'demo' / 'vtest_excerpt.mp4'}"
ON_THIS_MACHINE = {"device": {"id": "cam-1"}, "camera": {"source": CLIP_SOURCE}, "mqtt": {"enabled": False}}
HEAD = f'device: {{id: cam-1}}\ncamera: {{source: "{CLIP_SOURCE}"}}\nmqtt: {{enabled: false}}\n'


def test_preview_and_snapshots_are_off_by_default() -> None:
    config = validate(dict(BASE), "c.yaml")
    assert not config.preview.enabled and config.preview.host == "127.0.0.1"
    assert not config.snapshots.enabled and config.snapshots.privacy == "skeleton"


@pytest.mark.parametrize(
    ("preview", "message"),
    [
        ({"enabled": True, "host": "0.0.0.0"}, "preview: password_file is required when host '0.0.0.0'"),
        ({"enabled": True, "host": "192.168.1.20"}, "password_file is required"),
        ({"host": "camera.local"}, "preview.host: 'camera.local' is not an IP address"),
        ({"port": 0}, "preview.port: input should be greater than or equal to 1"),
        ({"max_fps": 60}, "preview.max_fps"),
        ({"enable": True}, "preview.enable: unknown key (did you mean 'enabled'?)"),
        ({"enabled": "yes"}, "preview.enabled: input should be a valid boolean"),
    ],
)
def test_preview_section_is_strict(preview: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        validate({**BASE, "preview": preview}, "c.yaml")
    assert message in str(err.value)


def test_snapshot_section_is_strict() -> None:
    with pytest.raises(ConfigError, match=r"snapshots\.privacy"):
        validate({**BASE, "snapshots": {"privacy": "pixelated"}}, "c.yaml")
    with pytest.raises(ConfigError, match=r"snapshots\.types\.0"):
        validate({**BASE, "snapshots": {"types": ["falls"]}}, "c.yaml")


def test_loopback_and_the_password_file(tmp_path: Path) -> None:
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        assert validate({**BASE, "preview": {"enabled": True, "host": host}}, "c.yaml").preview.host == host
    creds = tmp_path / "creds"
    creds.mkdir()
    path = write_config(
        tmp_path / "c.yaml",
        {**ON_THIS_MACHINE, "preview": {"enabled": True, "host": "0.0.0.0", "password_file": "pw"}},
    )
    with pytest.raises(ConfigError, match=r"preview.password_file: file not found"):
        load_config(str(path), creds)
    (creds / "edge-pose_pw").write_text("hunter2\n")  # as systemd's LoadCredential= names it
    loaded = load_config(str(path), creds)
    assert loaded.secrets.preview_password == "hunter2" and loaded.credentials_dir == creds


def test_the_passwords_never_show_in_check_config_errors_or_reprs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The preview's login password is read from its file through the credentials directory, like the
    MQTT one, and then shows nowhere: not in check-config --show (which masks the camera URI's password),
    not in an error about the preview's files, not in the repr of the loaded config (its secrets, the
    camera URI)."""
    from edge.cli import main

    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "edge-pose_preview_password").write_text("Preview-s3cret\n")  # as LoadCredential= names it
    (creds / "mqtt_user").write_text("cam-1\n")
    (creds / "mqtt_password").write_text("Mqtt-s3cret\n")
    (creds / "not-pem").write_text("not a certificate\n")
    config = {
        **ON_THIS_MACHINE,
        "camera": {"source": "rtsp://op:Camera-s3cret@cam.example/stream"},
        "mqtt": {"enabled": False, "username_file": "mqtt_user", "password_file": "mqtt_password"},
        "preview": {"enabled": True, "host": "0.0.0.0", "password_file": "preview_password"},
    }
    path = write_config(tmp_path / "c.yaml", config)
    assert main(["check-config", str(path), "--credentials-dir", str(creds), "--show"]) == 0
    shown = capsys.readouterr()
    assert "password_file: preview_password" in shown.out and "op:***@cam.example" in shown.out
    loaded = load_config(str(path), creds)
    assert loaded.secrets.preview_password == "Preview-s3cret"
    tls = {"cert_file": "not-pem", "key_file": "not-pem"}
    bad = write_config(tmp_path / "bad.yaml", {**config, "preview": {**config["preview"], "tls": tls}})
    assert main(["check-config", str(bad), "--credentials-dir", str(creds)]) == 78
    errors = capsys.readouterr()
    assert "preview.tls.cert_file" in errors.err and "not a PEM certificate" in errors.err
    for text in (shown.out, shown.err, errors.out, errors.err):
        assert "s3cret" not in text, text
    for secret in ("Preview-s3cret", "Mqtt-s3cret", "Camera-s3cret"):
        assert secret not in repr(loaded) and secret not in str(loaded.config), secret
    assert "op:***@cam.example" in repr(loaded)
    assert loaded.config.camera.source == "rtsp://op:Camera-s3cret@cam.example/stream"  # only shown masked


def test_preview_without_aiohttp_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "aiohttp" else real(name))
    with pytest.raises(
        ConfigError, match=r"preview.enabled: the live view needs aiohttp.*edge-pose\[preview\]"
    ):
        check_preview_install(PreviewConfig(enabled=True), "c.yaml")
    check_preview_install(PreviewConfig(enabled=False), "c.yaml")  # off: nothing needed


def test_a_camera_with_the_preview_off_never_imports_the_web_library(tmp_path: Path) -> None:
    """The whole daemon on a short clip, preview off (snapshots on): aiohttp stays out of the process."""
    clip = REPO / "demo" / "vtest_excerpt.mp4"
    config = write_config(
        tmp_path / "c.yaml",
        {
            **BASE,
            "camera": {"source": f"file:{clip}", "loop": False, "realtime": False},
            "mqtt": {"enabled": False},
            "outbox": {"path": str(tmp_path / "o.sqlite")},
            "snapshots": {"enabled": True},
        },
    )
    code = (
        "import sys\n"
        "from edge.cli import main\n"
        f"rc = main(['run', '--config', {str(config)!r}])\n"
        "assert rc == 0, rc\n"
        "print('aiohttp' in sys.modules, 'edge.preview.server' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["False", "False"], result.stdout


@pytest.mark.parametrize(
    ("points", "phrase"),
    [
        ([(0.1, 0.1), (0.5, 0.5)], "at least 3 items"),
        ([(0.1, 0.1), (0.9, 0.9), (0.9, 0.1), (0.1, 0.9)], "crosses itself (edges 1 and 3)"),
        ([(0.1, 0.1), (0.2, 0.2), (0.4, 0.4)], "encloses (almost) no area"),
        ([(0.1, 0.1), (0.105, 0.1), (0.105, 0.105)], "encloses (almost) no area"),
        ([(0.1, 0.1), (1.2, 0.1), (0.5, 0.5)], "outside the frame"),
    ],
)
def test_bad_polygons_fail_check_config(points: list[tuple[float, float]], phrase: str) -> None:
    zone = {"name": "z", "mode": "exclude", "points": [list(p) for p in points]}
    with pytest.raises(ConfigError) as err:
        validate({**BASE, "rules": {"fall": {"zones": [zone]}}}, "c.yaml")
    assert "c.yaml: rules.fall.zones.0.points: " in str(err.value) and phrase in str(err.value)


def test_good_polygons_pass_including_concave_ones() -> None:
    for points in ([(0, 0), (1, 0), (1, 1)], [(0.1, 0.1), (0.9, 0.1), (0.5, 0.4), (0.9, 0.9), (0.1, 0.9)]):
        ZoneConfig(name="z", mode="include", points=points)


def test_zone_save_is_atomic_keeps_a_backup_and_validates_like_check_config(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("# managed by hand\n# second line\n" + HEAD)
    path.chmod(0o640)
    original = path.read_bytes()
    zone = {"name": "pit", "mode": "exclude", "points": [[0.1, 0.6], [0.5, 0.6], [0.5, 0.95]]}
    loaded = save_zones(str(path), None, {"fall": [zone]})
    assert loaded.config.rules.fall.zones[0].name == "pit" and loaded.path == str(path)
    assert (tmp_path / "config.yaml.bak").read_bytes() == original
    assert oct(path.stat().st_mode & 0o777) == "0o640"
    text = path.read_text()
    assert text.startswith("# managed by hand\n# second line\n# zones last saved by the live view at ")
    assert yaml.safe_load(text)["rules"]["fall"]["zones"] == [zone]
    check = subprocess.run(
        [str(Path(sys.executable).parent / "edge-pose"), "check-config", str(path)],
        capture_output=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stderr
    # a second save keeps one header line, and the previous file as the backup
    save_zones(str(path), None, {"fall": []})
    assert path.read_text().count("# zones last saved") == 1 and "rules" not in yaml.safe_load(
        path.read_text()
    )
    assert yaml.safe_load((tmp_path / "config.yaml.bak").read_text())["rules"]["fall"]["zones"] == [zone]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml", "config.yaml.bak"]  # no temp files


def test_zone_save_refuses_what_the_loader_refuses_and_touches_nothing(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(HEAD.replace("enabled: false", "password_file: pw"))
    before = path.read_bytes()
    with pytest.raises(ZoneSaveError) as err:  # the file was already invalid: the loader names it
        save_zones(str(path), None, {"fall": []})
    assert (
        err.value.status == 422
        and "config.yaml: mqtt: password_file needs username_file" in err.value.message
    )
    assert ".new" not in err.value.message  # the temporary file's name never shows
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]


def test_zone_save_on_a_read_only_file_system_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under systemd without the preview drop-in /etc/edge-pose is read-only (ProtectSystem=strict)."""
    import errno
    import tempfile

    path = tmp_path / "config.yaml"
    path.write_text(HEAD)
    before = path.read_bytes()

    def read_only(*args: object, **kwargs: object) -> tuple[int, str]:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(ZoneSaveError) as err:
        save_zones(str(path), None, {"fall": []})
    assert err.value.status == 503 and "Read-only file system" in err.value.message
    assert "docs/preview.md" in err.value.message and path.read_bytes() == before


def _lying_pose(x: float) -> Pose:
    """A person lying on the floor around x (COCO-17 keypoints, normalised), hips at (x, 0.8)."""
    kp = np.zeros((17, 3), np.float32)
    kp[:, 2] = 0.9
    for i in range(17):
        kp[i, 0], kp[i, 1] = x - 0.2 + 0.025 * i, 0.8
    kp[5:7, 0], kp[11:13, 0] = x - 0.12, x  # shoulders beside the hips: the trunk is horizontal
    kp[5:7, 1], kp[11:13, 1] = 0.78, 0.8
    return Pose(keypoints=kp, score=0.9, track_id=1, bbox=(x - 0.2, 0.75, x + 0.2, 0.85))


def test_set_zones_swaps_zones_live_and_keeps_tracks_and_events() -> None:
    rules = RulesConfig.model_validate({"person_down": {"min_duration_s": 1.0, "clear_s": 1.0}})
    engine = RulesEngine(rules)
    events = []
    for i in range(40):  # 4 s at 10 fps: person_down starts after 1 s
        frame = Frame(np.zeros((480, 640, 3), np.uint8), int(i * 1e8), "test", i)
        events += engine.process(frame, [_lying_pose(0.5)])
    assert [(e.type, e.state) for e in events if e.type == "person_down"] == [("person_down", "start")]
    held = set(engine.bodies())  # the tracks the engine holds (what the page lists)
    zone = {"name": "bed", "mode": "exclude", "points": [[0.2, 0.6], [0.8, 0.6], [0.8, 1.0], [0.2, 1.0]]}
    engine.set_zones(RulesConfig.model_validate({"person_down": {"zones": [zone]}}))
    assert set(engine.bodies()) == held == {1}  # same tracks, same rule state
    assert engine.config.person_down.min_duration_s == 1.0  # thresholds as started; only zones change
    assert engine.config.person_down.zones[0].name == "bed"
    later = []
    for i in range(40, 70):
        frame = Frame(np.zeros((480, 640, 3), np.uint8), int(i * 1e8), "test", i)
        later += engine.process(frame, [_lying_pose(0.5)])
    ended = [e for e in later if e.type == "person_down"]
    assert [e.state for e in ended] == ["end"] and ended[0].id == events[-1].id  # the open event ends


def test_zone_filter_replace_is_one_swap() -> None:
    left_half = [(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)]
    zones = ZoneFilter([ZoneConfig(name="left", mode="include", points=left_half)])
    assert zones.applies((0.25, 0.5)) and not zones.applies((0.75, 0.5))
    zones.replace([ZoneConfig(name="not-left", mode="exclude", points=left_half)])
    # the include zone is gone and the exclude zone holds: both lists were swapped together
    assert not zones.applies((0.25, 0.5)) and zones.applies((0.75, 0.5))


def test_frame_slot_offers_frames_only_to_watchers_and_at_the_stream_rate() -> None:
    slot = FrameSlot(max_fps=5.0)
    assert not slot.due(100.0)  # nobody watching: no frame is even offered
    slot.stream_opened()
    sample = Sample(np.zeros((2, 2, 3), np.uint8), [], [], [], {}, 0, 0.0, "x")
    offered = 0
    for i in range(100):  # 10 s of a 10 fps camera
        now = 100.0 + i * 0.1
        if slot.due(now):
            slot.put(sample, now)
            offered += 1
    assert 49 <= offered <= 51  # 5 fps from a 10 fps camera
    slot30 = FrameSlot(max_fps=5.0)
    slot30.stream_opened()
    count = 0
    for i in range(300):  # 10 s of a 30 fps camera: frames do not fall on the 0.2 s schedule
        if slot30.due(i / 30):
            slot30.put(sample, i / 30)
            count += 1
    assert 49 <= count <= 51, count
    slot.stream_closed()
    assert not slot.due(1000.0)


def test_outbox_bounds_snapshots_apart_and_never_drops_an_event_for_them(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", max_events=10, max_snapshots=3)
    for i in range(10):
        box.add("edge-pose/cam/event", f'{{"n": {i}}}')
        box.add("edge-pose/cam/event/snapshot", f'{{"s": {i}}}', kind="snapshot")
    # 20 rows, 10 of them events: exactly max_events, so only the 7 oldest snapshots go
    assert box.prune() == 7 and box.dropped == 0 and box.dropped_snapshots == 7
    rows = box.after(0, 100)
    assert [r.payload for r in rows if r.topic.endswith("/snapshot")] == ['{"s": 7}', '{"s": 8}', '{"s": 9}']
    assert [r.payload for r in rows if r.topic.endswith("/event")] == [f'{{"n": {i}}}' for i in range(10)]
    box.add("edge-pose/cam/event", '{"n": 10}')  # one event too many: the oldest event goes, no snapshot
    assert box.prune() == 1 and box.dropped == 1 and box.depth() == 13
    assert [r.payload for r in box.after(0, 100) if r.topic.endswith("/snapshot")] == [
        '{"s": 7}',
        '{"s": 8}',
        '{"s": 9}',
    ]
    box.close()


def test_a_snapshot_goes_through_the_outbox_as_a_snapshot_and_opens_no_event(tmp_path: Path) -> None:
    """The publisher queues a snapshot like an event (QoS 1, on disk) but with its own bound, and a
    snapshot is no event: it records no open event (which the next start would end) and no alarm."""
    path = tmp_path / "o.sqlite"
    settings = MqttSettings(
        device="cam-1", outbox=OutboxConfig(path=path), snapshots=SnapshotConfig(max_queued=1)
    )
    publisher = MqttPublisher(settings)
    start = {"id": "e1", "type": "fall", "state": "start"}
    publisher.publish(Message(kind="event", topic="edge-pose/cam-1/event", payload=start, qos=1))
    for n in range(2):
        snapshot = {"schema": 1, "event_id": "e1", "type": "fall", "n": n}
        publisher.publish(
            Message(kind="snapshot", topic="edge-pose/cam-1/event/snapshot", payload=snapshot, qos=1)
        )
    assert [m.payload for m in publisher.open_events()] == [start]
    counters = publisher.counters
    assert counters["events_queued"] == 1 and counters["snapshots_queued"] == 2
    publisher.close()
    rows = sqlite3.connect(path).execute("SELECT kind, qos FROM outbox ORDER BY id").fetchall()
    assert rows == [("event", 1), ("snapshot", 1), ("snapshot", 1)]
    box = Outbox(path, max_snapshots=settings.snapshots.max_queued)
    assert box.prune() == 1 and box.depth() == 2  # the older snapshot goes, the event stays
    box.close()


def _security(root: Path) -> float:
    import re

    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", f"--root={root}", "edge-pose.service"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for edge-pose\.service:\s*([0-9.]+)", result.stdout)
    assert match, result.stdout + result.stderr
    return float(match[1])


def test_the_preview_dropin_keeps_the_unit_s_exposure(tmp_path: Path) -> None:
    """systemd/edge-pose.service plus the role's preview drop-in (ReadWritePaths=/etc/edge-pose) scores
    at most 1.7, as the unit alone does; a drop-in that weakens the unit is seen (the check can fail)."""
    units = tmp_path / "etc/systemd/system"
    dropins = units / "edge-pose.service.d"
    dropins.mkdir(parents=True)
    (units / "edge-pose.service").write_bytes((REPO / "systemd/edge-pose.service").read_bytes())
    binary = tmp_path / "opt/edge-pose/venv/bin/edge-pose"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    alone = _security(tmp_path)
    (dropins / "preview.conf").write_bytes((REPO / "ansible/roles/edge_pose/files/preview.conf").read_bytes())
    with_dropin = _security(tmp_path)
    (dropins / "zz-weaker.conf").write_text("[Service]\nProtectSystem=no\n")
    weakened = _security(tmp_path)
    print(f"exposure: unit {alone}, with the preview drop-in {with_dropin}, weakened {weakened}")
    assert with_dropin <= 1.7 and with_dropin <= alone and weakened > with_dropin
