#!/usr/bin/python3
"""Writes a copy of an ONNX model whose every float intermediate tensor is also a graph output.

    /usr/bin/python3 tools/webgpu-bisect/expose_outputs.py <in.onnx> <out.onnx> [first_node last_node]

The optional node index range limits which nodes' outputs are exposed. Used with compare.ts at graph
optimization level "disabled" (exposed outputs would block fusions anyway) to find the first node whose
WebGPU output differs from WebAssembly's. Prints "index<TAB>op<TAB>node name<TAB>output" for each exposed one.
"""
import sys

import onnx
from onnx import shape_inference


def main() -> None:
    src, dst = sys.argv[1], sys.argv[2]
    lo = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    hi = int(sys.argv[4]) if len(sys.argv) > 4 else 10**9
    model = shape_inference.infer_shapes(onnx.load(src))
    types = {v.name: v.type.tensor_type.elem_type for v in model.graph.value_info}
    existing = {o.name for o in model.graph.output}
    for i, node in enumerate(model.graph.node):
        if not (lo <= i <= hi) or node.op_type in ("Constant", "Shape"):
            continue
        for out in node.output:
            if out in existing or types.get(out) != onnx.TensorProto.FLOAT:
                continue
            model.graph.output.append(onnx.helper.make_tensor_value_info(out, onnx.TensorProto.FLOAT, None))
            existing.add(out)
            print(f"{i}\t{node.op_type}\t{node.name}\t{out}")
    onnx.save(model, dst)


if __name__ == "__main__":
    main()
