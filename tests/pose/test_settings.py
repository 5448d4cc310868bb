"""One source of settings: the daemon, replay, bench and eval-events build every model family's settings
from the same `PoseConfig`, whose defaults are the only defaults; what does not apply to the chosen
family is refused (a config section: exit 78; a flag: exit 64), never ignored."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from edge.commands.pipeline_options import add_pipeline_options, pipeline_choice
from edge.config import load_config
from edge.errors import EX_CONFIG, EX_USAGE
from edge.filters.one_euro import OneEuroParams
from edge.pose.fallback import FallbackEstimator
from edge.pose.manifest import load_manifest
from edge.pose.registry import create_estimator, load_estimator
from edge.pose.settings import PoseConfig
from edge.service.daemon import Daemon

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "demo" / "vtest_excerpt.mp4"


def options(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_pipeline_options(parser)
    return parser.parse_args(list(argv))


def write(path: Path, config: dict[str, object]) -> str:
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_the_filter_constants_have_no_second_default() -> None:
    """The One Euro class carries constants, it does not choose them: a default there would be a second
    source next to edge/pose/settings.py (the bug of issue 18: 2.5/300 in the daemon, 2.0/20 in replay)."""
    with pytest.raises(TypeError):
        OneEuroParams()  # type: ignore[call-arg]


def test_daemon_and_replay_build_the_same_settings_from_the_same_config(tmp_path: Path) -> None:
    """The daemon's estimator gets config.pose; `replay --config` gets the very same object, and without a
    config both fall back to PoseConfig(), the one set of defaults."""
    tuned = {"movenet_singlepose": {"crop_alpha": 0.8, "keypoint_filter": {"beta": 7.0}}}
    path = write(
        tmp_path / "c.yaml",
        {
            "device": {"id": "cam"},
            "camera": {"source": f"file:{DEMO}"},
            "model": {"name": "movenet_lightning"},  # single-pose, its own fallback: no guard around it
            "pose": tuned,
            "mqtt": {"enabled": False},
        },
    )
    loaded = load_config(path)
    daemon = Daemon(loaded)
    estimator = daemon._load_estimator().inner
    assert not isinstance(estimator, FallbackEstimator)  # model and fallback are both movenet_lightning
    used = estimator.settings  # type: ignore[attr-defined]
    assert used == loaded.config.pose.movenet_singlepose
    assert used.keypoint_filter.beta == 7.0 and used.keypoint_filter.min_cutoff_hz == 2.0
    assert pipeline_choice(options("--config", path)).pose == loaded.config.pose
    assert pipeline_choice(options()).pose == PoseConfig()
    untuned = write(tmp_path / "d.yaml", {"device": {"id": "cam"}, "camera": {"source": f"file:{DEMO}"}})
    assert load_config(untuned).config.pose == PoseConfig()


@pytest.mark.parametrize(
    "name", sorted(n for n, s in load_manifest(REPO / "models").items() if s.family != "blazepose_detector")
)
def test_every_family_takes_its_section_of_the_pose_config(name: str) -> None:
    """Each estimator runs with exactly its family's section (a tuned value reaches it)."""
    family = load_manifest(REPO / "models")[name].family
    section = PoseConfig().for_family(family)
    tuned = section.model_copy(update={"filter": False})
    pose = PoseConfig().model_copy(update={family: tuned})
    estimator = load_estimator(name, threads=1, pose=pose)
    assert estimator.settings == tuned  # type: ignore[attr-defined]


def test_flags_apply_to_the_model_and_its_fallback() -> None:
    choice = pipeline_choice(options("--model", "movenet_multipose", "--no-filter"))
    assert not choice.pose.movenet_multipose.filter
    assert not choice.pose.movenet_singlepose.filter  # the fallback (movenet_lightning) runs unfiltered too
    choice = pipeline_choice(options("--model", "movenet_lightning", "--no-smart-crop"))
    assert not choice.pose.movenet_singlepose.smart_crop and choice.pose.movenet_singlepose.filter
    choice = pipeline_choice(options("--no-filter"))  # the default: the front-end, Lightning its fallback
    assert not choice.pose.multi_person.filter and not choice.pose.movenet_singlepose.filter


@pytest.mark.parametrize(
    "model", ["posenet", "movenet_multipose", "blazepose_lite", "movenet_lightning_multi"]
)
def test_a_flag_for_another_family_is_refused_naming_flag_model_and_family(
    tmp_path: Path, model: str
) -> None:
    out = tmp_path / "o.jsonl"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "edge",
            "replay",
            str(DEMO),
            "--out",
            str(out),
            "--model",
            model,
            "--no-smart-crop",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == EX_USAGE, result.stderr
    assert f"--no-smart-crop: does not apply to model {model!r}" in result.stderr
    assert "model family" in result.stderr and "smart_crop" in result.stderr
    assert not out.exists()


def test_a_config_section_for_another_family_is_refused_by_run_and_replay(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.yaml",
        {
            "device": {"id": "cam"},
            "camera": {"source": f"file:{DEMO}", "loop": False, "realtime": False},
            "model": {"name": "movenet_thunder"},
            "pose": {"movenet_multipose": {"min_tracked_score": 0.2}},
            "mqtt": {"enabled": False},
        },
    )
    for argv in (
        ["run", "--config", path],
        ["replay", str(DEMO), "--config", path, "--out", str(tmp_path / "o")],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "edge", *argv], capture_output=True, text=True, timeout=120
        )
        assert result.returncode == EX_CONFIG, result.stderr
        assert (
            f"{path}: pose.movenet_multipose: settings for model family 'movenet_multipose'" in result.stderr
        )
        assert "model.name 'movenet_thunder' is movenet_singlepose" in result.stderr


def test_create_estimator_defaults_are_the_config_defaults() -> None:
    """No settings given anywhere: the estimator runs PoseConfig()'s values (what check-config --show prints)."""
    estimator = create_estimator("movenet_lightning", threads=1, fallback=None)
    assert estimator.settings == PoseConfig().movenet_singlepose  # type: ignore[attr-defined]
