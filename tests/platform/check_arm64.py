"""edge-pose on the Raspberry Pi's CPUs (`make test-arm64`): a Debian 12 arm64 root run by qemu-user with
the CPU set to each Pi core, the project's wheel installed in it as docs/deploy.md tells a Pi user, on both
TFLite runtimes. Per core and runtime it checks:

- every model of the manifest loads and invokes (finite, repeatable outputs);
- `edge-pose replay` of a lossless (FFV1) clip made from the demo clip gives, for every keypoint, what the
  x86 run of the same wheel gives: identical on ai-edge-litert; on tflite-runtime, on the frames where both
  follow the same person, a median distance within TFLITE_MEDIAN_PX;
- `edge-pose check-config` accepts a good config and refuses a bad one with 78, naming the key;
- a short `edge-pose run` on the clip publishes pose messages to a Mosquitto on the host's loopback.

Any crash fails, and so does SIGILL: QEMU raises it on cortex-a53/a72 for LSE atomics, dot-product and
fp16 instructions those cores lack (docs/platforms.md says what QEMU does not catch).

Not collected by a plain `pytest` (the file name does not start with test_): `make test-arm64` runs it.
Parameters (environment, set by the Makefile): EDGE_POSE_PLATFORM_CACHE, EDGE_POSE_ARM64_CORES,
EDGE_POSE_ARM64_RUNTIMES, EDGE_POSE_ARM64_MODELS ("default" is the config's default model),
EDGE_POSE_ARM64_FRAMES, EDGE_POSE_ARM64_JOBS."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import venv
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import yaml
from mosquitto import Mosquitto
from roots import RootSpec, build_root, cache_dir, prepare_for_network, private_mounts_script

from edge.config import ModelConfig

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
DEMO_CLIP = REPO / "demo" / "vtest_excerpt.mp4"

# The Raspberry Pi cores, as QEMU names them, with the /proc/cpuinfo a real one shows (see CPUINFO below).
CORES: dict[str, dict[str, str]] = {
    "cortex-a53": {"board": "Pi Zero 2 W / Pi 3", "part": "0xd03", "variant": "0x0", "revision": "4",
                   "features": "fp asimd evtstrm crc32 cpuid"},
    "cortex-a72": {"board": "Pi 4", "part": "0xd08", "variant": "0x0", "revision": "3",
                   "features": "fp asimd evtstrm crc32 cpuid"},
    "cortex-a76": {"board": "Pi 5", "part": "0xd0b", "variant": "0x4", "revision": "1",
                   "features": "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid "
                               "asimdrdm lrcpc dcpop asimddp"},
}  # fmt: skip
RUNTIMES = {"litert": "", "tflite": "[tflite]"}  # runtime → the extra a Pi user installs for it
ARM64 = RootSpec("arm64", "arm64", ("python3", "python3-venv", "ca-certificates"))
GUEST = Path("/srv/edge-pose")  # inside the root: wheel, clip, scripts, configs, outputs
SIGILL_CODES = {-signal.SIGILL, 128 + signal.SIGILL}
CPUINFO_ERROR = "Error in cpuinfo"  # XNNPACK's CPU detection failed: the run would not be what a Pi runs
XNNPACK = "Created TensorFlow Lite XNNPACK delegate for CPU"
BACKTRACKING = "pip is looking at multiple versions"

# tflite-runtime's INT8 kernels differ between its aarch64 and x86_64 builds, so its keypoints are not
# bit-identical across platforms, and through the smart crop's feedback a small difference can make the
# crop follow another person. So on tflite-runtime the frames where both runs follow the same person (box
# IoU >= SAME_PERSON_IOU) must be at least MIN_SAME_PERSON of the clip, and on them the median distance of
# the keypoints both score above CONFIDENT, at the model input, at most TFLITE_MEDIAN_PX: the measure and
# bound tests/test_runtimes.py puts on tflite-runtime vs ai-edge-litert on x86, under one 4-px cell of
# MoveNet's 48x48 heatmap at 192 px (measured and justified in docs/platforms.md).
TFLITE_MEDIAN_PX = 3.0
MIN_SAME_PERSON = 0.5
SAME_PERSON_IOU = 0.5
CONFIDENT = 0.3
# A multi-person model (the default front-end, MultiPose) is not bit-identical on either runtime:
# MultiPose's float post-processing differs from x86 in the last bit (at most 7.5e-9 on the raw outputs,
# the same on all three cores), and where the front-end places a crop or keeps a track from a discovery
# reading, a last-bit difference can move a crop by a pixel or start a track a frame earlier or later.
# So every person is matched to the x86 run's by box (IoU >= SAME_PERSON_IOU): at least
# MIN_MATCHED_PEOPLE of the person-frames of both runs must match, and the median distance of their
# confident keypoints is held to TFLITE_MEDIAN_PX (measured: docs/platforms.md).
MULTI_PERSON_FAMILIES = {"multi_person", "movenet_multipose"}
MIN_MATCHED_PEOPLE = 0.85


def env_list(name: str, default: str) -> list[str]:
    return os.environ.get(name, default).split()


SELECTED_CORES = env_list("EDGE_POSE_ARM64_CORES", " ".join(CORES))
SELECTED_RUNTIMES = env_list("EDGE_POSE_ARM64_RUNTIMES", " ".join(RUNTIMES))
FRAMES = int(os.environ.get("EDGE_POSE_ARM64_FRAMES", "30"))
JOBS = int(os.environ.get("EDGE_POSE_ARM64_JOBS", "2"))


def replay_models() -> list[str]:
    """The models whose replay is compared: EDGE_POSE_ARM64_MODELS, "default" meaning the config's default."""
    default = ModelConfig().name
    names = [
        default if n == "default" else n
        for n in env_list("EDGE_POSE_ARM64_MODELS", "default movenet_lightning")
    ]
    return list(dict.fromkeys(names))


