"""Per-track keypoint sequences of a clip, computed once and cached: the pose estimator (a parameter)
runs over every frame of a clip — optionally at a lower frame rate, with the last frame held for a
while, or with the image shrunk so people are small — and what it returns per frame (track ids,
COCO-17 keypoints, scores, boxes) is kept in an `.npz` file under the cache folder.

The cache key names the model and the settings, plus a digest of the front-end's source code
(`edge/pose`, `edge/track`, `edge/filters`) and the model file: a changed estimator re-extracts."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from edge.capture.media_file import probe, read_frames
from edge.layouts import to_coco17
from edge.pose.registry import PoseEstimator, model_parts
from edge.types import Frame, Image, Pose

logger = logging.getLogger(__name__)

FRONT_END_PACKAGES = ("pose", "track", "filters")  # the code whose output the cache holds
CACHE_VERSION = 2  # 2: the pose origin (the front-end's crop / discovery / coast) is kept
STILL_FPS = 5.0  # a still is a camera watching a motionless scene (as eval-events feeds it)


@dataclass(frozen=True, slots=True)
class ExtractSettings:
    """How a clip is fed to the estimator. `max_fps` 0 feeds every frame; otherwise frames are dropped
    so the estimator sees at most that rate (a Pi following several people). `hold_s`: the last frame
    is fed again for this long at the clip's rate (the person stays on the floor after the clip ends).
    `scale` < 1 shrinks each image about its centre onto a black frame of the same size (people small
    in the frame)."""

    max_fps: float = 0.0
    hold_s: float = 5.0
    still_hold_s: float = 7.0
    scale: float = 1.0

    def tag(self) -> str:
        """A short readable name for cache folders and reports."""
        fps = "all" if self.max_fps <= 0 else f"{self.max_fps:g}fps"
        return f"{fps}-hold{self.hold_s:g}-x{self.scale:g}"


@dataclass(slots=True)
class TrackedSequence:
    """What an estimator returned over one clip: one row per frame fed (`ts`, `frame`, `held`) and one
    row per pose (`pose_row` indexes the frame rows)."""

    name: str
    width: int
    height: int
    fps: float  # the clip's own frame rate
    ts: NDArray[np.float64]
    frame: NDArray[np.int32]  # the clip's frame index (held frames continue the count)
    held: NDArray[np.bool_]  # fed after the clip ended (its last frame repeated)
    pose_row: NDArray[np.int32]
    track: NDArray[np.int32]
    keypoints: NDArray[np.float32]  # (poses, 17, 3): x, y normalised to the frame, score
    score: NDArray[np.float32]
    bbox: NDArray[np.float32]  # (poses, 4): x0, y0, x1, y1 normalised
    origin: NDArray[np.str_]  # (poses,): Pose.origin ("model"; the front-end's "crop", "discovery", "coast")

    def frames(self, include_held: bool = True) -> Iterator[tuple[int, float, int, list[Pose]]]:
        """(row, ts, frame index, poses) per frame fed, in order."""
        starts = np.searchsorted(self.pose_row, np.arange(len(self.ts) + 1))
        for row in range(len(self.ts)):
            if self.held[row] and not include_held:
                return
            lo, hi = int(starts[row]), int(starts[row + 1])
            poses = [
                Pose(
                    keypoints=self.keypoints[i],
                    score=float(self.score[i]),
                    layout="coco17",
                    track_id=int(self.track[i]),
                    bbox=(
                        float(self.bbox[i, 0]),
                        float(self.bbox[i, 1]),
                        float(self.bbox[i, 2]),
                        float(self.bbox[i, 3]),
                    ),
                    origin=str(self.origin[i]),
                )
                for i in range(lo, hi)
            ]
            yield row, float(self.ts[row]), int(self.frame[row]), poses

    def save(self, path: Path) -> None:
        """Write the sequence as a compressed `.npz` (atomically)."""
        tmp = path.with_suffix(".tmp.npz")
        meta = json.dumps({"name": self.name, "width": self.width, "height": self.height, "fps": self.fps})
        np.savez_compressed(
            tmp,
            meta=np.array(meta),
            ts=self.ts,
            frame=self.frame,
            held=self.held,
            pose_row=self.pose_row,
            track=self.track,
            keypoints=self.keypoints,
            score=self.score,
            bbox=self.bbox,
            origin=self.origin,
        )
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> TrackedSequence:
        """Read a sequence written by `save`."""
        with np.load(path) as z:
            meta = json.loads(str(z["meta"]))
            return cls(
                name=meta["name"],
                width=int(meta["width"]),
                height=int(meta["height"]),
                fps=float(meta["fps"]),
                ts=z["ts"],
                frame=z["frame"],
                held=z["held"],
                pose_row=z["pose_row"],
                track=z["track"],
                keypoints=z["keypoints"],
                score=z["score"],
                bbox=z["bbox"],
                origin=z["origin"],
            )


def _shrunk(image: Image, scale: float, canvas: Image) -> Image:
    h, w = image.shape[:2]
    sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
    canvas[:] = 0
    x0, y0 = (w - sw) // 2, (h - sh) // 2
    canvas[y0 : y0 + sh, x0 : x0 + sw] = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA)
    return canvas


def fed_frames(path: Path, settings: ExtractSettings) -> Iterator[tuple[Frame, bool]]:
    """The frames the estimator sees, with a flag for held (repeated last) frames."""
    info = probe(str(path))
    if info.is_still:
        frame = next(read_frames(info))
        for i in range(max(1, round(settings.still_hold_s * STILL_FPS))):
            yield Frame(frame.image, round(i * 1e9 / STILL_FPS), frame.source, i), i > 0
        return
    step = 0.0 if settings.max_fps <= 0 else 1.0 / settings.max_fps
    next_ts = 0.0
    canvas: Image | None = None
    last: Frame | None = None

    def keep(ts: float) -> bool:
        nonlocal next_ts
        if step == 0.0 or ts + 1e-9 >= next_ts:
            next_ts = max(next_ts + step, ts)
            return True
        return False

    for frame in read_frames(info):
        if settings.scale != 1.0:
            canvas = np.zeros_like(frame.image) if canvas is None else canvas
            frame = Frame(
                _shrunk(frame.image, settings.scale, canvas).copy(),
                frame.timestamp_ns,
                frame.source,
                frame.index,
            )
        last = frame
        if keep(frame.ts):
            yield frame, False
    if last is None:
        return
    for i in range(last.index + 1, last.index + 1 + round(settings.hold_s * info.fps)):
        ts_ns = round(i * 1e9 / info.fps)
        if keep(ts_ns / 1e9):
            yield Frame(last.image, ts_ns, last.source, i), True


def extract(estimator: PoseEstimator, path: Path, settings: ExtractSettings) -> TrackedSequence:
    """Run `estimator` (reset first) over the clip or still at `path`."""
    estimator.reset()
    ts: list[float] = []
    frames: list[int] = []
    held: list[bool] = []
    rows: list[int] = []
    tracks: list[int] = []
    kps: list[NDArray[np.float32]] = []
    scores: list[float] = []
    boxes: list[tuple[float, float, float, float]] = []
    origins: list[str] = []
    width = height = 0
    for frame, is_held in fed_frames(path, settings):
        width, height = frame.width, frame.height
        for pose in estimator.estimate(frame):
            rows.append(len(ts))
            tracks.append(-1 if pose.track_id is None else pose.track_id)
            kps.append(pose.keypoints[list(to_coco17(pose.layout))].astype(np.float32))
            scores.append(pose.score)
            boxes.append(pose.bbox)
            origins.append(pose.origin)
        ts.append(frame.ts)
        frames.append(frame.index)
        held.append(is_held)
    info = probe(str(path))
    return TrackedSequence(
        name=path.name,
        width=width,
        height=height,
        fps=info.fps or STILL_FPS,
        ts=np.array(ts, dtype=np.float64),
        frame=np.array(frames, dtype=np.int32),
        held=np.array(held, dtype=np.bool_),
        pose_row=np.array(rows, dtype=np.int32),
        track=np.array(tracks, dtype=np.int32),
        keypoints=np.array(kps, dtype=np.float32).reshape(-1, 17, 3),
        score=np.array(scores, dtype=np.float32),
        bbox=np.array(boxes, dtype=np.float32).reshape(-1, 4),
        origin=np.array(origins, dtype=np.str_).reshape(-1),
    )


def model_files(model: str) -> list[Path]:
    """The files the estimator `model` runs (edge.pose.registry.model_parts: its own and, for a
    two-stage family such as the multi-person front-end, its detector's)."""
    return [spec.path for spec in model_parts(model)]


def front_end_digest(model_files: Path | Sequence[Path]) -> str:
    """sha256 (12 hex digits) over the front-end's source files and the model file(s) (the multi-person
    front-end runs two: its refiner's and its detector's)."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256(f"v{CACHE_VERSION}".encode())
    for package in FRONT_END_PACKAGES:
        for source in sorted((root / package).glob("*.py")):
            h.update(source.name.encode())
            h.update(source.read_bytes())
    for model_file in [model_files] if isinstance(model_files, Path) else model_files:
        with model_file.open("rb") as fh:
            h.update(hashlib.file_digest(fh, "sha256").digest())
    return h.hexdigest()[:12]


class TrackCache:
    """Sequences of one estimator and settings under `root/<model>-<settings>-<digest>/`."""

    def __init__(
        self,
        root: Path,
        model: str,
        settings: ExtractSettings,
        make_estimator: Callable[[], PoseEstimator],
        model_file: Path | Sequence[Path],
    ) -> None:
        self.model = model
        self.settings = settings
        self.folder = root / f"{model}-{settings.tag()}-{front_end_digest(model_file)}"
        self._make_estimator = make_estimator
        self._estimator: PoseEstimator | None = None

    def path_of(self, clip: Path) -> Path:
        """Where the sequence of `clip` is (or will be) stored."""
        return self.folder / f"{clip.name}.npz"

    def get(self, clip: Path) -> TrackedSequence:
        """The cached sequence of `clip`, extracting it first if needed."""
        path = self.path_of(clip)
        if path.is_file():
            return TrackedSequence.load(path)
        if self._estimator is None:
            self._estimator = self._make_estimator()
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "settings.json").write_text(
            json.dumps({"model": self.model, **asdict(self.settings)}, indent=1) + "\n"
        )
        logger.info("extracting %s with %s (%s)", clip.name, self.model, self.settings.tag())
        sequence = extract(self._estimator, clip, self.settings)
        sequence.save(path)
        return sequence
