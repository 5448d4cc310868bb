"""The live page in a real headless Chromium (Debian's chromium + chromedriver, through Selenium) against
`edge-pose run` on a looping fall clip, with a real Mosquitto: the stream shows the frame with the
skeleton where the person is, the event list fills when the fall plays, a polygon drawn with the mouse
is saved to the config (validated, with a backup) and applied without a restart, and the next falls
honour it; deleted again on the page, the fall comes back."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import cv2
import numpy as np
import yaml
from mosquitto import Mosquitto, Received
from preview_helpers import (
    EDGE_POSE,
    FALL_CLIP,
    Daemon,
    free_port,
    preview_config,
    start_daemon,
    write_config,
)
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from edge.annotate import track_colour

T = TypeVar("T")
PASS_FRAMES = 285  # FALL_CLIP's length
PASS_S = PASS_FRAMES / 24.0
COLOUR_TOLERANCE = 60  # per channel, around the drawn colour (JPEG, anti-aliasing and the browser's scaling)
MIN_SKELETON_PIXELS = 40
MIN_TRACK_SCORE = 0.45  # a pose this sure has most of its joints drawn  # at the clip's 320×240, above what the raw footage ever has in the person's box


def wait_for(predicate: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll `predicate` until it returns something truthy; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.25)


def payloads(messages: list[Received], suffix: str) -> list[tuple[float, Any]]:
    """(arrival time, payload) of the messages whose topic ends with `suffix`."""
    out = []
    for m in messages:
        if m.topic.endswith(suffix):
            text = m.payload.decode()
            out.append((m.t, json.loads(text) if text.startswith("{") else text))
    return out


def fall_starts(messages: list[Received], after: float = 0.0) -> list[dict[str, Any]]:
    return [
        e
        for t, e in payloads(messages, "/event")
        if t > after and e["type"] == "fall" and e["state"] == "start"
    ]


def last_pose_frame(messages: list[Received]) -> int:
    frames = [p["frame"] for _, p in payloads(messages, "/pose")]
    return max(frames) if frames else -1


def colour_mask(image_bgr: np.ndarray, colour_bgr: tuple[int, int, int]) -> np.ndarray:
    diff = np.abs(image_bgr.astype(np.int16) - np.array(colour_bgr, dtype=np.int16))
    return np.all(diff <= COLOUR_TOLERANCE, axis=2)


def box_pixels(bbox: list[float], width: int, height: int, margin: float = 0.1) -> tuple[slice, slice]:
    x0, y0, x1, y1 = bbox
    mx, my = (x1 - x0) * margin + 0.02, (y1 - y0) * margin + 0.02
    left, right = max(0, int((x0 - mx) * width)), min(width, int((x1 + mx) * width) + 1)
    top, bottom = max(0, int((y0 - my) * height)), min(height, int((y1 + my) * height) + 1)
    return slice(top, bottom), slice(left, right)


def footage_colour(clip: Path, colour: tuple[int, int, int]) -> np.ndarray:
    """Pixels that have `colour` in any raw frame of the clip (the lamp in FALL_CLIP is amber too)."""
    capture = cv2.VideoCapture(str(clip))
    ever: np.ndarray | None = None
    while True:
        ok, image = capture.read()
        if not ok:
            break
        mask = colour_mask(image, colour)
        ever = mask if ever is None else ever | mask
    capture.release()
    assert ever is not None
    return ever


def screenshot_live(browser: Any, path: Path, size: tuple[int, int]) -> np.ndarray:
    """The stream element as the page shows it, saved to `path`, scaled back to the frame's size."""
    element = browser.find_element(By.ID, "live")
    png = element.screenshot_as_png
    path.write_bytes(png)
    shown = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    return cv2.resize(shown, size, interpolation=cv2.INTER_AREA)


def click_polygon(browser: Any, points: list[tuple[float, float]]) -> None:
    """Click `points` (frame-normalised) on the editor canvas with real mouse events."""
    canvas = browser.find_element(By.ID, "editor")
    rect = canvas.rect
    for x, y in points:
        dx = round((x - 0.5) * rect["width"])
        dy = round((y - 0.5) * rect["height"])
        ActionChains(browser).move_to_element_with_offset(canvas, dx, dy).click().perform()
        time.sleep(0.3)  # slower than a double-click: each is one corner


def save_on_page(browser: Any) -> None:
    """Press Save and wait for the page to report success (the status is cleared by the click itself)."""
    browser.find_element(By.ID, "zone-save").click()
    status = browser.find_element(By.ID, "zone-status")
    wait_for(lambda: status.get_attribute("class") in ("ok", "error"), 20, "the save's answer")
    assert status.get_attribute("class") == "ok", status.text