MODELS = replay_models()
COMBOS = [(core, rt) for core in SELECTED_CORES for rt in SELECTED_RUNTIMES]


def cpuinfo_text(core: str, processors: int = 4) -> str:
    """An ARM /proc/cpuinfo for `core` (qemu-user 7.2 shows the guest the x86 host's, and ai-edge-litert's
    CPU detection then crashes in its first invoke: notes/arm64.md)."""
    c = CORES[core]
    block = (
        "BogoMIPS\t: 108.00\n"
        f"Features\t: {c['features']}\n"
        "CPU implementer\t: 0x41\nCPU architecture: 8\n"
        f"CPU variant\t: {c['variant']}\nCPU part\t: {c['part']}\nCPU revision\t: {c['revision']}\n\n"
    )
    return "".join(f"processor\t: {i}\n{block}" for i in range(processors))


@dataclass
class Step:
    """One command's outcome."""

    argv: list[str]
    returncode: int
    output: str
    seconds: float
    cpu_seconds: float = 0.0  # user + system of the emulated process and what it waited for

    def describe(self) -> str:
        crash = " (SIGILL: an instruction this core lacks)" if self.returncode in SIGILL_CODES else ""
        return f"{shlex.join(self.argv)} → exit {self.returncode}{crash} in {self.seconds:.0f} s\n{self.output[-4000:]}"


