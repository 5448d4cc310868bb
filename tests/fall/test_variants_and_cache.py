"""The evaluation harness: the clip catalogue and its folds, the keypoint cache (extracted once, read
back identically, keyed by the front-end), and the hard-case variants of a real sequence."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge.eval import variants
from edge.eval.fall_clips import Clip, folds
from edge.eval.track_cache import ExtractSettings, TrackCache, TrackedSequence, fed_frames
from edge.pose.registry import DEFAULT_MODEL

SHORT_FALL = "urfd_fall-08-cam0_rgb.mp4"  # 91 frames, 30 fps: seated man falls off a chair


def test_catalogue_and_folds_never_mix_train_and_test(fall_clips: dict[str, Clip]) -> None:
    clips = list(fall_clips.values())
    assert len(clips) == 115 and sum(c.is_fall for c in clips) == 63
    fs = folds(clips)
    assert [f.name for f in fs] == [
        "test URFD", "test UP-Fall", "test Le2i",
        "test Le2i coffeeroom", "test Le2i home", "test Le2i lectureroom", "test Le2i office",
    ]  # fmt: skip
    for f in fs:
        assert f.test and not set(f.test) & set(f.train)
        assert set(f.test) | set(f.train) == {c.name for c in clips}
    for c in clips:
        if c.is_fall:
            assert (
                c.fall_start is not None and c.fall_end is not None and c.fall_start <= c.fall_end < c.frames
            )


def test_cache_extracts_once_and_reads_back(track_cache: TrackCache, fall_clips: dict[str, Clip]) -> None:
    clip = fall_clips[SHORT_FALL]
    first = track_cache.get(clip.path)
    stored = track_cache.path_of(clip.path)
    assert stored.is_file() and track_cache.folder.name.startswith(f"{DEFAULT_MODEL}-all-hold5-x1-")
    again = TrackedSequence.load(stored)
    for name in ("ts", "frame", "held", "pose_row", "track", "keypoints", "score", "bbox", "origin"):
        assert np.array_equal(getattr(first, name), getattr(again, name)), name
    assert set(first.origin.tolist()) <= {"crop", "discovery", "coast"}  # the front-end says how it measured
    # the clip's 91 frames, then its last frame held 5 s at 30 fps
    assert int((~first.held).sum()) == clip.frames and int(first.held.sum()) == 150
    assert len(first.track) >= 0.8 * len(first.ts)  # the person is followed in most frames


def test_five_fps_drops_frames_before_the_estimator(fall_clips: dict[str, Clip]) -> None:
    clip = fall_clips[SHORT_FALL]
    fed = list(fed_frames(clip.path, ExtractSettings(max_fps=5.0, hold_s=0.0)))
    ts = np.array([f.ts for f, _ in fed])
    assert len(fed) == 16 and np.allclose(np.diff(ts), 0.2, atol=0.034)


def test_variants(track_cache: TrackCache, fall_clips: dict[str, Clip]) -> None:
    seq = track_cache.get(fall_clips[SHORT_FALL].path)
    lost = variants.track_lost(seq, 1.0, 0.4)
    pose_ts = lost.ts[lost.pose_row]
    assert not ((pose_ts >= 1.0) & (pose_ts < 1.4)).any()
    assert set(lost.track[pose_ts >= 1.4].tolist()) == {
        t + variants.NEW_ID_OFFSET for t in set(seq.track.tolist())
    }
    occluded = variants.legs_occluded(seq)
    hip_y = seq.keypoints[:, 11:13, 1].mean(axis=1, keepdims=True)
    below = seq.keypoints[:, 15:17, 1] > hip_y + 0.02  # ankles below the hips: hidden
    assert below.any() and (occluded.keypoints[:, 15:17, 2][below] == 0).all()
    assert np.array_equal(occluded.keypoints[:, 15:17, 2][~below], seq.keypoints[:, 15:17, 2][~below])
    bumped = variants.bumped(seq, 1.0, 0.1, 0.0, 0.0)
    later = seq.ts[seq.pose_row] >= 1.0
    assert np.allclose(bumped.keypoints[later, :, 0], seq.keypoints[later, :, 0] + 0.1, atol=1e-5)
    frozen = variants.frozen(seq, 1.0, 1.0)
    row = int(np.searchsorted(seq.ts, 1.0))
    same = frozen.keypoints[frozen.pose_row == row + 10]
    assert len(same) and np.array_equal(same, seq.keypoints[seq.pose_row == row])
    stalled = variants.stalled(seq, 1.0, 1.0)
    assert len(stalled.ts) == len(seq.ts) - 30
    cut = variants.cut(seq, seq, 1.0, 2.0)
    assert np.all(np.diff(cut.ts) > 0) and cut.name == f"{seq.name}+{seq.name}"


def test_cache_key_names_the_settings(tmp_path: Path) -> None:
    from edge.pose.manifest import find_model

    spec = find_model("movenet_lightning")
    a = TrackCache(tmp_path, "movenet_lightning", ExtractSettings(), lambda: None, spec.path)  # type: ignore[arg-type,return-value]
    b = TrackCache(tmp_path, "movenet_lightning", ExtractSettings(max_fps=5.0), lambda: None, spec.path)  # type: ignore[arg-type,return-value]
    assert a.folder != b.folder and "5fps" in b.folder.name
