"""The periodic stats message (`<prefix>/<device>/stats`): how fast and how healthy a camera is, for
a fleet dashboard. The daemon fills a `StatsSnapshot` every `stats_interval_s` and publishes it."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from edge.publish.messages import Message, topic

logger = logging.getLogger(__name__)

STATS_SCHEMA = 1
CPU_TEMP_PATH = Path("/sys/class/thermal/thermal_zone0/temp")  # millidegrees Celsius (Linux thermal sysfs)
MS_DECIMALS = 2
FPS_DECIMALS = 2


@dataclass(slots=True)
class StatsSnapshot:
    """Figures for one stats message. Times in milliseconds, `uptime_s` in seconds since start."""

    fps: float
    inference_ms_p50: float
    inference_ms_p95: float
    pipeline_ms_p50: float
    pipeline_ms_p95: float
    frames: int
    frames_dropped: int
    model: str
    outbox_depth: int
    uptime_s: float
    cpu_temp_c: float | None
    camera_state: str
    invalid_outputs: int
    version: str
    preview: str = "off"  # off | on | failed: whether the live view serves frames (edge/preview/)
    preview_viewers: int = 0  # pages or streams watching right now
    snapshots: str = "off"  # off | skeleton | blurred | full: event snapshots and their privacy level
    # The multi-person front-end's budget at work (edge/pose/multi_person.py FrontEndStats.as_dict):
    # its budget, people followed, crops and discovery invokes per frame, people coasting; None for
    # other models.
    front_end: dict[str, object] | None = None


def stats_message(prefix: str, device: str, snapshot: StatsSnapshot) -> Message:
    """The stats message: QoS 0, not retained (the `status` topic says whether a device is alive)."""
    payload = asdict(snapshot)
    if payload["front_end"] is None:
        del payload["front_end"]
    for key in ("inference_ms_p50", "inference_ms_p95", "pipeline_ms_p50", "pipeline_ms_p95"):
        payload[key] = round(float(payload[key]), MS_DECIMALS)
    payload["fps"] = round(float(payload["fps"]), FPS_DECIMALS)
    payload["uptime_s"] = round(float(payload["uptime_s"]), 1)
    if payload["cpu_temp_c"] is not None:
        payload["cpu_temp_c"] = round(float(payload["cpu_temp_c"]), 1)
    return Message(
        kind="stats",
        topic=topic(prefix, device, "stats"),
        payload={"schema": STATS_SCHEMA, "device": device, "ts": round(time.time(), 3), **payload},
        qos=0,
        retain=False,
    )


def read_cpu_temp_c(path: Path = CPU_TEMP_PATH) -> float | None:
    """The SoC temperature in °C from the Linux thermal sysfs, or None where the board has none."""
    try:
        return int(path.read_text().strip()) / 1000.0
    except (OSError, ValueError):
        return None