class Arm64Root:
    """Runs commands in the arm64 root under a named QEMU core with an ARM cpuinfo, each in its own
    private mount namespace."""

    def __init__(self, root: Path, work: Path) -> None:
        self.root = root
        self.cpuinfo: dict[str, Path] = {}
        for core in CORES:
            path = work / f"cpuinfo-{core}"
            path.write_text(cpuinfo_text(core))
            self.cpuinfo[core] = path

    def host_path(self, guest: Path) -> Path:
        return self.root / guest.relative_to("/")

    def command(self, core: str, argv: list[str], env: dict[str, str] | None = None) -> list[str]:
        variables = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": "/root",
            "LANG": "C.UTF-8",
            "QEMU_CPU": core,  # never QEMU's default `max`: its SME emulation gives wrong INT8 results
            "PIP_CERT": "/etc/ssl/certs/ca-certificates.crt",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            **(env or {}),
        }
        inner = [
            "chroot",
            str(self.root),
            "/usr/bin/env",
            "-i",
            *(f"{k}={v}" for k, v in variables.items()),
            *argv,
        ]
        script = private_mounts_script(self.root, self.cpuinfo[core]) + "\nexec " + shlex.join(inner)
        return ["unshare", "-m", "--propagation", "private", "nice", "-n", "10", "bash", "-c", script]

    def run(
        self, core: str, argv: list[str], env: dict[str, str] | None = None, timeout: float = 1800
    ) -> Step:
        """Run and wait with wait4(2), for the CPU time the command used (the shared machine's wall time
        says little; CPU time is what a 2-core CI machine has to spend)."""
        start = time.monotonic()
        with tempfile.TemporaryFile() as out:
            proc = subprocess.Popen(self.command(core, argv, env), stdout=out, stderr=subprocess.STDOUT)
            timer = threading.Timer(timeout, proc.kill)
            timer.start()
            try:
                _, status, usage = os.wait4(proc.pid, 0)
            finally:
                timer.cancel()
            proc.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            output = out.read().decode(errors="replace")
        cpu = usage.ru_utime + usage.ru_stime
        return Step(argv, proc.returncode, output, time.monotonic() - start, cpu)


@dataclass
class Install:
    """A venv with the wheel (and its runtime) installed, in the arm64 root."""

    runtime: str
    venv: Path  # guest path
    step: Step
    freeze: list[str] = field(default_factory=list)


@dataclass
class ComboResult:
    """Everything one (core, runtime) pair did."""

    core: str
    runtime: str
    invoke: Step | None = None
    invoke_records: list[dict[str, Any]] = field(default_factory=list)
    replays: dict[str, Step] = field(default_factory=dict)  # model → step
    check_good: Step | None = None
    check_bad: Step | None = None
    run: Step | None = None
    run_messages: list[tuple[str, bytes]] = field(default_factory=list)
    seconds: float = 0.0

    def steps(self) -> list[Step]:
        """Every command this pair ran."""
        steps = [self.invoke, *self.replays.values(), self.check_good, self.check_bad, self.run]
        return [st for st in steps if st is not None]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


# --- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def timings() -> dict[str, float]:
    return {}


@pytest.fixture(scope="module")
def work() -> Iterator[Path]:
    """This run's scratch directory in the platform cache (kept after the run for a human to read)."""
    path = cache_dir() / "arm64-run"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir()
    yield path


@pytest.fixture(scope="module")
def wheel(work: Path) -> Path:
    """The project's wheel, built from this checkout."""
    out = work / "dist"
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(REPO)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (path,) = out.glob("edge_pose-*.whl")
    return path


@pytest.fixture(scope="module")
def clip(work: Path) -> Path:
    """The first FRAMES frames of the demo clip, FFV1 (lossless): both platforms then model the same
    pixels (the arm64 OpenCV wheels decode the MPEG-4 original a few levels differently from x86)."""
    path = work / "clip.mkv"
    capture = cv2.VideoCapture(str(DEMO_CLIP))
    fps = capture.get(cv2.CAP_PROP_FPS)
    frames = []
    for _ in range(FRAMES):
        ok, image = capture.read()
        assert ok, f"{DEMO_CLIP}: fewer than {FRAMES} frames"
        frames.append(image)
    capture.release()
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"FFV1"), fps, (width, height))
    assert writer.isOpened(), "OpenCV cannot write FFV1"
    for image in frames:
        writer.write(image)
    writer.release()
    back = cv2.VideoCapture(str(path))
    for i, image in enumerate(frames):
        ok, decoded = back.read()
        assert ok and np.array_equal(decoded, image), f"{path}: frame {i} does not decode losslessly"
    back.release()
    return path


