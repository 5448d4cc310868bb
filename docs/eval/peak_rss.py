"""What the daemon's peak RSS is made of: `edge-pose run` on a `file:` source (not real-time, no loop, MQTT
off) with VmHWM polled every 0.5 s, and at the largest sampled RSS its split into anonymous memory (the
process's own: heap, arenas, tensors, frames) and file-backed pages (shared libraries' code, the mmapped
models), with the largest mappings from /proc/PID/smaps. docs/benchmarks.md has the figures.

    .venv/bin/python docs/eval/peak_rss.py ../shared/data/opencv_samples/vtest.avi [--model NAME]"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "service"))
from soak import proc_kib

EDGE_POSE = Path(sys.executable).parent / "edge-pose"
POLL_S = 0.5
SPLIT = ("VmRSS", "RssAnon", "RssFile", "RssShmem")  # /proc/PID/status fields, kB


def mappings_kb(pid: int) -> Counter[str]:
    """Resident kB per mapped file name (or [heap], [anon], ...) from /proc/PID/smaps."""
    sizes: Counter[str] = Counter()
    name = "[anon]"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        fields = line.split()
        if fields and not fields[0].endswith(":"):  # a mapping's header line: address perms ... [path]
            name = fields[5].rsplit("/", 1)[-1] if len(fields) > 5 else "[anon]"
        elif fields[:1] == ["Rss:"]:
            sizes[name] += int(fields[1])
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("clip", type=Path)
    parser.add_argument("--model", default=None, help="model.name (default: the config's default)")
    parser.add_argument("--top", type=int, default=10, help="how many mappings to list")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="edge-pose-rss-") as tmp:
        work = Path(tmp)
        config = {
            "device": {"id": "rss"},
            "camera": {"source": f"file:{args.clip.resolve()}", "loop": False, "realtime": False},
            "mqtt": {"enabled": False},
            "outbox": {"path": str(work / "outbox.sqlite")},
        }
        if args.model:
            config["model"] = {"name": args.model}
        (work / "config.yaml").write_text(yaml.safe_dump(config))
        env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
        with (work / "log").open("w") as log:
            proc = subprocess.Popen(
                [str(EDGE_POSE), "run", "--config", str(work / "config.yaml")], stderr=log, env=env
            )
            hwm, peak, maps = 0, dict.fromkeys(SPLIT, 0), Counter[str]()
            while proc.poll() is None:
                try:
                    hwm = proc_kib(proc.pid, "VmHWM")
                    now = {field: proc_kib(proc.pid, field) for field in SPLIT}
                    if now["VmRSS"] >= peak["VmRSS"]:
                        peak, maps = now, mappings_kb(proc.pid)
                except (FileNotFoundError, ProcessLookupError, KeyError):  # the process has ended
                    break
                time.sleep(POLL_S)
        last = (work / "log").read_text().strip().splitlines()[-1:]
    print(f"exit {proc.returncode}; VmHWM {hwm / 1024:.1f} MiB")
    print(
        f"largest sampled RSS {peak['VmRSS'] / 1024:.1f} MiB: anonymous {peak['RssAnon'] / 1024:.1f}, "
        f"file-backed {peak['RssFile'] / 1024:.1f}, shared memory {peak['RssShmem'] / 1024:.1f}"
    )
    for name, kb in maps.most_common(args.top):
        print(f"  {kb / 1024:6.1f} MiB  {name}")
    print(*last)
    return proc.returncode or 0


if __name__ == "__main__":
    sys.exit(main())
