#!/usr/bin/python3
"""Writes the minimal graphs of the SDXL-UNet WebGPU batch-1 deviation and a compare.ts spec for them.

    /usr/bin/python3 tools/webgpu-bisect/make_minimal.py <out_dir> [small|real|predict|fixtures]

"small" (default): the tiny fixture's shapes and a first sweep; "real": SDXL's and its VAE's group norms
(32 groups) at spatial sizes whose NHWC element count is not a multiple of 4·64, and more InstanceNorm sizes.

Graphs (opset 14, float32, the batch dimension symbolic as in the UNet export):
  instnorm_c{C}_l{L}.onnx  x [N, C, L] -> InstanceNormalization(scale, bias random, epsilon 1e-5)
  groupnorm_c{C}_g{G}_{H}x{W}.onnx  diffusers' exported GroupNorm: x [N, C, H, W] -> Reshape [0, G, -1] ->
      InstanceNormalization(scale 1, bias 0) -> Reshape [N, C, H, W] -> Mul gamma -> Add beta
  transpose_{A}x{B}.onnx  x [N, A, B] -> Transpose perm [0, 2, 1]
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def save(model_graph, path):
    model = helper.make_model(model_graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, path)


def instnorm(c, length, rng):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", c, "L"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", c, "L"])
    scale = numpy_helper.from_array(rng.uniform(0.5, 1.5, c).astype(np.float32), "scale")
    bias = numpy_helper.from_array(rng.uniform(-0.5, 0.5, c).astype(np.float32), "bias")
    node = helper.make_node("InstanceNormalization", ["x", "scale", "bias"], ["y"], epsilon=1e-5)
    return helper.make_graph([node], "instnorm", [x], [y], [scale, bias]), {"x": [1, c, length]}


def groupnorm(c, g, h, w, rng):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", c, "H", "W"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", c, "H", "W"])
    inits = [
        numpy_helper.from_array(np.array([0, g, -1], np.int64), "shape_g"),
        numpy_helper.from_array(np.ones(g, np.float32), "ones"),
        numpy_helper.from_array(np.zeros(g, np.float32), "zeros"),
        numpy_helper.from_array(rng.uniform(0.5, 1.5, (c, 1, 1)).astype(np.float32), "gamma"),
        numpy_helper.from_array(rng.uniform(-0.5, 0.5, (c, 1, 1)).astype(np.float32), "beta"),
    ]
    nodes = [
        helper.make_node("Reshape", ["x", "shape_g"], ["xg"]),
        helper.make_node("InstanceNormalization", ["xg", "ones", "zeros"], ["ng"], epsilon=1e-5),
        helper.make_node("Shape", ["x"], ["shape_x"]),
        helper.make_node("Reshape", ["ng", "shape_x"], ["n"]),
        helper.make_node("Mul", ["n", "gamma"], ["m"]),
        helper.make_node("Add", ["m", "beta"], ["y"]),
    ]
    return helper.make_graph(nodes, "groupnorm", [x], [y], inits), {"x": [1, c, h, w]}


def transpose(a, b):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", a, b])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", b, a])
    node = helper.make_node("Transpose", ["x"], ["y"], perm=[0, 2, 1])
    return helper.make_graph([node], "transpose", [x], [y]), {"x": [1, a, b]}


def main():
    out = sys.argv[1]
    which = sys.argv[2] if len(sys.argv) > 2 else "small"
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(0)
    models = []

    def add(name, graph_and_dims):
        graph, dims = graph_and_dims
        path = os.path.join(out, name + ".onnx")
        save(graph, path)
        models.append({"file": path, "inputs": {k: {"dims": v, "seed": 7} for k, v in dims.items()},
                       "levels": ["all"], "batches": [1, 2]})

    if which == "small":
        for c in (4, 32):
            for length in (8, 16, 32, 48, 64, 128, 192, 256, 640, 1280):
                add(f"instnorm_c{c}_l{length}", instnorm(c, length, rng))
        # The tiny fixture's group norms (4 groups) and SDXL's (32 groups, 320/640/1280 channels).
        for c, g, h, w in ((4, 4, 8, 8), (8, 4, 4, 4), (8, 4, 2, 2), (16, 4, 4, 4),
                           (320, 32, 8, 8), (640, 32, 4, 4), (1280, 32, 2, 2), (1280, 32, 4, 4), (320, 32, 16, 16)):
            add(f"groupnorm_c{c}_g{g}_{h}x{w}", groupnorm(c, g, h, w, rng))
        for a, b in ((16, 4), (4, 16), (64, 4), (32, 4), (8, 4), (640, 32), (32, 640)):
            add(f"transpose_{a}x{b}", transpose(a, b))
    elif which == "fixtures":
        # tests/fixtures/webgpu-instance-norm: the minimal repro, a 32-group norm whose output buffer is
        # filled exactly while its last workgroup runs past the end, and real SDXL UNet/VAE group norms.
        add("instnorm_c4_l16", instnorm(4, 16, rng))
        add("instnorm_c32_l4", instnorm(32, 4, rng))
        for c, h, w in ((320, 1, 1), (320, 3, 3), (320, 8, 8), (640, 5, 5), (1280, 3, 3), (1280, 7, 9),
                        (128, 7, 9), (512, 3, 5)):
            add(f"groupnorm_c{c}_g32_{h}x{w}", groupnorm(c, 32, h, w, rng))
    elif which == "predict":
        # Cases the explanation in README.md predicts: fail = (1,8) (1,16) (1,32) (2,8) (2,16) (2,32);
        # pass = (1,12) (1,64) (2,12) (2,64) (4,3).
        for c, length in ((1, 8), (1, 12), (1, 16), (1, 32), (1, 64), (2, 8), (2, 12), (2, 16), (2, 32), (2, 64),
                          (4, 3)):
            add(f"instnorm_c{c}_l{length}", instnorm(c, length, rng))
    else:
        for c, length in ((4, 4), (4, 12), (4, 20), (4, 24), (4, 40), (4, 56), (4, 80), (4, 96), (8, 8), (8, 24),
                          (16, 8), (16, 12), (32, 1), (32, 2), (32, 3), (32, 10), (32, 20), (32, 40), (32, 90),
                          (32, 250), (32, 1000)):
            add(f"instnorm_c{c}_l{length}", instnorm(c, length, rng))
        for c in (320, 640, 1280, 128, 256, 512):
            for h, w in ((1, 1), (3, 3), (5, 5), (3, 5), (7, 9)):
                add(f"groupnorm_c{c}_g32_{h}x{w}", groupnorm(c, 32, h, w, rng))
    with open(os.path.join(out, "spec.json"), "w") as f:
        json.dump({"models": models}, f, indent=1)


if __name__ == "__main__":
    main()
