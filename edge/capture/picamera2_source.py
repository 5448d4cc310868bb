"""`picamera2` — the Raspberry Pi camera through libcamera's Python binding, imported lazily (it
exists only on Raspberry Pi OS, as the apt package python3-picamera2).

The ISP does the resizing: besides the main stream we configure a `lores` stream whose short side
is the model's input size, keeping the sensor's aspect ratio (squashing 4:3 or 16:9 into a square
would distort the people the model sees; the smart crop then picks the square itself). Lores is
YUV420 because Pi 4 and older cannot output RGB on it; it is converted to BGR with one cvtColor."""

from __future__ import annotations

import importlib
import logging
from typing import Any, cast

import cv2
import numpy as np

from edge.capture.frame_source import SourceError, SourceFrame
from edge.types import Image

logger = logging.getLogger(__name__)

DEFAULT_MAIN_SIZE = (1280, 720)  # picamera2's own video-configuration default
LORES_ALIGN = 2  # YUV420 needs even sizes; libcamera's align_configuration() may round further


def picamera2_module() -> Any:
    """The `picamera2` module; SourceError saying how to install it when it is absent."""
    try:
        return importlib.import_module("picamera2")
    except ImportError as exc:
        raise SourceError(
            f"picamera2 is not importable ({exc}); on Raspberry Pi OS: apt install python3-picamera2 "
            "and create the venv with --system-site-packages"
        ) from None


def lores_size(main: tuple[int, int], model_input: int) -> tuple[int, int]:
    """(width, height) of the lores stream: short side = `model_input`, main's aspect ratio, even."""
    width, height = main
    scale = model_input / min(width, height)

    def even(v: float) -> int:
        return max(LORES_ALIGN, round(v / LORES_ALIGN) * LORES_ALIGN)

    return even(width * scale), even(height * scale)


def i420_unpadded(buffer: np.ndarray[Any, np.dtype[np.uint8]], width: int, height: int) -> Image:
    """A (height*3/2, stride) I420 buffer as picamera2 returns it → a contiguous (height*3/2, width)
    one: each plane's rows are padded to the stride (the chroma planes to half of it)."""
    stride = buffer.shape[1]
    if stride == width:
        return cast(Image, np.ascontiguousarray(buffer[: height * 3 // 2]))
    luma = buffer[:height, :width]
    chroma = np.ascontiguousarray(buffer[height : height * 3 // 2]).reshape(-1)
    plane = (height // 2) * (stride // 2)
    u = chroma[:plane].reshape(height // 2, stride // 2)[:, : width // 2]
    v = chroma[plane : 2 * plane].reshape(height // 2, stride // 2)[:, : width // 2]
    flat = np.concatenate([luma.reshape(-1), u.reshape(-1), v.reshape(-1)])
    return cast(Image, flat.reshape(height * 3 // 2, width))


class Picamera2Source:
    """Camera `index` with a main stream of `main_size` and a lores stream for the model."""

    def __init__(
        self,
        index: int,
        model_input: int,
        main_size: tuple[int, int] | None = None,
        fps: float | None = None,
    ) -> None:
        self.index = index
        self.model_input = model_input
        self.main_size = main_size or DEFAULT_MAIN_SIZE
        self.fps = fps
        self.description = f"picamera2:{index}"
        self._camera: Any = None
        self._lores: tuple[int, int] = lores_size(self.main_size, model_input)

    @property
    def finished(self) -> bool:
        """Live cameras never finish."""
        return False

    def open(self) -> None:
        """Configure and start the camera; SourceError when it is absent or busy."""
        self.close()
        module = picamera2_module()
        try:
            camera = module.Picamera2(camera_num=self.index)
            controls = {"FrameRate": float(self.fps)} if self.fps else {}
            config = camera.create_video_configuration(
                main={"size": self.main_size},
                lores={"size": self._lores, "format": "YUV420"},
                controls=controls,
                buffer_count=2,  # little queueing: we want the newest frame
            )
            camera.align_configuration(config)
            camera.configure(config)
            camera.start()
            self._lores = tuple(config["lores"]["size"])
        except Exception as exc:  # libcamera raises RuntimeError/IndexError/OSError for a missing camera
            raise SourceError(f"{self.description}: cannot start camera: {exc}") from None
        self._camera = camera
        logger.info("%s: main %s, lores %s YUV420", self.description, self.main_size, self._lores)

    def read(self) -> SourceFrame | None:
        """The next lores frame as BGR, or None when the camera stopped delivering."""
        if self._camera is None:
            return None
        try:
            yuv = np.asarray(self._camera.capture_array("lores"), dtype=np.uint8)
        except Exception as exc:  # a camera unplugged or a pipeline error surfaces here
            logger.warning("%s: capture failed: %s", self.description, exc)
            return None
        width, height = self._lores
        bgr = cv2.cvtColor(i420_unpadded(yuv, width, height), cv2.COLOR_YUV2BGR_I420)
        return SourceFrame(image=cast(Image, bgr))

    def close(self) -> None:
        """Stop and release the camera."""
        camera, self._camera = self._camera, None
        if camera is not None:
            try:
                camera.stop()
                camera.close()
            except Exception as exc:  # closing a camera that vanished must not kill the daemon
                logger.debug("%s: close: %s", self.description, exc)
