"""The strict config: malformed files give exit 78 and one line naming the key; no traceback.
The documented example config is valid, and every key in the schema appears in it."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from config_cases import ALL_CASES, CONFIG_CASES, RULES_CASES, Case, make_pem_ca, outcomes
from daemon_helpers import EDGE_POSE, base_config, write_config

from edge.cli import main
from edge.config import AppConfig, load_config
from edge.errors import EX_CONFIG
from edge.pose.manifest import find_model
from edge.pose.registry import DEFAULT_MODEL
from edge.pose.settings import PoseConfig
from edge.service.config_reference import example_yaml, reference_table, splice

VALID = base_config("file:/srv/clips/demo.mp4")
MISSING = object()


def mutate(path: str, value: Any) -> dict[str, Any]:
    """VALID with the key at dotted `path` set to `value` (or removed when MISSING)."""
    config = copy.deepcopy(VALID)
    *parents, last = path.split(".")
    node = config
    for part in parents:
        node = node.setdefault(part, {})
    if value is MISSING:
        node.pop(last, None)
    else:
        node[last] = value
    return config


def check_config(path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(["check-config", str(path), *extra])
    captured = capsys.readouterr()
    return code, captured.err


@pytest.fixture(scope="module")
def pem_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pem_ca(tmp_path_factory.mktemp("ca"))


@pytest.mark.parametrize("case", ALL_CASES, ids=[c.name for c in ALL_CASES])
def test_every_malformed_file_exits_78_from_every_command_naming_the_key(
    tmp_path: Path, pem_ca: Path, case: Case
) -> None:
    """A config through check-config and run; a rules file through replay and eval-events --rules and,
    as a `rules:` section, through check-config and run; a label file through eval-events --labels."""
    rows = outcomes(case, tmp_path, pem_ca)
    assert len(rows) == {"config": 2, "rules": 4, "labels": 1}[case.kind]
    for command, path, key, code, first in rows:
        assert code == EX_CONFIG, (command, first)
        prefix = f"edge-pose: {path}: {key}"
        assert first.startswith(prefix), (command, first)
        assert case.words in first, (command, first)
        assert "Traceback" not in first and "s3cret" not in first


def test_the_table_has_at_least_forty_malformed_configs_and_rules_files() -> None:
    assert len(CONFIG_CASES) + len(RULES_CASES) >= 40
    kinds = {c.name.split("-")[0] for c in CONFIG_CASES}
    assert {"loop", "confirm", "duplicate", "outbox", "tls", "model"} <= kinds


def test_relative_secret_without_credentials_dir_names_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    path = write_config(
        tmp_path / "c.yaml", base_config("picamera2", mqtt={"username_file": "mqtt_username"})
    )
    code, err = check_config(path, capsys)
    assert code == EX_CONFIG
    assert f"{path}: mqtt.username_file: relative name 'mqtt_username' needs $CREDENTIALS_DIRECTORY" in err


def test_secrets_resolve_in_credentials_directory_with_unit_prefix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under the unit, /etc/edge-pose/credentials/mqtt_password is $CREDENTIALS_DIRECTORY/edge-pose_mqtt_password."""
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "edge-pose_mqtt_username").write_text("dev1\n")
    (creds / "edge-pose_mqtt_password").write_text("s3cret\n")
    (creds / "edge-pose_client.key").write_text("KEY")
    (tmp_path / "ca.pem").write_text("CA")
    (tmp_path / "client.pem").write_text("CERT")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    mqtt = {
        "username_file": "mqtt_username",
        "password_file": "mqtt_password",
        "tls": {
            "ca_file": str(tmp_path / "ca.pem"),
            "cert_file": str(tmp_path / "client.pem"),
            "key_file": "client.key",
        },
    }
    loaded = load_config(str(write_config(tmp_path / "c.yaml", base_config("file:/srv/x.mp4", mqtt=mqtt))))
    assert loaded.secrets.mqtt_username == "dev1"
    assert loaded.secrets.mqtt_password == "s3cret"
    assert loaded.secrets.tls_key_file == creds / "edge-pose_client.key"
    assert loaded.secrets.tls_ca_file == tmp_path / "ca.pem"
    # the password never appears in the config object or its dump
    assert "s3cret" not in loaded.config.model_dump_json()


@pytest.mark.parametrize(
    ("command", "document", "key"),
    [
        ("check-config", mutate("mqtt.port", 70000), "mqtt.port"),
        ("run", mutate("camera.source", "ftp://x"), "camera.source"),
        ("run", mutate("mqtt.passwrd_file", "x"), "mqtt.passwrd_file"),
    ],
)
def test_real_process_exit_code_and_single_line(
    tmp_path: Path, command: str, document: Any, key: str
) -> None:
    path = write_config(tmp_path / "config.yaml", document)
    args = (
        [str(EDGE_POSE), command, str(path)]
        if command == "check-config"
        else [str(EDGE_POSE), "run", "--config", str(path)]
    )
    result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert result.returncode == EX_CONFIG
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"edge-pose: {path}: {key}: ")
    assert "Traceback" not in result.stderr


