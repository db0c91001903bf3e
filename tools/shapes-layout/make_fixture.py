"""Writes tests/fixtures/models/sd-gligen-tiny: a tiny RANDOM-weight grounded UNet in
latentkit's ONNX convention for GLIGEN UNets, inside a complete model folder.

    unet/model.onnx   sample [B,4,h,w], timestep [1|B], encoder_hidden_states [B,S,32],
                      gligen_boxes [B,30,4], gligen_positive_embeddings [B,30,32],
                      gligen_masks [B,30], gligen_enabled [] (float32, 1 = on, 0 = off)
                      -> out_sample [B,4,h,w]   (opset 17; dynamic batch, height, width)
    unet/config.json  "attention_type": "gated", cross_attention_dim 32
    model_index.json  StableDiffusionGLIGENPipeline
    tokenizer/, text_encoder/ (with pooler_output, hidden size 32), scheduler/, vae_decoder/,
    vae_encoder/      copies of tests/fixtures/models/sd1
    expected.json     fixed inputs and torch's outputs: gate on, gate off and the plain UNet
                      (the same base weights without fusers)

The UNet is tools/shapes-model's UNet at widths 4/8 (7 Transformer2D blocks, so 7 fusers),
position net hidden width 32; the fusers' alphas are set non-zero (tanh(a) in ~[0.3, 0.8])
and the null features random, so the gate and the padding both change the output.

    /usr/bin/python3 tools/shapes-layout/make_fixture.py      (deterministic for torch 1.13)
"""
import json
import os
import re
import shutil

import numpy as np
import onnx
import torch

import common
from gligen import GroundedUNet, export_onnx
from models import UNet

torch.set_num_threads(1)
SEED = 16
D = 32  # the sd1 fixture's text hidden size = pooler_output width = cross_attention_dim
SD1 = os.path.join(common.ROOT, "tests", "fixtures", "models", "sd1")
OUT = os.path.join(common.ROOT, "tests", "fixtures", "models", "sd-gligen-tiny")
UNET = dict(block_out_channels=(4, 8), layers_per_block=1, heads=2, norm_num_groups=2, cross_attention_dim=D)
N = common.MAX_OBJECTS


def wave(shape, phase, scale=1.0):
    """Inputs the TypeScript tests rebuild: Math.fround(Math.sin(0.37*i + phase) * scale), row-major
    (the same formula as tests/fixtures/models/sd1/expected.json)."""
    n = int(np.prod(shape))
    return torch.from_numpy((np.sin(0.37 * np.arange(n, dtype=np.float64) + phase) * scale).astype(np.float32)).reshape(shape)


def layout_inputs(rows, d):
    """rows: per batch row, a list of (box, embedding phase) -> boxes, embeddings, masks zero-padded to 30 slots."""
    b = len(rows)
    boxes = torch.zeros(b, N, 4)
    emb = torch.zeros(b, N, d)
    masks = torch.zeros(b, N)
    for i, row in enumerate(rows):
        for j, (box, phase) in enumerate(row):
            boxes[i, j] = torch.tensor(box)
            emb[i, j] = wave([d], phase)
            masks[i, j] = 1.0
    return boxes, emb, masks


def values(t):
    return {"dims": list(t.shape), "data": [float(f"{v:.9g}") for v in t.detach().reshape(-1).double().tolist()]}


def write_json(path, obj):
    text = json.dumps(obj, indent=1)
    text = re.sub(r"\[\s*([-0-9.e,\s]+?)\s*\]", lambda m: "[" + ", ".join(m.group(1).split()).replace(",,", ",") + "]", text)
    with open(path, "w") as f:
        f.write(text + "\n")


def randomize(m):
    """Distinct norm weights (as trained models have), non-zero alphas and null features."""
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, (torch.nn.LayerNorm, torch.nn.GroupNorm)):
                mod.weight.copy_(1 + 0.1 * torch.randn_like(mod.weight))
                mod.bias.copy_(0.1 * torch.randn_like(mod.bias))
        for f in m.fusers:
            f.alpha_attn.fill_(float(torch.empty(()).uniform_(0.3, 1.1)))
            f.alpha_dense.fill_(float(torch.empty(()).uniform_(0.3, 1.1)))
        m.position_net.null_positive_feature.normal_()
        m.position_net.null_position_feature.normal_()


