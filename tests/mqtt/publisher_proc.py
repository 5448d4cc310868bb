"""A small real process using MqttPublisher, for the kill tests: commits N event messages, prints
`QUEUED <depth>` and then idles until SIGTERM (clean close: `stopped`, exit 0) or SIGKILL.

    python publisher_proc.py HOST PORT DEVICE OUTBOX N"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import uuid
from pathlib import Path

from mqtt_helpers import event, publisher_settings

from edge.publish.mqtt import MqttPublisher


def main() -> int:
    host, port, device, outbox, n = (
        sys.argv[1],
        int(sys.argv[2]),
        sys.argv[3],
        Path(sys.argv[4]),
        int(sys.argv[5]),
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    pub = MqttPublisher(publisher_settings(device, host, port, outbox, reconnect_min_s=1, reconnect_max_s=2))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    pub.start()
    for i in range(n):
        pub.publish(event(1 + i % 2, "start", float(i), f"proc-{uuid.uuid4().hex}-{i:03d}", device=device))
    print(f"QUEUED {pub.outbox_depth}", flush=True)
    stop.wait()
    pub.close()
    print("CLOSED", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
