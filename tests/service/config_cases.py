"""The malformed configs, rules files and label files of the strictness table (issue 18), and the one
runner that feeds each to the commands that read it: a config to `check-config` and `run`, a rules file
to `replay --rules` and `eval-events --rules` (and, as a `rules:` section, to `check-config` and `run`),
a label file to `eval-events --labels`. Every one must exit 78 with a first line naming the file and the
key. tests/service/test_config.py asserts it; `python tests/service/config_cases.py` prints the table
(case → command → exit code → message) for the notes.

Placeholders in the documents: @CLIP@ (a real clip: a config that wrongly passed would just play it and
exit 0), @TMP@ (the case's scratch directory), @PEM_CA@ (a real PEM CA certificate)."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
CLIP = REPO / "demo" / "vtest_excerpt.mp4"
STILL = (REPO.parent / "shared" / "data" / "opencv_samples" / "messi5.jpg").resolve()

BASE = """device: {id: cam-test}
camera: {source: "file:@CLIP@", loop: false, realtime: false}
mqtt: {enabled: false}
"""
# MQTT on (to a port nobody listens on): what the outbox and TLS checks need.
BASE_MQTT = """device: {id: cam-test}
camera: {source: "file:@CLIP@", loop: false, realtime: false}
mqtt: {enabled: true, host: 127.0.0.1, port: 9, reconnect_max_s: 1}
outbox: {path: "@TMP@/outbox.sqlite"}
"""


def with_lines(*lines: str, base: str = BASE) -> str:
    """The base config with YAML lines added (a section given again replaces the base's)."""
    sections = {line.split(":", 1)[0] for line in lines if not line.startswith(" ")}
    kept = [line for line in base.splitlines() if line.split(":", 1)[0] not in sections]
    return "\n".join([*kept, *lines]) + "\n"


def setting(path: str, value: object, base: str = BASE) -> str:
    """The base config with the key at dotted `path` set to `value` (written by a YAML dumper, so a
    string is quoted and a number is not)."""
    document = yaml.safe_load(base)
    *parents, last = path.split(".")
    node = document
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return yaml.safe_dump(document, sort_keys=False)


def removed(path: str) -> str:
    document = yaml.safe_load(BASE)
    *parents, last = path.split(".")
    node = document
    for part in parents:
        node = node[part]
    del node[last]
    return yaml.safe_dump(document, sort_keys=False)


@dataclass(frozen=True)
class Case:
    """One malformed file: what kind, its text, the key path the message must name, words it must contain."""

    name: str
    kind: str  # "config", "rules" or "labels"
    text: str
    key: str
    words: str


CONFIG_CASES = [
    # unknown keys and structure
    Case("unknown-section", "config", with_lines("camra: {source: picamera2}"), "camra", "did you mean 'camera'"),
    Case("misspelt-mqtt-key", "config", setting("mqtt.hostname", "broker"), "mqtt.hostname", "unknown key"),
    Case("misspelt-camera-key", "config", setting("camera.loopp", True), "camera.loopp", "did you mean 'loop'"),
    Case("misspelt-tls-key", "config", setting("mqtt.tls", {"ca": "ca.pem"}), "mqtt.tls.ca", "unknown key"),
    Case("unknown-rules-key", "config", setting("rules.fall", {"bogus": 1}), "rules.fall.bogus", "unknown key"),
    Case("pose-flat-key", "config", setting("pose.min_pose_score", 0.3), "pose.min_pose_score", "unknown key"),
    Case("missing-device-id", "config", removed("device.id"), "device.id", "required"),
    Case("missing-camera-source", "config", removed("camera.source"), "camera.source", "required"),
    Case("section-not-mapping", "config", setting("mqtt", "localhost"), "mqtt", "mapping"),
    Case("top-level-list", "config", "- device\n- camera\n", "", "mapping of sections"),
    Case("empty-file", "config", "", "", "empty file"),
    Case("yaml-syntax", "config", "device: {id: a\ncamera: [\n", "line", "invalid YAML"),
    # YAML 1.1 booleans: refused wherever they stand, with the fix in the message
    Case("loop-yes", "config", with_lines('camera: {source: "file:@CLIP@", loop: yes, realtime: false}'),
         "camera.loop", "YAML 1.1 boolean"),
    Case("mqtt-enabled-no", "config", with_lines("mqtt: {enabled: no}"), "mqtt.enabled", "write true or false"),
    Case("realtime-off", "config", with_lines('camera: {source: "file:@CLIP@", loop: false, realtime: off}'),
         "camera.realtime", "YAML 1.1 boolean"),
    Case("rules-enabled-on", "config", with_lines("rules: {fall: {enabled: On}}"), "rules.fall.enabled",
         "YAML 1.1 boolean"),
    Case("smart-crop-NO", "config", with_lines("pose: {movenet_singlepose: {smart_crop: NO}}"),
         "pose.movenet_singlepose.smart_crop", "YAML 1.1 boolean"),
    Case("device-id-yes", "config", with_lines("device: {id: yes}"), "device.id", "quote it for a string"),
    # numbers and booleans are not taken from strings, booleans not from 0/1
    Case("port-as-string", "config", setting("mqtt.port", "1883"), "mqtt.port", "valid integer"),
    Case("confirm-as-string", "config", setting("rules.fall.confirm_s", "0.5"), "rules.fall.confirm_s",
         "a quoted value is a string"),
    Case("beta-as-string", "config", setting("pose.movenet_singlepose.keypoint_filter.beta", "20"),
         "pose.movenet_singlepose.keypoint_filter.beta", "valid number"),
    Case("max-events-as-string", "config", setting("outbox.max_events", "100"), "outbox.max_events",
         "valid integer"),
    Case("threads-word", "config", setting("model.threads", "two"), "model.threads", "integer"),
    Case("realtime-int", "config", setting("camera.realtime", 1), "camera.realtime", "boolean"),
    Case("rule-enabled-0", "config", setting("rules.fall.enabled", 0), "rules.fall.enabled", "boolean"),
    Case("rule-enabled-quoted-yes", "config", setting("rules.person_down.enabled", "yes"),
         "rules.person_down.enabled", "boolean"),
    Case("ha-discovery-quoted-true", "config", setting("mqtt.ha_discovery", "true"), "mqtt.ha_discovery",
         "a quoted value is a string"),
    Case("protocol-number-5", "config", with_lines("mqtt: {enabled: false, protocol: 5}"), "mqtt.protocol",
         'write "5" or "3.1.1"'),
    Case("protocol-number-3.1", "config", with_lines("mqtt: {enabled: false, protocol: 3.1}"), "mqtt.protocol",
         "version is a string"),
    Case("protocol-4", "config", setting("mqtt.protocol", "4"), "mqtt.protocol", "'5' or '3.1.1'"),
    Case("fps-nan", "config", with_lines('camera: {source: "file:@CLIP@", loop: false, realtime: false, fps: .nan}'),
         "camera.fps", "finite number"),
    Case("uri-not-string", "config", setting("camera.source", 5), "camera.source", "valid string"),
    # duplicate keys, named by key path
    Case("duplicate-section", "config", BASE + "device: {id: b}\n", "device", "duplicate key (lines 1 and 4)"),
    Case("duplicate-nested", "config", with_lines("mqtt:", "  enabled: false", "  port: 1883", "  port: 1884"),
         "mqtt.port", "duplicate key"),
    Case("duplicate-in-list", "config",
         with_lines("rules:", "  fall:", "    zones:", "      - {name: a, mode: include, mode: exclude, "
                    "points: [[0, 0], [1, 0], [0, 1]]}"),
         "rules.fall.zones.0.mode", "duplicate key"),
    # values out of range or inconsistent
    Case("device-id-with-slash", "config", setting("device.id", "cam/1"), "device.id", "pattern"),
    Case("device-id-empty", "config", setting("device.id", ""), "device.id", "at least 1"),
    Case("port-zero", "config", setting("mqtt.port", 0), "mqtt.port", "greater than or equal to 1"),
    Case("port-too-large", "config", setting("mqtt.port", 70000), "mqtt.port", "less than or equal to 65535"),
    Case("port-float", "config", setting("mqtt.port", 1883.5), "mqtt.port", "integer"),
    Case("threads-zero", "config", setting("model.threads", 0), "model.threads", "greater than or equal to 1"),
    Case("topic-prefix-wildcard", "config", setting("mqtt.topic_prefix", "a/#"), "mqtt.topic_prefix", "pattern"),
    Case("pose-rate-negative", "config", setting("mqtt.pose_max_rate_hz", -1), "mqtt.pose_max_rate_hz",
         "greater than 0"),
    Case("outbox-max-age-short", "config", setting("outbox.max_age_s", 10), "outbox.max_age_s",
         "greater than or equal to 60"),
    Case("stall-timeout-zero", "config", setting("camera.stall_timeout_s", 0), "camera.stall_timeout_s",
         "greater than"),
    Case("reopen-order", "config", setting("camera.reopen_max_s", 0.5), "camera", "reopen_max_s must be at least"),
    Case("log-level-unknown", "config", setting("logging.level", "verbose"), "logging.level", "'debug'"),
    Case("pose-score-range", "config", setting("pose.movenet_singlepose.min_pose_score", 1.5),
         "pose.movenet_singlepose.min_pose_score", "less than or equal to 1"),
    Case("rules-out-of-range", "config", setting("rules.max_absence_s", 1000), "rules.max_absence_s",
         "less than or equal"),
    Case("zone-outside-frame", "config",
         setting("rules.fall.zones", [{"name": "a", "mode": "include", "points": [[0, 0], [2, 0], [0, 1]]}]),
         "rules.fall.zones.0.points", "outside the frame"),
    Case("tls-cert-without-key", "config",
         setting("mqtt.tls", {"ca_file": "/etc/hostname", "cert_file": "/etc/hostname"}),
         "mqtt.tls", "cert_file and key_file go together"),
    Case("password-without-user", "config", setting("mqtt.password_file", "/etc/hostname"), "mqtt",
         "needs username_file"),
    # camera URIs (a password never shows in the message)
    Case("uri-http", "config", setting("camera.source", "http://cam/stream"), "camera.source",
         "unsupported camera source"),
    Case("uri-v4l2-no-dev", "config", setting("camera.source", "v4l2:video0"), "camera.source", "under /dev"),
    Case("uri-rtsp-no-host", "config", setting("camera.source", "rtsp://"), "camera.source", "no host"),
    Case("uri-file-empty", "config", setting("camera.source", "file:"), "camera.source", "needs a path"),
    Case("uri-picamera2-index", "config", setting("camera.source", "picamera2:x"), "camera.source",
         "camera number"),
    Case("uri-rtsp-bad-port-masked", "config", setting("camera.source", "rtsp://op:s3cret@cam:99999/x"),
         "camera.source", "'rtsp://op:***@cam:99999/x': invalid port"),
    Case("uri-rtsp-space-masked", "config", setting("camera.source", "rtsp://op:s3cret@cam/a b"),
         "camera.source", "'rtsp://op:***@cam/a b': URL contains whitespace"),
    # models and pose sections, checked against the manifest as run does
    Case("unknown-model", "config", setting("model.name", "movenet_giant"), "model.name", "unknown model"),
    Case("unknown-fallback", "config", setting("model.fallback", "nope"), "model.fallback", "unknown model"),
    Case("model-dir-missing", "config", setting("model.dir", "@TMP@/no-models"), "model.dir",
         "no such directory"),
    Case("model-dir-without-manifest", "config", setting("model.dir", "@TMP@"), "model.dir",
         "no manifest.json there"),
    Case("model-dir-broken-manifest", "config", setting("model.dir", "@TMP@/broken-models"), "model.dir",
         "manifest"),
    Case("unknown-fall-model", "config", setting("rules.fall", {"detector": "model", "model": "fall_giant"}),
         "rules.fall.model", "unknown fall model 'fall_giant'"),
    Case("fall-model-checksum", "config",
         setting("rules.fall", {"detector": "model"}, setting("model.dir", "@TMP@/bad-fall-models")),
         "rules.fall.model", "does not match the manifest's"),
    Case("pose-other-family", "config", setting("pose.posenet", {"min_pose_score": 0.3}), "pose.posenet",
         "settings for model family 'posenet', which the config does not run"),
    # the outbox and TLS files, checked as run opens them
    Case("outbox-is-a-directory", "config", setting("outbox.path", "@TMP@", BASE_MQTT), "outbox.path",
         "is a directory"),
    Case("outbox-under-proc", "config", setting("outbox.path", "/proc/edge-pose/outbox.sqlite", BASE_MQTT),
         "outbox.path", "virtual filesystem"),
    Case("outbox-parent-is-a-file", "config", setting("outbox.path", "@TMP@/a-file/outbox.sqlite", BASE_MQTT),
         "outbox.path", "is not a directory"),
    Case("tls-ca-not-pem", "config", setting("mqtt.tls", {"ca_file": "@TMP@/a-file"}, BASE_MQTT),
         "mqtt.tls.ca_file", "not a PEM CA certificate"),
    Case("tls-client-cert-not-pem", "config",
         setting("mqtt.tls", {"ca_file": "@PEM_CA@", "cert_file": "@TMP@/a-file", "key_file": "@TMP@/a-file"},
                 BASE_MQTT),
         "mqtt.tls.cert_file", "not a PEM certificate"),
    # secret files
    Case("password-file-missing", "config", setting("mqtt", {"enabled": False, "username_file": "user",
                                                                "password_file": "nope"}),
         "mqtt.password_file", "file not found"),
    Case("username-file-missing-abs", "config", setting("mqtt.username_file", "/nonexistent/user"),
         "mqtt.username_file", "file not found"),
    Case("password-file-empty", "config", setting("mqtt", {"enabled": False, "username_file": "user",
                                                              "password_file": "empty"}),
         "mqtt.password_file", "empty"),
    Case("tls-ca-missing", "config", setting("mqtt.tls", {"ca_file": "ca-missing.pem"}), "mqtt.tls.ca_file",
         "file not found"),
    Case("tls-key-missing", "config",
         setting("mqtt.tls", {"ca_file": "@PEM_CA@", "cert_file": "@PEM_CA@", "key_file": "key-missing.pem"}),
         "mqtt.tls.key_file", "file not found"),
    # the live view and the snapshots (edge/preview/config.py, edge/publish/settings.py)
    Case("preview-off-loopback-without-password", "config", setting("preview", {"enabled": True, "host": "0.0.0.0"}),
         "preview", "password_file is required when host '0.0.0.0' is not a loopback address"),
    Case("preview-host-a-name", "config", setting("preview.host", "camera.local"), "preview.host",
         "is not an IP address"),
    Case("preview-password-file-missing", "config",
         setting("preview", {"enabled": True, "host": "0.0.0.0", "password_file": "nope"}),
         "preview.password_file", "file not found"),
    Case("preview-tls-not-pem", "config",
         setting("preview", {"enabled": True, "tls": {"cert_file": "@TMP@/a-file", "key_file": "@TMP@/a-file"}}),
         "preview.tls.cert_file", "not a PEM certificate and its matching private key"),
    Case("snapshots-privacy-unknown", "config", setting("snapshots.privacy", "pixelated"), "snapshots.privacy",
         "input should be 'skeleton', 'blurred' or 'full'"),
    Case("snapshots-type-misspelt", "config", setting("snapshots.types", ["falls"]), "snapshots.types.0",
         "input should be 'fall'"),
]  # fmt: skip

# Rules files (the bare section, as `replay --rules` takes it); the same text is also tried as the
# `rules:` section of a config, where its keys are named under `rules.`.
RULES_CASES = [
    Case("rules-yaml11-boolean", "rules", "fall:\n  enabled: yes\n", "fall.enabled", "YAML 1.1 boolean"),
    Case("rules-number-as-string", "rules", "fall:\n  confirm_s: '0.5'\n", "fall.confirm_s",
         "a quoted value is a string"),
    Case("rules-unknown-fall-model", "rules", "fall:\n  detector: model\n  model: fall_giant\n", "fall.model",
         "unknown fall model 'fall_giant'"),
    Case("rules-bool-from-int", "rules", "person_down:\n  enabled: 1\n", "person_down.enabled", "boolean"),
    Case("rules-duplicate-key", "rules", "fall:\n  confirm_s: 1\n  confirm_s: 2\n", "fall.confirm_s",
         "duplicate key (lines"),
    Case("rules-duplicate-section", "rules", "fall: {confirm_s: 1}\nperson_down: {}\nfall: {}\n", "fall",
         "duplicate key (lines"),
    Case("rules-unknown-key", "rules", "person_down:\n  min_duraton_s: 5\n", "person_down.min_duraton_s",
         "did you mean 'min_duration_s'"),
    Case("rules-zone-point-as-strings", "rules",
         "fall:\n  zones:\n    - {name: a, mode: include, points: [['0', '0'], [1, 0], [0, 1]]}\n",
         "fall.zones.0.points.0.0", "valid number"),
    Case("rules-out-of-range", "rules", "fall:\n  min_descent_tl: -1\n", "fall.min_descent_tl",
         "greater than 0"),
]  # fmt: skip

LABEL_CASES = [
    Case("labels-unknown-word", "labels", "files:\n  messi5.jpg: maybe\n", "files.messi5.jpg",
         "neither 'fall', 'not-fall'"),
    Case("labels-yaml11-boolean", "labels", "files:\n  messi5.jpg: no\n", "files.messi5.jpg", "YAML 1.1 boolean"),
    Case("labels-duplicate-file", "labels", "files:\n  messi5.jpg: fall\n  messi5.jpg: not-fall\n",
         "files.messi5.jpg", "duplicate key (lines 2 and 3)"),
    Case("labels-misspelt-class", "labels", "videos:\n  messi5.jpg: {class: falls, events: []}\n",
         "videos.messi5.jpg.class", "'fall' or 'adl'"),
    Case("labels-fall-without-frames", "labels", "videos:\n  messi5.jpg: {class: fall}\n", "videos.messi5.jpg",
         "class fall needs a `fall` event"),
    Case("labels-frames-as-strings", "labels",
         "videos:\n  messi5.jpg: {class: fall, events: [{type: fall, frames: ['3', '9']}]}\n",
         "videos.messi5.jpg.events.0.frames.0", "valid integer"),
    Case("labels-unknown-entry-key", "labels", "videos:\n  messi5.jpg: {fall: '~3-~9', fal: '~3'}\n",
         "videos.messi5.jpg.fal", "unknown key"),
]  # fmt: skip

ALL_CASES = CONFIG_CASES + RULES_CASES + LABEL_CASES


def prepare(case: Case, tmp: Path, pem_ca: Path) -> tuple[Path, Path]:
    """Write the case's file (and the scratch files its documents name) under `tmp`: (file, creds dir)."""
    tmp.mkdir(parents=True, exist_ok=True)
    creds = tmp / "creds"
    creds.mkdir(exist_ok=True)
    (creds / "user").write_text("dev1\n")
    (creds / "empty").write_text("\n")
    (tmp / "a-file").write_text("not a certificate\n")
    (tmp / "broken-models").mkdir(exist_ok=True)
    (tmp / "broken-models" / "manifest.json").write_text("{not json")
    bad_fall = tmp / "bad-fall-models"  # the real models, but a fall model file that is not the manifest's
    bad_fall.mkdir(exist_ok=True)
    for model_file in (REPO / "models").iterdir():
        if model_file.is_file() and not (bad_fall / model_file.name).exists():
            (bad_fall / model_file.name).symlink_to(model_file)
    (bad_fall / "fall_gbt.json").unlink()
    (bad_fall / "fall_gbt.json").write_text(
        (REPO / "models" / "fall_gbt.json").read_text().replace("0", "1", 1)
    )
    text = case.text.replace("@CLIP@", str(CLIP)).replace("@TMP@", str(tmp)).replace("@PEM_CA@", str(pem_ca))
    path = tmp / {"config": "config.yaml", "rules": "rules.yaml", "labels": "labels.yaml"}[case.kind]
    path.write_text(text)
    return path, creds


def as_config_section(case: Case, tmp: Path) -> tuple[Path, str]:
    """A rules case as the `rules:` section of a config (the key is then named under `rules.`)."""
    body = "".join(f"  {line}\n" for line in case.text.splitlines())
    path = tmp / "config-with-rules.yaml"
    path.write_text(BASE.replace("@CLIP@", str(CLIP)) + "rules:\n" + body)
    return path, f"rules.{case.key}"


def commands(case: Case, path: Path, creds: Path) -> list[tuple[str, list[str]]]:
    """(label, argv) of every command that reads this kind of file."""
    if case.kind == "config":
        return [
            ("check-config", ["check-config", str(path), "--credentials-dir", str(creds)]),
            ("run", ["run", "--config", str(path), "--credentials-dir", str(creds)]),
        ]
    if case.kind == "rules":
        out = str(path.with_name("out.jsonl"))
        return [
            ("replay --rules", ["replay", str(STILL), "--rules", str(path), "--out", out, "--no-filter"]),
            ("eval-events --rules", ["eval-events", str(STILL), "--rules", str(path), "--hold", "0"]),
        ]
    return [("eval-events --labels", ["eval-events", str(STILL), "--labels", str(path), "--hold", "0"])]


def run_in_process(argv: list[str]) -> tuple[int, str]:
    """`edge-pose ARGV` in this process: (exit code, stderr)."""
    from edge.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(argv)
    return code, err.getvalue()


def outcomes(
    case: Case, tmp: Path, pem_ca: Path, runner: Callable[[list[str]], tuple[int, str]] = run_in_process
) -> list[tuple[str, Path, str, int, str]]:
    """(command, file, key it must name, exit code, first stderr line) for every command reading the case."""
    path, creds = prepare(case, tmp, pem_ca)
    rows = []
    for label, argv in commands(case, path, creds):
        code, err = runner(argv)
        rows.append((label, path, case.key, code, (err.strip().splitlines() or [""])[0]))
    if case.kind == "rules":
        config, key = as_config_section(case, tmp)
        for label, argv in commands(Case(case.name, "config", "", key, case.words), config, creds):
            code, err = runner(argv)
            rows.append((label, config, key, code, (err.strip().splitlines() or [""])[0]))
    return rows


def make_pem_ca(directory: Path) -> Path:
    """A real self-signed CA certificate (PEM) made with openssl."""
    directory.mkdir(parents=True, exist_ok=True)
    key, cert = directory / "ca.key", directory / "ca.crt"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-new",
            "-key",
            str(key),
            "-days",
            "2",
            "-subj",
            "/CN=test-ca",
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert


def main() -> int:
    """Print the table: case | command | exit code | first line of the message."""
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        pem_ca = make_pem_ca(root / "ca")
        print("| case | command | exit | message (first line, scratch paths shortened) |")
        print("|---|---|---|---|")
        for case in ALL_CASES:
            for label, _path, _key, code, line in outcomes(case, root / case.name, pem_ca):
                shown = line.replace(str(root / case.name), "…").replace(str(REPO), ".")
                print(f"| {case.name} | {label} | {code} | {shown.replace('|', '/')} |")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
