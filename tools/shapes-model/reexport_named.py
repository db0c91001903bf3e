"""Re-export the shipped UNet and text encoder with every weight under its parameter name.

The first export (export.py, constant folding on) turned Linear weights into anonymous
`onnx::MatMul_N` initializers (pre-transposed), and this model's node names are ambiguous
(`/m/att.0/attn1/q/MatMul` appears in several blocks), so a LoRA loader cannot find its
targets.  This script recovers the torch modules from the shipped ONNX (import_onnx.py's
checkpoint), exports them again with `do_constant_folding=False` — same opset, input/output
names and dynamic axes — so every weight is an initializer named like its parameter
(`m.down.0.att.0.attn2.k.weight`, shape [out, in], consumed through a Transpose node), and
writes them next to the old graphs for the check in compare_graphs.cjs:

    /usr/bin/python3 import_onnx.py --out_unet .work/unet_shipped.pt --out_vae .work/vae_shipped.pt
    /usr/bin/python3 reexport_named.py --ckpt .work/unet_shipped.pt --out .work/named
    node compare_graphs.cjs ../../packages/model-shapes/model .work/named   # max |old - new|
    cp .work/named/unet/model.onnx ../../packages/model-shapes/model/unet/model.onnx   # (and text_encoder)
"""
import argparse

import onnx
import torch

from export import export
from import_onnx import graphs
from models import VAE, VAE_CFG
from tokenizer import Tokenizer
from train_unet import Joint

torch.set_num_threads(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="../../packages/model-shapes/model", help="for the tokenizer")
    ap.add_argument("--ckpt", default=".work/unet_shipped.pt")
    ap.add_argument("--out", default=".work/named")
    args = ap.parse_args()
    tok = Tokenizer.load(f"{args.model}/tokenizer")
    ck = torch.load(args.ckpt)
    joint = Joint(ck["vocab_size"])
    joint.load_state_dict(ck["ema"])
    joint.eval()
    for name, module, ex, ins, outs, axes in graphs(joint, VAE(**VAE_CFG), tok):
        if name not in ("text_encoder", "unet"):
            continue
        path = f"{args.out}/{name}/model.onnx"
        export(module, ex, path, ins, outs, axes, fold=False)
        names = {i.name for i in onnx.load(path).graph.initializer}
        params = {f"m.{p}" for p, _ in module.m.named_parameters()}
        missing = params - names
        if missing:
            raise SystemExit(f"{name}: parameters without a named initializer: {sorted(missing)[:5]}")
        print(f"{name}: {len(params)} parameters, all named initializers; {len(names - params)} other initializers -> {path}")


if __name__ == "__main__":
    main()
