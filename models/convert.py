"""Convert the pinned TF.js graph models to TFLite (run in the converter venv, TensorFlow 2.15.1).

Route (notes/models.md): TF.js graph model -> SavedModel with tfjs-graph-converter in its
TFLite compatibility mode (splits TF.js-only fused ops) -> tf.lite.TFLiteConverter on a wrapper
that takes a uint8 [1,S,S,3] RGB image. INT8 files use a representative dataset of real photos
(calibration.py). MediaPipe's own BlazePose files are copied as shipped.

Usage: convert.py --human DIR --mediapipe DIR --deb-root DIR --work DIR --out DIR [names...]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import re
import shutil
import sys
import types
from pathlib import Path

import calibration
import catalogue

logger = logging.getLogger("convert")

# PoseNet (atomicbits/posenet-python, MobileNetV1): image scaled to [-1, 1].
POSENET_PIXEL_SCALE = 2.0 / 255.0
POSENET_PIXEL_OFFSET = -1.0
# BlazePose landmark models take float RGB in [0, 1].
BLAZEPOSE_PIXEL_SCALE = 1.0 / 255.0
# @mediapipe/pose ships the detector inside its asset pack under this name.
DETECTOR_ASSET_NAME = "pose_detection.tflite"
TFLITE_MAGIC = b"TFL3"  # flatbuffer file identifier at bytes 4..8
# Op types kept in float for "int8_float_postprocess": everything except these.
INT8_OPS_FOR_FLOAT_POSTPROCESS = {"CONV_2D", "DEPTHWISE_CONV_2D"}


def _import_graph_converter() -> types.ModuleType:
    """Import tfjs_graph_converter.api without running tensorflowjs/__init__.py.

    tensorflowjs's package __init__ imports its SavedModel/JAX exporters, which need
    tensorflow_decision_forests and jax. The graph converter only uses
    tensorflowjs.converters.common and tensorflowjs.read_weights, so register the two
    packages as bare modules over their real directories and let Python load just those files.
    """
    if "tensorflowjs" in sys.modules:  # already set up (or really imported) earlier
        import tfjs_graph_converter.api as api

        return api
    spec = importlib.util.find_spec("tensorflowjs")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("tensorflowjs is not installed in this venv")
    root = Path(next(iter(spec.submodule_search_locations)))
    for name, path in (("tensorflowjs", root), ("tensorflowjs.converters", root / "converters")):
        module = types.ModuleType(name)
        module.__path__ = [str(path)]
        sys.modules[name] = module
    import tfjs_graph_converter.api as api

    return api


def extract_packed_asset(package: Path, data_file: str, asset: str) -> bytes:
    """One file out of an Emscripten asset pack (`<x>.data` + `<x>_loader.js` listing offsets)."""
    loader = (package / data_file.replace(".data", "_loader.js")).read_text()
    files = json.loads(re.search(r'"files":\s*(\[.*?\])', loader, re.S).group(1))
    (entry,) = [f for f in files if f["filename"].endswith("/" + asset)]
    blob = (package / data_file).read_bytes()[entry["start"] : entry["end"]]
    if blob[4:8] != TFLITE_MAGIC:
        raise ValueError(f"{data_file}: {asset} is not a TFLite flatbuffer")
    return blob


def tfjs_to_saved_model(model_json: Path, export_dir: Path) -> Path:
    """TF.js graph model -> SavedModel (TFLite compatibility mode); raises if nothing was written."""
    api = _import_graph_converter()
    import tfjs_graph_converter.common as common

    if export_dir.exists():
        shutil.rmtree(export_dir)
    api.graph_model_to_saved_model(str(model_json), str(export_dir), compat_mode=common.CompatMode.TFLITE)
    if not (export_dir / "saved_model.pb").is_file():  # the converter can exit 0 on failure
        raise RuntimeError(f"{model_json}: no SavedModel written to {export_dir}")
    return export_dir


def _uint8_wrapper(tf, saved_dir: Path, spec: catalogue.ModelSpec):
    """(concrete function uint8 [1,S,S,3] RGB -> SavedModel outputs sorted by key, its owner)."""
    loaded = tf.saved_model.load(str(saved_dir))
    fn = loaded.signatures["serving_default"]
    ((arg_name, arg_spec),) = fn.structured_input_signature[1].items()
    out_keys = sorted(fn.structured_outputs)
    size = spec.size

    @tf.function(input_signature=[tf.TensorSpec([1, size, size, 3], tf.uint8, name="image")])
    def wrapper(image):
        if arg_spec.dtype == tf.int32:  # MoveNet: int32 pixels 0..255
            x = tf.cast(image, tf.int32)
        elif spec.family == "posenet":
            x = tf.cast(image, tf.float32) * POSENET_PIXEL_SCALE + POSENET_PIXEL_OFFSET
        else:  # BlazePose landmark
            x = tf.cast(image, tf.float32) * BLAZEPOSE_PIXEL_SCALE
        outputs = fn(**{arg_name: x})
        return [outputs[k] for k in out_keys]

    return wrapper.get_concrete_function(), loaded


def _denylist_for(tf, float_model: bytes) -> list[str]:
    """Every builtin op type in `float_model` except CONV_2D / DEPTHWISE_CONV_2D."""
    ops = set()
    details = tf.lite.Interpreter(model_content=float_model)._get_ops_details()
    for op in details:
        ops.add(op["op_name"])
    return sorted(ops - INT8_OPS_FOR_FLOAT_POSTPROCESS)


def convert(spec: catalogue.ModelSpec, args: argparse.Namespace) -> Path:
    """Build `spec.file` in args.out and return its path."""
    out = args.out / spec.file
    if spec.route == "copy":
        shutil.copyfile(args.mediapipe / spec.source_files[0], out)
        return out
    if spec.route == "extract":
        out.write_bytes(extract_packed_asset(args.mediapipe, spec.source_files[0], DETECTOR_ASSET_NAME))
        return out

    import tensorflow as tf

    tfjs_json = args.human / spec.source_files[0]
    saved = args.work / "saved" / tfjs_json.stem
    if not (saved / "saved_model.pb").is_file():
        tfjs_to_saved_model(tfjs_json, saved)
    concrete, owner = _uint8_wrapper(tf, saved, spec)

    def new_converter(optimize: bool = True):
        conv = tf.lite.TFLiteConverter.from_concrete_functions([concrete], owner)
        if optimize:
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
        return conv

    if spec.quantization == "fp16":
        conv = new_converter()
        conv.target_spec.supported_types = [tf.float16]
        model = conv.convert()
    elif spec.quantization == "float32":
        model = new_converter(optimize=False).convert()
    else:
        samples = calibration.calibration_set(args.deb_root, spec.size)
        logger.info("%s: %d calibration samples", spec.name, len(samples))

        def representative():
            for sample in samples:
                yield [sample[None]]

        conv = new_converter()
        conv.representative_dataset = representative
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if spec.quantization == "int8":
            model = conv.convert()
        elif spec.quantization == "int8_float_postprocess":
            float_model = new_converter(optimize=False).convert()
            denylist = _denylist_for(tf, float_model)
            logger.info("%s: kept in float: %s", spec.name, ", ".join(denylist))
            conv.target_spec.supported_ops = [
                tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                tf.lite.OpsSet.TFLITE_BUILTINS,
            ]
            debugger = tf.lite.experimental.QuantizationDebugger(
                converter=conv,
                debug_dataset=representative,
                debug_options=tf.lite.experimental.QuantizationDebugOptions(denylisted_ops=denylist),
            )
            model = debugger.get_nondebug_quantized_model()
        else:
            raise ValueError(f"{spec.name}: unknown quantization {spec.quantization}")
    out.write_bytes(model)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--human", type=Path, required=True, help="unpacked human-models package/")
    parser.add_argument("--mediapipe", type=Path, required=True, help="unpacked @mediapipe/pose package/")
    parser.add_argument("--deb-root", type=Path, required=True, help="unpacked opencv-doc .deb")
    parser.add_argument("--work", type=Path, required=True, help="scratch dir for SavedModels")
    parser.add_argument("--out", type=Path, required=True, help="where the .tflite files go")
    parser.add_argument("names", nargs="*", help="models to build (default: all)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    specs = [catalogue.by_name(n) for n in args.names] if args.names else list(catalogue.MODELS)
    for spec in specs:
        path = convert(spec, args)
        logger.info("%s -> %s (%d bytes)", spec.name, path, path.stat().st_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