@pytest.fixture(scope="module")
def arm64_root(work: Path, timings: dict[str, float], wheel: Path, clip: Path) -> Arm64Root:
    """The cached Debian 12 arm64 root, cleaned of earlier runs, with this run's wheel, clip and scripts."""
    binfmt = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")
    if not binfmt.is_file() or "enabled" not in binfmt.read_text():
        pytest.fail("qemu-aarch64 is not registered with binfmt_misc: run `make test-arm64` (it sets it up)")
    root, seconds, cpu = build_root(ARM64, work / "debootstrap.log")
    timings["debootstrap_s"], timings["debootstrap_cpu_s"] = seconds, cpu
    prepare_for_network(root)
    arm = Arm64Root(root, work)
    for old in (*root.glob("opt/edge-pose-*"), arm.host_path(GUEST)):
        shutil.rmtree(old, ignore_errors=True)
    guest = arm.host_path(GUEST)
    (guest / "out").mkdir(parents=True)
    shutil.copy2(wheel, guest / wheel.name)
    shutil.copy2(clip, guest / clip.name)
    shutil.copy2(HERE / "invoke_all_models.py", guest / "invoke_all_models.py")
    return arm


@pytest.fixture(scope="module")
def installs(arm64_root: Arm64Root, wheel: Path, timings: dict[str, float]) -> dict[str, Install]:
    """One venv per runtime, the way docs/deploy.md ("One camera by hand") tells a Pi user, in parallel."""

    def install(runtime: str) -> Install:
        target = Path(f"/opt/edge-pose-{runtime}")
        spec = f"{GUEST / wheel.name}{RUNTIMES[runtime]}"
        script = (
            f"python3 -m venv --system-site-packages {target} && "
            f"{target}/bin/pip install --no-input {shlex.quote(spec)}"
        )
        # No .pyc compilation at install time: under emulation it costs minutes (Python compiles what it
        # imports on first use instead); what is installed is the same.
        step = arm64_root.run("cortex-a72", ["/bin/sh", "-c", script], {"PIP_NO_COMPILE": "1"}, timeout=2400)
        freeze = arm64_root.run("cortex-a72", [f"{target}/bin/pip", "freeze", "--exclude", "edge-pose"])
        return Install(runtime, target, step, freeze.output.split())

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(RUNTIMES)) as pool:
        done = dict(zip(RUNTIMES, pool.map(install, RUNTIMES), strict=True))
    timings["install_s"] = time.monotonic() - start
    timings["install_cpu_s"] = sum(i.step.cpu_seconds for i in done.values())
    for item in done.values():
        assert item.step.returncode == 0, item.step.describe()
    return done


@pytest.fixture(scope="module")
def x86(work: Path, wheel: Path, clip: Path, installs: dict[str, Install]) -> dict[str, dict[str, Any]]:
    """The x86 reference: the same wheel in a fresh venv per runtime, pinned to exactly the package versions
    pip chose in the arm64 root; the invoke probe and the replays."""
    results: dict[str, dict[str, Any]] = {}
    for runtime, install in installs.items():
        home = work / f"x86-{runtime}"
        venv.create(home, with_pip=True)
        constraints = work / f"constraints-{runtime}.txt"
        constraints.write_text("\n".join(install.freeze) + "\n")
        pip = subprocess.run(
            [
                str(home / "bin/pip"),
                "install",
                "--no-input",
                "-c",
                str(constraints),
                f"{wheel}{RUNTIMES[runtime]}",
            ],
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
        assert pip.returncode == 0, pip.stdout[-3000:] + pip.stderr[-3000:]
        env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "EDGE_POSE_RUNTIME": runtime, "LANG": "C.UTF-8"}
        probe = subprocess.run(
            [str(home / "bin/python"), str(HERE / "invoke_all_models.py"), str(work / f"x86-{runtime}.npz")],
            capture_output=True, text=True, env=env, timeout=900, check=False,
        )  # fmt: skip
        assert probe.returncode == 0, probe.stdout + probe.stderr
        replays = {}
        for model in MODELS:
            out = work / f"x86-{runtime}-{model}.jsonl"
            proc = subprocess.run(
                [str(home / "bin/edge-pose"), "replay", str(clip), "--model", model, "--out", str(out)],
                capture_output=True, text=True, env=env, timeout=900, check=False,
            )  # fmt: skip
            assert proc.returncode == 0, proc.stdout + proc.stderr
            assert XNNPACK in proc.stderr, proc.stderr
            replays[model] = read_jsonl(out)
        results[runtime] = {"replays": replays, "outputs": dict(np.load(work / f"x86-{runtime}.npz"))}
    return results