def unet_config():
    return {
        "_class_name": "UNet2DConditionModel", "_diffusers_version": "0.24.0", "act_fn": "silu",
        "attention_head_dim": UNET["heads"], "attention_type": "gated",
        "block_out_channels": list(UNET["block_out_channels"]), "center_input_sample": False, "cross_attention_dim": D,
        "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D"], "downsample_padding": 1, "flip_sin_to_cos": True,
        "freq_shift": 0, "in_channels": 4, "layers_per_block": 1, "mid_block_type": "UNetMidBlock2DCrossAttn", "norm_eps": 1e-05,
        "norm_num_groups": UNET["norm_num_groups"], "out_channels": 4, "sample_size": 8,
        "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D"], "upcast_attention": False, "use_linear_projection": True,
    }


def model_index():
    idx = json.load(open(os.path.join(SD1, "model_index.json")))
    idx["_class_name"] = "StableDiffusionGLIGENPipeline"
    return idx


def main():
    torch.manual_seed(SEED)
    if os.path.exists(OUT):
        shutil.rmtree(OUT)
    for part in ("tokenizer", "text_encoder", "scheduler", "vae_decoder", "vae_encoder"):
        shutil.copytree(os.path.join(SD1, part), os.path.join(OUT, part))
    te_cfg = json.load(open(os.path.join(SD1, "text_encoder", "config.json")))
    assert te_cfg["hidden_size"] == D, te_cfg["hidden_size"]

    g = GroundedUNet(UNet(**UNET), D, hidden=32).eval()
    randomize(g)
    one, zero = torch.tensor(1.0), torch.tensor(0.0)

    cases = []
    # case 1: a CFG-like batch of 2 at 8x8 latents, timestep [1]: row 0 two objects, row 1 one object
    boxes, emb, masks = layout_inputs([[([0.05, 0.05, 0.45, 0.45], 4.0), ([0.55, 0.5, 0.95, 0.9], 5.0)], [([0.2, 0.3, 0.7, 0.8], 6.0)]], D)
    cases.append(dict(name="batch 2, 8x8, timestep [1], 2 and 1 objects", sample=("wave", [2, 4, 8, 8], 0.0, 1.0),
                      hidden=("wave", [2, 77, D], 1.0, 0.5), timestep=torch.tensor([500.0]), boxes=boxes, emb=emb, masks=masks))
    # case 2: batch 1 at 8x12 (non-square), timestep [1], three objects
    boxes, emb, masks = layout_inputs([[([0.0, 0.0, 0.3, 0.5], 7.0), ([0.35, 0.1, 0.65, 0.6], 8.0), ([0.7, 0.5, 1.0, 1.0], 9.0)]], D)
    cases.append(dict(name="batch 1, 8x12, 3 objects", sample=("wave", [1, 4, 8, 12], 2.0, 1.0),
                      hidden=("wave", [1, 77, D], 3.0, 0.5), timestep=torch.tensor([801.0]), boxes=boxes, emb=emb, masks=masks))

    out_cases, vectors = [], []
    worst_off = 0.0
    with torch.no_grad():
        for c in cases:
            s = wave(*c["sample"][1:])
            e = wave(*c["hidden"][1:])
            t = c["timestep"].expand(s.shape[0]) if c["timestep"].numel() == 1 else c["timestep"]
            on = g(s, t, e, c["boxes"], c["emb"], c["masks"], one)
            off = g(s, t, e, c["boxes"], c["emb"], c["masks"], zero)
            plain = g(s, t, e, grounding=False)
            d_off = float((off - plain).abs().max())
            d_on = float((on - plain).abs().max())
            worst_off = max(worst_off, d_off)
            print(f"{c['name']}: max|on-plain| = {d_on:.4f}, max|off-plain| = {d_off:.3g}")
            assert d_on > 1e-2, "the gate must change the output"
            out_cases.append({
                "name": c["name"],
                "inputs": {
                    "sample": {"wave": {"shape": c["sample"][1], "phase": c["sample"][2], "scale": c["sample"][3]}},
                    "encoder_hidden_states": {"wave": {"shape": c["hidden"][1], "phase": c["hidden"][2], "scale": c["hidden"][3]}},
                    "timestep": values(c["timestep"]),
                    "gligen_boxes": values(c["boxes"]),
                    "gligen_positive_embeddings": values(c["emb"]),
                    "gligen_masks": values(c["masks"]),
                },
                "outputs": {"gate_on": values(on), "gate_off": values(off), "plain": values(plain)},
                "max_abs_gate_on_minus_plain": d_on,
                "max_abs_gate_off_minus_plain": d_off,
            })
            feeds = {"sample": s, "timestep": c["timestep"], "encoder_hidden_states": e, "gligen_boxes": c["boxes"],
                     "gligen_positive_embeddings": c["emb"], "gligen_masks": c["masks"]}
            for gate, ref in ((one, on), (zero, plain)):  # gate off is checked against the plain UNet
                vectors.append({"inputs": {k: tensor_json(v) for k, v in {**feeds, "gligen_enabled": gate}.items()},
                                "outputs": {"out_sample": tensor_json(ref)}})

    c0 = cases[0]
    unet_path = os.path.join(OUT, "unet", "model.onnx")
    m = export_onnx(g, (wave(*c0["sample"][1:]), c0["timestep"], wave(*c0["hidden"][1:]), c0["boxes"], c0["emb"], c0["masks"], one), unet_path)
    onnx.save_model(short_names(m), unet_path)
    write_json(os.path.join(OUT, "unet", "config.json"), unet_config())
    write_json(os.path.join(OUT, "model_index.json"), model_index())
    write_json(os.path.join(OUT, "expected.json"), {
        "description": "torch outputs of the sd-gligen-tiny grounded UNet on fixed inputs (tools/shapes-layout/make_fixture.py). "
                       "'wave' inputs are Math.fround(Math.sin(0.37*i + phase) * scale) in row-major order; the others are given as values. "
                       "gate_on: gligen_enabled = 1; gate_off: gligen_enabled = 0; plain: the same UNet without fusers "
                       "(gate_off equals it exactly in torch).",
        "max_objects": N, "embedding_dim": D, "tokenizer_and_text_encoder": "copies of tests/fixtures/models/sd1",
        "cases": out_cases,
    })
    vec_dir = os.path.join(common.WORK, "fixture_vectors")
    os.makedirs(vec_dir, exist_ok=True)
    with open(os.path.join(vec_dir, "unet.json"), "w") as f:
        json.dump(vectors, f)
    size = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(OUT) for f in fs)
    print(f"sd-gligen-tiny: {size / 1024:.0f} KiB; unet.onnx {os.path.getsize(os.path.join(OUT, 'unet', 'model.onnx')) / 1024:.0f} KiB; "
          f"worst max|off-plain| = {worst_off:.3g}")


def short_names(m):
    """Node names dropped and intermediate tensor names shortened (the exporter's scope names are
    ~60% of this tiny graph's bytes); graph inputs, outputs and initializers keep theirs."""
    keep = {v.name for v in m.graph.input} | {v.name for v in m.graph.output} | {i.name for i in m.graph.initializer}
    rename = {}
    for node in m.graph.node:
        node.name = ""
        node.doc_string = ""
        for i, name in enumerate(node.input):
            if name in rename:
                node.input[i] = rename[name]
        for i, name in enumerate(node.output):
            if name and name not in keep:
                rename[name] = node.output[i] = f"t{len(rename)}"
    for v in m.graph.value_info:
        v.name = rename.get(v.name, v.name)
    onnx.checker.check_model(m)
    return m


def tensor_json(t):
    return {"dims": list(t.shape), "dtype": "float32", "data": t.detach().reshape(-1).tolist()}


if __name__ == "__main__":
    main()
