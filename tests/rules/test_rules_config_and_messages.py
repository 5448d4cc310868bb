"""The rules' config (strict, bounded, documented), the event message schema 1, and the CLI wiring."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from rule_sequences import KNEEL, LIE, STAND, run_script

from edge.errors import EX_CONFIG, ConfigError
from edge.publish.messages import event_message
from edge.rules.config import RulesConfig, load_rules_config, parse_rules_config

EVENT_KEYS = {
    "schema", "id", "type", "state", "severity", "device", "source", "track_id", "frame", "ts",
    "start_ts", "end_ts", "duration_s", "score", "details",
}  # fmt: skip


def test_every_threshold_is_documented_and_bounded() -> None:
    def walk(model: type[RulesConfig] | type) -> None:
        for name, field in model.model_fields.items():
            assert field.description, name
            annotation = field.annotation
            if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
                walk(annotation)
            elif annotation is float:
                bounds = {type(m).__name__ for m in field.metadata}
                assert bounds & {"Ge", "Gt"} and bounds & {"Le", "Lt"}, name

    walk(RulesConfig)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"fall": {"min_descent_tl": -1}}, "rules.fall.min_descent_tl"),
        ({"person_down": {"min_duraton_s": 5}}, "rules.person_down.min_duraton_s: unknown key"),
        ({"fall": {"zones": [{"name": "a", "mode": "include", "points": [[0, 0], [2, 0], [0, 1]]}]}},
         "outside the frame"),
        ({"fall": {"zones": [{"name": "a", "mode": "sideways", "points": [[0, 0], [1, 0], [0, 1]]}]}},
         "rules.fall.zones.0.mode"),
    ],
)  # fmt: skip
def test_bad_config_names_the_key(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")) as info:
        parse_rules_config(data, "site.yaml")
    assert info.value.exit_code == EX_CONFIG
    assert str(info.value).startswith("site.yaml: ")


def test_load_whole_config_or_section(tmp_path: Path) -> None:
    whole = tmp_path / "edge-pose.yaml"
    whole.write_text("rules:\n  fall:\n    confirm_s: 2.5\n")
    section = tmp_path / "rules.yaml"
    section.write_text("fall:\n  confirm_s: 3\n")
    assert load_rules_config(str(whole)).fall.confirm_s == 2.5
    assert load_rules_config(str(section)).fall.confirm_s == 3.0
    broken = tmp_path / "broken.yaml"
    broken.write_text("fall: [\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml: line 2: invalid YAML"):
        load_rules_config(str(broken))


def test_event_message_schema_1(repo_dir: Path) -> None:
    schema = json.loads((repo_dir / "edge" / "schemas" / "event.json").read_text())
    events = run_script([(2, STAND), (0.5, LIE), (40, LIE), (2, KNEEL), (1.5, STAND), (4, STAND)], 5.0)
    assert {e.state for e in events} == {"start", "update", "end"}
    assert len({(e.id, e.state, e.ts) for e in events}) == len(events)  # what consumers de-duplicate on
    for event in events:
        msg = event_message(event, "cam-7", "rtsp://cam7", "plant")
        jsonschema.validate(msg.payload, schema)
        assert msg.topic == "plant/cam-7/event" and msg.kind == "event" and msg.qos == 1
        payload = json.loads(json.dumps(msg.payload, allow_nan=False))
        assert set(payload) == EVENT_KEYS
        assert payload["schema"] == 1 and payload["device"] == "cam-7" and payload["source"] == "rtsp://cam7"
        assert payload["type"] in ("fall", "person_down", "unsafe_posture", "repetitive_motion")
        assert payload["state"] in ("start", "update", "end")
        assert payload["severity"] in ("info", "warning", "critical")
        assert (payload["end_ts"] is None) == (payload["state"] != "end")
        assert payload["duration_s"] == pytest.approx(
            (payload["end_ts"] or payload["ts"]) - payload["start_ts"], abs=1e-3
        )
        assert 0.0 <= payload["score"] <= 1.0 and isinstance(payload["details"], dict)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edge", *args], capture_output=True, text=True, timeout=300)


def test_replay_rejects_a_bad_rules_file_in_one_line(tmp_path: Path, data_dir: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text("rules:\n  fall:\n    confirm_seconds: 2\n")
    still = data_dir / "fall_detection_dataset_subset" / "not-fall" / "rgb_0001.png"
    proc = run_cli("replay", str(still), "--out", str(tmp_path / "o.jsonl"), "--rules", str(bad))
    assert proc.returncode == EX_CONFIG
    assert proc.stderr.strip().splitlines()[-1].startswith(f"edge-pose: {bad}: rules.fall.confirm_seconds")
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "o.jsonl").exists()  # nothing written for a config it cannot use


def test_replay_writes_events_interleaved(tmp_path: Path, data_dir: Path) -> None:
    """A clip's pose messages with the rules' events among them (here: a thresholds file that calls the
    walking person's every forward lean a trunk flexion, so events are sure to appear)."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "unsafe_posture:\n  trunk_flexion_deg: 10\n  trunk_min_duration_s: 0.2\n  clear_s: 0.2\n"
    )
    out = tmp_path / "o.jsonl"
    clip = data_dir / "fall_video_care_home" / "video_3.mp4"
    proc = run_cli("replay", str(clip), "--out", str(out), "--rules", str(rules))
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    kinds = [m["topic"].rsplit("/", 1)[1] for m in lines]
    assert kinds.count("pose") == 123 and "event" in kinds
    frames = [m["payload"]["frame"] for m in lines]
    assert frames == sorted(frames)  # events follow the pose message of their frame
    events = [m["payload"] for m in lines if m["topic"].endswith("/event")]
    assert {e["state"] for e in events} >= {"start", "end"}
    assert all(e["source"] == str(clip) for e in events)


def test_eval_events_bad_input_is_one_line(tmp_path: Path, data_dir: Path) -> None:
    labels = tmp_path / "labels.yaml"
    labels.write_text("files:\n  video_3.mp4: maybe\n")
    proc = run_cli("eval-events", str(data_dir / "fall_video_care_home"), "--labels", str(labels))
    assert proc.returncode == EX_CONFIG and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"edge-pose: {labels}: files.video_3.mp4: label 'maybe' is neither 'fall', 'not-fall' nor a clip "
        "entry with a fall range"
    )
    missing = run_cli("eval-events", str(tmp_path / "nowhere"))
    assert (
        missing.returncode == 66
        and missing.stderr.strip() == f"edge-pose: {tmp_path / 'nowhere'}: no such file or folder"
    )