def write_config(path: Path, device: str, port: int, **extra: Any) -> None:
    config: dict[str, Any] = {
        "device": {"id": device},
        "camera": {"source": f"file:{GUEST / 'clip.mkv'}", "loop": False, "realtime": False},
        "mqtt": {"host": "127.0.0.1", "port": port},
        "outbox": {"path": str(GUEST / "out" / f"{device}-outbox.sqlite")},
    }
    config.update(extra)
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def run_combo(
    arm: Arm64Root, installs: dict[str, Install], broker: Mosquitto, core: str, runtime: str
) -> ComboResult:
    """Everything for one (core, runtime): invoke every model, replays, check-config, a short run."""
    start = time.monotonic()
    result = ComboResult(core, runtime)
    venv_bin = installs[runtime].venv / "bin"
    env = {"EDGE_POSE_RUNTIME": runtime}
    tag = f"{core}-{runtime}"
    npz = GUEST / "out" / f"{tag}.npz"
    result.invoke = arm.run(
        core, [str(venv_bin / "python"), str(GUEST / "invoke_all_models.py"), str(npz)], env
    )
    result.invoke_records = json_lines(result.invoke.output)
    for model in MODELS:
        out = GUEST / "out" / f"{tag}-{model}.jsonl"
        argv = [str(venv_bin / "edge-pose"), "replay", str(GUEST / "clip.mkv"), "--model", model]
        result.replays[model] = arm.run(core, [*argv, "--out", str(out)], env)
    device = f"arm64-{tag}"
    good, bad = GUEST / f"{tag}-good.yaml", GUEST / f"{tag}-bad.yaml"
    # the daemon's MQTT path on arm64 with single-pose Lightning: the default front-end runs in the
    # replay above, and its first-frame discovery sweep costs minutes under emulation (a Pi does it in 1 s)
    write_config(arm.host_path(good), device, broker.port, model={"name": "movenet_lightning"})
    write_config(arm.host_path(bad), device, broker.port, model={"nmae": "movenet_lightning"})
    result.check_good = arm.run(core, [str(venv_bin / "edge-pose"), "check-config", str(good)], env)
    result.check_bad = arm.run(core, [str(venv_bin / "edge-pose"), "check-config", str(bad)], env)
    collector = broker.subscribe_collect(f"edge-pose/{device}/#")
    try:
        result.run = arm.run(
            core, [str(venv_bin / "edge-pose"), "run", "--config", str(good)], env, timeout=1200
        )
        time.sleep(1.0)  # the last QoS 0 pose messages are in flight
        result.run_messages = [(m.topic, m.payload) for m in collector.snapshot()]
    finally:
        collector.close()
    result.seconds = time.monotonic() - start
    return result


@pytest.fixture(scope="module")
def arm64(
    arm64_root: Arm64Root,
    installs: dict[str, Install],
    x86: dict[str, dict[str, Any]],
    mosquitto: Mosquitto,
    work: Path,
    timings: dict[str, float],
) -> dict[tuple[str, str], ComboResult]:
    """Every (core, runtime) pair, JOBS at a time (emulation is CPU-bound: one per host core)."""
    start = time.monotonic()
    lock = threading.Lock()
    results: dict[tuple[str, str], ComboResult] = {}

    def one(combo: tuple[str, str]) -> None:
        result = run_combo(arm64_root, installs, mosquitto, *combo)
        with lock:
            results[combo] = result
            print(f"\narm64 {combo[0]} {combo[1]}: {result.seconds:.0f} s", flush=True)

    with ThreadPoolExecutor(max_workers=JOBS) as pool:
        list(pool.map(one, COMBOS))
    timings["combos_s"] = time.monotonic() - start
    timings["combos_cpu_s"] = sum(st.cpu_seconds for r in results.values() for st in r.steps())
    summary = summarise(results, x86, installs, arm64_root)
    (work / "results.json").write_text(json.dumps({"timings": timings, **summary}, indent=1))
    print("\n" + json.dumps({"timings": timings, **summary}, indent=1))
    return results


