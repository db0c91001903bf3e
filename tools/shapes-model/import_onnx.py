"""Recover torch checkpoints from the shipped ONNX model, to continue training it.

Training checkpoints live in the git-ignored .work/ and are not shipped; the
ONNX graphs are.  torch.onnx.export keeps some parameter names and renames
others while constant-folding (transposed MatMul weights, GroupNorm
scale/shift reshaped to [C,1,1]).  To map them back, each module is exported
once with random weights, and every initializer of that probe export is
matched by value to the parameter it came from (as is, transposed, or
reshaped).  Export is deterministic, so the shipped graphs use the same
initializer names.  The recovered modules are then re-exported and every
initializer is checked to be bit-identical to the shipped one.  Graphs re-exported by
reexport_named.py (UNet, text encoder: every weight named like its parameter) are read by name.

Writes a train_unet.py-style checkpoint (model = ema = the shipped weights)
and a VAE state_dict:

    /usr/bin/python3 import_onnx.py --out_unet .work/unet_shipped.pt --out_vae .work/vae_shipped.pt
"""
import argparse
import os
import tempfile

import numpy as np
import onnx
import torch
from onnx import numpy_helper

import data
from export import DecWrap, EncWrap, TextWrap, UNetWrap, export
from models import TEXT_CFG, VAE_CFG, VAE_DOWNSCALE, VAE
from tokenizer import MAX_LEN, Tokenizer
from train_unet import Joint

torch.set_num_threads(1)


def initializers(path):
    return {i.name: numpy_helper.to_array(i) for i in onnx.load(path).graph.initializer}


def graphs(joint, vae, tok):
    """(name, module, example args, input names, output names, dynamic axes) exactly as export.py exports them."""
    D = TEXT_CFG["hidden_size"]
    L = data.RES // VAE_DOWNSCALE
    ids = torch.tensor([tok.encode("a red circle on a blue background"), tok.encode("")], dtype=torch.int32)
    return [
        ("text_encoder", TextWrap(joint.text), (ids,), ["input_ids"], ["last_hidden_state", "pooler_output"],
         {"input_ids": {0: "batch", 1: "sequence"}, "last_hidden_state": {0: "batch", 1: "sequence"}, "pooler_output": {0: "batch"}}),
        ("unet", UNetWrap(joint.unet), (torch.randn(2, 4, L, L), torch.tensor([981.0, 981.0]), torch.randn(2, MAX_LEN, D)),
         ["sample", "timestep", "encoder_hidden_states"], ["out_sample"],
         {"sample": {0: "batch", 2: "height", 3: "width"}, "timestep": {0: "steps"}, "encoder_hidden_states": {0: "batch", 1: "sequence"},
          "out_sample": {0: "batch", 2: "height", 3: "width"}}),
        ("vae_decoder", DecWrap(vae), (torch.randn(1, 4, L, L),), ["latent_sample"], ["sample"],
         {"latent_sample": {0: "batch", 2: "height", 3: "width"}, "sample": {0: "batch", 2: "height", 3: "width"}}),
        ("vae_encoder", EncWrap(vae), (torch.randn(1, 3, data.RES, data.RES),), ["sample"], ["latent_parameters"],
         {"sample": {0: "batch", 2: "height", 3: "width"}, "latent_parameters": {0: "batch", 2: "height", 3: "width"}}),
    ]


def mapping(module, probe_inits):
    """initializer name -> (parameter name, how to turn the initializer into the parameter)."""
    out = {}
    for name, arr in probe_inits.items():
        hits = []
        for pname, p in module.named_parameters():
            if np.array_equal(arr.reshape(-1), p.detach().numpy().reshape(-1)):
                hits.append((pname, "reshape"))
            elif arr.ndim == 2 and np.array_equal(arr.T.reshape(-1), p.detach().numpy().reshape(-1)):
                hits.append((pname, "transpose"))
        if len(hits) != 1:
            raise SystemExit(f"initializer {name} {arr.shape} matches {len(hits)} parameters: {hits}")
        out[name] = hits[0]
    return out


