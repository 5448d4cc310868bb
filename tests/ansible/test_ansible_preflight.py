"""A bad variable stops the play in the preflight checks, before anything on the camera changes: the
root filesystem's file list, sizes, modes and mtimes are identical before and after the failed run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from ansible_harness import (
    CAMERA,
    OTHER_CAMERA,
    free_port,
    run_playbook,
    scratch_dir,
    snapshot,
    write_inventory,
)


def failed_run(camera_root: Path, tls: Path, name: str, **variables: object) -> tuple[str, list[str]]:
    """Run site.yml for the camera alone with `variables` as extra vars; (output, paths that changed)."""
    base = scratch_dir(name)
    inventory = write_inventory(base / "inventory.yml", camera_root, Path("/nonexistent"), tls, free_port())
    # The play must stop before the wheel matters: a placeholder stands in and the build play is skipped.
    wheel_dir = base / "wheel"
    wheel_dir.mkdir()
    (wheel_dir / "edge_pose-0.0.0-py3-none-any.whl").write_bytes(b"placeholder")
    extra = {"edge_pose_wheel_dir": str(wheel_dir), **variables}
    before = snapshot(camera_root)
    run = run_playbook(
        inventory, "--limit", f"localhost,{CAMERA}", "--skip-tags", "build", "-e", json.dumps(extra)
    )
    after = snapshot(camera_root)
    assert run.returncode != 0, run.output[-4000:]
    assert run.recap[CAMERA]["failed"] == 1 and run.recap[CAMERA]["changed"] == 0, run.output[-4000:]
    shutil.rmtree(base, ignore_errors=True)
    # Ansible runs its modules from a scratch directory in /tmp and removes it: /tmp's own mtime moves,
    # nothing in it (or anywhere else) may.
    before["tmp"], after["tmp"] = before["tmp"][1:], after["tmp"][1:]
    differences = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    return run.output, differences


@pytest.mark.slow
def test_unknown_config_key_fails_before_any_change(pristine_camera: Path, tls_dir: Path) -> None:
    output, changed = failed_run(
        pristine_camera, tls_dir, "badkey", edge_pose_config_overrides={"mqtt": {"pose_max_rate": 2}}
    )
    # The daemon's own validator names the key, and the play says which camera.
    assert "mqtt.pose_max_rate: unknown key (did you mean 'pose_max_rate_hz'?)" in output, output[-4000:]
    assert f"{CAMERA}: the rendered config is invalid" in output
    assert changed == [], "the camera's root filesystem changed although the checks failed"


@pytest.mark.slow
def test_missing_tls_file_fails_before_any_change(pristine_camera: Path, tls_dir: Path) -> None:
    missing = tls_dir / "no-such-ca.crt"
    output, changed = failed_run(pristine_camera, tls_dir, "badtls", edge_pose_mqtt_tls_ca_file=str(missing))
    assert f"TLS file not found on the controller: {missing}" in output, output[-4000:]
    assert changed == [], "the camera's root filesystem changed although the checks failed"


@pytest.mark.slow
def test_model_not_in_manifest_fails_before_any_change(pristine_camera: Path, tls_dir: Path) -> None:
    output, changed = failed_run(pristine_camera, tls_dir, "badmodel", edge_pose_model_name="movenet_turbo")
    assert "edge_pose_model_name movenet_turbo" in output, output[-4000:]
    assert changed == []


@pytest.mark.slow
def test_a_failed_camera_stops_the_rollout_before_the_next_batch(
    pristine_camera: Path, tls_dir: Path
) -> None:
    """Two cameras, one per batch: the first has a bad variable, the second (a good one) is never touched."""
    base = scratch_dir("rolling")
    inventory = write_inventory(
        base / "inventory.yml",
        pristine_camera,
        Path("/nonexistent"),
        tls_dir,
        free_port(),
        camera_host_vars={"edge_pose_config_overrides": {"camera": {"fps": 500}}},
        other_camera_root=pristine_camera,
    )
    wheel_dir = base / "wheel"
    wheel_dir.mkdir()
    (wheel_dir / "edge_pose-0.0.0-py3-none-any.whl").write_bytes(b"placeholder")
    extra = {"edge_pose_wheel_dir": str(wheel_dir), "edge_pose_rollout_batch": 1}
    before = snapshot(pristine_camera)
    run = run_playbook(
        inventory,
        "--limit",
        f"localhost,{CAMERA},{OTHER_CAMERA}",
        "--skip-tags",
        "build",
        "-e",
        json.dumps(extra),
    )
    after = snapshot(pristine_camera)
    shutil.rmtree(base, ignore_errors=True)
    assert run.returncode != 0
    assert "camera.fps: input should be less than or equal to 120" in run.output, run.output[-4000:]
    assert run.recap[CAMERA]["failed"] == 1
    assert OTHER_CAMERA not in run.recap, run.output[-4000:]  # its batch never started
    before["tmp"], after["tmp"] = before["tmp"][1:], after["tmp"][1:]
    assert before == after


@pytest.mark.slow
def test_preview_off_the_loopback_without_a_password_fails_before_any_change(
    pristine_camera: Path, tls_dir: Path
) -> None:
    output, changed = failed_run(
        pristine_camera, tls_dir, "preview", edge_pose_preview_enabled=True, edge_pose_preview_host="0.0.0.0"
    )
    assert "edge_pose_preview_host 0.0.0.0 is not a loopback address" in output, output[-4000:]
    assert "needs edge_pose_preview_password" in output
    assert changed == []
