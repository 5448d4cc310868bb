"""Calibration / agreement images: real photos of people from Debian's opencv-doc package.

Input: the directory the .deb was unpacked into (`dpkg-deb -x`). Every source file is checked
against models/sources.json. Output: uint8 RGB arrays [N, S, S, 3], letterboxed (aspect kept,
black padding), for the representative dataset and for the INT8-vs-float checks.
Needs only numpy and OpenCV (cv2), so it runs in the converter venv and the runtime venvs.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from sources import SOURCES, sha256_file

DATA_DIR = "usr/share/doc/opencv-doc/examples/data"
STILLS = ("messi5.jpg", "basketball1.png", "basketball2.png")
VIDEO = "vtest.avi"  # pedestrians seen from above, 768x576, 795 frames
VIDEO_FRAMES = 8  # evenly spaced frames taken from VIDEO
# Square crops per image, as fractions of the short side, placed left / centre / right
# (or top / centre / bottom) along the long side: bring small people closer to model scale.
CROP_FRACTIONS = (1.0, 0.6)


def checked_path(deb_root: Path, name: str) -> Path:
    """Path of `name` under the unpacked opencv-doc, after checking its pinned sha256."""
    pins = SOURCES["deb"]["opencv-doc"]["files"]
    rel = f"{DATA_DIR}/{name}"
    path = deb_root / rel
    got = sha256_file(path)
    if got != pins[rel]:
        raise ValueError(f"{path}: sha256 {got} != pinned {pins[rel]}")
    return path


def letterbox(rgb: np.ndarray, size: int) -> np.ndarray:
    """Resize keeping the aspect ratio into a size x size black square, centred."""
    h, w = rgb.shape[:2]
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    resized = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA)
    out = np.zeros((size, size, 3), np.uint8)
    top, left = (size - nh) // 2, (size - nw) // 2
    out[top : top + nh, left : left + nw] = resized
    return out


def _square_crops(rgb: np.ndarray) -> list[np.ndarray]:
    """The whole image plus square crops along its long side (see CROP_FRACTIONS)."""
    h, w = rgb.shape[:2]
    crops = [rgb]
    short = min(h, w)
    for frac in CROP_FRACTIONS:
        side = int(short * frac)
        for pos in (0.0, 0.5, 1.0):
            y = int((h - side) * (pos if h > w else 0.5))
            x = int((w - side) * (pos if w >= h else 0.5))
            crops.append(rgb[y : y + side, x : x + side])
    return crops


def source_images(deb_root: Path) -> list[tuple[str, np.ndarray]]:
    """(label, RGB image) for every still and every sampled video frame."""
    images = []
    for name in STILLS:
        bgr = cv2.imread(str(checked_path(deb_root, name)), cv2.IMREAD_COLOR)
        images.append((name, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
    cap = cv2.VideoCapture(str(checked_path(deb_root, VIDEO)))
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    for i in np.linspace(0, count - 1, VIDEO_FRAMES, dtype=int):
        cap.set(cv2.CAP_PROP_POS_FRAMES, int(i))
        ok, bgr = cap.read()
        if not ok:
            raise ValueError(f"{VIDEO}: cannot read frame {i}")
        images.append((f"{VIDEO}#{i}", cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
    cap.release()
    return images


def calibration_set(deb_root: Path, size: int) -> np.ndarray:
    """uint8 [N, size, size, 3]: each image, its square crops, and their mirror images."""
    samples = []
    for _, rgb in source_images(deb_root):
        for crop in _square_crops(rgb):
            boxed = letterbox(crop, size)
            samples.append(boxed)
            samples.append(boxed[:, ::-1].copy())
    return np.stack(samples)


def agreement_set(deb_root: Path, size: int) -> np.ndarray:
    """uint8 [N, size, size, 3]: the stills whole and centre-cropped, plus the video frames whole."""
    samples = []
    for label, rgb in source_images(deb_root):
        crops = _square_crops(rgb)
        chosen = [crops[0]] if label.startswith(VIDEO) else [crops[0], crops[2], crops[5]]
        samples.extend(letterbox(c, size) for c in chosen)
    return np.stack(samples)


def describe(deb_root: Path, size: int) -> str:
    """The manifest's "calibration" string."""
    version = SOURCES["deb"]["opencv-doc"]["version"]
    n = len(calibration_set(deb_root, size))
    return (
        f"opencv-doc {version} people images ({', '.join(STILLS)}, {VIDEO_FRAMES} frames of "
        f"{VIDEO}), crops and mirror images letterboxed to {size}x{size}, {n} samples"
    )


def square_crop(rgb: np.ndarray, cx: float, cy: float, side: float, size: int) -> np.ndarray:
    """An axis-aligned side x side square centred on (cx, cy), black outside the image, resized."""
    scale = size / side
    matrix = np.float32([[scale, 0, size / 2 - cx * scale], [0, scale, size / 2 - cy * scale]])
    return cv2.warpAffine(
        rgb,
        matrix,
        (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )
