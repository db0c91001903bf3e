"""Optimised-graph helpers for the exporters in tools/full-size and tools/fixtures (issue 19, item 3).

Real optimised ONNX exports of Stable Diffusion (onnxruntime's transformers optimizer, Olive) replace each
attention's Reshape/Transpose/MatMul/Softmax/MatMul chain by one `com.microsoft::MultiHeadAttention` node and
store the weights in float16. This module does both for the plain-torch networks here:

* `attention(q, k, v, heads)`: scaled dot-product attention on [B, S, heads·d] projections. In plain mode
  (the default) it traces to the usual chain; inside `fused_attention()` it traces to ONE
  `com.microsoft::MultiHeadAttention(query, key, value)` node (`num_heads`, scale left at its default
  1/sqrt(d)), the contrib op's "separate Q, K, V" form: query [B, S, hidden], key [B, L, hidden], value
  [B, L, v_hidden] → [B, S, v_hidden]. Export with `custom_opsets=CUSTOM_OPSETS` (domain com.microsoft,
  version 1). The eager result is the same either way, so plain and fused exports share weights exactly.
* `convert_to_fp16(model, keep_fp32_from)`: an fp32 ModelProto → float16 weights, float16 activations and
  float16 graph inputs/outputs (the names unchanged), keeping float32 where it must be:
  - the timestep embedding: every node reached from the `keep_fp32_from` inputs (the timestep) before the
    first MatMul/Gemm, i.e. Cast, Unsqueeze, Mul by the frequencies, Cos, Sin, Concat; diffusers computes it
    in float32 too (cos/sin of t·f for t up to 1000 lose too much in float16), then casts to the model dtype;
  - Resize's `roi` and `scales` inputs (the ONNX spec requires float32 there; nearest ×2 upsampling);
  - LayerNormalization (opset 17) keeps float16 I/O: its `stash_type` 1 computes mean and variance in float32.
  GroupNorm (InstanceNormalization + Mul/Add as torch exports it) stays float16; onnxruntime's CPU provider
  has no float16 InstanceNormalization and runs it in float32 (it inserts the casts itself).
"""

import contextlib
import os

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

CUSTOM_OPSETS = {"com.microsoft": 1}
_FUSED = [False]


@contextlib.contextmanager
def fused_attention(enabled=True):
    """Within this block `attention` traces to com.microsoft::MultiHeadAttention."""
    previous = _FUSED[0]
    _FUSED[0] = enabled
    try:
        yield
    finally:
        _FUSED[0] = previous


def _reference(q, k, v, heads):
    b, n, d = q.shape
    hd = d // heads
    if heads == 1:  # no head axis: a traced reshape to [B, S, 1, d] breaks torch 1.13's export of the fused form
        return ((q @ k.transpose(-1, -2)) * hd**-0.5).softmax(-1) @ v
    dv = v.shape[-1] // heads
    qh = q.reshape(b, n, heads, hd).transpose(1, 2)
    kh = k.reshape(b, -1, heads, hd).transpose(1, 2)
    vh = v.reshape(b, -1, heads, dv).transpose(1, 2)
    w = ((qh @ kh.transpose(-1, -2)) * hd**-0.5).softmax(-1)
    return (w @ vh).transpose(1, 2).reshape(b, n, heads * dv)


_FUNCTIONS = {}


def _multi_head_attention(heads):
    """The autograd Function for `heads` heads. Eager: the reference attention; export: one
    com.microsoft::MultiHeadAttention node; `heads` is a constant of the class."""
    if heads not in _FUNCTIONS:

        class MultiHeadAttention(torch.autograd.Function):
            @staticmethod
            def forward(ctx, q, k, v):
                return _reference(q, k, v, heads)

            @staticmethod
            def symbolic(g, q, k, v):
                return g.op("com.microsoft::MultiHeadAttention", q, k, v, num_heads_i=heads)

        _FUNCTIONS[heads] = MultiHeadAttention
    return _FUNCTIONS[heads]


def attention(q, k, v, heads):
    """softmax(q·kᵀ/√d)·v per head on [B, S, heads·d] tensors (plain chain, or fused inside fused_attention())."""
    if _FUSED[0]:
        return _multi_head_attention(heads).apply(q, k, v)
    return _reference(q, k, v, heads)


def count_ops(model, op_type, domain=""):
    return sum(1 for n in model.graph.node if n.op_type == op_type and n.domain == domain)


# ---------------------------------------------------------------- float16 conversion
_F32, _F16 = TensorProto.FLOAT, TensorProto.FLOAT16
_STOP = {"MatMul", "Gemm", "Conv"}  # the fp32 timestep island ends at the first weighted op


def _fp32_island(graph, starts):
    """Nodes reached from the tensors `starts` (through any input) before a MatMul/Gemm/Conv."""
    consumers = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    island, todo = [], list(starts)
    seen_tensors, seen_nodes = set(todo), set()
    while todo:
        t = todo.pop()
        for node in consumers.get(t, []):
            if node.op_type in _STOP or id(node) in seen_nodes:
                continue
            seen_nodes.add(id(node))
            island.append(node)
            for out in node.output:
                if out not in seen_tensors:
                    seen_tensors.add(out)
                    todo.append(out)
    return island, seen_tensors


def value_types(model_or_path):
    """Element type of every tensor the ONNX shape inference can type. A path works for models over 2 GB
    (external data are not read)."""
    if isinstance(model_or_path, str):
        out = model_or_path + ".types.onnx"
        onnx.shape_inference.infer_shapes_path(model_or_path, out)
        inferred = onnx.load(out, load_external_data=False)
        os.remove(out)
    else:
        inferred = onnx.shape_inference.infer_shapes(model_or_path, strict_mode=False)
    g = inferred.graph
    return {vi.name: vi.type.tensor_type.elem_type for vi in list(g.value_info) + list(g.input) + list(g.output)}