def test_example_config_is_valid_and_lists_every_key(
    repo_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    example = repo_dir / "docs" / "config.example.yaml"
    # the example is for a Raspberry Pi (camera picamera2): this machine's camera driver is not checked
    code, err = check_config(example, capsys, "--no-host-checks")
    assert code == 0, err
    document = yaml.safe_load(example.read_text())

    def keys(model: type[Any], prefix: str) -> list[str]:
        found = []
        for name, info in model.model_fields.items():
            found.append(prefix + name)
            annotation = info.annotation
            nested = [a for a in getattr(annotation, "__args__", (annotation,)) if hasattr(a, "model_fields")]
            if nested and name != "tls" and getattr(annotation, "__origin__", None) is not list:
                found += keys(nested[0], f"{prefix}{name}.")
        return found

    def lookup(path: str) -> bool:
        node: Any = document
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    # pose sections of families the default model does not run are shown commented out (a live one
    # would be refused); the default family's section is live
    default_family = find_model(DEFAULT_MODEL).family  # the front-end's: multi_person
    other_families = [f"pose.{f}" for f in PoseConfig.model_fields if f != default_family]
    expected = [k for k in keys(AppConfig, "") if not any(k.startswith(f) for f in other_families)]
    missing = [k for k in expected if not lookup(k)]
    assert not missing, f"docs/config.example.yaml lacks {missing}"
    text = example.read_text()
    assert all(f"  # {f.removeprefix('pose.')}:" in text for f in other_families)
    # and the example states the defaults: validating it equals the all-defaults config
    defaults = AppConfig.model_validate(
        {"device": document["device"], "camera": {"source": document["camera"]["source"]}}
    )
    assert AppConfig.model_validate(document) == defaults


def test_docs_describe_every_key(repo_dir: Path) -> None:
    text = (repo_dir / "docs" / "config.md").read_text()

    def walk(model: type[Any], prefix: str) -> list[str]:
        out = []
        for name, info in model.model_fields.items():
            out.append(prefix + name)
            nested = [
                a
                for a in getattr(info.annotation, "__args__", (info.annotation,))
                if hasattr(a, "model_fields")
            ]
            if nested and name != "tls" and getattr(info.annotation, "__origin__", None) is not list:
                out += walk(nested[0], f"{prefix}{name}.")
        return out

    missing = [k for k in walk(AppConfig, "") if f"`{k}`" not in text]
    assert not missing, f"docs/config.md does not document {missing}"


def test_generated_reference_is_current(repo_dir: Path) -> None:
    """docs/config.example.yaml and the key table in docs/config.md are rendered from the models;
    after changing a key run `python -m edge.service.config_reference docs/config.example.yaml docs/config.md`."""
    fix = "regenerate: .venv/bin/python -m edge.service.config_reference docs/config.example.yaml docs/config.md"
    assert (repo_dir / "docs" / "config.example.yaml").read_text() == example_yaml(), fix
    markdown = (repo_dir / "docs" / "config.md").read_text()
    assert splice(markdown, reference_table()) == markdown, fix


def test_check_config_show_prints_the_effective_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(tmp_path / "c.yaml", mutate("mqtt.port", 8883))
    assert main(["check-config", "--show", str(path)]) == 0
    captured = capsys.readouterr()
    shown = yaml.safe_load(captured.out)
    assert shown["mqtt"]["port"] == 8883 and shown["mqtt"]["keepalive_s"] == 30  # defaults filled in
    assert AppConfig.model_validate(shown) == AppConfig.model_validate(mutate("mqtt.port", 8883))
    assert f"{path}: OK (device cam-test" in captured.err


def test_check_config_show_masks_the_camera_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(
        tmp_path / "c.yaml", mutate("camera.source", "rtsp://op:s3cret@cam.local:554/stream1")
    )
    assert main(["check-config", "--show", str(path)]) == 0
    captured = capsys.readouterr()
    assert "s3cret" not in captured.out + captured.err
    assert yaml.safe_load(captured.out)["camera"]["source"] == "rtsp://op:***@cam.local:554/stream1"
    assert "camera rtsp://op:***@cam.local:554/stream1" in captured.err


def test_a_corrupt_detector_of_a_two_stage_model_is_found_by_check_config_as_by_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The front-end runs two model files (its MultiPose detector and Lightning): check-config verifies
    both, so a corrupt detector is the same warning (a fallback runs) or exit 65 (none can) as in run."""
    shipped = find_model(DEFAULT_MODEL).path.parent
    models = tmp_path / "models"
    models.mkdir()
    for item in shipped.iterdir():
        (models / item.name).symlink_to(item)
    detector = find_model("movenet_multipose").path.name
    (models / detector).unlink()
    corrupt = bytearray((shipped / detector).read_bytes())
    corrupt[1000] ^= 0xFF
    (models / detector).write_bytes(bytes(corrupt))
    guarded = write_config(tmp_path / "guarded.yaml", mutate("model.dir", str(models)))
    code, err = check_config(guarded, capsys)
    assert code == 0, err
    assert f"model.name: {models / detector}: sha256" in err and "the daemon would run without it" in err
    alone = mutate("model.dir", str(models))
    alone["model"]["fallback"] = None
    bare = write_config(tmp_path / "alone.yaml", alone)
    code, err = check_config(bare, capsys)
    assert code == 65 and f"model.name: {models / detector}: sha256" in err, err
    assert main(["run", "--config", str(bare)]) == 65
    assert f"{models / detector}: sha256" in capsys.readouterr().err
