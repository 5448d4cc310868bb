"""Camera sources, the one-slot buffer and the capture thread, on real clips and real OpenCV
back-ends; picamera2 (absent off a Pi) through a fake module that speaks its API."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
import types
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
import pytest
from daemon_helpers import EDGE_POSE, base_config, write_config

from edge.capture.camera import Backoff, Camera
from edge.capture.file_source import FileSource
from edge.capture.latest_frame import LatestFrame
from edge.capture.opencv_source import OpenCvSource
from edge.capture.picamera2_source import Picamera2Source, i420_unpadded, lores_size
from edge.capture.source_uri import parse_source_uri
from edge.errors import EX_CONFIG
from edge.types import Frame


def frame(i: int) -> Frame:
    return Frame(image=np.zeros((2, 2, 3), np.uint8), timestamp_ns=i, source="t", index=i)


@pytest.mark.parametrize(
    ("uri", "kind", "target"),
    [
        ("picamera2", "picamera2", "0"),
        ("picamera2:1", "picamera2", "1"),
        ("v4l2:/dev/video0", "v4l2", "/dev/video0"),
        ("v4l2:/dev/v4l/by-id/usb-cam-video-index0", "v4l2", "/dev/v4l/by-id/usb-cam-video-index0"),
        ("rtsp://user:pw@10.0.0.5:554/stream1", "rtsp", "rtsp://user:pw@10.0.0.5:554/stream1"),
        ("rtsps://cam.local/live", "rtsp", "rtsps://cam.local/live"),
        ("file:/srv/a.mp4", "file", "/srv/a.mp4"),
        ("file:///srv/a.mp4", "file", "/srv/a.mp4"),
        ("file:clips/a.mp4", "file", "clips/a.mp4"),
    ],
)
def test_source_uri_forms(uri: str, kind: str, target: str) -> None:
    parsed = parse_source_uri(uri)
    assert (parsed.kind, parsed.target) == (kind, target)


def test_rtsp_password_is_redacted() -> None:
    assert parse_source_uri("rtsp://admin:hunter2@cam:554/s").redacted == "rtsp://admin:***@cam:554/s"
    assert parse_source_uri("rtsp://cam/s").redacted == "rtsp://cam/s"


def test_latest_frame_keeps_only_the_newest() -> None:
    buffer = LatestFrame()
    for i in range(3):
        buffer.put(frame(i))
    got = buffer.get(0.1)
    assert got is not None and got.index == 2
    assert buffer.dropped == 2
    assert buffer.get(0.05) is None
    buffer.close()
    assert buffer.get(10) is None  # returns at once when closed


def test_latest_frame_hand_over_waits_for_the_consumer() -> None:
    buffer = LatestFrame()
    buffer.put(frame(0), wait_for_consumer=True, timeout_s=0.1)
    t0 = time.monotonic()
    # nobody takes frame 0: waits, then gives up without replacing it (the camera thread tries again,
    # so a slow first frame of a non-realtime file loses nothing)
    buffer.put(frame(1), wait_for_consumer=True, timeout_s=0.3)
    assert time.monotonic() - t0 >= 0.25
    assert buffer.dropped == 0 and buffer.put_count == 1
    taken = buffer.get(1)
    assert taken is not None and taken.index == 0
    buffer.put(frame(1), wait_for_consumer=True, timeout_s=0.3)
    assert buffer.put_count == 2 and buffer.dropped == 0


def test_file_source_loops_on_a_continuous_timeline(short_clip: Path) -> None:
    source = FileSource(str(short_clip), loop=True, realtime=False)
    source.open()
    stamps, flags = [], []
    for _ in range(45):  # 20-frame clip: more than two passes
        item = source.read()
        assert item is not None and item.image.shape == (576, 768, 3)
        assert item.timestamp_ns is not None
        stamps.append(item.timestamp_ns)
        flags.append(item.new_pass)
    source.close()
    assert source.passes == 2
    assert all(b - a == 100_000_000 for a, b in itertools.pairwise(stamps))  # 10 fps, no jump
    assert [i for i, flag in enumerate(flags) if flag] == [20, 40]  # each later pass's first frame


def test_a_dropped_new_pass_frame_hands_its_flag_to_the_next() -> None:
    buffer = LatestFrame()
    buffer.put(replace(frame(0), new_pass=True))
    buffer.put(frame(1))  # replaces frame 0 before the consumer took it
    got = buffer.get(0.1)
    assert got is not None and got.index == 1 and got.new_pass
    buffer.put(frame(2))
    got = buffer.get(0.1)
    assert got is not None and not got.new_pass


def test_file_source_played_once_finishes(short_clip: Path) -> None:
    source = FileSource(str(short_clip), loop=False, realtime=False)
    source.open()
    count = 0
    while source.read() is not None:
        count += 1
    assert count == 20 and source.finished


def test_file_source_realtime_paces_at_the_file_rate(short_clip: Path) -> None:
    source = FileSource(str(short_clip), loop=False, realtime=True)
    source.open()
    t0 = time.monotonic()
    for _ in range(6):
        assert source.read() is not None
    assert time.monotonic() - t0 >= 0.45  # 6 frames at 10 fps: at least 5 intervals


def test_camera_reopens_a_file_that_comes_back(short_clip: Path) -> None:
    buffer = LatestFrame()
    camera = Camera(
        FileSource(str(short_clip), loop=True, realtime=False),
        buffer,
        Backoff(0.1, 0.2),
        wait_for_consumer=True,
    )
    camera.start()
    indices = []
    while len(indices) < 5:
        got = buffer.get(5)
        assert got is not None
        indices.append(got.index)
    away = short_clip.with_suffix(".away")
    short_clip.rename(away)
    deadline = time.monotonic() + 10
    while camera.state != "reconnecting":
        buffer.get(0.05)  # keep consuming the rest of the pass
        assert time.monotonic() < deadline
    failures = camera.failures
    time.sleep(0.6)
    assert camera.failures > failures  # keeps retrying with back-off
    away.rename(short_clip)
    got = buffer.get(5)
    assert got is not None and got.index > indices[-1]
    assert camera.state == "streaming" and camera.reopens >= 1
    camera.stop()
    assert not camera.alive


def test_missing_v4l2_device_retries_and_never_exits() -> None:
    buffer = LatestFrame()
    source = OpenCvSource(parse_source_uri("v4l2:/dev/video-edge-pose-missing"))
    camera = Camera(source, buffer, Backoff(0.05, 0.1))
    camera.start()
    time.sleep(0.5)
    assert camera.alive and camera.state == "reconnecting" and camera.failures >= 3
    camera.stop()


def test_unreachable_rtsp_camera_retries(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    source = OpenCvSource(parse_source_uri(f"rtsp://127.0.0.1:{port}/stream"), timeout_s=2)
    camera = Camera(source, LatestFrame(), Backoff(0.05, 0.1))
    camera.start()
    deadline = time.monotonic() + 10
    while camera.failures < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert camera.alive and camera.state == "reconnecting"
    camera.stop()


# --- picamera2 through a fake module speaking its API (libcamera exists only on a Pi) --------------


class FakePicamera2:
    """Records the configuration and returns I420 frames padded to a stride, like picamera2."""

    instances: ClassVar[list[FakePicamera2]] = []
    image: ClassVar[np.ndarray[Any, Any]]

    def __init__(self, camera_num: int = 0) -> None:
        self.camera_num = camera_num
        self.config: dict[str, Any] = {}
        self.started = False
        FakePicamera2.instances.append(self)

    def create_video_configuration(self, **kwargs: Any) -> dict[str, Any]:
        return {k: dict(v) if isinstance(v, dict) else v for k, v in kwargs.items()}

    def align_configuration(self, config: dict[str, Any]) -> None:
        pass

    def configure(self, config: dict[str, Any]) -> None:
        self.config = config

    def start(self) -> None:
        self.started = True

    def capture_array(self, stream: str) -> np.ndarray[Any, Any]:
        assert stream == "lores"
        width, height = self.config["lores"]["size"]
        bgr = cv2.resize(self.image, (width, height))
        i420 = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)  # (h*3/2, w)
        stride = width + 64  # the ISP pads rows; chroma rows hold two half-stride rows each
        y = np.pad(i420[:height], ((0, 0), (0, stride - width)))
        chroma = i420[height:].reshape(-1)
        half = (height // 2) * (width // 2)
        u = np.pad(chroma[:half].reshape(height // 2, width // 2), ((0, 0), (0, (stride - width) // 2)))
        v = np.pad(chroma[half:].reshape(height // 2, width // 2), ((0, 0), (0, (stride - width) // 2)))
        return np.concatenate([y.reshape(-1), u.reshape(-1), v.reshape(-1)]).reshape(-1, stride)

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        pass


def test_lores_keeps_the_aspect_with_the_model_size_on_the_short_side() -> None:
    assert lores_size((1280, 720), 192) == (342, 192)
    assert lores_size((640, 480), 192) == (256, 192)
    assert lores_size((480, 640), 256) == (256, 342)


def test_picamera2_source_lores_yuv_to_bgr(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> None:
    image = cv2.imread(str(data_dir / "person_ambianic_edge" / "person-couch.jpg"))
    FakePicamera2.image = image
    module = types.ModuleType("picamera2")
    module.Picamera2 = FakePicamera2  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "picamera2", module)
    source = Picamera2Source(0, 192, main_size=(1280, 720))
    source.open()
    camera = FakePicamera2.instances[-1]
    assert camera.started
    assert camera.config["lores"] == {"size": (342, 192), "format": "YUV420"}
    assert camera.config["main"] == {"size": (1280, 720)}
    item = source.read()
    assert item is not None and item.image.shape == (192, 342, 3)
    expected = cv2.cvtColor(
        cv2.cvtColor(cv2.resize(image, (342, 192)), cv2.COLOR_BGR2YUV_I420), cv2.COLOR_YUV2BGR_I420
    )
    assert np.abs(item.image.astype(int) - expected.astype(int)).max() == 0  # padding removed exactly
    source.close()
    assert not camera.started


def test_i420_unpadded_is_identity_without_padding() -> None:
    buf = np.arange(6 * 4, dtype=np.uint8).reshape(6, 4)
    assert np.array_equal(i420_unpadded(buf, 4, 4), buf)


def test_picamera2_missing_is_a_config_error_exit_78(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.yaml", base_config("picamera2"))
    result = subprocess.run(
        [str(EDGE_POSE), "run", "--config", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == EX_CONFIG
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"edge-pose: {path}: camera.source: picamera2 is not importable")
    assert "python3-picamera2" in last and "Traceback" not in result.stderr


def test_a_truncated_file_source_says_how_many_frames_it_read(
    tmp_path: Path, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = (data_dir / "fall_video_care_home/video_3.mp4").read_bytes()
    clip = tmp_path / "truncated.mp4"
    clip.write_bytes(data[: len(data) // 2])
    source = FileSource(str(clip), loop=False, realtime=False)
    source.open()
    frames = 0
    while source.read() is not None:
        frames += 1
    source.close()
    assert source.finished and 0 < frames < 123
    assert f"{clip}: truncated or partly undecodable: read {frames} of the 123 frames" in caplog.text