def convert_to_fp16(model, keep_fp32_from=("timestep",), types=None):
    """Converts an fp32 `model` in place to float16 as the module docstring says; returns it. The initializers
    must be loaded. `types`: value_types() of the model (computed here when absent; pass it for models over
    2 GB, computed from the file)."""
    graph = model.graph
    types = dict(types if types is not None else value_types(model))
    for init in graph.initializer:
        types[init.name] = init.data_type
    for node in graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    types[node.output[0]] = attr.t.data_type
    is_float = lambda name: types.get(name) == _F32

    starts = [i.name for i in graph.input if i.name in keep_fp32_from and i.type.tensor_type.elem_type == _F32]
    island, island_tensors = _fp32_island(graph, starts)
    island_ids = {id(n) for n in island}
    constants = {i.name for i in graph.initializer} | {n.output[0] for n in graph.node if n.op_type == "Constant"}
    fp32 = set(island_tensors)  # includes the kept graph inputs
    for node in graph.node:
        if id(node) in island_ids:
            fp32.update(x for x in node.input if x in constants)
        if node.op_type == "Resize":
            fp32.update(x for x in node.input[1:3] if x)

    for init in graph.initializer:
        if init.data_type == _F32 and init.name not in fp32:
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), init.name))
    for node in graph.node:
        island_node = id(node) in island_ids
        for attr in node.attribute:
            if node.op_type == "Constant" and attr.name == "value" and attr.t.data_type == _F32 and node.output[0] not in fp32:
                attr.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(attr.t).astype(np.float16)))
            if not island_node and node.op_type == "Cast" and attr.name == "to" and attr.i == _F32:
                attr.i = _F16
            if not island_node and node.op_type == "ConstantOfShape" and attr.name == "value" and attr.t.data_type == _F32:
                attr.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(attr.t).astype(np.float16)))

    casts = {}
    ordered = []
    for inp in graph.input:  # float16 at the boundary, cast up where the island starts
        if inp.type.tensor_type.elem_type == _F32:
            inp.type.tensor_type.elem_type = _F16
            if inp.name in starts:
                casts[(inp.name, _F32)] = inp.name + "_fp32"
                ordered.append(helper.make_node("Cast", [inp.name], [inp.name + "_fp32"], to=_F32, name=f"/{inp.name}_to_fp32"))
    for out in graph.output:
        if out.type.tensor_type.elem_type == _F32:
            out.type.tensor_type.elem_type = _F16
    for node in graph.node:
        island_node = id(node) in island_ids
        for i, name in enumerate(node.input):
            if not name or not is_float(name):
                continue
            if island_node:
                want = _F32 if name not in fp32 or name in starts else None
            else:
                want = _F16 if name in fp32 and not (node.op_type == "Resize" and i in (1, 2)) else None
            if want is None:
                continue
            key = (name, want)
            if key not in casts:
                suffix = "_fp32" if want == _F32 else "_fp16"
                casts[key] = name + suffix
                ordered.append(helper.make_node("Cast", [name], [name + suffix], to=want, name=f"{name}_cast{suffix}"))
            node.input[i] = casts[key]
        ordered.append(node)
    del graph.node[:]
    graph.node.extend(ordered)
    del graph.value_info[:]
    return model


# ---------------------------------------------------------------- export
OPSET = 17  # LayerNormalization as one node (stash_type 1: float32 statistics, also in a float16 graph)


def export_optimised(module, args, path, inputs, outputs, axes, external=None, fused=True, fp16=False,
                     fp32=True, keep_fp32_from=("timestep",), opset=OPSET):
    """torch.onnx.export of `module` to `path` (weights in the file `external` beside it when given).
    `fused`: every `attention()` as one com.microsoft::MultiHeadAttention node. `fp32` writes `path` itself;
    `fp16` writes `<path without .onnx>.fp16.onnx` (weights in `<external stem>.fp16<ext>`): float16
    weights, activations and I/O. Returns {"fp32": ModelProto or None, "fp16": ModelProto or None,
    "attention_nodes": n}; the models are returned for small exports only (no `external`)."""
    import shutil
    import tempfile

    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=folder)
    try:
        raw = os.path.join(tmp, "model.onnx")
        with torch.no_grad(), fused_attention(fused):
            torch.onnx.export(module, args, raw, input_names=inputs, output_names=outputs, dynamic_axes=axes,
                              opset_version=opset, do_constant_folding=True,
                              custom_opsets=CUSTOM_OPSETS if fused else None)
        types = value_types(raw) if fp16 else None
        model = onnx.load(raw)  # also loads the per-tensor files torch writes for models > 2 GB
        result = {"attention_nodes": count_ops(model, "MultiHeadAttention", "com.microsoft"), "fp32": None, "fp16": None}

        def save(m, p, location):
            if location:
                onnx.save_model(m, p, save_as_external_data=True, all_tensors_to_one_file=True, location=location,
                                convert_attribute=False)
            else:
                onnx.save_model(m, p)

        if fp32:
            save(model, path, external)
            if not external:
                result["fp32"] = onnx.load(path)
            elif fp16:  # saving to external data moved the weights out of `model`
                del model
                model = onnx.load(path)
        if fp16:
            half = convert_to_fp16(model, keep_fp32_from, types)
            path16 = path[: -len(".onnx")] + ".fp16.onnx"
            location = None
            if external:
                stem, ext = os.path.splitext(external)
                location = f"{stem}.fp16{ext}"
            save(half, path16, location)
            if not external:
                result["fp16"] = onnx.load(path16)
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
