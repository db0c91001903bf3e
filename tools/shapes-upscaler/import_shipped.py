"""Recover the shipped upscaler UNet (packages/model-shapes/upscaler/unet/model.onnx) as a torch
checkpoint, so that training can continue from it on a machine without the original .work/ files.

Like tools/shapes-model/import_onnx.py: export a probe UpscaleUNet with distinct random weights
exactly as export.py does, map each initializer of the probe graph to its parameter (by value,
reshaped or transposed), load the shipped graph's initializers through that map, then re-export
and check that every initializer is bit-identical to the shipped one.

    /usr/bin/python3 import_shipped.py --out .work/up_shipped.pt
"""
import argparse
import importlib.util
import json
import os
import sys
import tempfile

import numpy as np
import torch

import common
from models_up import UPSCALE_UNET_CFG, UpscaleUNet

# tools/shapes-model/import_onnx.py imports that folder's export.py: put it first on the path for that import only.
sys.path.insert(0, common.SHAPES_MODEL)
from import_onnx import initializers, load_through_probe  # noqa: E402
sys.path.pop(0)
for _m in ("export", "evaluate"):
    sys.modules.pop(_m, None)

# This folder's export.py, loaded under another name: "export" is tools/shapes-model's once import_onnx is in.
_spec = importlib.util.spec_from_file_location("upscaler_export", os.path.join(common.HERE, "export.py"))
upscaler_export = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(upscaler_export)
UNetWrap = upscaler_export.UNetWrap

torch.set_num_threads(1)
SHIPPED = os.path.join(common.HERE, "..", "..", "packages", "model-shapes", "upscaler")


def export(unet, path):
    s, t, e, c = torch.randn(2, 7, common.LO, common.LO), torch.tensor([981.0]), torch.randn(2, 77, 64), torch.tensor([20, 20])
    torch.onnx.export(UNetWrap(unet), (s, t, e, c), path, input_names=["sample", "timestep", "encoder_hidden_states", "class_labels"],
                      output_names=["out_sample"], opset_version=17, do_constant_folding=True,
                      dynamic_axes={"sample": {0: "batch", 2: "height", 3: "width"}, "timestep": {0: "steps"},
                                    "encoder_hidden_states": {0: "batch", 1: "sequence"}, "class_labels": {0: "batch"},
                                    "out_sample": {0: "batch", 2: "height", 3: "width"}})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=SHIPPED)
    ap.add_argument("--out", default=".work/up_shipped.pt")
    args = ap.parse_args()
    info = json.load(open(os.path.join(args.model, "upscaler.json")))
    torch.manual_seed(0)
    unet = UpscaleUNet(**UPSCALE_UNET_CFG).eval()
    with torch.no_grad():
        for p in unet.parameters():
            p.copy_(torch.randn_like(p))  # distinct values, so every initializer matches one parameter
    tmp = tempfile.mkdtemp()
    export(unet, f"{tmp}/probe.onnx")
    shipped = load_through_probe(unet, f"{tmp}/probe.onnx", f"{args.model}/unet/model.onnx")
    export(unet, f"{tmp}/again.onnx")
    again = initializers(f"{tmp}/again.onnx")
    bad = [k for k in shipped if not np.array_equal(again[k], shipped[k])]
    if bad:
        raise SystemExit(f"{len(bad)} initializers differ after re-export, e.g. {bad[:3]}")
    sd = unet.state_dict()
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    torch.save({"model": sd, "ema": sd, "step": info["training_steps"], "seconds": info["training_seconds"],
                "scaling_factor": info["scaling_factor"], "cfg": UPSCALE_UNET_CFG}, args.out)
    print(f"{len(shipped)} initializers recovered, re-export bit-identical; wrote {args.out}")


if __name__ == "__main__":
    main()
