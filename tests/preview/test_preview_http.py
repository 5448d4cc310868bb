"""The live view's HTTP surface against a real `edge-pose run`: off the loopback every route (and any
other path or method) answers 401 without the login, over HTTPS; on the loopback, malformed requests,
oversized bodies, path traversal, foreign Host headers and zone sets with bad polygons get clear 4xx
answers and change nothing (neither the config file nor the zones in force)."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from mosquitto import make_ca, make_cert
from preview_helpers import Daemon, free_port, preview_config, start_daemon, write_config

from edge.preview.server import MAX_BODY_BYTES, ROUTES

STILL = "person_ambianic_edge/person-couch.jpg"  # a still looped as a camera: cheap, always a person
EVENT_ID = "0" * 32


def route_paths() -> list[tuple[str, str]]:
    """Every route of the server with its parameters filled in."""
    fill = {"{name}": "app.js", "{event_id}": EVENT_ID}
    out = []
    for method, path in ROUTES:
        for key, value in fill.items():
            path = path.replace(key, value)
        out.append((method, path))
    return out


def test_the_route_table_is_the_server_s() -> None:
    """ROUTES (what the tests walk) is exactly what the app serves."""
    from edge.preview.config import PreviewConfig
    from edge.preview.server import PreviewServer

    app = PreviewServer(PreviewConfig(), stage=None, password=None, tls_files=None).build_app()  # type: ignore[arg-type]
    served = {
        (r.method, r.resource.canonical) for r in app.router.routes() if r.method != "HEAD" and r.resource
    }
    assert served == set(ROUTES)


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[Daemon]:
    """A daemon whose preview listens on every address, with a password and TLS."""
    base = tmp_path_factory.mktemp("secured")
    creds = base / "credentials"
    creds.mkdir()
    ca = make_ca(creds, "ca")
    make_cert(creds, "preview", ca, "IP:127.0.0.1,DNS:localhost")
    (creds / "preview_password").write_text("s3cret-of-the-installer\n")
    port = free_port()
    config = preview_config(
        f"file:{data_dir / STILL}",
        port,
        base / "outbox.sqlite",
        preview={
            "host": "0.0.0.0",
            "password_file": "preview_password",
            "tls": {"cert_file": "preview.crt", "key_file": "preview.key"},
        },
    )
    context = ssl.create_default_context(cafile=str(ca[0]))
    daemon = start_daemon(
        write_config(base / "config.yaml", config),
        base / "daemon.log",
        port,
        credentials=creds,
        tls_context=context,
        auth=("installer", "s3cret-of-the-installer"),
    )
    yield daemon
    daemon.kill()


def test_off_loopback_every_route_needs_the_login(secured: Daemon) -> None:
    paths = [*route_paths(), ("GET", "/no/such/page"), ("DELETE", "/api/zones"), ("POST", "/")]
    for method, path in paths:
        body = b'{"fall": []}' if method == "PUT" else None
        answer = secured.request(
            method, path, body=body, headers={"Content-Type": "application/json"}, auth=None
        )
        assert answer.status == 401, (method, path, answer.status)
        assert answer.headers["www-authenticate"].startswith("Basic realm="), (method, path)
        assert b"jpeg" not in answer.body.lower() and b"<html" not in answer.body.lower()
        wrong = secured.request(method, path, body=body, auth=("installer", "guess"))
        assert wrong.status == 401, (method, path, wrong.status)
    assert secured.request("GET", "/", auth=("someone", "s3cret-of-the-installer")).status == 401
    bad = secured.raw(b"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic !!notbase64!!\r\n\r\n")
    assert b"401" not in bad  # a TLS port: plain text gets no HTTP answer at all
    # with the login, the same routes answer
    assert secured.request("GET", "/").status == 200
    assert secured.request("GET", "/static/app.js").status == 200
    assert secured.request("GET", "/api/zones").json()["zones"]["fall"] == []
    stream = secured.request("GET", "/stream.mjpg", timeout=20)
    assert stream.status == 200 and stream.headers["content-type"].startswith("multipart/x-mixed-replace")
    assert b"\xff\xd8" in stream.body  # a JPEG frame follows the part header
    assert secured.request("GET", f"/snapshots/{EVENT_ID}.jpg").status == 404
    assert "login required" in secured.log() and "0.0.0.0" in secured.log()


def test_off_loopback_without_a_password_is_refused_by_check_config(tmp_path: Path, data_dir: Path) -> None:
    import subprocess

    from preview_helpers import EDGE_POSE

    config = preview_config(
        f"file:{data_dir / STILL}", 8080, tmp_path / "o.sqlite", preview={"host": "0.0.0.0"}
    )
    result = subprocess.run(
        [str(EDGE_POSE), "check-config", str(write_config(tmp_path / "c.yaml", config))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 78
    assert "preview: password_file is required when host '0.0.0.0' is not a loopback address" in result.stderr


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[Daemon]:
    """A daemon with the preview on the loopback (no login), MQTT off."""
    base = tmp_path_factory.mktemp("local")
    port = free_port()
    config = preview_config(f"file:{data_dir / STILL}", port, base / "outbox.sqlite")
    daemon = start_daemon(write_config(base / "config.yaml", config), base / "daemon.log", port)
    yield daemon
    daemon.kill()


def unchanged(daemon: Daemon, before: bytes) -> None:
    assert daemon.config_path.read_bytes() == before, "the config file changed"
    assert not daemon.config_path.with_name("config.yaml.bak").exists(), "a backup was written"
    zones = daemon.request("GET", "/api/zones").json()["zones"]
    assert all(z == [] for z in zones.values()), zones


BAD_ZONES = [
    # (body, status, a phrase the answer must contain)
    (b"{not json", 400, "not valid JSON"),
    (b'{"fall": [{"name": "a", "mode": "include", "points": [[0.1, NaN], [0.2, 0.2], [0.3, 0.1]]}]}', 400, "NaN"),
    (b"[1, 2, 3]", 400, "expected a JSON object"),
    (b"{}", 400, "at least one rule"),
    (b'{"fall": [{"name": "bench", "mode": "exclude", "points": [[0.1, 0.1], [0.5, 0.5]]}]}', 422,
     "rules.fall.zones.0.points: list should have at least 3 items"),
    (b'{"fall": [{"name": "pit", "mode": "exclude", "points": [[0.1, 0.1], [1.5, 0.1], [0.3, 0.6]]}]}', 422,
     "rules.fall.zones.0.points: point [1.5, 0.1] is outside the frame"),
    (b'{"fall": [{"name": "bow", "mode": "include", "points": [[0.1, 0.1], [0.6, 0.6], [0.6, 0.1], [0.1, 0.6]]}]}',
     422, "the outline crosses itself"),
    (b'{"fall": [{"name": "line", "mode": "include", "points": [[0.1, 0.1], [0.2, 0.2], [0.3, 0.3]]}]}', 422,
     "encloses (almost) no area"),
    (b'{"fall": [{"name": "x", "mode": "ignore", "points": [[0.1, 0.1], [0.6, 0.1], [0.3, 0.6]]}]}', 422,
     "rules.fall.zones.0.mode"),
    (b'{"falls": []}', 422, "rules.falls: unknown key (did you mean 'fall'?)"),
    (b'{"fall": "everywhere"}', 422, "rules.fall.zones"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "status", "phrase"), BAD_ZONES)
def test_bad_zone_sets_get_a_clear_4xx_and_change_nothing(
    local: Daemon, body: bytes, status: int, phrase: str
) -> None:
    before = local.config_path.read_bytes()
    answer = local.request("PUT", "/api/zones", body=body, headers={"Content-Type": "application/json"})
    assert answer.status == status, answer.body
    assert phrase in answer.json()["error"], answer.json()
    unchanged(local, before)


def test_malformed_and_hostile_requests_get_4xx(local: Daemon) -> None:
    before = local.config_path.read_bytes()
    json_type = {"Content-Type": "application/json"}
    big = b'{"fall": [' + b" " * (MAX_BODY_BYTES + 10) + b"]}"
    assert local.request("PUT", "/api/zones", body=big, headers=json_type).status == 413
    assert (
        local.request("PUT", "/api/zones", body=b"fall=[]", headers={"Content-Type": "text/plain"}).status
        == 415
    )
    cross = local.request(
        "PUT", "/api/zones", body=b'{"fall": []}', headers={**json_type, "Origin": "http://evil.example"}
    )
    assert cross.status == 403 and "cross-origin" in cross.json()["error"]
    assert local.request("DELETE", "/api/zones").status == 405
    assert local.request("GET", "/api/nothing").status == 404
    assert local.request("GET", "/snapshots/not-an-id.jpg").status == 404
    # DNS rebinding: a page on another name that resolves to 127.0.0.1 gets nothing
    rebind = local.request("GET", "/frame.jpg", headers={"Host": "camera.evil.example:8080"})
    assert rebind.status == 421 and b"\xff\xd8" not in rebind.body
    # path traversal, sent byte for byte (an HTTP client would clean the path up first)
    for target in (
        b"/static/../../../../etc/passwd",
        b"/static/..%2f..%2f..%2fetc%2fpasswd",
        b"/static/%2e%2e/%2e%2e/edge/config.py",
        b"/snapshots/../../etc/passwd.jpg",
        b"/static/./../static/../../pyproject.toml",
        b"/..%2f..%2fetc/passwd",
    ):
        answer = local.raw(b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        status = int(answer.split(b" ", 2)[1])
        assert 400 <= status < 500, (target, answer[:200])
        assert b"root:" not in answer and b"[project]" not in answer and b"import" not in answer, target
    # garbage instead of HTTP
    assert local.raw(b"\x16\x03\x01\x00\xa5 not http at all\r\n\r\n").split(b" ", 2)[1] == b"400"
    huge_header = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n"
    assert int(local.raw(huge_header).split(b" ", 2)[1]) in (400, 431)
    unchanged(local, before)
    assert local.proc.poll() is None and "Traceback" not in local.log()


def test_a_good_zone_set_is_saved_with_a_backup_and_applied(local: Daemon) -> None:
    before = local.config_path.read_bytes()
    zones = {
        "person_down": [{"name": "bed", "mode": "exclude", "points": [[0.1, 0.5], [0.6, 0.5], [0.6, 0.9]]}]
    }
    answer = local.request(
        "PUT", "/api/zones", body=json.dumps(zones).encode(), headers={"Content-Type": "application/json"}
    )
    assert answer.status == 200, answer.body
    assert answer.json()["zones"]["person_down"] == zones["person_down"]
    assert local.request("GET", "/api/zones").json()["zones"]["person_down"] == zones["person_down"]
    backup = local.config_path.with_name("config.yaml.bak")
    assert backup.read_bytes() == before
    text = local.config_path.read_text()
    assert "- [0.1, 0.5]" in text and text.startswith("# a test config\n")
    # and back to none: the rules section goes away again
    empty = local.request(
        "PUT", "/api/zones", body=b'{"person_down": []}', headers={"Content-Type": "application/json"}
    )
    assert empty.status == 200 and "rules" not in local.config_path.read_text()
    state = local.request("GET", "/api/state").json()
    assert state["notice"].startswith("Preview is ON") and state["preview"]["login"] is False
    backup.unlink()
    local.config_path.write_bytes(before)