def load_through_probe(module, probe_path, shipped_path):
    """Copy the weights of the graph at shipped_path into `module`, through the initializer -> parameter
    map of probe_path (the same module exported the same way with distinct random weights).
    Returns the shipped graph's initializers, for the bit-identity check after re-export."""
    probe = mapping(module, initializers(probe_path))
    params = dict(module.named_parameters())
    unmapped = set(params) - {p for p, _ in probe.values()}
    if unmapped:
        raise SystemExit(f"parameters not in the graph: {sorted(unmapped)[:5]}")
    shipped = initializers(shipped_path)
    if set(shipped) != set(probe):
        raise SystemExit(f"{shipped_path}: its initializers differ from the probe export's; was it exported by the same export code?")
    with torch.no_grad():
        for iname, (pname, how) in probe.items():
            arr = shipped[iname].T if how == "transpose" else shipped[iname]
            params[pname].copy_(torch.from_numpy(np.ascontiguousarray(arr)).reshape(params[pname].shape))
    return shipped


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="../../packages/model-shapes/model")
    ap.add_argument("--out_unet", default=".work/unet_shipped.pt")
    ap.add_argument("--out_vae", default=".work/vae_shipped.pt")
    ap.add_argument("--steps", type=int, default=13201, help="optimiser steps of the shipped weights (MODEL_CARD.md), kept for the EMA warm-up")
    ap.add_argument("--seconds", type=float, default=107 * 60)
    args = ap.parse_args()
    tok = Tokenizer.load(f"{args.model}/tokenizer")
    torch.manual_seed(0)
    joint, vae = Joint(len(tok.vocab)), VAE(**VAE_CFG)
    for p in list(joint.parameters()) + list(vae.parameters()):
        with torch.no_grad():
            p.copy_(torch.randn_like(p))  # distinct values, so every initializer matches one parameter
    tmp = tempfile.mkdtemp()
    maps = {}
    for name, module, ex, ins, outs, axes in graphs(joint, vae, tok):
        export(module, ex, f"{tmp}/{name}.onnx", ins, outs, axes)
        maps[name] = mapping(module, initializers(f"{tmp}/{name}.onnx"))
        unmapped = set(dict(module.named_parameters())) - {p for p, _ in maps[name].values()}
        if unmapped:
            raise SystemExit(f"{name}: parameters not in the graph: {sorted(unmapped)}")

    # Load the shipped weights: by name from a graph re-exported by reexport_named.py (every
    # initializer named like its parameter), else through the probe mapping.
    named = {}
    for name, module, *_ in graphs(joint, vae, tok):
        shipped = initializers(f"{args.model}/{name}/model.onnx")
        params = dict(module.named_parameters())
        named[name] = set(shipped) == set(params)
        if named[name]:
            pairs = [(pname, pname, "reshape") for pname in params]
        elif set(shipped) == set(maps[name]):
            pairs = [(iname, pname, how) for iname, (pname, how) in maps[name].items()]
        else:
            raise SystemExit(f"{name}: shipped initializers differ from the probe export's; was it exported by this export.py?")
        with torch.no_grad():
            for iname, pname, how in pairs:
                arr = shipped[iname].T if how == "transpose" else shipped[iname]
                params[pname].copy_(torch.from_numpy(np.ascontiguousarray(arr)).reshape(params[pname].shape))

    # Re-export and check bit-identity with the shipped graphs.
    for name, module, ex, ins, outs, axes in graphs(joint, vae, tok):
        export(module, ex, f"{tmp}/{name}.onnx", ins, outs, axes, fold=not named[name])
        again, shipped = initializers(f"{tmp}/{name}.onnx"), initializers(f"{args.model}/{name}/model.onnx")
        bad = [k for k in shipped if not np.array_equal(again[k], shipped[k])]
        if bad:
            raise SystemExit(f"{name}: {len(bad)} initializers differ after re-export, e.g. {bad[:3]}")
        print(f"{name}: {len(shipped)} initializers recovered, re-export bit-identical")

    os.makedirs(os.path.dirname(args.out_unet) or ".", exist_ok=True)
    sd = joint.state_dict()
    torch.save({"model": sd, "ema": sd, "step": args.steps, "seconds": args.seconds, "vocab_size": len(tok.vocab)}, args.out_unet)
    torch.save(vae.state_dict(), args.out_vae)
    print("wrote", args.out_unet, args.out_vae)


if __name__ == "__main__":
    main()