# --- comparison -----------------------------------------------------------------------------------------


def pose_arrays(messages: list[dict[str, Any]]) -> list[np.ndarray]:
    """Per frame: an array (poses, 17, 3) of the published keypoints (x, y, score)."""
    return [np.array([p["keypoints"] for p in m["payload"]["poses"]], dtype=np.float64).reshape(-1, 17, 3)
            for m in messages if m["topic"].endswith("/pose")]  # fmt: skip


def box_iou(a: list[float], b: list[float]) -> float:
    """Intersection over union of two [x0, y0, x1, y1] boxes."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union > 0 else 0.0


def replay_difference(arm: list[dict[str, Any]], ref: list[dict[str, Any]], input_px: int) -> dict[str, Any]:
    """How far one replay is from the x86 one. Identity of every published pose; the first frame that
    differs; the frames whose first person is the same person in both (box IoU >= SAME_PERSON_IOU); on
    those, the median / p90 / max distance in model-input pixels of the keypoints both score above
    CONFIDENT (as tests/test_runtimes.py); and the largest normalised and score differences overall."""
    frames = list(zip(arm, ref, strict=False))
    identical = len(arm) == len(ref) and all(
        x["payload"]["poses"] == y["payload"]["poses"] for x, y in frames
    )
    first = next(
        (i for i, (x, y) in enumerate(frames) if x["payload"]["poses"] != y["payload"]["poses"]), None
    )
    distances: list[float] = []
    same_person = 0
    max_dxy = max_dscore = 0.0
    for x, y in frames:
        px, py = x["payload"], y["payload"]
        if len(px["poses"]) != len(py["poses"]) or not px["poses"]:
            continue
        ka, kb = np.array(px["poses"][0]["keypoints"]), np.array(py["poses"][0]["keypoints"])
        max_dxy = max(max_dxy, float(np.abs(ka[:, :2] - kb[:, :2]).max()))
        max_dscore = max(max_dscore, float(np.abs(ka[:, 2] - kb[:, 2]).max()))
        if box_iou(px["poses"][0]["bbox"], py["poses"][0]["bbox"]) < SAME_PERSON_IOU:
            continue
        same_person += 1
        both = (ka[:, 2] > CONFIDENT) & (kb[:, 2] > CONFIDENT)
        scale = input_px / max(px["width"], px["height"])  # frame → model input (letterboxed square)
        d = np.linalg.norm((ka[:, :2] - kb[:, :2]) * [px["width"], px["height"]] * scale, axis=1)
        distances += d[both].tolist()
    return {
        "frames": len(arm),
        "ref_frames": len(ref),
        "same_count_frames": sum(len(x["payload"]["poses"]) == len(y["payload"]["poses"]) for x, y in frames),
        "identical": identical,
        "first_different_frame": first,
        "same_person_frames": same_person,
        "keypoints": len(distances),
        "median_px": float(np.median(distances)) if distances else None,
        "p90_px": float(np.percentile(distances, 90)) if distances else None,
        "max_px": max(distances, default=None),
        "max_dxy": max_dxy,
        "max_dscore": max_dscore,
    }


def people_difference(arm: list[dict[str, Any]], ref: list[dict[str, Any]], input_px: int) -> dict[str, Any]:
    """How far a multi-person replay is from the x86 one, person by person: in each frame every arm64
    pose is matched to the x86 pose with the largest box IoU (>= SAME_PERSON_IOU, each used once);
    the matched share of all person-frames, and the median / p90 / max distance in model-input pixels of
    the keypoints both score above CONFIDENT, with the share of them that are exactly equal."""
    matched = union = 0
    distances: list[float] = []
    for x, y in zip(arm, ref, strict=False):
        px, py = x["payload"], y["payload"]
        scale = input_px / max(px["width"], px["height"])
        free = list(py["poses"])
        found = 0
        for pose in px["poses"]:
            best = max(free, key=lambda q: box_iou(pose["bbox"], q["bbox"]), default=None)
            if best is None or box_iou(pose["bbox"], best["bbox"]) < SAME_PERSON_IOU:
                continue
            free.remove(best)
            found += 1
            ka, kb = np.array(pose["keypoints"]), np.array(best["keypoints"])
            both = (ka[:, 2] > CONFIDENT) & (kb[:, 2] > CONFIDENT)
            d = np.linalg.norm((ka[:, :2] - kb[:, :2]) * [px["width"], px["height"]] * scale, axis=1)
            distances += d[both].tolist()
        matched += found
        union += len(px["poses"]) + len(py["poses"]) - found
    return {
        "matched_people": matched,
        "people": union,
        "matched_share": matched / union if union else None,
        "keypoints": len(distances),
        "median_px": float(np.median(distances)) if distances else None,
        "p90_px": float(np.percentile(distances, 90)) if distances else None,
        "max_px": max(distances, default=None),
        "exact_share": sum(d == 0.0 for d in distances) / len(distances) if distances else None,
    }


def manifest_entry(model: str) -> dict[str, Any]:
    entry: dict[str, Any] = next(
        e for e in json.loads((REPO / "models/manifest.json").read_text())["models"] if e["name"] == model
    )
    return entry


def input_size(model: str) -> int:
    """The model's square input side in pixels (from the manifest)."""
    return int(manifest_entry(model)["input"]["shape"][1])


