"""`edge-pose replay` end to end: the real CLI, real model, real files; bad input gives one line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.layouts import COCO17
from edge.pose.registry import DEFAULT_MODEL

REPO = Path(__file__).resolve().parents[1]


def edge_pose(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge", *args], capture_output=True, text=True, cwd=REPO, env=env, timeout=300
    )


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def check_pose_message(m: dict, device: str = "replay") -> None:
    assert m["topic"] == f"edge-pose/{device}/pose"
    p = m["payload"]
    assert p["schema"] == 1 and p["device"] == device and p["model"] == DEFAULT_MODEL
    assert isinstance(p["frame"], int) and isinstance(p["ts"], float)
    for pose in p["poses"]:
        assert pose["layout"] == "coco17" and len(pose["keypoints"]) == len(COCO17)
        for x, y, s in pose["keypoints"]:
            assert all(np.isfinite([x, y, s])) and 0 <= s <= 1
        x0, y0, x1, y1 = pose["bbox"]
        assert 0 <= x0 <= x1 <= 1 and 0 <= y0 <= y1 <= 1


def test_replay_stills_and_video_with_annotations(data_dir: Path, tmp_path: Path) -> None:
    video = data_dir / "fall_video_care_home/video_3.mp4"
    image = data_dir / "opencv_samples/messi5.jpg"
    out = tmp_path / "out.jsonl"
    r = edge_pose("replay", str(image), str(video), "--out", str(out), "--annotate", str(tmp_path / "ann"))
    assert r.returncode == 0, r.stderr
    lines = read_jsonl(out)
    assert len(lines) == 1 + 123
    for m in lines:
        check_pose_message(m)
    assert lines[0]["payload"]["source"] == str(image)
    assert lines[0]["payload"]["poses"][0]["track_id"] == 1  # the front-end numbers people from 1
    frames = [m["payload"]["frame"] for m in lines[1:]]
    assert frames == list(range(123))
    ts = [m["payload"]["ts"] for m in lines[1:]]
    assert ts[1] == pytest.approx(1 / 25) and ts[-1] == pytest.approx(122 / 25)  # 25 fps container
    png = tmp_path / "ann/messi5.png"
    mp4 = tmp_path / "ann/video_3.mp4"
    assert cv2.imread(str(png)) is not None
    cap = cv2.VideoCapture(str(mp4))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 123


def test_frame_without_people_still_gets_a_message(tmp_path: Path) -> None:
    blank = tmp_path / "empty_room.png"
    cv2.imwrite(str(blank), np.full((240, 320, 3), 128, np.uint8))
    out = tmp_path / "o.jsonl"
    r = edge_pose("replay", str(blank), "--out", str(out))
    assert r.returncode == 0, r.stderr
    (m,) = read_jsonl(out)
    check_pose_message(m)
    assert m["payload"]["poses"] == [] and m["payload"]["width"] == 320


def bad(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda t: t / "missing.jpg", "no such file"),
        (lambda t: bad(t, "corrupt.jpg", b"\xff\xd8not a jpeg at all"), "cannot decode image"),
        (lambda t: bad(t, "corrupt.mp4", b"\x00\x00\x00\x18ftypmp42garbage" * 10), "cannot decode video"),
        (lambda t: t, "not a file"),
    ],
)
def test_bad_input_gives_one_line_and_nonzero_exit(tmp_path: Path, make, expected: str) -> None:
    path = make(tmp_path)
    r = edge_pose("replay", str(path), "--out", str(tmp_path / "o.jsonl"))
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    lines = [line for line in r.stderr.splitlines() if line.startswith("edge-pose:")]
    assert len(lines) == 1 and str(path) in lines[0] and expected in lines[0], r.stderr
    assert not (tmp_path / "o.jsonl").exists()  # no output file, not even an empty one
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def truncated_clip(data_dir: Path, tmp_path: Path) -> Path:
    """The first half of video_3.mp4's bytes (its index is at the front, so the frames in that half
    decode and the container still says 123 frames), written to tmp."""
    data = (data_dir / "fall_video_care_home/video_3.mp4").read_bytes()
    clip = tmp_path / "truncated.mp4"
    clip.write_bytes(data[: len(data) // 2])
    return clip


def test_a_truncated_video_is_named_with_the_frames_read_and_fails_unless_accepted(
    data_dir: Path, tmp_path: Path
) -> None:
    clip = truncated_clip(data_dir, tmp_path)
    image = data_dir / "opencv_samples/messi5.jpg"
    out = tmp_path / "o.jsonl"
    r = edge_pose("replay", str(image), str(clip), "--out", str(out))
    assert r.returncode == 65, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.startswith("edge-pose:")]
    assert lines[-1].startswith(f"edge-pose: {clip}: truncated or partly undecodable: read ")
    read = int(lines[-1].split("read ")[1].split()[0])
    assert 0 < read < 123 and "of the 123 frames" in lines[-1]
    assert f"nothing written to {out}" in r.stderr and not out.exists()
    ok = edge_pose("replay", str(image), str(clip), "--out", str(out), "--accept-partial")
    assert ok.returncode == 0, ok.stderr
    assert f"warning: {clip}: truncated or partly undecodable: read {read} of the 123 frames" in ok.stderr
    assert len(read_jsonl(out)) == 1 + read  # the still and every frame that could be read
    ev = edge_pose("eval-events", str(clip), "--labels", str(data_dir / "fall_video_care_home/labels.json"))
    assert ev.returncode == 65 and f"{clip}: truncated or partly undecodable: read {read}" in ev.stderr
    ev = edge_pose(
        "eval-events",
        str(clip),
        "--labels",
        str(data_dir / "fall_video_care_home/labels.json"),
        "--accept-partial",
    )
    assert ev.returncode == 0 and "scored on the frames read" in ev.stderr, ev.stderr


def test_unknown_model_names_the_known_ones(data_dir: Path, tmp_path: Path) -> None:
    r = edge_pose("replay", str(data_dir / "opencv_samples/messi5.jpg"), "--model", "movenet_lightnin",
                  "--out", str(tmp_path / "o.jsonl"))  # fmt: skip
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "unknown model 'movenet_lightnin'" in r.stderr and "movenet_lightning" in r.stderr


@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_corrupt_or_missing_model_file_is_named_with_checksums(
    data_dir: Path, tmp_path: Path, damage: str
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(REPO / "models/manifest.json", models)
    target = models / "movenet_lightning_int8.tflite"
    if damage == "corrupt":
        blob = bytearray((REPO / "models/movenet_lightning_int8.tflite").read_bytes())
        blob[len(blob) // 2] ^= 0xFF
        target.write_bytes(bytes(blob))
    env = {"EDGE_POSE_MODEL_DIR": str(models), "PATH": "/usr/bin:/bin"}
    r = edge_pose("replay", str(data_dir / "opencv_samples/messi5.jpg"), "--out", str(tmp_path / "o.jsonl"),
                  env=env)  # fmt: skip
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert str(target) in r.stderr
    if damage == "corrupt":
        manifest = json.loads((models / "manifest.json").read_text())
        expected = next(m["sha256"] for m in manifest["models"] if m["name"] == "movenet_lightning")
        assert expected in r.stderr and "sha256" in r.stderr
    else:
        assert "missing" in r.stderr


def test_non_finite_output_never_reaches_the_jsonl(tmp_path: Path) -> None:
    """Every number the replay writes is finite (json.dumps(allow_nan=False) would refuse otherwise)."""
    out = tmp_path / "o.jsonl"
    img = tmp_path / "noise.png"
    cv2.imwrite(str(img), np.random.default_rng(1).integers(0, 255, (300, 300, 3), dtype=np.uint8))
    assert edge_pose("replay", str(img), "--out", str(out)).returncode == 0
    assert "NaN" not in out.read_text() and "Infinity" not in out.read_text()
