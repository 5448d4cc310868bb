"""Done-when: the broker is SIGKILLed for 30 s while events keep being raised, then restarted; a
subscriber ends with every event exactly once after de-duplication and in order per track.

Prints the figures for the closing note (run with -s): events raised during the outage, duplicates
before de-duplication, reconnect time, publish() call times on the frame thread."""

from __future__ import annotations

import json
import statistics
import threading
import time
import uuid
from pathlib import Path

import pytest
from mosquitto import Mosquitto
from mqtt_helpers import event, publisher_settings, validate

from edge.publish.mqtt import MqttPublisher

OUTAGE_S = 30.0
BEFORE_S = 3.0
AFTER_S = 3.0
EVENT_PERIOD_S = 0.1  # one event message every 100 ms, alternating between two tracks


@pytest.mark.slow
def test_broker_killed_30s_every_event_arrives_in_order(broker: Mosquitto, tmp_path: Path) -> None:
    sub = broker.subscribe_collect("edge-pose/cam1/event", persistent=True, client_id="dashboard-outage")
    time.sleep(1.5)  # let the broker autosave the dashboard's persistent session (autosave_interval 1)
    pub = MqttPublisher(
        publisher_settings(
            "cam1", broker.host, broker.port, tmp_path / "outbox.sqlite", reconnect_min_s=1, reconnect_max_s=2
        )
    )
    pub.start()
    sent: list[dict[str, object]] = []
    call_s: list[float] = []
    phase = {"outage": False}
    during_outage = 0
    raised_in_outage: list[bool] = []
    stop = threading.Event()

    def raise_events() -> None:
        nonlocal during_outage
        open_ids: dict[int, tuple[str, float]] = {}
        n = 0
        while not stop.is_set():
            track = 1 + n % 2
            ts = round(n * EVENT_PERIOD_S, 3)
            if track not in open_ids:
                open_ids[track] = (uuid.uuid4().hex, ts)
                state = "start"
            else:
                state = "end" if (n // 2) % 3 == 2 else "update"
            event_id, start = open_ids[track]
            if state == "end":
                del open_ids[track]
            message = event(track, state, ts, event_id, device="cam1", start_ts=start)
            t0 = time.perf_counter()
            pub.publish(message)
            call_s.append(time.perf_counter() - t0)
            sent.append(message.payload)
            raised_in_outage.append(phase["outage"])
            during_outage += phase["outage"]
            n += 1
            time.sleep(EVENT_PERIOD_S)

    raiser = threading.Thread(target=raise_events)
    raiser.start()
    time.sleep(BEFORE_S)
    broker.kill()
    phase["outage"] = True
    time.sleep(OUTAGE_S)
    assert not pub.connected and pub.outbox_depth > 0
    depth_at_restart = pub.outbox_depth
    broker.start()
    phase["outage"] = False
    restart_t = time.monotonic()
    while not pub.connected:
        assert time.monotonic() - restart_t < 10, "publisher did not reconnect within 10 s"
        time.sleep(0.02)
    connected_after_s = time.monotonic() - restart_t
    time.sleep(AFTER_S)
    stop.set()
    raiser.join()

    def key(p: dict[str, object]) -> tuple[object, object, object]:
        return (p["id"], p["state"], p["ts"])  # the documented de-duplication key

    want = {key(p) for p in sent}
    got = sub.wait_for(lambda msgs: {key(json.loads(m.payload)) for m in msgs} >= want, timeout=30)
    received = [json.loads(m.payload) for m in got]
    unique: list[dict[str, object]] = []
    seen: set[tuple[object, object, object]] = set()
    for p in received:
        if key(p) not in seen:
            seen.add(key(p))
            unique.append(p)
    assert seen == want  # every event message exactly once after de-duplication
    for track in (1, 2):
        assert [key(p) for p in unique if p["track_id"] == track] == [
            key(p) for p in sent if p["track_id"] == track
        ], f"track {track} out of order"
    # when did the last message of the outage backlog reach the subscriber?
    first_arrival: dict[tuple[object, object, object], float] = {}
    for m in got:
        first_arrival.setdefault(key(json.loads(m.payload)), m.t)
    backlog = [key(p) for p, out in zip(sent, raised_in_outage, strict=True) if out]
    drained_s = max(first_arrival[k] for k in backlog) - restart_t
    for p in unique[:5]:
        validate("event", p)
    deadline = time.monotonic() + 5
    while pub.outbox_depth and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pub.outbox_depth == 0
    counters = pub.counters
    pub.close()
    assert len(pub.reconnect_times_s) == 1 and pub.reconnect_times_s[0] >= OUTAGE_S
    call_ms = sorted(1000 * s for s in call_s)
    print(
        f"\n[outage] events raised: {len(sent)} total, {during_outage} during the {OUTAGE_S:.0f} s outage; "
        f"outbox depth at restart {depth_at_restart}"
        f"\n[outage] received {len(received)} messages, {len(received) - len(unique)} duplicates before de-dup, "
        f"{len(unique)} unique; in order per track"
        f"\n[outage] reconnected {connected_after_s:.2f} s after the broker restart "
        f"(outage seen by the publisher {pub.reconnect_times_s[0]:.1f} s); the {len(backlog)} messages "
        f"raised during the outage all reached the subscriber {drained_s:.2f} s after the restart"
        f"\n[outage] publish() on the frame thread: median {statistics.median(call_ms):.3f} ms, "
        f"p99 {call_ms[int(0.99 * (len(call_ms) - 1))]:.3f} ms, max {call_ms[-1]:.3f} ms"
        f"\n[outage] counters {counters}"
    )
