"""Fixtures for the Ansible tests (helpers in ansible_harness.py): the cached debootstrap root filesystem,
test TLS files, and site.yml applied for real through the chroot connection."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from ansible_harness import (
    BROKER,
    CAMERA,
    Deployment,
    build_rootfs_tarball,
    extract_rootfs,
    free_port,
    freeze_sources,
    keep_logs,
    openssl,
    run_playbook,
    scratch_dir,
    write_inventory,
)


@pytest.fixture(scope="session")
def tls_dir() -> Iterator[Path]:
    """A test CA and a broker certificate for localhost / 127.0.0.1."""
    d = scratch_dir("tls")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=edge-pose test CA",
            "-keyout", "ca.key", "-out", "ca.crt", cwd=d)  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "broker.key",
            "-out", "broker.csr", cwd=d)  # fmt: skip
    (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "broker.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", "san.ext", "-out", "broker.crt", cwd=d)  # fmt: skip
    # A client certificate for the camera (optional in edge-pose; installed as a credential too).
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=cam-test-01", "-keyout", "client.key",
            "-out", "client.csr", cwd=d)  # fmt: skip
    openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-out", "client.crt", cwd=d)  # fmt: skip
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def rootfs_tarball() -> Path:
    """The cached debootstrap tarball (made on first use)."""
    return build_rootfs_tarball()


@pytest.fixture(scope="session")
def deployment(rootfs_tarball: Path, tls_dir: Path) -> Iterator[Deployment]:
    """site.yml applied to a camera and a broker root filesystem, twice."""
    base = scratch_dir("deploy")
    camera_root = extract_rootfs(rootfs_tarball, base / "camera")
    broker_root = extract_rootfs(rootfs_tarball, base / "broker")
    port = free_port()
    inventory = write_inventory(base / "inventory.yml", camera_root, broker_root, tls_dir, port)
    wheel_dir = base / "wheel"
    src = freeze_sources(base / "src")
    models_dir = src / "models"
    extra = {
        "edge_pose_wheel_dir": str(wheel_dir),
        "edge_pose_wheel_src_dir": str(src),
        "edge_pose_models_src_dir": str(models_dir),
    }
    args = ("--limit", f"localhost,{CAMERA},{BROKER}", "-e", json.dumps(extra))
    first = run_playbook(inventory, *args, log=base / "first-run.log")
    second = run_playbook(inventory, *args, log=base / "second-run.log")
    # A threshold change rolled out with the phase tags only (no rebuild, no reinstall).
    retune = {**extra, "edge_pose_config_overrides": {"mqtt": {"pose_max_rate_hz": 2.5}}}
    tagged = run_playbook(
        inventory,
        "--limit",
        f"localhost,{CAMERA},{BROKER}",
        "--tags",
        "edge_pose_configure,edge_pose_service",
        "-e",
        json.dumps(retune),
        log=base / "tagged-run.log",
    )
    # Wall times for the report (pytest -s shows them; also in the logs' directory).
    timing = {"first_s": first.seconds, "second_s": second.seconds, "tagged_s": tagged.seconds}
    (base / "timing.json").write_text(json.dumps(timing))
    print(
        f"\nansible: first run {first.seconds:.0f} s, second run {second.seconds:.0f} s, "
        f"tagged run {tagged.seconds:.0f} s (logs in {base})"
    )
    yield Deployment(
        camera_root, broker_root, tls_dir, port, inventory, wheel_dir, models_dir, first, second, tagged
    )
    keep_logs(base)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def pristine_camera(rootfs_tarball: Path) -> Iterator[Path]:
    """A fresh camera root filesystem for runs that must change nothing."""
    base = scratch_dir("pristine")
    root = extract_rootfs(rootfs_tarball, base / "camera")
    yield root
    shutil.rmtree(base, ignore_errors=True)
