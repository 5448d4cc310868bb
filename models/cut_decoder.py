"""Cut the post-processing off a MoveNet single-pose .tflite so the model ends at its four heads.

The TF Hub graph decodes keypoints in-graph (argmax, gather, distance weighting). In the INT8
files those ops run outside XNNPACK, split the model into eight delegate partitions and, on the
2-core CI machine, cost about 1.8 ms of a 5.7 ms invoke (docs/benchmarks.md). Cut, the file keeps
exactly the ops the heads depend on (the whole network, including the uint8 input and the
centre weighting) and names its outputs center, heatmaps, regression, offsets;
edge/pose/movenet_heads.py decodes them in numpy.

The heads are found by structure, so Lightning and Thunder (and the float references) cut alike:
- center: what the first ARG_MAX reads (through its RESHAPE): the weighted centre heatmap;
- heatmaps: the LOGISTIC output with 17 channels;
- regression: the 4-D tensor gathered at one [1, 3] index (the centre cell);
- offsets: the 4-D tensor gathered at [17, 3] indices (one cell per keypoint).

Usage (runtime venv with ai-edge-litert; rewrites in place, a no-op on a file already cut):
    cut_decoder.py [FILE.tflite...]    default: the catalogue's files marked "decoder": "numpy"
"""

from __future__ import annotations

import sys
from pathlib import Path

import catalogue
import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

HEAD_NAMES = catalogue.MOVENET_HEAD_NAMES  # = edge/pose/movenet_heads.py HEAD_NAMES
KEYPOINTS = 17
OP_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}


def _op_name(model: schema.ModelT, op: schema.OperatorT) -> str:
    code = model.operatorCodes[op.opcodeIndex]
    return OP_NAMES[max(code.builtinCode, code.deprecatedBuiltinCode)]


def find_heads(model: schema.ModelT) -> list[int]:
    """Tensor indices of center, heatmaps, regression, offsets in the main subgraph."""
    graph = model.subgraphs[0]
    ops = graph.operators
    producer = {int(t): i for i, op in enumerate(ops) for t in op.outputs}

    def shape(t: int) -> tuple[int, ...]:
        return tuple(int(d) for d in graph.tensors[t].shape)

    def of(name: str) -> list[schema.OperatorT]:
        return [op for op in ops if _op_name(model, op) == name]

    argmaxes = of("ARG_MAX")
    if not argmaxes:
        raise ValueError("no ARG_MAX: not a MoveNet single-pose graph with its decoder")
    center = int(ops[producer[int(argmaxes[0].inputs[0])]].inputs[0])
    heat = [int(op.outputs[0]) for op in of("LOGISTIC") if shape(int(op.outputs[0]))[-1] == KEYPOINTS]
    gathers = [op for op in of("GATHER_ND") if len(shape(int(op.inputs[0]))) == 4]
    regression = [int(g.inputs[0]) for g in gathers if shape(int(g.inputs[1])) == (1, 3)]
    offsets = [int(g.inputs[0]) for g in gathers if shape(int(g.inputs[1])) == (KEYPOINTS, 3)]
    if not (len(heat) == len(regression) == len(offsets) == 1):
        raise ValueError(f"heads not found unambiguously: {heat=} {regression=} {offsets=}")
    return [center, heat[0], regression[0], offsets[0]]


def cut(data: bytes) -> bytes:
    """The model in `data` with only the ops its heads need, the heads as its named outputs."""
    model = schema.ModelT.InitFromPackedBuf(data, 0)
    graph = model.subgraphs[0]
    heads = find_heads(model)
    producer = {int(t): i for i, op in enumerate(graph.operators) for t in op.outputs}
    needed_ops: set[int] = set()
    pending = list(heads)
    while pending:
        tensor = pending.pop()
        op_index = producer.get(tensor)
        if op_index is None or op_index in needed_ops:
            continue
        needed_ops.add(op_index)
        pending += [int(t) for t in graph.operators[op_index].inputs if t >= 0]
    graph.operators = [op for i, op in enumerate(graph.operators) if i in needed_ops]
    graph.outputs = np.array(heads, dtype=np.int32)
    for tensor, name in zip(heads, HEAD_NAMES, strict=True):
        graph.tensors[tensor].name = name.encode()
    model.signatureDefs = []  # the signature named the old output; the runtime uses graph outputs
    builder = flatbuffers.Builder(len(data))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def is_cut(data: bytes) -> bool:
    """Whether the file's outputs already are the heads."""
    graph = schema.ModelT.InitFromPackedBuf(data, 0).subgraphs[0]
    return [graph.tensors[int(t)].name.decode() for t in graph.outputs] == list(HEAD_NAMES)


def main(args: list[str]) -> int:
    here = Path(__file__).resolve().parent
    paths = [Path(a) for a in args] or [
        here / spec.file
        for spec in catalogue.MODELS
        if spec.extra.get("decoder") == "numpy" and (here / spec.file).is_file()
    ]
    for path in paths:
        data = path.read_bytes()
        if is_cut(data):
            print(f"cut_decoder: {path.name} already ends at its heads")
            continue
        out = cut(data)
        path.write_bytes(out)
        print(f"cut_decoder: {path.name}: {len(data)} -> {len(out)} bytes, outputs {', '.join(HEAD_NAMES)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
