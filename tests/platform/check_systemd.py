"""The hardened unit under a real systemd (`make test-systemd`): a Debian 12 root booted with
`systemd-nspawn --boot` (systemd 252 as PID 1, cgroup v2 like Raspberry Pi OS Bookworm), edge-pose installed
into it by site.yml through the offline wheelhouse path, the service started on a `file:` camera (a real
photo of a person lying on the floor, looped) with a Mosquitto on the host's loopback, and then:

- `systemctl is-active`, READY=1 within READY_LIMIT_S of the main process starting (median of 3 starts),
  WATCHDOG=1 pings seen by systemd (WatchdogTimestamp advancing);
- pose and person_down event messages at the broker;
- the hardening in force: `systemctl show` against the unit file, the main process's credentials,
  seccomp, capabilities and read-only root as the kernel reports them, TFLite's XNNPACK delegate created
  under MemoryDenyWriteExecute=, and `systemd-analyze security` (online, in the booted system) <= 2.0;
- a bad config: the unit stops with status 78 and is not restarted; a corrupt model file with no
  fallback: status 65 (EX_DATAERR), not restarted either;
- `kill -STOP` of the main process: systemd's watchdog kills and restarts it.

Why nspawn and not a KVM guest: measured in docs/platforms.md (nspawn boots here once it has a tmpfs
for its propagation directory and no machined registration; DevicePolicy= is the one setting it does
not enforce). Not collected by a plain `pytest`: `make test-systemd` runs it."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from mosquitto import Collector, Mosquitto
from roots import cache_dir

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ansible"))
# The chroot harness of tests/ansible/: its cached root filesystem and its playbook runner.
from ansible_harness import (
    ANSIBLE_BIN,
    REPO,
    build_rootfs_tarball,
    extract_rootfs,
    freeze_sources,
    run_playbook,
)

CAMERA = "cam-systemd-01"
UNIT = "edge-pose.service"
READY_LIMIT_S = 3.0
SECURITY_LIMIT = 2.0
LYING_PERSON = (
    "fall_detection_dataset_subset/fall/fall-07-cam0-rgb-124.png"  # UR Fall, whole body on the floor
)
GUEST_CLIP = Path("/srv/edge-pose-test/person-lying.png")
DEAD_INDEX = "http://127.0.0.1:9/simple"  # the discard port: nothing listens there
# What the unit file says, as `systemctl show` reports it once systemd has parsed it.
HARDENING = {
    "Type": "notify",
    "User": "edge-pose",
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "ProtectClock": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "ProtectHostname": "yes",
    "ProtectProc": "invisible",
    "RestrictRealtime": "yes",
    "RestrictNamespaces": "yes",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_NETLINK AF_UNIX",  # systemctl sorts them
    "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    "RemoveIPC": "yes",
    "UMask": "0077",
    "SystemCallArchitectures": "native",
    "SystemCallErrorNumber": "1",  # EPERM
    "DevicePolicy": "closed",
    "CapabilityBoundingSet": "",
    "AmbientCapabilities": "",
    "RestartPreventExitStatus": "65 78",
    "WatchdogUSec": "30s",
    "Restart": "on-failure",
}


class Machine:
    """A booted container: commands run in its namespaces with nsenter (as `machinectl shell` would)."""

    def __init__(self, root: Path, log: Path) -> None:
        self.root = root
        self.log = log
        Path("/run/systemd/nspawn").mkdir(parents=True, exist_ok=True)
        # nspawn wants a tmpfs for its propagation directory (this machine's /run is not one) and, with no
        # systemd on the host, neither machined registration nor a scope unit of its own.
        script = (
            "set -e; mount -t tmpfs tmpfs /run/systemd/nspawn; exec systemd-nspawn --quiet "
            f"--directory={root} --boot --register=no --keep-unit --machine=edge-pose-test --console=pipe"
        )
        self.proc = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
            stdin=subprocess.DEVNULL,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY": "1"},
        )
        self.leader = self._find_leader()

    def _find_leader(self, timeout: float = 60.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"systemd-nspawn exited {self.proc.returncode}: {self.log.read_text()[-3000:]}")
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
            pids = children.read_text().split() if children.exists() else []
            if pids and Path(f"/proc/{pids[0]}/comm").read_text().strip() == "systemd":
                return int(pids[0])
            time.sleep(0.2)
        pytest.fail(f"no systemd inside the container after {timeout} s: {self.log.read_text()[-3000:]}")

    def wait_booted(self, timeout: float = 180.0) -> str:
        """`systemctl is-system-running --wait` once systemd answers (its socket comes up during boot)."""
        deadline = time.monotonic() + timeout
        while True:
            proc = self.run("systemctl", "is-system-running", "--wait", timeout=timeout)
            state = proc.stdout.strip()
            if state or time.monotonic() > deadline:
                return state or proc.stderr.strip()
            time.sleep(0.5)

    def run(self, *argv: str, timeout: float = 120, check: bool = False) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["nsenter", f"--target={self.leader}", "--all", "--", *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            pytest.fail(f"{' '.join(argv)} → {proc.returncode}: {proc.stdout}{proc.stderr}")
        return proc

    def show(self, *props: str) -> dict[str, str]:
        out = self.run("systemctl", "show", UNIT, *(f"--property={p}" for p in props), check=True).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def wait_for(self, predicate: Any, timeout: float, what: str, step: float = 0.5) -> dict[str, str]:
        """Poll `systemctl show` until predicate(props) holds."""
        props = ("ActiveState", "SubState", "MainPID", "NRestarts", "ExecMainStatus", "Result")
        deadline = time.monotonic() + timeout
        while True:
            state = self.show(*props)
            if predicate(state):
                return state
            if time.monotonic() > deadline:
                pytest.fail(f"{what}: not reached in {timeout} s; last {state}\n{self.journal()[-3000:]}")
            time.sleep(step)

    def journal(self) -> str:
        return self.run("journalctl", "--unit", UNIT, "--no-pager", "--output=short-monotonic").stdout

    def poweroff(self) -> None:
        """Shut the container down (nspawn: a second SIGTERM terminates at once, then SIGKILL)."""
        self.run("systemctl", "poweroff", timeout=30)
        for signal_it in (self.proc.terminate, self.proc.terminate, self.proc.kill):
            try:
                self.proc.wait(timeout=30)
                return
            except subprocess.TimeoutExpired:
                signal_it()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def timings() -> dict[str, float]:
    return {}


@pytest.fixture(scope="module")
def machine(timings: dict[str, float], data_dir: Path) -> Iterator[Machine]:
    """A fresh copy of the Ansible tests' cached Debian 12 root (one debootstrap for both), booted."""
    work = cache_dir() / "systemd-run"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    start = time.monotonic()
    root = extract_rootfs(build_rootfs_tarball(), work / "root")
    timings["root_s"] = time.monotonic() - start
    clip = root / GUEST_CLIP.relative_to("/")
    clip.parent.mkdir(parents=True)
    shutil.copyfile(data_dir / LYING_PERSON, clip)  # into the scratch root only, deleted with it
    clip.parent.chmod(0o755)
    clip.chmod(0o644)
    # The offline install must not need an index: the camera's pip is pointed at one that does not answer.
    (root / "etc/pip.conf").write_text(f"[global]\nindex-url = {DEAD_INDEX}\n")
    start = time.monotonic()
    box = Machine(root, work / "nspawn.log")
    try:
        state = box.wait_booted()
        timings["boot_s"] = time.monotonic() - start
        assert state in {"running", "degraded"}, (
            state,
            box.run("systemctl", "--failed", "--no-pager").stdout,
        )
        yield box
        (work / "journal.txt").write_text(box.journal())
    finally:
        box.poweroff()
    print(f"\nsystemd check: {json.dumps({k: round(v) for k, v in timings.items()})}")
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def deployed(machine: Machine, mosquitto: Mosquitto, timings: dict[str, float]) -> dict[str, Any]:
    """site.yml run against the booted container, offline: the wheel built by the playbook's build play, the
    wheelhouse made by `make wheelhouse` as docs/deploy.md says (for x86_64 here), `edge_pose_wheelhouse_dir`
    set."""
    work = machine.root.parent
    src = freeze_sources(work / "src")
    wheel_dir, wheelhouse = work / "wheel", work / "wheelhouse"
    inventory = work / "inventory.yml"
    camera_vars = {
        "ansible_connection": "community.docker.nsenter",
        "ansible_nsenter_pid": machine.leader,
        "ansible_become": False,  # nsenter runs as root already, and the minimal root has no sudo
        "ansible_python_interpreter": "/usr/bin/python3",
        "edge_pose_camera_source": f"file:{GUEST_CLIP}",
        "edge_pose_mqtt_host": "127.0.0.1",
        "edge_pose_mqtt_port": mosquitto.port,
        "edge_pose_mqtt_tls": False,
        "edge_pose_rules": {},
        "edge_pose_config_overrides": {"mqtt": {"stats_interval_s": 2.0}},
    }
    inventory.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "hosts": {
                        "localhost": {
                            "ansible_connection": "local",
                            "ansible_python_interpreter": str(ANSIBLE_BIN / "python"),
                        }
                    },
                    "children": {"edge_pose_cameras": {"hosts": {CAMERA: camera_vars}}},
                }
            },
            sort_keys=False,
        )
    )
    extra = {
        "edge_pose_wheel_dir": str(wheel_dir),
        "edge_pose_wheel_src_dir": str(src),
        "edge_pose_models_src_dir": str(src / "models"),
    }
    start = time.monotonic()
    build = run_playbook(inventory, "--tags", "build", "-e", json.dumps(extra), log=work / "build.log")
    assert build.returncode == 0, build.output[-4000:]
    assert len(list(wheel_dir.glob("edge_pose-*.whl"))) == 1
    download = subprocess.run(
        ["make", "--no-print-directory", "wheelhouse", "WHEELHOUSE_ARCH=x86_64", f"WHEEL_DIR={wheel_dir}",
         f"WHEELHOUSE_DIR={wheelhouse}"],
        cwd=REPO, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert download.returncode == 0, download.stdout[-3000:] + download.stderr[-3000:]
    timings["wheelhouse_s"] = time.monotonic() - start
    extra["edge_pose_wheelhouse_dir"] = str(wheelhouse)
    start = time.monotonic()
    run = run_playbook(
        inventory, "--limit", f"localhost,{CAMERA}", "-e", json.dumps(extra), log=work / "site.log"
    )
    timings["playbook_s"] = time.monotonic() - start
    assert run.returncode == 0, run.output[-6000:]
    assert run.recap[CAMERA]["failed"] == 0
    return {"run": run, "wheelhouse": wheelhouse}


def read_status(machine: Machine, pid: str) -> dict[str, str]:
    text = machine.run("cat", f"/proc/{pid}/status", check=True).stdout
    return {
        k.strip(): v.strip() for k, v in (line.split(":", 1) for line in text.splitlines() if ":" in line)
    }


def collector_payloads(collector: Collector, name: str) -> list[Any]:
    out = []
    for m in collector.snapshot():
        if m.topic.endswith(f"/{name}"):
            text = m.payload.decode()
            out.append(json.loads(text) if text.startswith("{") else text)
    return out


# --- tests ----------------------------------------------------------------------------------------------


def test_installed_offline_from_the_wheelhouse(machine: Machine, deployed: dict[str, Any]) -> None:
    run = deployed["run"]
    assert "Copy the offline wheelhouse" in run.output
    assert DEAD_INDEX in (machine.root / "etc/pip.conf").read_text()  # an index would have failed the install
    copied = sorted(p.name for p in (machine.root / "opt/edge-pose/wheelhouse").iterdir())
    assert copied == sorted(p.name for p in deployed["wheelhouse"].iterdir())
    # Installed with --no-index: every distribution in the venv came from that directory.
    freeze = machine.run("/opt/edge-pose/venv/bin/pip", "freeze", "--all", check=True).stdout.split()
    assert any(line.startswith("edge-pose") for line in freeze)
    assert any(line.startswith("ai-edge-litert==") for line in freeze)


def test_service_active_and_ready_quickly(machine: Machine, deployed: dict[str, Any]) -> None:
    assert machine.run("systemctl", "is-active", UNIT).stdout.strip() == "active"
    waits = []
    for _ in range(3):
        machine.run("systemctl", "restart", UNIT, check=True)  # Type=notify: returns once READY=1 arrived
        props = machine.show(
            "ExecMainStartTimestampMonotonic", "ActiveEnterTimestampMonotonic", "ActiveState"
        )
        assert props["ActiveState"] == "active", props
        waits.append(
            (int(props["ActiveEnterTimestampMonotonic"]) - int(props["ExecMainStartTimestampMonotonic"]))
            / 1e6
        )
    print(f"\nREADY=1 after the main process started: {', '.join(f'{w:.2f}' for w in waits)} s")
    assert all(w > 0 for w in waits), waits
    assert statistics.median(waits) <= READY_LIMIT_S, waits


def test_watchdog_pings_reach_systemd(machine: Machine, deployed: dict[str, Any]) -> None:
    """The daemon pings at half of WatchdogSec=30: systemd's last-ping timestamp must move twice."""
    assert machine.show("WatchdogUSec")["WatchdogUSec"] == "30s"
    seen = [int(machine.show("WatchdogTimestampMonotonic")["WatchdogTimestampMonotonic"])]
    deadline = time.monotonic() + 50
    while len(seen) < 3 and time.monotonic() < deadline:
        time.sleep(1.0)
        now = int(machine.show("WatchdogTimestampMonotonic")["WatchdogTimestampMonotonic"])
        if now != seen[-1]:
            seen.append(now)
    gaps = [(b - a) / 1e6 for a, b in itertools.pairwise(seen)]
    print(f"\nWATCHDOG=1 seen by systemd, gaps {', '.join(f'{g:.1f}' for g in gaps)} s")
    assert len(seen) == 3 and all(g > 0 for g in gaps), seen


def test_pose_and_event_messages_at_the_broker(
    machine: Machine, deployed: dict[str, Any], mosquitto: Mosquitto
) -> None:
    collector = mosquitto.subscribe_collect(f"edge-pose/{CAMERA}/#")
    try:
        machine.run("systemctl", "restart", UNIT, check=True)
        # person_down needs the person down for 5 s of frames: allow a loaded machine plenty more.
        collector.wait_for(
            lambda ms: (
                any(m.topic.endswith("/event") and b'"start"' in m.payload for m in ms)
                and any(m.topic.endswith("/pose") for m in ms)
            ),
            timeout=90,
        )
        poses = collector_payloads(collector, "pose")
        events = collector_payloads(collector, "event")
        assert poses and any(p["poses"] for p in poses), poses[:2]
        # The event open before the restart ends on SIGTERM; the new process raises a new one.
        assert ("person_down", "start") in [(e["type"], e["state"]) for e in events], events
        assert "online" in collector_payloads(collector, "status")
    finally:
        collector.close()


def test_hardening_in_force(machine: Machine, deployed: dict[str, Any]) -> None:
    props = machine.show(
        *HARDENING, "SystemCallFilter", "RestrictNamespaces", "MainPID", "RestrictAddressFamilies"
    )
    wrong = {k: (props.get(k), v) for k, v in HARDENING.items() if props.get(k) != v}
    assert wrong == {}, wrong
    assert props["SystemCallFilter"] and "reboot" not in props["SystemCallFilter"].split(), props[
        "SystemCallFilter"
    ]
    status = read_status(machine, props["MainPID"])
    uid = machine.run("id", "-u", "edge-pose", check=True).stdout.strip()
    assert status["Uid"].split()[0] == uid
    assert status["NoNewPrivs"] == "1" and status["Seccomp"] == "2"
    assert status["CapEff"] == status["CapBnd"] == status["CapPrm"] == "0" * 16
    mounts = machine.run("cat", f"/proc/{props['MainPID']}/mountinfo", check=True).stdout
    root_mount = [line.split() for line in mounts.splitlines() if line.split()[4] == "/"]
    assert root_mount and "ro" in root_mount[-1][5].split(","), root_mount  # ProtectSystem=strict
    journal = machine.journal()
    assert "Created TensorFlow Lite XNNPACK delegate for CPU" in journal  # under MemoryDenyWriteExecute=
    assert "Traceback" not in journal
    security = machine.run("systemd-analyze", "security", UNIT, "--no-pager")
    match = re.search(r"Overall exposure level for edge-pose\.service:\s*([0-9.]+)", security.stdout)
    assert match, security.stdout + security.stderr
    print(f"\nsystemd-analyze security (online, booted): {match[1]}")
    assert float(match[1]) <= SECURITY_LIMIT


def test_bad_config_stops_with_78_and_no_restart_loop(machine: Machine, deployed: dict[str, Any]) -> None:
    config = machine.root / "etc/edge-pose/config.yaml"
    good = config.read_text()
    try:
        config.write_text(good + "\nmodle:\n  name: movenet_lightning\n")
        restarts = int(machine.show("NRestarts")["NRestarts"])
        machine.run("systemctl", "restart", UNIT)  # fails: the start job ends with the unit failed
        state = machine.wait_for(lambda s: s["ActiveState"] == "failed", 60, "failed after a bad config")
        assert state["ExecMainStatus"] == "78" and state["Result"] == "exit-code", state
        time.sleep(12)  # RestartSec=5: two restart periods
        later = machine.show("ActiveState", "NRestarts", "ExecMainStatus")
        assert later["ActiveState"] == "failed" and int(later["NRestarts"]) == restarts, later
        assert "modle: unknown key" in machine.journal()
        print(
            f"\nbad config: {state['Result']}, status {state['ExecMainStatus']}, NRestarts {later['NRestarts']} 12 s on"
        )
    finally:
        config.write_text(good)
        machine.run("systemctl", "reset-failed", UNIT)
        machine.run("systemctl", "start", UNIT, check=True)


def test_corrupt_model_without_fallback_stops_with_65_and_no_restart_loop(
    machine: Machine, deployed: dict[str, Any]
) -> None:
    """A model file that fails its checksum does not mend by restarting: 65 is in
    RestartPreventExitStatus= beside 78, so the unit stays failed (and visible) instead of looping."""
    config = machine.root / "etc/edge-pose/config.yaml"
    good = config.read_text()
    shipped = next((machine.root / "opt/edge-pose/venv/lib").glob("python3*/site-packages/edge/model_files"))
    models = machine.root / "etc/edge-pose/corrupt-models"
    try:
        shutil.copytree(shipped, models)
        models.chmod(0o755)
        detector = models / "movenet_multipose_int8.tflite"
        data = bytearray(detector.read_bytes())
        data[1000] ^= 0xFF
        detector.write_bytes(bytes(data))
        document = yaml.safe_load(good)
        document.setdefault("model", {}).update({"dir": "/etc/edge-pose/corrupt-models", "fallback": None})
        config.write_text(yaml.safe_dump(document, sort_keys=False))
        restarts = int(machine.show("NRestarts")["NRestarts"])
        machine.run("systemctl", "restart", UNIT)
        state = machine.wait_for(lambda s: s["ActiveState"] == "failed", 60, "failed on a corrupt model")
        assert state["ExecMainStatus"] == "65" and state["Result"] == "exit-code", state
        time.sleep(12)  # RestartSec=5: two restart periods
        later = machine.show("ActiveState", "NRestarts")
        assert later["ActiveState"] == "failed" and int(later["NRestarts"]) == restarts, later
        assert "movenet_multipose_int8.tflite: sha256" in machine.journal()
        print(f"\ncorrupt model: status {state['ExecMainStatus']}, NRestarts {later['NRestarts']} 12 s on")
    finally:
        config.write_text(good)
        shutil.rmtree(models, ignore_errors=True)
        machine.run("systemctl", "reset-failed", UNIT)
        machine.run("systemctl", "start", UNIT, check=True)


def test_stopped_main_process_is_restarted_by_the_watchdog(
    machine: Machine, deployed: dict[str, Any]
) -> None:
    machine.wait_for(lambda s: s["ActiveState"] == "active", 120, "active before the test")
    before = machine.show("MainPID", "NRestarts")
    stopped = time.monotonic()
    # kill -STOP of the main process (the minimal root has no procps `kill`: Python's os.kill is the same call)
    machine.run(
        "python3", "-c", f"import os, signal; os.kill({before['MainPID']}, signal.SIGSTOP)", check=True
    )
    # WatchdogSec=30, then SIGABRT (and SIGKILL after TimeoutAbortSec), RestartSec=5, a new start.
    state = machine.wait_for(
        lambda s: s["ActiveState"] == "active" and s["MainPID"] not in {before["MainPID"], "0"},
        150,
        "restarted by the watchdog",
        step=1.0,
    )
    print(f"\nkill -STOP → active again (new main process) after {time.monotonic() - stopped:.0f} s")
    assert int(state["NRestarts"]) == int(before["NRestarts"]) + 1, state
    journal = machine.journal()
    assert "Watchdog timeout" in journal, journal[-3000:]
