"""What the live view, `replay --annotate` and the snapshots draw with the multi-person front-end (the
default): every person's own crop box in their colour with their id, a coasting person marked as such,
and a `skeleton` snapshot of a crowd that holds no pixel of the camera image (the same picture over any
image, redrawn exactly from its own payload)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import jsonschema
import numpy as np
from preview_helpers import REPO

from edge.annotate import CROP_COLOUR, MIN_DRAW_SCORE, draw_regions, draw_scene, track_colour
from edge.capture.media_file import probe, read_frames
from edge.pose.multi_person import MultiPersonLightning
from edge.pose.registry import DEFAULT_MODEL, load_estimator
from edge.pose.settings import MultiPersonSettings, PoseConfig
from edge.pose.smart_crop import CropBox, CropRegion
from edge.preview.snapshot import SnapshotWorker, encode_jpeg, poses_from_payload, render_skeleton
from edge.publish.settings import SnapshotConfig
from edge.types import Frame, Pose

SCHEMA = json.loads((REPO / "edge" / "schemas" / "snapshot.json").read_text())
CROWD_CLIP = "opencv_samples/vtest.avi"  # 768×576, a street with up to seven people
TIGHT_BUDGET = 2  # crops per frame: with more people than that, the others coast


def tight_front_end() -> MultiPersonLightning:
    pose = PoseConfig(multi_person=MultiPersonSettings(max_crops_per_frame=TIGHT_BUDGET))
    est = load_estimator(DEFAULT_MODEL, threads=1, pose=pose)
    assert isinstance(est, MultiPersonLightning)
    return est


def crowd_frames(data_dir: Path, count: int) -> list[Frame]:
    frames = []
    for frame in read_frames(probe(str(data_dir / CROWD_CLIP))):
        frames.append(frame)
        if len(frames) == count:
            break
    return frames


def near(pixels: np.ndarray, colour: tuple[int, int, int], tolerance: int = 40) -> np.ndarray:
    return np.all(np.abs(pixels.astype(int) - np.array(colour)) <= tolerance, axis=-1)


def outline(shape: tuple[int, ...], region: CropRegion) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of a crop box's outline that fall inside the image."""
    h, w = shape[:2]
    x0, y0 = round(region.x_min * w), round(region.y_min * h)
    x1, y1 = round(region.x_max * w), round(region.y_max * h)
    xs, ys = np.arange(max(x0, 0), min(x1, w - 1) + 1), np.arange(max(y0, 0), min(y1, h - 1) + 1)
    rows, cols = [], []
    for y in (y0, y1):
        if 0 <= y < h:
            rows.append(np.full(len(xs), y))
            cols.append(xs)
    for x in (x0, x1):
        if 0 <= x < w:
            rows.append(ys)
            cols.append(np.full(len(ys), x))
    return np.concatenate(rows), np.concatenate(cols)


def test_every_persons_crop_is_there_to_draw_with_its_id(data_dir: Path) -> None:
    """The estimator's last_regions (what replay --annotate and the live view draw) hold each crop run
    on the frame with the person's id (discovery's views are not drawn)."""
    est = tight_front_end()
    labelled_frames = 0
    for frame in crowd_frames(data_dir, 30):
        poses = est.estimate(frame)
        crops = est.last_regions
        assert all(b.track_id is not None for b in crops)
        assert len(crops) == est.front_end.last_crops <= TIGHT_BUDGET
        refined = {p.track_id for p in poses if p.origin == "crop"}
        assert refined <= {b.track_id for b in crops}  # every person measured on a crop has it drawn
        for pose in poses:
            if pose.origin == "crop":  # the person is inside the crop their reading came from
                box = next(b.region for b in crops if b.track_id == pose.track_id)
                cx, cy = (pose.bbox[0] + pose.bbox[2]) / 2, (pose.bbox[1] + pose.bbox[3]) / 2
                assert box.x_min <= cx <= box.x_max and box.y_min <= cy <= box.y_max
        labelled_frames += len(crops) == TIGHT_BUDGET
    assert labelled_frames >= 20  # two people's crops on most frames of the crowd


