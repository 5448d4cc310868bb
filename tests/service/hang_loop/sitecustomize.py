"""Hangs the main loop of a real `edge-pose run` from outside its code (nothing in edge/ knows about
this): a test puts this directory on PYTHONPATH, so Python imports it at start-up, and after
$EDGE_POSE_TEST_HANG_AFTER frames `Pipeline.process` blocks for good, as a stuck interpreter would. The
moment it blocks is written to $EDGE_POSE_TEST_HANG_MARK as CLOCK_MONOTONIC seconds (the same clock in
every process on the machine, so the test can compare it with the watchdog pings it received)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

if "EDGE_POSE_TEST_HANG_AFTER" in os.environ:
    from edge import pipeline

    _after = int(os.environ["EDGE_POSE_TEST_HANG_AFTER"])
    _mark = Path(os.environ["EDGE_POSE_TEST_HANG_MARK"])
    _process = pipeline.Pipeline.process
    _frames = [0]

    def _hanging_process(self: pipeline.Pipeline, frame: Any) -> Any:
        _frames[0] += 1
        if _frames[0] > _after:
            _mark.write_text(f"{time.monotonic():.6f}\n")
            threading.Event().wait()  # never set: the main thread stays here
        return _process(self, frame)

    pipeline.Pipeline.process = _hanging_process  # type: ignore[method-assign]
