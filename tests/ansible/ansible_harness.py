"""Helpers for the Ansible tests: a Debian 12 root filesystem made with debootstrap (the tarball is cached
under build/ansible/), test TLS files, an inventory of chroot hosts, and the playbook run for real.

The playbook reaches each root filesystem through the `community.general.chroot` connection, the way an
image build would; systemd is not PID 1 there, so the role installs and enables the unit but cannot start
it (it says so), and the broker test starts the installed Mosquitto configuration by hand."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = REPO / "ansible"
ANSIBLE_BIN = REPO / ".venv-ansible" / "bin"
CACHE = REPO / "build" / "ansible"
ROOTFS_TARBALL = CACHE / "bookworm-rootfs.tar"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
# What a Raspberry Pi OS Lite image already has; the role installs everything else itself.
ROOTFS_INCLUDE = "systemd,python3,ca-certificates"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
RECAP = re.compile(
    r"^(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)\s+"
    r"failed=(?P<failed>\d+)",
    re.MULTILINE,
)
CAMERA = "cam-test-01"
OTHER_CAMERA = "cam-test-02"  # in the inventory (so the broker has its user) but never deployed
BROKER = "broker-test"
PASSWORDS = {CAMERA: "cam-01-secret", OTHER_CAMERA: "cam-02-secret", "dashboard": "dash-secret"}


def ansible_tool(name: str) -> Path:
    """A tool of the Ansible venv the Makefile creates (`make ansible-venv`)."""
    path = ANSIBLE_BIN / name
    if not path.exists():
        pytest.fail(f"{path} missing: run `make ansible-venv` (part of `make test`)")
    return path


def ansible_env() -> dict[str, str]:
    """The environment for ansible-playbook: this repo's ansible.cfg, no colour, and none of this machine's
    pip settings (the chroot connection passes the environment into the target)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "ANSIBLE_", "VIRTUAL_ENV"))}
    env.update(ANSIBLE_CONFIG=str(ANSIBLE_DIR / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    env["ANSIBLE_CALLBACKS_ENABLED"] = "ansible.posix.profile_tasks"  # per-task times in the logs
    env["PATH"] = f"{ANSIBLE_BIN}:{env.get('PATH', '/usr/bin:/bin')}"
    return env


@dataclass
class PlaybookRun:
    """One ansible-playbook run: exit code, output, the PLAY RECAP per host, wall time."""

    returncode: int
    output: str
    seconds: float
    recap: dict[str, dict[str, int]] = field(default_factory=dict)

    def total(self, key: str) -> int:
        """Sum of one recap column over every host."""
        return sum(host[key] for host in self.recap.values())


def run_playbook(inventory: Path, *args: str, log: Path | None = None) -> PlaybookRun:
    """Run site.yml against `inventory`; the output also goes to `log` for a human to read."""
    cmd = [str(ansible_tool("ansible-playbook")), "site.yml", "-i", str(inventory), *args]
    start = time.monotonic()
    proc = subprocess.run(
        cmd, cwd=ANSIBLE_DIR, env=ansible_env(), capture_output=True, text=True, timeout=1800, check=False
    )
    seconds = time.monotonic() - start
    output = proc.stdout + proc.stderr
    if log is not None:
        log.write_text(output)
    recap = {
        m["host"]: {k: int(m[k]) for k in ("ok", "changed", "unreachable", "failed")}
        for m in RECAP.finditer(output)
    }
    return PlaybookRun(proc.returncode, output, seconds, recap)


def build_rootfs_tarball() -> Path:
    """debootstrap bookworm once (about 70-90 s) and keep the result as a tarball for later runs."""
    if ROOTFS_TARBALL.exists():
        return ROOTFS_TARBALL
    CACHE.mkdir(parents=True, exist_ok=True)
    staging = CACHE / "rootfs.staging"
    shutil.rmtree(staging, ignore_errors=True)
    subprocess.run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={ROOTFS_INCLUDE}",
            "bookworm",
            str(staging),
            DEBIAN_MIRROR,
        ],
        check=True,
        capture_output=True,
        timeout=1200,
    )
    partial = ROOTFS_TARBALL.with_suffix(".partial")
    subprocess.run(["tar", "-C", str(staging), "--numeric-owner", "-cf", str(partial), "."], check=True)
    partial.rename(ROOTFS_TARBALL)
    shutil.rmtree(staging, ignore_errors=True)
    return ROOTFS_TARBALL


def extract_rootfs(tarball: Path, dest: Path) -> Path:
    """A fresh copy of the root filesystem that trusts this site's CAs (the machine's bundle; its egress
    proxy re-signs TLS, like a plant's inspecting proxy would)."""
    dest.mkdir(parents=True)
    subprocess.run(["tar", "-C", str(dest), "--numeric-owner", "-xf", str(tarball)], check=True)
    shutil.copyfile(HOST_CA_BUNDLE, dest / "etc/ssl/certs/ca-certificates.crt")
    return dest


