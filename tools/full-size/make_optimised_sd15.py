#!/usr/bin/env python3
"""The SD 1.5-shaped random-weight model of make_random_sd15.py, exported as optimised graphs: every attention of
the UNet and the VAE as one `com.microsoft::MultiHeadAttention` node (`--attention fused`, the default), and
with `--fp16` a float16 variant of the UNet and VAE files beside the float32 ones (`model.fp16.onnx`, weights
in `weights.fp16.pb` for the UNet), as onnxruntime's transformers optimizer / Olive write SD. The text encoder
stays plain float32 (its causal-masked attention is not fused here).

The weights are make_random_sd15.py's, bit for bit: the networks are built and their example inputs drawn in
that script's order from the same seed, and a component that is not exported still runs its forward once (as
torch.onnx.export's trace does), so the seeded stream advances the same. So the plain /tmp/sd15-random and
the optimised folder compare output for output (tools/full-size/check_optimised.cjs).

    /usr/bin/python3 tools/full-size/make_optimised_sd15.py --out /tmp/sd15-fused --fp16          # ~6.1 GB
    node tools/full-size/check_optimised.cjs --size 32 --max-rel 1e-4,2e-2 \\
        /tmp/sd15-random/unet/model.onnx /tmp/sd15-fused/unet/model.onnx /tmp/sd15-fused/unet/model.fp16.onnx

`--fp16-folder DIR` also lays out DIR as a plain diffusers folder whose unet/model.onnx is the float16 UNet
(hard links; text encoder and VAE float32) for tools that take a folder only (`npm run bench`).
What float16 keeps in float32 (tools/full-size/fused_attention.py): the timestep embedding (sinusoid of
t up to 1000), Resize's scales; LayerNormalization computes its statistics in float32 (stash_type 1).
Memory: ~12 GB peak (the UNet export and its float16 conversion); time: ~10 min on 2 cores.
"""
import argparse
import os
import shutil

import torch

from fused_attention import export_optimised
from make_random_sd15 import REPO, ClipTextModel, UNet, VaeDecoder, VaeEncoder, load_config, params, write_json

PARTS = ["text_encoder", "unet", "vae_decoder", "vae_encoder"]


def forward_once(module, args):
    with torch.no_grad():
        module(*args)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="/tmp/sd15-fused")
    ap.add_argument("--attention", choices=["fused", "plain"], default="fused")
    ap.add_argument("--fp16", action="store_true", help="also write model.fp16.onnx for the UNet and the VAE")
    ap.add_argument("--only", choices=PARTS, action="append")
    ap.add_argument("--text-encoder-from", metavar="DIR",
                    help="copy text_encoder/ from this folder (e.g. /tmp/sd15-random: the same weights) instead of exporting it")
    ap.add_argument("--fp16-folder", metavar="DIR", help="with --fp16: also a folder whose unet/model.onnx is the float16 UNet")
    args = ap.parse_args()
    out, only = args.out, set(args.only or PARTS)
    opt = dict(fused=args.attention == "fused", fp16=args.fp16)
    torch.manual_seed(0)  # make_random_sd15.py's seed and order: text encoder, UNet, VAE encoder, VAE decoder
    text_cfg, unet_cfg, vae_cfg = load_config("text_encoder.json"), load_config("unet.json"), load_config("vae.json")
    index = load_config("onnx_model_index.json")
    index.update({"safety_checker": [None, None], "feature_extractor": [None, None], "requires_safety_checker": False})
    write_json(f"{out}/model_index.json", index)
    write_json(f"{out}/scheduler/scheduler_config.json", load_config("onnx_scheduler_config.json"))
    for part, cfg in [("text_encoder", text_cfg), ("unet", unet_cfg), ("vae_decoder", vae_cfg), ("vae_encoder", vae_cfg)]:
        write_json(f"{out}/{part}/config.json", cfg)
    os.makedirs(f"{out}/tokenizer", exist_ok=True)
    for name in ["vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"]:
        shutil.copy(os.path.join(REPO, "tests", "fixtures", "clip", name), f"{out}/tokenizer/{name}")

    te = ClipTextModel(text_cfg).eval()
    if "text_encoder" in only:
        if args.text_encoder_from:
            shutil.copy(os.path.join(args.text_encoder_from, "text_encoder", "model.onnx"), f"{out}/text_encoder/model.onnx")
        else:
            export_optimised(te, (torch.zeros(1, 77, dtype=torch.int32),), f"{out}/text_encoder/model.onnx", ["input_ids"],
                             ["last_hidden_state", "pooler_output"], {"input_ids": {0: "batch", 1: "sequence"}}, fused=False,
                             opset=14)
    del te

    unet = UNet(unet_cfg).eval()
    example = (torch.randn(2, 4, 64, 64), torch.randn(2), torch.randn(2, 77, 768))
    if "unet" in only:
        print(f"unet: {params(unet) / 1e6:.1f}M parameters", flush=True)
        r = export_optimised(unet, example, f"{out}/unet/model.onnx", ["sample", "timestep", "encoder_hidden_states"],
                             ["out_sample"], {"sample": {0: "batch", 1: "channels", 2: "height", 3: "width"},
                                              "timestep": {0: "batch"}, "encoder_hidden_states": {0: "batch", 1: "sequence"}},
                             external="weights.pb", **opt)
        print(f"  {r['attention_nodes']} MultiHeadAttention nodes", flush=True)
    else:
        forward_once(unet, example)
    del unet

    enc = VaeEncoder(vae_cfg).eval()
    example = (torch.randn(1, 3, 64, 64),)
    if "vae_encoder" in only:
        r = export_optimised(enc, example, f"{out}/vae_encoder/model.onnx", ["sample"], ["latent_sample"],
                             {"sample": {0: "batch", 1: "channels", 2: "height", 3: "width"}}, keep_fp32_from=(), **opt)
        print(f"vae_encoder: {r['attention_nodes']} MultiHeadAttention nodes", flush=True)
    else:
        forward_once(enc, example)  # its posterior sampling draws from the stream
    del enc

    dec = VaeDecoder(vae_cfg).eval()
    example = (torch.randn(1, 4, 8, 8),)
    if "vae_decoder" in only:
        r = export_optimised(dec, example, f"{out}/vae_decoder/model.onnx", ["latent_sample"], ["sample"],
                             {"latent_sample": {0: "batch", 1: "channels", 2: "height", 3: "width"}}, keep_fp32_from=(), **opt)
        print(f"vae_decoder: {r['attention_nodes']} MultiHeadAttention nodes", flush=True)
    del dec

    if args.fp16 and args.fp16_folder:
        dst = args.fp16_folder
        for root, _dirs, files in os.walk(out):
            rel = os.path.relpath(root, out)
            os.makedirs(os.path.join(dst, rel), exist_ok=True)
            for f in files:
                if rel == "unet" and f in ("model.onnx", "weights.pb", "model.fp16.onnx"):
                    continue
                if f.endswith(".fp16.onnx") or f.endswith(".fp16.pb"):
                    continue
                target = os.path.join(dst, rel, f)
                if os.path.exists(target):
                    os.remove(target)
                os.link(os.path.join(root, f), target)
        for src, name in [("model.fp16.onnx", "model.onnx"), ("weights.fp16.pb", "weights.fp16.pb")]:
            target = os.path.join(dst, "unet", name)
            if os.path.exists(target):
                os.remove(target)
            os.link(os.path.join(out, "unet", src), target)
        print("wrote", dst, "(float16 UNet, float32 text encoder and VAE; hard links)", flush=True)
    print("wrote", out, flush=True)


if __name__ == "__main__":
    main()
