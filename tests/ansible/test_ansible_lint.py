"""The playbook and roles pass yamllint and ansible-lint's production profile (STYLE.md principle 13)."""

from __future__ import annotations

import subprocess

from ansible_harness import ANSIBLE_DIR, ansible_env, ansible_tool


def test_yamllint_is_clean() -> None:
    proc = subprocess.run(
        [str(ansible_tool("yamllint")), "--strict", "-c", ".yamllint", "."],
        cwd=ANSIBLE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ansible_lint_production_profile_is_clean() -> None:
    proc = subprocess.run(
        [str(ansible_tool("ansible-lint")), "--profile", "production", "--strict", "--offline", "--nocolor"],
        cwd=ANSIBLE_DIR,
        env=ansible_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "production" in proc.stdout + proc.stderr  # the profile it reports having met