def multi_person(model: str) -> bool:
    """Whether `model` follows several people (compared person by person, not bit for bit)."""
    return manifest_entry(model)["family"] in MULTI_PERSON_FAMILIES


def compare_replay(arm: list[dict[str, Any]], ref: list[dict[str, Any]], model: str) -> dict[str, Any]:
    """replay_difference, and people_difference for a multi-person model."""
    diff = replay_difference(arm, ref, input_size(model))
    if multi_person(model):
        diff["people"] = people_difference(arm, ref, input_size(model))
    return diff


def summarise(
    results: dict[tuple[str, str], ComboResult],
    x86: dict[str, dict[str, Any]],
    installs: dict[str, Install],
    arm: Arm64Root,
) -> dict[str, Any]:
    """A table-ready summary (docs/platforms.md) of every pair."""
    rows = []
    for (core, runtime), r in sorted(results.items()):
        outputs_path = arm.host_path(GUEST / "out" / f"{core}-{runtime}.npz")
        identical_outputs = None
        if outputs_path.is_file():
            mine = dict(np.load(outputs_path))
            ref = x86[runtime]["outputs"]
            models = {k.split("/")[0] for k in ref}
            identical_outputs = sorted(
                m for m in models
                if all(k in mine and np.array_equal(mine[k], ref[k]) for k in ref if k.split("/")[0] == m)
            )  # fmt: skip
        replays = {
            model: compare_replay(
                read_jsonl(arm.host_path(GUEST / "out" / f"{core}-{runtime}-{model}.jsonl")),
                x86[runtime]["replays"][model], model)
            for model in MODELS
        }  # fmt: skip
        rows.append({
            "core": core,
            "runtime": runtime,
            "models_ok": sum(bool(rec.get("ok")) for rec in r.invoke_records),
            "models_bit_identical_to_x86": identical_outputs,
            "replays": replays,
            "run_exit": r.run.returncode if r.run else None,
            "run_pose_messages": sum(t.endswith("/pose") for t, _ in r.run_messages),
            "seconds": round(r.seconds),
            "cpu_seconds": round(sum(st.cpu_seconds for st in r.steps())),
            "step_seconds": {
                "invoke": round(r.invoke.seconds) if r.invoke else None,
                "invoke_cpu": round(r.invoke.cpu_seconds) if r.invoke else None,
                **{f"replay_{m}": round(step.seconds) for m, step in r.replays.items()},
                "run": round(r.run.seconds) if r.run else None,
            },
        })  # fmt: skip
    versions = {rt: [line for line in i.freeze if line.lower().startswith(("ai-edge", "tflite", "numpy", "opencv"))]
                for rt, i in installs.items()}  # fmt: skip
    return {"versions": versions, "rows": rows}


# --- tests ----------------------------------------------------------------------------------------------