def check_config(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(EDGE_POSE), "check-config", str(path)], capture_output=True, text=True, timeout=60
    )


def test_live_page_shows_the_skeleton_events_and_saves_zones_the_next_fall_honours(
    tmp_path: Path,
    mosquitto: Mosquitto,
    data_dir: Path,
    browser: Any,
    daemons: list[Daemon],
    artifacts: Path,
) -> None:
    clip = data_dir / FALL_CLIP
    device = f"cam-{uuid.uuid4().hex[:8]}"
    sub = mosquitto.subscribe_collect(f"edge-pose/{device}/#")
    port = free_port()
    config = preview_config(
        f"file:{clip}",
        port,
        tmp_path / "outbox.sqlite",
        camera={"loop": True, "realtime": True},
        mqtt={"enabled": True, "host": mosquitto.host, "port": mosquitto.port, "stats_interval_s": 2.0},
        snapshots={"enabled": True, "types": ["fall"]},
    )
    config["device"]["id"] = device
    config_path = write_config(tmp_path / "config.yaml", config)
    original = config_path.read_bytes()
    daemon = start_daemon(config_path, tmp_path / "daemon.log", port)
    daemons.append(daemon)

    # --- the page shows the annotated stream, with the privacy notice --------------------------------
    browser.get(daemon.base_url)
    wait_for(
        lambda: browser.execute_script(
            "const i = document.getElementById('live'); return i.complete && i.naturalWidth > 0;"
        ),
        30,
        "the first frame of the stream on the page",
    )
    notice = browser.find_element(By.ID, "notice").text
    assert "leave the edge-pose process" in notice, notice

    footage: dict[tuple[int, int, int], np.ndarray] = {}
    seen: list[tuple[int, int]] = []

    def skeleton_where_the_person_is() -> tuple[int, int] | None:
        """(skeleton-coloured pixels in the person's box on the page, the most the raw footage has there)."""
        before = daemon.request("GET", "/api/state").json()["tracks"]
        if not before or before[0]["score"] < MIN_TRACK_SCORE:
            return None  # nobody in view, or a doubtful pose with few joints drawn
        shot = screenshot_live(browser, artifacts / "live-skeleton.png", (320, 240))
        after = daemon.request("GET", "/api/state").json()["tracks"]
        if not after or after[0]["track_id"] != before[0]["track_id"]:
            return None
        colour = track_colour(before[0]["track_id"])
        if colour not in footage:
            footage[colour] = footage_colour(clip, colour)
        # the person's box over the two readings around the screenshot (they move a little meanwhile)
        a, b = before[0]["bbox"], after[0]["bbox"]
        rows, cols = box_pixels(
            [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])], 320, 240
        )
        found = int(colour_mask(shot[rows, cols], colour).sum())
        baseline = int(footage[colour][rows, cols].sum())
        seen.append((found, baseline))
        return (found, baseline) if found >= baseline + MIN_SKELETON_PIXELS else None

    try:
        found, baseline = wait_for(
            skeleton_where_the_person_is, 40, "the skeleton on the person in a screenshot"
        )
    finally:
        print(f"skeleton-coloured pixels in the person's box (page, footage): {seen}")
    assert found >= baseline + MIN_SKELETON_PIXELS
    cells = wait_for(
        lambda: browser.execute_script(
            "return [...document.querySelectorAll('#tracks tbody tr:first-child td')].map(td => td.textContent);"
        ),
        10,
        "the track table",
    )  # read in one go: the page rebuilds its tables twice a second
    assert len(cells) == 8 and cells[5] in "1234" and 2 <= int(cells[7]) <= 8, cells  # REBA-style scores
    stats_text = wait_for(
        lambda: (t := browser.find_element(By.ID, "stats").text) and "frames per second" in t and t,
        10,
        "stats",
    )
    assert "camera" in stats_text and "streaming" in stats_text and "connected" in stats_text, stats_text

    # --- the fall plays: the event list shows it, with its snapshot ----------------------------------
    event_id = wait_for(
        lambda: browser.execute_script(
            "const li = document.querySelector(\"#events li[data-type='fall'][data-state='start']\");"
            "return li && li.dataset.id;"
        ),
        3 * PASS_S + 10,
        "a fall in the page's event list",
    )
    wait_for(
        lambda: browser.execute_script(
            "const i = document.querySelector(`#events li[data-id='${arguments[0]}'] img`);"
            "return i !== null && i.complete && i.naturalWidth > 0;",
            event_id,
        ),
        15,
        "the fall's snapshot on the page",
    )
    browser.save_screenshot(str(artifacts / "page-fall-event.png"))
    snapshot = wait_for(
        lambda: [p for _, p in payloads(sub.snapshot(), "/event/snapshot") if p["event_id"] == event_id],
        10,
        "the fall's snapshot at the broker",
    )[0]
    assert snapshot["privacy"] == "skeleton"
    keypoints = snapshot["poses"][0]["keypoints"]
    hip = ((keypoints[11][0] + keypoints[12][0]) / 2, (keypoints[11][1] + keypoints[12][1]) / 2)

    # --- draw an exclude zone for the fall rule around where he lands, and save it --------------------
    def clip01(v: float) -> float:
        return round(min(0.98, max(0.02, v)), 3)

    corners = [
        (clip01(hip[0] - 0.25), clip01(hip[1] - 0.22)),
        (clip01(hip[0] + 0.25), clip01(hip[1] - 0.22)),
        (clip01(hip[0] + 0.25), clip01(hip[1] + 0.22)),
        (clip01(hip[0] - 0.25), clip01(hip[1] + 0.22)),
    ]
    Select(browser.find_element(By.ID, "zone-rule")).select_by_value("fall")
    Select(browser.find_element(By.ID, "zone-mode")).select_by_value("exclude")
    name = browser.find_element(By.ID, "zone-name")
    name.clear()
    name.send_keys("mattress")
    browser.find_element(By.ID, "zone-new").click()
    click_polygon(browser, corners)
    browser.find_element(By.ID, "zone-finish").click()
    browser.save_screenshot(str(artifacts / "page-zone-drawn.png"))
    frames_before = last_pose_frame(sub.snapshot())
    save_on_page(browser)
    saved_at = time.monotonic()

    saved = yaml.safe_load(config_path.read_text())
    (zone,) = saved["rules"]["fall"]["zones"]
    assert zone["name"] == "mattress" and zone["mode"] == "exclude"
    assert np.allclose(zone["points"], corners, atol=0.01), (zone["points"], corners)
    assert config_path.read_text().startswith("# a test config\n# zones last saved by the live view")
    assert (tmp_path / "config.yaml.bak").read_bytes() == original
    assert check_config(config_path).returncode == 0
    time.sleep(1.5)  # the camera draws the saved zone into the next frames
    browser.save_screenshot(str(artifacts / "page-zone-saved.png"))

    # --- the next falls honour the zone: two whole passes of the clip without a fall ------------------
    wait_for(
        lambda: last_pose_frame(sub.snapshot()) >= frames_before + 2 * PASS_FRAMES + 24,
        2 * PASS_S + 30,
        "two more passes of the clip",
    )
    assert fall_starts(sub.snapshot(), after=saved_at) == [], "a fall was raised inside the exclude zone"

    # --- delete the zone on the page: the fall comes back -----------------------------------------
    browser.execute_script("document.querySelector(\"#zone-list li[data-rule='fall'] button\").click();")
    save_on_page(browser)
    removed_at = time.monotonic()
    assert "zones" not in (yaml.safe_load(config_path.read_text()).get("rules") or {}).get("fall", {})
    wait_for(
        lambda: fall_starts(sub.snapshot(), after=removed_at), 3 * PASS_S + 10, "a fall once the zone is gone"
    )
    wait_for(
        lambda: browser.execute_script(
            "return document.querySelectorAll(\"#events li[data-type='fall'][data-state='start']\").length >= 2;"
        ),
        10,
        "the second fall in the page's event list",
    )
    browser.save_screenshot(str(artifacts / "page-fall-again.png"))

    # --- all along: one process, one camera session, one MQTT session ------------------------------
    assert daemon.proc.poll() is None, daemon.log()
    statuses = [p for _, p in payloads(sub.snapshot(), "/status")]
    assert set(statuses) == {"online"}, statuses  # refreshed every half keepalive; never offline or stopped
    log = daemon.log()
    assert log.count("MQTT connected to") == 1 and "MQTT reconnected" not in log, log[-3000:]  # one session
    assert "reconnecting" not in log and "reopened" not in log and "Traceback" not in log, log[-3000:]
    starts = fall_starts(sub.snapshot())
    shots = payloads(sub.snapshot(), "/event/snapshot")
    assert sorted(p["event_id"] for _, p in shots) == sorted(e["id"] for e in starts)  # one snapshot per fall
    assert daemon.terminate() == 0
