"""Check fetched sources against models/sources.json (standard library only; any python3).

sources.py get KEY...          print a pinned value, e.g. `npm @mediapipe/pose version`
sources.py check-npm NAME TARBALL_DIR UNPACKED_DIR   tarball + every pinned file
sources.py check-deb NAME DEB_DIR UNPACKED_DIR       .deb + every pinned file
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

SOURCES = json.loads(Path(__file__).with_name("sources.json").read_text())


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file (the build scripts' one checksum helper)."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _check(path: Path, want: str) -> bool:
    got = sha256_file(path) if path.is_file() else "missing"
    ok = got == want
    print(f"  {'ok  ' if ok else 'FAIL'} {path}" + ("" if ok else f": {got} != {want}"))
    return ok


def check(kind: str, name: str, archive_dir: Path, unpacked: Path) -> bool:
    """True when the archive and every pinned file inside it match their sha256."""
    pin = SOURCES[kind][name]
    archive = pin["tarball"] if kind == "npm" else pin["file"]
    want = pin["tarball_sha256"] if kind == "npm" else pin["sha256"]
    results = [_check(archive_dir / archive, want)]
    results += [_check(unpacked / rel, sha) for rel, sha in pin["files"].items()]
    return all(results)


def main(argv: list[str]) -> int:
    if argv[:1] == ["get"]:
        value = SOURCES
        for key in argv[1:]:
            value = value[key]
        print(value)
        return 0
    if len(argv) == 4 and argv[0] in ("check-npm", "check-deb"):
        kind = argv[0].removeprefix("check-")
        return 0 if check(kind, argv[1], Path(argv[2]), Path(argv[3])) else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
