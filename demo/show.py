#!/usr/bin/env python3
"""Summarises a replay's JSONL output for `make demo`: what would have been published, and one
message in full (keypoints shortened) so the payload shape is visible."""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path


def main(path: str) -> int:
    """Print counts per topic, frames with people, and one pose message."""
    lines = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    topics = Counter(m["topic"] for m in lines)
    poses = [m for m in lines if m["topic"].endswith("/pose")]
    with_people = [m for m in poses if m["payload"]["poses"]]
    print(f"\n{len(lines)} messages in {path}:")
    for topic, n in topics.items():
        print(f"  {n:5d} × {topic}")
    print(f"  {len(with_people)} of {len(poses)} frames have a person in them")
    if poses:
        counts = [len(m["payload"]["poses"]) for m in poses]
        ids = {p["track_id"] for m in poses for p in m["payload"]["poses"]}
        ranked = sorted(counts)
        print(
            f"  people followed per frame: mean {sum(counts) / len(counts):.1f}, median {ranked[len(ranked) // 2]}, "
            f"max {max(counts)}; {len(ids)} track ids ({poses[0]['payload']['model']})"
        )
    events = [m for m in lines if m["topic"].endswith("/event")]
    for m in events:
        e = m["payload"]
        print(f"  event {e['type']} {e['state']} track {e['track_id']} at {e['ts']:.1f} s")
    if with_people:
        sample = json.loads(json.dumps(with_people[len(with_people) // 2]))
        for pose in sample["payload"]["poses"]:
            pose["keypoints"] = [*pose["keypoints"][:3], f"... {len(pose['keypoints']) - 3} more"]
        print("\nOne of them, as it would be published:")
        text = json.dumps(sample, indent=2)
        # Keep number lists (keypoints, bbox) on one line each.
        text = re.sub(
            r"\[\s+([^\[\]{}\"]+?)\s+\]",
            lambda m: "[" + ", ".join(m.group(1).split()).replace(",,", ",") + "]",
            text,
        )
        print(text)
    annotated = sorted(Path(path).parent.glob("*.mp4")) + sorted(Path(path).parent.glob("*.png"))
    for f in annotated:
        print(f"\nAnnotated video to look at: {f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