def test_crop_boxes_are_drawn_in_the_persons_colour_single_pose_crops_in_grey() -> None:
    canvas = np.zeros((576, 768, 3), np.uint8)
    person = CropBox(CropRegion(0.1, 0.1, 0.4, 0.6), track_id=3)
    single = CropBox(CropRegion(0.5, -0.2, 0.9, 0.5))  # reaches past the top: drawn clipped
    past_bottom = CropBox(CropRegion(0.55, 0.7, 0.95, 1.3), track_id=4)  # its id stays in the image
    draw_regions(canvas, [person, single, past_bottom])
    rows, cols = outline(canvas.shape, person.region)
    assert near(canvas[rows, cols], track_colour(3)).mean() > 0.9
    rows, cols = outline(canvas.shape, single.region)
    assert near(canvas[rows, cols], CROP_COLOUR).mean() > 0.9
    # each id inside its box's bottom-left corner; nothing labels the unassigned crop
    x, y = round(0.1 * 768), round(0.6 * 576)
    assert near(canvas[y - 25 : y - 2, x + 2 : x + 40], track_colour(3)).sum() > 20
    x = round(0.55 * 768)
    assert near(canvas[576 - 25 : 576 - 2, x + 2 : x + 40], track_colour(4)).sum() > 20
    inside = canvas[5 : round(0.5 * 576) - 2, round(0.5 * 768) + 2 : round(0.9 * 768) - 2]
    assert near(inside, CROP_COLOUR).sum() == 0


def first_frame_with_coasting(data_dir: Path) -> tuple[Frame, list[Pose]]:
    est = tight_front_end()
    for frame in crowd_frames(data_dir, 60):
        poses = est.estimate(frame)
        origins = {p.origin for p in poses}
        if frame.index > 0 and {"crop", "coast"} <= origins:
            return frame, poses
    raise AssertionError("no frame of the crowd clip had a person coasting under a budget of 2 crops")


def snapshot_payload(image: np.ndarray, poses: list[Pose], frame: Frame) -> dict[str, object]:
    worker = SnapshotWorker(SnapshotConfig(enabled=True, privacy="skeleton"), "edge-pose", "cam-1")
    worker.start()
    event = {
        "id": "0" * 32,
        "state": "start",
        "type": "fall",
        "severity": "critical",
        "track_id": poses[0].track_id,
        "frame": frame.index,
        "ts": frame.ts,
    }
    worker.submit(image, poses, [], event)
    messages = worker.close()
    assert len(messages) == 1 and worker.failed == 0
    return messages[0].payload


def test_a_skeleton_snapshot_of_a_crowd_holds_no_camera_pixel_and_marks_who_coasts(data_dir: Path) -> None:
    """Coasting people are drawn (a snapshot shows everyone the front-end follows) but as predictions:
    their payload entry says `origin: coast` and the drawing is thin and without dots. The picture is
    the same byte for byte over the camera frame, over noise and over a black image, and is what its
    own payload redraws."""
    frame, poses = first_frame_with_coasting(data_dir)
    payload = snapshot_payload(frame.image, poses, frame)
    jsonschema.validate(payload, SCHEMA)
    origins = [e.get("origin") for e in payload["poses"]]  # type: ignore[union-attr]
    assert "coast" in origins and "crop" in origins, origins
    noise = np.random.default_rng(15).integers(0, 256, frame.image.shape, dtype=np.uint8)
    for other in (noise, np.zeros_like(frame.image), 255 - frame.image):
        assert snapshot_payload(other, poses, frame)["jpeg_b64"] == payload["jpeg_b64"]
    drawn = poses_from_payload(payload["poses"])  # type: ignore[arg-type]
    width, height = int(payload["width"]), int(payload["height"])  # type: ignore[call-overload]
    again = encode_jpeg(render_skeleton(width, height, drawn, []), 75)
    assert base64.b64decode(str(payload["jpeg_b64"])) == again
    # a coasting pose: no white-ringed dots; the same pose as a measurement has them
    coasting = next(p for p in drawn if p.origin == "coast" and (p.keypoints[:, 2] >= MIN_DRAW_SCORE).any())
    white = (255, 255, 255)
    blank = np.zeros((height, width, 3), np.uint8)
    assert near(draw_scene(blank, [coasting]), white, 15).sum() == 0
    measured = Pose(
        coasting.keypoints, coasting.score, coasting.layout, coasting.track_id, coasting.bbox, "crop"
    )
    assert near(draw_scene(blank, [measured]), white, 15).sum() > 0