def snapshot(root: Path) -> dict[str, tuple[int, ...]]:
    """Every path under `root` with (mtime_ns, size, mode), without following symlinks."""
    state: dict[str, tuple[int, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            state[str(path.relative_to(root))] = (st.st_mtime_ns, st.st_size, st.st_mode)
    return state


def scratch_dir(name: str) -> Path:
    """A directory of our own under /tmp (not pytest's basetemp: other sessions' pytest runs on this
    machine prune those while ours may still be using them). The fixtures remove it when done."""
    return Path(tempfile.mkdtemp(prefix=f"edge-pose-ansible-{name}-"))


def keep_logs(base: Path) -> None:
    """Copy the playbook logs of a run to build/ansible/logs/ for a human to read afterwards."""
    logs = CACHE / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for log in base.glob("*.log"):
        shutil.copyfile(log, logs / log.name)


def freeze_sources(dest: Path) -> Path:
    """A copy of what the wheel is built from (pyproject.toml, setup.py, MANIFEST.in, README.md, edge/, and
    from models/ the manifest, the licences and every file the manifest lists), so that colleagues editing
    the checkout or rebuilding a model during a test run cannot make the second run see a new wheel."""
    dest.mkdir(parents=True)
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copyfile(REPO / name, dest / name)
    shutil.copytree(REPO / "edge", dest / "edge", ignore=shutil.ignore_patterns("__pycache__"))
    models = dest / "models"
    models.mkdir()
    raw = (REPO / "models" / "manifest.json").read_bytes()
    (models / "manifest.json").write_bytes(raw)
    shutil.copyfile(REPO / "models" / "LICENSES.md", models / "LICENSES.md")
    doc = json.loads(raw)
    for entry in [*doc["models"], *doc.get("fall_models", [])]:  # the pose models and the fall models
        (models / entry["file"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / "models" / entry["file"], models / entry["file"])
    return dest


def openssl(*args: str, cwd: Path) -> None:
    """Run openssl quietly; fail loudly."""
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def unit_exposure(root: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    """`systemd-analyze security --offline=true` of the unit installed under `root`: the overall exposure
    level and the finished command."""
    proc = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", f"--root={root}", "edge-pose.service"],
        capture_output=True,
        text=True,
        check=False,
    )
    match = re.search(r"Overall exposure level for edge-pose\.service:\s*([0-9.]+)", proc.stdout)
    assert match, proc.stdout + proc.stderr
    return float(match[1]), proc


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_inventory(
    path: Path,
    camera_root: Path,
    broker_root: Path,
    tls: Path,
    port: int,
    camera_host_vars: dict[str, Any] | None = None,
    other_camera_root: Path = Path("/nonexistent"),
    **extra: Any,
) -> Path:
    """An inventory of chroot hosts: one camera to deploy (with `camera_host_vars`), one more camera known
    to the broker (deployed only where a test says so), the broker. `extra`: variables of every camera."""
    chroot = {
        "ansible_connection": "community.general.chroot",
        "ansible_python_interpreter": "/usr/bin/python3",
    }
    camera_vars: dict[str, Any] = {
        "edge_pose_camera_source": "v4l2:/dev/video0",
        "edge_pose_mqtt_host": "localhost",
        "edge_pose_mqtt_port": port,
        "edge_pose_mqtt_tls": True,
        "edge_pose_mqtt_tls_ca_file": str(tls / "ca.crt"),
        # The machine's egress proxy re-signs TLS: pip must use the system bundle (docs/deploy.md).
        "edge_pose_pip_extra_args": "--cert /etc/ssl/certs/ca-certificates.crt",
        "edge_pose_rules": {},
    }
    camera_vars.update(extra)
    inventory = {
        "all": {
            "hosts": {
                "localhost": {
                    "ansible_connection": "local",
                    "ansible_python_interpreter": str(ANSIBLE_BIN / "python"),
                }
            },
            "children": {
                "edge_pose_cameras": {
                    "vars": camera_vars,
                    "hosts": {
                        CAMERA: {
                            **chroot,
                            "ansible_host": str(camera_root),
                            "edge_pose_mqtt_password": PASSWORDS[CAMERA],
                            "edge_pose_mqtt_tls_cert_file": str(tls / "client.crt"),
                            "edge_pose_mqtt_tls_key_file": str(tls / "client.key"),
                            **(camera_host_vars or {}),
                        },
                        OTHER_CAMERA: {
                            **chroot,
                            "ansible_host": str(other_camera_root),
                            "edge_pose_mqtt_password": PASSWORDS[OTHER_CAMERA],
                        },
                    },
                },
                "mqtt_brokers": {
                    "hosts": {
                        BROKER: {
                            **chroot,
                            "ansible_host": str(broker_root),
                            "mqtt_broker_port": port,
                            "mqtt_broker_bind_address": "127.0.0.1",
                            "mqtt_broker_tls_ca_file": str(tls / "ca.crt"),
                            "mqtt_broker_tls_cert_file": str(tls / "broker.crt"),
                            "mqtt_broker_tls_key_file": str(tls / "broker.key"),
                            "mqtt_broker_dashboard_users": [
                                {"username": "dashboard", "password": PASSWORDS["dashboard"]}
                            ],
                        }
                    }
                },
            },
        }
    }
    path.write_text(yaml.safe_dump(inventory, sort_keys=False))
    return path


@dataclass
class Deployment:
    """The playbook applied twice to fresh root filesystems, and where everything is."""

    camera_root: Path
    broker_root: Path
    tls: Path
    port: int
    inventory: Path
    wheel_dir: Path
    models_dir: Path
    first: PlaybookRun
    second: PlaybookRun
    tagged: PlaybookRun
