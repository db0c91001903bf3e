"""Recover the shipped layout model's grounding layers (position net + fusers) from
packages/model-shapes/layout/unet/model.onnx as a train.py checkpoint, so that training can
continue on a machine without the original .work/ files.

As tools/shapes-model/import_onnx.py and tools/shapes-upscaler/import_shipped.py: export a probe
GroundedUNet with distinct random weights exactly as export.py does, map each initializer of the
probe graph to its parameter (by value, reshaped or transposed), load the shipped graph's
initializers through that map, check that the UNet part is the frozen shipped UNet, re-export and
check that every initializer is bit-identical to the shipped one.

    /usr/bin/python3 import_shipped.py --out .work/layout_shipped.pt
"""
import argparse
import json
import os
import sys
import tempfile

import numpy as np
import torch

import common
from gligen import export_onnx
from train import build

# tools/shapes-model/import_onnx.py imports that folder's export.py: put it first on the path for that import only.
sys.path.insert(0, common.SHAPES_MODEL)
from import_onnx import initializers, load_through_probe  # noqa: E402
sys.path.pop(0)
for _m in ("export", "evaluate"):
    sys.modules.pop(_m, None)
from export import trace_inputs  # noqa: E402  (this folder's export.py, now that shapes-model's is out of sys.modules)

torch.set_num_threads(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=common.LAYOUT_MODEL)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--out", default=os.path.join(common.WORK, "layout_shipped.pt"))
    args = ap.parse_args()
    info = json.load(open(os.path.join(args.model, "layout.json")))
    g, joint, _vae, _tok, _scale = build(args.hidden)
    frozen_unet = {k: v.clone() for k, v in joint.unet.state_dict().items()}
    d = joint.text.final_ln.normalized_shape[0]
    torch.manual_seed(0)
    with torch.no_grad():
        for p in g.parameters():
            p.copy_(torch.randn_like(p))  # distinct values, so every initializer matches one parameter
    tmp = tempfile.mkdtemp()
    ex = trace_inputs(d, torch.Generator().manual_seed(0))  # export.py's shapes (the values do not matter)
    export_onnx(g, ex, f"{tmp}/probe.onnx")
    shipped = load_through_probe(g, f"{tmp}/probe.onnx", f"{args.model}/unet/model.onnx")
    bad = [k for k, v in g.unet.state_dict().items() if not torch.equal(v, frozen_unet[k])]
    if bad:
        raise SystemExit(f"the layout graph's UNet differs from the shipped UNet in {len(bad)} tensors, e.g. {bad[:3]}")
    export_onnx(g, ex, f"{tmp}/again.onnx")
    again = initializers(f"{tmp}/again.onnx")
    bad = [k for k in shipped if not np.array_equal(again[k], shipped[k])]
    if bad:
        raise SystemExit(f"{len(bad)} initializers differ after re-export, e.g. {bad[:3]}")
    state = {k: v.detach().clone() for k, v in g.state_dict().items() if k.startswith(("position_net.", "fusers."))}
    trainable = g.trainable_parameters()
    tr = info["training"]
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    torch.save({"model": state, "ema_state": state, "ema": [p.detach().clone() for p in trainable], "step": tr["steps"],
                "seconds": tr["minutes"] * 60, "hidden": args.hidden, "token_positions": False, "trainable_params": tr["params"],
                "args": {"batch": tr["batch"]}, "log": []}, args.out)
    print(f"{len(shipped)} initializers recovered ({len(state)} grounding tensors), UNet = the shipped one, re-export bit-identical; wrote {args.out}")


if __name__ == "__main__":
    main()
