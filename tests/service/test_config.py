"""The strict config: malformed files give exit 78 and one line naming the key; no traceback.
The documented example config is valid, and every key in the schema appears in it."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from daemon_helpers import EDGE_POSE, base_config, write_config

from edge.cli import main
from edge.config import AppConfig, load_config
from edge.errors import EX_CONFIG
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


# (case id, config dict or raw YAML text, key path the message must name, words it must contain)
CASES: list[tuple[str, Any, str, str]] = [
    ("unknown-section", mutate("camra", {"source": "picamera2"}), "camra", "did you mean 'camera'"),
    ("misspelt-mqtt-key", mutate("mqtt.hostname", "broker"), "mqtt.hostname", "unknown key"),
    ("misspelt-camera-key", mutate("camera.loopp", True), "camera.loopp", "did you mean 'loop'"),
    ("misspelt-tls-key", mutate("mqtt.tls", {"ca": "ca.pem"}), "mqtt.tls.ca", "unknown key"),
    ("unknown-rules-key", mutate("rules.fall", {"bogus": 1}), "rules.fall.bogus", "unknown key"),
    ("missing-device-id", mutate("device.id", MISSING), "device.id", "required"),
    ("missing-camera-source", mutate("camera.source", MISSING), "camera.source", "required"),
    ("device-id-with-slash", mutate("device.id", "cam/1"), "device.id", "pattern"),
    ("device-id-empty", mutate("device.id", ""), "device.id", "at least 1"),
    ("port-as-string", mutate("mqtt.port", "1883"), "mqtt.port", "valid integer"),
    ("port-zero", mutate("mqtt.port", 0), "mqtt.port", "greater than or equal to 1"),
    ("port-too-large", mutate("mqtt.port", 70000), "mqtt.port", "less than or equal to 65535"),
    ("port-float", mutate("mqtt.port", 1883.5), "mqtt.port", "integer"),
    ("threads-zero", mutate("model.threads", 0), "model.threads", "greater than or equal to 1"),
    ("threads-word", mutate("model.threads", "two"), "model.threads", "integer"),
    ("loop-yes-string", mutate("camera.loop", "yes"), "camera.loop", "boolean"),
    ("realtime-int", mutate("camera.realtime", 1), "camera.realtime", "boolean"),
    ("uri-http", mutate("camera.source", "http://cam/stream"), "camera.source", "unsupported camera source"),
    ("uri-v4l2-no-dev", mutate("camera.source", "v4l2:video0"), "camera.source", "under /dev"),
    ("uri-rtsp-no-host", mutate("camera.source", "rtsp://"), "camera.source", "no host"),
    ("uri-file-empty", mutate("camera.source", "file:"), "camera.source", "needs a path"),
    ("uri-picamera2-index", mutate("camera.source", "picamera2:x"), "camera.source", "camera number"),
    ("uri-rtsp-bad-port", mutate("camera.source", "rtsp://cam:99999/x"), "camera.source", "invalid port"),
    ("uri-not-string", mutate("camera.source", 5), "camera.source", "valid string"),
    ("protocol-4", mutate("mqtt.protocol", "4"), "mqtt.protocol", "'5' or '3.1.1'"),
    ("topic-prefix-wildcard", mutate("mqtt.topic_prefix", "a/#"), "mqtt.topic_prefix", "pattern"),
    ("pose-rate-negative", mutate("mqtt.pose_max_rate_hz", -1), "mqtt.pose_max_rate_hz", "greater than 0"),
    ("outbox-max-events-zero", mutate("outbox.max_events", 0), "outbox.max_events", "greater than or equal"),
    ("outbox-max-age-short", mutate("outbox.max_age_s", 10), "outbox.max_age_s", "greater than or equal to 60"),
    ("stall-timeout-zero", mutate("camera.stall_timeout_s", 0), "camera.stall_timeout_s", "greater than"),
    ("reopen-order", mutate("camera.reopen_max_s", 0.5), "camera", "reopen_max_s must be at least"),
    ("section-not-mapping", mutate("mqtt", "localhost"), "mqtt", "mapping"),
    ("log-level-unknown", mutate("logging.level", "verbose"), "logging.level", "'debug'"),
    ("unknown-model", mutate("model.name", "movenet_giant"), "model.name", "unknown model"),
    ("unknown-fallback", mutate("model.fallback", "nope"), "model.fallback", "unknown model"),
    ("pose-score-range", mutate("pose.movenet_singlepose.min_pose_score", 1.5),
     "pose.movenet_singlepose.min_pose_score", "less than or equal to 1"),
    ("pose-flat-key", mutate("pose.min_pose_score", 0.3), "pose.min_pose_score", "unknown key"),
    ("pose-other-family", mutate("pose.posenet", {"min_pose_score": 0.3}), "pose.posenet",
     "settings for model family 'posenet', which the config does not run"),
    ("rules-out-of-range", mutate("rules.max_absence_s", 1000), "rules.max_absence_s", "less than or equal"),
    ("tls-cert-without-key", mutate("mqtt.tls", {"ca_file": "/etc/hostname", "cert_file": "/etc/hostname"}),
     "mqtt.tls", "cert_file and key_file go together"),
    ("password-without-user", mutate("mqtt.password_file", "/etc/hostname"), "mqtt", "needs username_file"),
    ("duplicate-key", "device: {id: a}\ncamera: {source: picamera2}\ndevice: {id: b}\n", "line 3",
     "duplicate key 'device'"),
    ("yaml-syntax", "device: {id: a\ncamera: [\n", "line", "invalid YAML"),
    ("top-level-list", "- device\n- camera\n", "", "mapping of sections"),
    ("empty-file", "", "", "empty file"),
]  # fmt: skip

SECRET_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("password-file-missing", {"username_file": "user", "password_file": "nope"}, "mqtt.password_file",
     "file not found"),
    ("username-file-missing-abs", {"username_file": "/nonexistent/user"}, "mqtt.username_file", "file not found"),
    ("password-file-empty", {"username_file": "user", "password_file": "empty"}, "mqtt.password_file", "empty"),
    ("tls-ca-missing", {"tls": {"ca_file": "ca-missing.pem"}}, "mqtt.tls.ca_file", "file not found"),
    ("tls-key-missing", {"tls": {"ca_file": "ca.pem", "cert_file": "cert.pem", "key_file": "key-missing.pem"}},
     "mqtt.tls.key_file", "file not found"),
]  # fmt: skip


def check_config(path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(["check-config", str(path), *extra])
    captured = capsys.readouterr()
    return code, captured.err


@pytest.mark.parametrize(("case", "document", "key", "words"), CASES, ids=[c[0] for c in CASES])
def test_malformed_config_exits_78_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, document: Any, key: str, words: str
) -> None:
    path = tmp_path / "config.yaml"
    if isinstance(document, str):
        path.write_text(document)
    else:
        write_config(path, document)
    code, err = check_config(path, capsys)
    assert code == EX_CONFIG, err
    first = err.splitlines()[0]
    assert first.startswith(f"edge-pose: {path}: {key}"), first
    assert words in first, first
    assert "Traceback" not in err


@pytest.mark.parametrize(("case", "mqtt", "key", "words"), SECRET_CASES, ids=[c[0] for c in SECRET_CASES])
def test_missing_or_bad_secret_files_exit_78(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, mqtt: dict[str, Any], key: str, words: str
) -> None:
    creds = tmp_path / "credentials"
    creds.mkdir()
    (creds / "user").write_text("dev1\n")
    (creds / "empty").write_text("\n")
    (creds / "ca.pem").write_text("not checked here\n")
    (creds / "cert.pem").write_text("not checked here\n")
    path = write_config(tmp_path / "config.yaml", base_config("picamera2", mqtt={"enabled": True, **mqtt}))
    code, err = check_config(path, capsys, "--credentials-dir", str(creds))
    assert code == EX_CONFIG, err
    first = err.splitlines()[0]
    assert first.startswith(f"edge-pose: {path}: {key}: "), first
    assert words in first
    assert "Traceback" not in err


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
    loaded = load_config(str(write_config(tmp_path / "c.yaml", base_config("picamera2", mqtt=mqtt))))
    assert loaded.secrets.mqtt_username == "dev1"
    assert loaded.secrets.mqtt_password == "s3cret"
    assert loaded.secrets.tls_key_file == creds / "edge-pose_client.key"
    assert loaded.secrets.tls_ca_file == tmp_path / "ca.pem"
    # the password never appears in the config object or its dump
    assert "s3cret" not in loaded.config.model_dump_json()


def test_at_least_thirty_malformed_cases() -> None:
    assert len(CASES) + len(SECRET_CASES) >= 30


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
    code, err = check_config(example, capsys)
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
    other_families = [f"pose.{f}" for f in PoseConfig.model_fields if f != "movenet_singlepose"]
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
