"""A broker that dies again and again (SIGKILL, 1-3 s down, 5 times) while events flow at 20 per
second: the reset-and-resend after every reconnect must lose nothing and keep the order per track,
also when a connection dies in the middle of sending a backlog.

"Lose nothing" is what the outbox can promise: every event is acknowledged by the broker. A broker
SIGKILLed right after acknowledging a message, before passing it on, loses it itself (Mosquitto's
PUBACK is not a durability promise); the test allows exactly that window for what the subscriber
misses: the last few events raised before each kill, nothing else."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

import pytest
from mosquitto import Mosquitto
from mqtt_helpers import event, publisher_settings

from edge.publish.mqtt import MqttPublisher

KILLS = 5
# A broker killed right after acknowledging loses what it had not yet passed on or saved. How long that
# window is depends on the machine's load (CI shares 2 cores): events raised up to this long before a
# kill may be missed by the subscriber, nothing else.
BROKER_LOSS_WINDOW_S = 1.5


@pytest.mark.slow
def test_repeated_broker_crashes_lose_nothing_and_keep_order(broker: Mosquitto, tmp_path: Path) -> None:
    sub = broker.subscribe_collect("edge-pose/cam1/event", persistent=True, client_id="dashboard-flap")
    time.sleep(1.5)  # persistent session saved (autosave_interval 1)
    pub = MqttPublisher(
        publisher_settings(
            "cam1", broker.host, broker.port, tmp_path / "outbox.sqlite", reconnect_min_s=1, reconnect_max_s=1
        )
    )
    pub.start()
    sent: list[dict[str, object]] = []
    sent_at: list[float] = []
    stop = threading.Event()

    def raise_events() -> None:
        n = 0
        while not stop.is_set():
            message = event(1 + n % 3, "update", n / 20, uuid.uuid4().hex, device="cam1")
            pub.publish(message)
            sent.append(message.payload)
            sent_at.append(time.monotonic())
            n += 1
            time.sleep(0.05)

    raiser = threading.Thread(target=raise_events)
    raiser.start()
    kills: list[float] = []
    for i in range(KILLS):
        time.sleep(1.0 + 0.7 * i)  # up for a while: sometimes mid-backlog, sometimes idle
        wait_s = time.monotonic()
        while not sub.connected:  # else the broker holds the dashboard's messages while it dies
            assert time.monotonic() - wait_s < 10, "subscriber did not reconnect"
            time.sleep(0.05)
        broker.kill()
        kills.append(time.monotonic())
        time.sleep(1.0 + (i % 3))
        broker.start()
    time.sleep(2.0)
    stop.set()
    raiser.join()
    deadline = time.monotonic() + 20
    while pub.outbox_depth and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pub.outbox_depth == 0 and pub.counters["events_acked"] == len(sent)  # the broker took all
    time.sleep(2.0)  # let the subscriber receive the rest
    got = sub.snapshot()
    first: list[dict[str, object]] = []
    seen: set[object] = set()
    for m in got:
        p = json.loads(m.payload)
        if p["id"] not in seen:
            seen.add(p["id"])
            first.append(p)
    for track in (1, 2, 3):
        assert [p["id"] for p in first if p["track_id"] == track] == [
            p["id"] for p in sent if p["track_id"] == track and p["id"] in seen
        ], f"track {track} out of order"
    missing = [i for i, p in enumerate(sent) if p["id"] not in seen]
    # each missed one was raised at most BROKER_LOSS_WINDOW_S before a kill, and they are few
    late = [i for i in missing if not any(0 <= k - sent_at[i] <= BROKER_LOSS_WINDOW_S for k in kills)]
    assert not late, (late, [round(sent_at[i], 2) for i in late], [round(k, 2) for k in kills])
    assert len(missing) <= 0.1 * len(sent), missing
    counters = pub.counters
    pub.close()
    print(
        f"\n[flapping] {KILLS} broker kills, {len(sent)} events all acknowledged; the subscriber missed "
        f"{len(missing)} (acknowledged just before a kill), {len(got) - len(first)} duplicates; "
        f"the camera sent {counters['events_sent'] - len(sent)} twice; "
        f"reconnects after {[round(t, 1) for t in pub.reconnect_times_s]} s"
    )
