"""CPU temperature from the Linux thermal sysfs file format, and its absence."""

from __future__ import annotations

from pathlib import Path

from edge.publish.stats import read_cpu_temp_c


def test_cpu_temperature_is_read_in_millidegrees(tmp_path: Path) -> None:
    zone = tmp_path / "temp"
    zone.write_text("51234\n")  # what /sys/class/thermal/thermal_zone0/temp holds on a Pi
    assert read_cpu_temp_c(zone) == 51.234
    zone.write_text("n/a\n")
    assert read_cpu_temp_c(zone) is None
    assert read_cpu_temp_c(tmp_path / "missing") is None