def test_wheel_installs_without_backtracking(installs: dict[str, Install]) -> None:
    for install in installs.values():
        assert BACKTRACKING not in install.step.output, install.step.describe()
    assert any(line.startswith("tflite-runtime==2.14.0") for line in installs["tflite"].freeze)
    numpy_line = next(line for line in installs["tflite"].freeze if line.lower().startswith("numpy=="))
    assert numpy_line.split("==")[1].startswith("1."), numpy_line


@pytest.mark.parametrize(("core", "runtime"), COMBOS)
def test_every_model_loads_and_invokes(
    arm64: dict[tuple[str, str], ComboResult], core: str, runtime: str
) -> None:
    r = arm64[core, runtime]
    assert r.invoke is not None and r.invoke.returncode == 0, r.invoke.describe() if r.invoke else "not run"
    assert CPUINFO_ERROR not in r.invoke.output, r.invoke.describe()
    manifest = json.loads((REPO / "models" / "manifest.json").read_text())
    assert sorted(rec["model"] for rec in r.invoke_records) == sorted(e["name"] for e in manifest["models"])
    bad = [rec for rec in r.invoke_records if not rec["ok"] or rec["runtime"] != runtime]
    assert bad == [], bad


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(("core", "runtime"), COMBOS)
def test_replay_matches_x86(
    arm64: dict[tuple[str, str], ComboResult],
    x86: dict[str, dict[str, Any]],
    arm64_root: Arm64Root,
    core: str,
    runtime: str,
    model: str,
) -> None:
    step = arm64[core, runtime].replays[model]
    assert step.returncode == 0, step.describe()
    assert CPUINFO_ERROR not in step.output and XNNPACK in step.output, step.describe()
    mine = read_jsonl(arm64_root.host_path(GUEST / "out" / f"{core}-{runtime}-{model}.jsonl"))
    diff = compare_replay(mine, x86[runtime]["replays"][model], model)
    assert diff["frames"] == diff["ref_frames"] == FRAMES, diff
    if multi_person(model):  # person by person (see MULTI_PERSON_FAMILIES)
        people = diff["people"]
        assert people["matched_share"] >= MIN_MATCHED_PEOPLE, people
        assert people["keypoints"] >= 5 * people["matched_people"], people
        assert people["median_px"] <= TFLITE_MEDIAN_PX, people
    elif runtime == "litert":  # every keypoint, score, box and track id the same
        assert diff["identical"], diff
    else:
        assert diff["same_count_frames"] == FRAMES, diff
        assert diff["same_person_frames"] >= MIN_SAME_PERSON * FRAMES, diff
        assert diff["keypoints"] >= 5 * diff["same_person_frames"], (
            diff
        )  # enough confident keypoints to judge
        assert diff["median_px"] <= TFLITE_MEDIAN_PX, diff


@pytest.mark.parametrize(("core", "runtime"), COMBOS)
def test_check_config(arm64: dict[tuple[str, str], ComboResult], core: str, runtime: str) -> None:
    r = arm64[core, runtime]
    assert r.check_good is not None and r.check_good.returncode == 0, (
        r.check_good.describe() if r.check_good else ""
    )
    assert r.check_bad is not None and r.check_bad.returncode == 78, (
        r.check_bad.describe() if r.check_bad else ""
    )
    assert "model.nmae" in r.check_bad.output, r.check_bad.output


@pytest.mark.parametrize(("core", "runtime"), COMBOS)
def test_short_run_publishes_to_the_broker(
    arm64: dict[tuple[str, str], ComboResult], core: str, runtime: str
) -> None:
    r = arm64[core, runtime]
    assert r.run is not None and r.run.returncode == 0, r.run.describe() if r.run else "not run"
    poses = [json.loads(p) for t, p in r.run_messages if t.endswith("/pose")]
    statuses = [p.decode() for t, p in r.run_messages if t.endswith("/status")]
    assert len(poses) >= 3, (len(poses), r.run.output[-3000:])
    assert any(p["poses"] for p in poses), poses[:3]  # people walk through the whole demo clip
    assert "online" in statuses and statuses[-1] == "stopped", statuses
