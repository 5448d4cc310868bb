#!/usr/bin/env python3
"""Rebuilds demo/vtest_excerpt.mp4 from Debian's opencv-doc package (see demo/README.md).

Usage: python demo/make_clip.py  (needs `apt-get download` to work, i.e. Debian apt sources)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2

PACKAGE = "opencv-doc=4.6.0+dfsg-12"
DEB_SHA256 = "4b12681df35878207ac7097dc66184b2ae552e4bf4ddd2af04a0f03ed0b8682a"
MEMBER = "usr/share/doc/opencv-doc/examples/data/vtest.avi"
FIRST, LAST = 520, 669  # frames of vtest.avi (10 fps): two people walk across the lawn close to the camera
OUT = Path(__file__).resolve().parent / "vtest_excerpt.mp4"


def main() -> int:
    """Download the .deb, check it, cut the excerpt and write it as MPEG-4."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["apt-get", "download", PACKAGE], cwd=tmp, check=True)
        deb = next(Path(tmp).glob("opencv-doc_*.deb"))
        digest = hashlib.sha256(deb.read_bytes()).hexdigest()
        if digest != DEB_SHA256:
            print(f"{deb}: sha256 {digest} differs from the pinned {DEB_SHA256}", file=sys.stderr)
            return 1
        subprocess.run(["dpkg-deb", "-x", str(deb), f"{tmp}/x"], check=True)
        capture = cv2.VideoCapture(f"{tmp}/x/{MEMBER}")
        fps = capture.get(cv2.CAP_PROP_FPS)
        size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        writer = cv2.VideoWriter(str(OUT), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
        index = 0
        while index <= LAST:
            ok, frame = capture.read()
            if not ok:
                break
            if index >= FIRST:
                writer.write(frame)
            index += 1
        writer.release()
    print(f"wrote {OUT} (frames {FIRST}-{LAST} of vtest.avi at {fps:g} fps)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
