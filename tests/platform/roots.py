"""Debian 12 root filesystems for the platform checks, made with debootstrap and cached between runs.

A root is kept as a directory under the platform cache ($EDGE_POSE_PLATFORM_CACHE, which the Makefile
sets outside the checkout) named after a stamp of everything that decides its contents (suite,
architecture, variant, packages, mirror, the recipe version below), so a change to any of them builds a
new one and the stale one is removed. Every mount a check needs (/proc, /dev, an ARM cpuinfo) is made
inside a private mount namespace (`unshare -m`), so nothing is left mounted on the host when a process
ends or a test fails, and deleting a root can never reach into the host's /proc or /dev."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

DEBIAN_MIRROR = "http://deb.debian.org/debian"
SUITE = "bookworm"
RECIPE_VERSION = 1  # bump when the way a root is prepared changes
COMPLETE = ".edge-pose-root-complete"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def cache_dir() -> Path:
    """The platform cache: $EDGE_POSE_PLATFORM_CACHE (the Makefile's PLATFORM_CACHE)."""
    value = os.environ.get("EDGE_POSE_PLATFORM_CACHE")
    if not value:
        pytest.fail("EDGE_POSE_PLATFORM_CACHE is not set: run the platform checks through make (test-arm64)")
    path = Path(value)
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class RootSpec:
    """What a root filesystem is made of."""

    name: str  # e.g. "arm64"
    arch: str  # dpkg architecture
    include: tuple[str, ...]
    variant: str = "minbase"

    def stamp(self) -> str:
        """A short hash of everything that decides the root's contents."""
        recipe = {
            "suite": SUITE,
            "arch": self.arch,
            "variant": self.variant,
            "include": sorted(self.include),
            "mirror": DEBIAN_MIRROR,
            "recipe": RECIPE_VERSION,
        }
        return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def private_mounts_script(root: Path, cpuinfo: Path | None) -> str:
    """Shell lines that mount /proc, /sys and /dev into `root` (and an ARM cpuinfo over its /proc/cpuinfo).
    /sys matters: without /sys/devices/system/cpu the cpuinfo library behind XNNPACK fails ("Error in
    cpuinfo: failed to parse the list of possible processors") and ai-edge-litert silently runs without
    its XNNPACK delegate."""
    lines = [
        "set -e",
        f"mount -t proc proc '{root}/proc'",
        f"mount --rbind /sys '{root}/sys'",
        f"mount --rbind /dev '{root}/dev'",
    ]
    if cpuinfo is not None:
        lines.append(f"mount --bind '{cpuinfo}' '{root}/proc/cpuinfo'")
    return "\n".join(lines)


def build_root(spec: RootSpec, log: Path) -> tuple[Path, float, float]:
    """The cached root for `spec` (debootstrap on first use): (path, wall and CPU seconds spent building it,
    both 0 if it was cached)."""
    base = cache_dir()
    root = base / f"{spec.name}-root-{spec.stamp()}"
    if (root / COMPLETE).is_file():
        return root, 0.0, 0.0
    for stale in base.glob(f"{spec.name}-root-*"):
        shutil.rmtree(stale, ignore_errors=True)
    staging = base / f"{spec.name}-staging"
    shutil.rmtree(staging, ignore_errors=True)
    start = time.monotonic()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    argv = [
        "debootstrap",
        f"--arch={spec.arch}",
        f"--variant={spec.variant}",
        f"--include={','.join(spec.include)}",
        SUITE,
        str(staging),
        DEBIAN_MIRROR,
    ]
    # debootstrap mounts /proc and /sys in the target itself: a private namespace drops them on any exit.
    with log.open("w") as fh:
        proc = subprocess.run(
            ["unshare", "-m", "--propagation", "private", "nice", "-n", "10", *argv],
            stdout=fh,
            stderr=subprocess.STDOUT,
            timeout=2400,
            check=False,
        )
    if proc.returncode != 0:
        pytest.fail(
            f"debootstrap {spec.name} failed (exit {proc.returncode}); log: {log}\n{log.read_text()[-3000:]}"
        )
    shutil.copyfile(HOST_CA_BUNDLE, staging / "etc/ssl/certs/ca-certificates.crt")
    (staging / COMPLETE).write_text(json.dumps({"stamp": spec.stamp(), "include": spec.include}))
    staging.rename(root)
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = cpu.ru_utime + cpu.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime
    return root, time.monotonic() - start, used


def prepare_for_network(root: Path) -> None:
    """Let pip in the root reach the package index: the host's resolver and CA bundle (this site's egress
    proxy re-signs TLS, as a plant's inspecting proxy would)."""
    shutil.copyfile("/etc/resolv.conf", root / "etc/resolv.conf")
    shutil.copyfile(HOST_CA_BUNDLE, root / "etc/ssl/certs/ca-certificates.crt")
