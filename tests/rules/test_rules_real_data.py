"""The rules on real keypoints: the recorded care-home fall (video_3.mp4) run through the real model and
pipeline, the labelled fall / not-fall stills, and people walking (vtest.avi)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edge.capture.media_file import probe, read_frames
from edge.cli import main
from edge.commands.eval_events import FileResult, frames_of, label_for, media_files
from edge.pipeline import Pipeline
from edge.pose.registry import PoseEstimator
from edge.rules.config import FallConfig, RulesConfig
from edge.rules.engine import RulesEngine
from edge.rules.geometry import measure, to_pixels, torso_length_px

VIDEO_3_WALKING_END = 98  # labels.json: "0-~98 walking with a walker"
VIDEO_3_FALL = (103, 117)  # labels.json: "fall": "~103-~117"
RULE_DETECTOR = RulesConfig(fall=FallConfig(detector="rules"))  # the hand-set rule (not the learned model)


def run_file(pipeline: Pipeline, path: Path, hold_s: float = 0.0) -> list[dict[str, object]]:
    """Event payloads of one input through the pipeline (stills held `hold_s` at 5 fps)."""
    pipeline.reset()
    payloads: list[dict[str, object]] = []
    for frame in frames_of(probe(str(path)), hold_s, 5.0, 0.0):
        result = pipeline.process(frame)
        assert result.messages[0].kind == "pose"  # the pose message first, then the frame's events
        payloads += [m.payload for m in result.messages[1:]]
        assert all(m.kind == "event" and m.qos == 1 for m in result.messages[1:])
    payloads += [m.payload for m in pipeline.finish()]
    return payloads


def test_recorded_fall_keypoints(lightning: PoseEstimator, data_dir: Path) -> None:
    """video_3.mp4 with Lightning: walking raises nothing; during the labelled fall the hip centre
    measurably drops while the trunk stays upright (a slump into sitting). Lightning then loses the
    person on the floor, so no fall can be confirmed with it: the known miss in docs/events.md (the
    collapse is detected with MultiPose, next test)."""
    path = data_dir / "fall_video_care_home" / "video_3.mp4"
    lightning.reset()
    pipeline = Pipeline(lightning, device="test", rules=RulesEngine(RULE_DETECTOR))
    hips: dict[int, tuple[float, float, float]] = {}  # frame → (hip y px, torso px, trunk deg)
    events: list[dict[str, object]] = []
    for frame in read_frames(probe(str(path))):
        result = pipeline.process(frame)
        events += [m.payload for m in result.messages if m.kind == "event"]
        if result.poses:
            kp = to_pixels(result.poses[0].keypoints, result.poses[0].layout, frame.width, frame.height)
            torso = torso_length_px(kp, 0.2)
            body = measure(kp, frame.width, frame.height, 0.2, torso or 0.0) if torso else None
            if body is not None:
                hips[frame.index] = (body.hip[1], body.torso_px, body.trunk_deg)
    events += [m.payload for m in pipeline.finish()]
    assert not [e for e in events if e["type"] in ("fall", "person_down")], events
    # the person is tracked through the walk and into the fall
    assert sum(i in hips for i in range(VIDEO_3_WALKING_END)) >= 95
    before = np.median([hips[i][0] for i in range(96, 104) if i in hips])
    scale = np.percentile([hips[i][1] for i in range(80, 104) if i in hips], 75)
    lowest = max(hips[i][0] for i in range(108, 116) if i in hips)
    descent_tl = (lowest - before) / scale
    assert descent_tl >= 0.3, descent_tl  # the hips drop (0.39 TL measured with Lightning INT8) ...
    assert max(hips[i][2] for i in range(104, 115) if i in hips) < 30.0  # ... with the trunk upright
    assert sum(i in hips for i in range(116, 123)) <= 4  # and the model then loses the person


@pytest.mark.slow
def test_recorded_fall_detected_with_multipose(data_dir: Path) -> None:
    """video_3.mp4 with MultiPose, which keeps the person sitting on the floor: the slump is a `fall` of
    kind "collapse", its impact inside the labelled fall, confirmed once the person has stayed on the
    floor for confirm_s (the clip ends 0.3 s after they land, so its last frame is held, as a camera
    would keep seeing them); nothing is raised during the walk."""
    from edge.pose.registry import create_estimator

    path = data_dir / "fall_video_care_home" / "video_3.mp4"
    info = probe(str(path))
    # this slump descends at 1.46 TL/s, over the shipped 1.2 TL/s (make fall-model's fit)
    pipeline = Pipeline(
        create_estimator("movenet_multipose", threads=1), device="test", rules=RulesEngine(RULE_DETECTOR)
    )
    events: list[dict[str, object]] = []
    for frame in frames_of(info, 0.0, 5.0, 7.0):
        events += [m.payload for m in pipeline.process(frame).messages if m.kind == "event"]
    events += [m.payload for m in pipeline.finish()]
    starts = [e for e in events if e["state"] == "start" and e["type"] in ("fall", "person_down")]
    assert [e["type"] for e in starts] == ["fall"], events
    (fall,) = starts
    details = fall["details"]
    assert isinstance(details, dict) and details["kind"] == "collapse" and details["slumped"] is True
    impact_frame = round(float(fall["start_ts"]) * info.fps)  # type: ignore[arg-type]
    assert VIDEO_3_FALL[0] <= impact_frame <= VIDEO_3_FALL[1], impact_frame
    assert details["trunk_turn_deg"] < 30  # no turn towards horizontal: only the collapse path sees it
    confirm_s = RULE_DETECTOR.fall.confirm_s
    assert float(fall["ts"]) - float(fall["start_ts"]) >= confirm_s  # type: ignore[arg-type]


def test_fall_stills_recall_and_not_fall_stills_false_events(
    lightning: PoseEstimator, data_dir: Path
) -> None:
    """Stills held 7 s (a motionless scene): person_down is the detector. Figures as in docs/events.md."""
    lightning.reset()
    pipeline = Pipeline(lightning, device="test", rules=RulesEngine())
    subset = data_dir / "fall_detection_dataset_subset"
    hits = 0
    falls = sorted((subset / "fall").glob("*.png"))
    for path in falls:
        events = run_file(pipeline, path, hold_s=7.0)
        assert not [e for e in events if e["type"] == "fall"]  # no motion, no fall
        hits += any(e["type"] == "person_down" and e["state"] == "start" for e in events)
    assert hits / len(falls) >= 0.5, f"{hits}/{len(falls)}"
    false_files = set()
    for path in sorted((subset / "not-fall").glob("*.png")):
        events = run_file(pipeline, path, hold_s=7.0)
        if [e for e in events if e["type"] in ("fall", "person_down")]:
            false_files.add(path.name)
    # UR Fall's overhead camera (cam1) sees a seated person from above with a trunk that looks flat
    # (fall-30-cam1-rgb-001.png); the head on top of the shoulders shows the trunk points at the camera
    assert not false_files, false_files


def test_not_fall_small_images_raise_nothing(
    lightning: PoseEstimator, data_dir: Path, labels_file: Path
) -> None:
    lightning.reset()
    pipeline = Pipeline(lightning, device="test", rules=RulesEngine())
    beside: dict[Path, object] = {}
    from edge.commands.labels import read_labels

    given = read_labels(labels_file)
    negatives = [
        p
        for p in media_files([str(data_dir / "fall_detection_images_small")])
        if (label := label_for(p, given, beside)) is not None and not label.fall  # type: ignore[arg-type]
    ]
    assert len(negatives) == 22
    for path in negatives:
        events = run_file(pipeline, path, hold_s=7.0)
        assert not [e for e in events if e["type"] in ("fall", "person_down")], (path.name, events)


@pytest.mark.slow
def test_people_walking_raise_no_fall_or_person_down(lightning: PoseEstimator, data_dir: Path) -> None:
    lightning.reset()
    pipeline = Pipeline(lightning, device="test", rules=RulesEngine())
    events = run_file(pipeline, data_dir / "opencv_samples" / "vtest.avi")
    assert not [e for e in events if e["type"] in ("fall", "person_down")], events


def test_eval_events_prints_recall_and_false_events(
    data_dir: Path, labels_file: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    subset = data_dir / "fall_detection_dataset_subset"
    files = [
        subset / "fall" / "fall-04-cam0-rgb-053.png",  # lying on the office floor, side view
        subset / "fall" / "split10_029.png",  # lying in a corridor
        subset / "fall" / "fall-01-cam0-rgb-130.png",  # far away and curled up: the model finds no torso
        subset / "not-fall" / "rgb_0001.png",
        subset / "not-fall" / "rgb_0043.png",
    ]
    out = tmp_path / "events.jsonl"
    code = main(
        ["eval-events", *map(str, files), "--labels", str(labels_file), "--out", str(out), "--per-file"]
    )
    text = capsys.readouterr().out
    assert code == 0
    rows = {line.split()[0]: line.split() for line in text.splitlines() if line.startswith("fall_detection")}
    fall_row = rows["fall_detection_dataset_subset/fall"]
    assert fall_row[1:5] == ["3", "3", "2/3", "(67%)"]
    not_fall_row = rows["fall_detection_dataset_subset/not-fall"]
    assert not_fall_row[1] == "2" and not_fall_row[-4:-1] == ["2", "0", "0"]
    messages = [json.loads(line) for line in out.read_text().splitlines()]
    assert sum(m["topic"].endswith("/event") for m in messages) >= 4  # 2 person_down starts + their ends
    assert messages[0]["topic"].endswith("/pose")


def test_eval_labels_from_clip_labels_json(data_dir: Path) -> None:
    path = data_dir / "fall_video_care_home" / "video_3.mp4"
    label = label_for(path, {}, {})
    assert label is not None and label.fall and label.fall_start == 103
    result = FileResult(
        str(path), "x", label, starts=[{"type": "fall", "frame": 50}, {"type": "fall", "frame": 99}]
    )
    assert result.false_events("fall", 8) == 1 and result.detected(("fall",), 8)


def test_rules_config_from_file_changes_the_outcome(tmp_path: Path) -> None:
    cfg = tmp_path / "rules.yaml"
    cfg.write_text("rules:\n  person_down:\n    min_duration_s: 60\n")
    from edge.rules.config import load_rules_config

    assert load_rules_config(str(cfg)).person_down.min_duration_s == 60
    assert RulesConfig().person_down.min_duration_s == 5.0


@pytest.mark.parametrize("model", ["movenet_thunder", "movenet_multipose", "blazepose_lite"])
def test_rules_read_every_model_family(model: str, data_dir: Path) -> None:
    """The same lying person raises person_down whatever the model (BlazePose through its 33→17 map,
    MultiPose through the tracker's ids); a person standing raises nothing."""
    from edge.pose.registry import create_estimator

    estimator = create_estimator(model)
    pipeline = Pipeline(estimator, device="test", rules=RulesEngine())
    subset = data_dir / "fall_detection_dataset_subset"
    lying = run_file(pipeline, subset / "fall" / "split10_029.png", hold_s=7.0)
    assert [e["type"] for e in lying if e["state"] == "start"] == ["person_down"], lying
    standing = run_file(pipeline, subset / "not-fall" / "rgb_0001.png", hold_s=7.0)
    assert not [e for e in standing if e["type"] in ("fall", "person_down")]
