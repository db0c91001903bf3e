#!/usr/bin/env python3
"""Exports stabilityai/stable-diffusion-x4-upscaler (diffusers' StableDiffusionUpscalePipeline) to latentkit's
ONNX layout of the x4 upscaler (docs/model-folders.md, "x4 upscaler").

Optimum does not export this pipeline, so each component goes through torch.onnx.export here, with the
input/output names, element types and dynamic axes of diffusers' ONNX exports
(scripts/convert_stable_diffusion_checkpoint_to_onnx.py) plus the UNet's `class_labels`:

    text_encoder/model.onnx  input_ids int32 [B, 77] → last_hidden_state [B, 77, 1024], pooler_output
    unet/model.onnx          sample [B, 7, h, w], timestep float32 [B], encoder_hidden_states [B, 77, 1024],
                             class_labels int64 [B] → out_sample [B, 4, h, w]   (+ unet/model.onnx_data)
    vae_decoder/model.onnx   latent_sample [B, 4, h, w] → sample [B, 3, 4h, 4w]
    + model_index.json (max_noise_level), scheduler/, low_res_scheduler/, tokenizer/, the configs.

NOT run in CI and not run in this project's sandbox (no access to the Hugging Face Hub there): it is written
against diffusers' public API (≥ 0.20) and transformers (≥ 4.30), torch ≥ 1.13. Usage:

    pip install torch diffusers transformers onnx onnxruntime
    python tools/full-size/export_x4_upscaler.py --out sd-x4-upscaler-onnx/
    python tools/full-size/export_x4_upscaler.py --model ./local-copy --out sd-x4-upscaler-onnx/ --check

Expect ≈ 3.9 GB of float32 files (UNet ≈ 1.9 GB, text encoder ≈ 1.4 GB, VAE decoder ≈ 0.2 GB), a few
minutes per component on a CPU, and ≈ 12 GB of RAM at the peak (the UNet export).
"""
import argparse
import json
import os
import shutil
import tempfile

import onnx
import torch
from torch import nn

OPSET = 14  # as diffusers' convert script; scaled-dot-product attention exports from opset 14


class TextEncoder(nn.Module):
    """CLIPTextModel with int32 input_ids and a tuple output (last_hidden_state, pooler_output)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids):
        out = self.model(input_ids=input_ids.long(), return_dict=False)
        return out[0], out[1]


class Unet(nn.Module):
    """UNet2DConditionModel.forward with the noise level as class_labels (num_class_embeds 1000)."""

    def __init__(self, unet):
        super().__init__()
        self.unet = unet

    def forward(self, sample, timestep, encoder_hidden_states, class_labels):
        return self.unet(sample, timestep, encoder_hidden_states, class_labels=class_labels, return_dict=False)[0]


class VaeDecoder(nn.Module):
    """AutoencoderKL.decode (post_quant_conv + decoder): the pipeline divides by scaling_factor before."""

    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, latent_sample):
        return self.vae.decode(latent_sample, return_dict=False)[0]


def export(module, args, path, input_names, output_names, dynamic_axes, external=False):
    """torch.onnx.export into `path`; large models get their weights in one `model.onnx_data` beside it."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "model.onnx")
        with torch.no_grad():
            torch.onnx.export(module, args, raw, input_names=input_names, output_names=output_names,
                              dynamic_axes=dynamic_axes, opset_version=OPSET, do_constant_folding=True)
        model = onnx.load(raw)  # loads external tensors torch may have written beside it (> 2 GB)
        if external:
            onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                            location="model.onnx_data", size_threshold=1024)
        else:
            onnx.save_model(model, path)
    print(f"wrote {path}")


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def check(out, pipe, inputs):
    """Runs each exported graph in onnxruntime and prints max |Δ| against torch on the export inputs."""
    import numpy as np
    import onnxruntime as ort

    for name, module, feeds in inputs:
        sess = ort.InferenceSession(os.path.join(out, name, "model.onnx"), providers=["CPUExecutionProvider"])
        got = sess.run(None, {k: v.numpy() for k, v in feeds.items()})[0]
        with torch.no_grad():
            want = module(*feeds.values())
            want = (want[0] if isinstance(want, tuple) else want).numpy()
        print(f"{name}: max |onnxruntime − torch| = {np.abs(got - want).max():.3g}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="stabilityai/stable-diffusion-x4-upscaler",
                        help="a Hub id or a local diffusers folder")
    parser.add_argument("--out", required=True, help="the ONNX model folder to write")
    parser.add_argument("--check", action="store_true", help="compare each graph with torch in onnxruntime")
    args = parser.parse_args()

    import diffusers
    from diffusers import StableDiffusionUpscalePipeline

    pipe = StableDiffusionUpscalePipeline.from_pretrained(args.model, torch_dtype=torch.float32)
    # plain attention (no fused scaled_dot_product_attention kernel) exports on every torch version
    for model in (pipe.unet, pipe.vae):
        if hasattr(model, "set_default_attn_processor"):
            model.set_default_attn_processor()
    out = args.out
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)

    # --- tokenizer, schedulers, index
    pipe.tokenizer.save_pretrained(os.path.join(out, "tokenizer"))
    pipe.scheduler.save_pretrained(os.path.join(out, "scheduler"))
    pipe.low_res_scheduler.save_pretrained(os.path.join(out, "low_res_scheduler"))
    write_json(os.path.join(out, "model_index.json"), {
        "_class_name": "StableDiffusionUpscalePipeline",
        "_diffusers_version": diffusers.__version__,
        "low_res_scheduler": ["diffusers", type(pipe.low_res_scheduler).__name__],
        "max_noise_level": int(pipe.config.max_noise_level),
        "scheduler": ["diffusers", type(pipe.scheduler).__name__],
        "text_encoder": ["diffusers", "OnnxRuntimeModel"],
        "tokenizer": ["transformers", type(pipe.tokenizer).__name__],
        "unet": ["diffusers", "OnnxRuntimeModel"],
        "vae_decoder": ["diffusers", "OnnxRuntimeModel"],
    })

    seq = pipe.tokenizer.model_max_length  # 77
    hidden = pipe.text_encoder.config.hidden_size  # 1024
    unet_in = pipe.unet.config.in_channels  # 7
    latent_ch = pipe.vae.config.latent_channels  # 4

    # --- text encoder
    text = TextEncoder(pipe.text_encoder).eval()
    ids = torch.zeros((1, seq), dtype=torch.int32)
    export(text, (ids,), os.path.join(out, "text_encoder", "model.onnx"), ["input_ids"],
           ["last_hidden_state", "pooler_output"], {
               "input_ids": {0: "batch", 1: "sequence"},
               "last_hidden_state": {0: "batch", 1: "sequence"},
               "pooler_output": {0: "batch"},
           })
    pipe.text_encoder.config.to_json_file(os.path.join(out, "text_encoder", "config.json"))

    # --- UNet (≈ 473 M parameters: weights in unet/model.onnx_data)
    unet = Unet(pipe.unet).eval()
    unet_args = (
        torch.randn(2, unet_in, 32, 32),
        torch.tensor([500.0, 500.0]),
        torch.randn(2, seq, hidden),
        torch.tensor([20, 20], dtype=torch.int64),
    )
    export(unet, unet_args, os.path.join(out, "unet", "model.onnx"),
           ["sample", "timestep", "encoder_hidden_states", "class_labels"], ["out_sample"], {
               "sample": {0: "batch", 1: "channels", 2: "height", 3: "width"},
               "timestep": {0: "batch"},
               "encoder_hidden_states": {0: "batch", 1: "sequence"},
               "class_labels": {0: "batch"},
               "out_sample": {0: "batch", 1: "channels", 2: "height", 3: "width"},
           }, external=True)
    pipe.unet.save_config(os.path.join(out, "unet"))  # unet/config.json: in_channels 7, num_class_embeds 1000

    # --- VAE decoder (×4); no encoder: the upscaler never encodes
    dec = VaeDecoder(pipe.vae).eval()
    lat = torch.randn(1, latent_ch, 32, 32)
    export(dec, (lat,), os.path.join(out, "vae_decoder", "model.onnx"), ["latent_sample"], ["sample"], {
        "latent_sample": {0: "batch", 1: "channels", 2: "height", 3: "width"},
        "sample": {0: "batch", 1: "channels", 2: "height", 3: "width"},
    })
    pipe.vae.save_config(os.path.join(out, "vae_decoder"))  # config.json: scaling_factor 0.08333, 3 blocks

    if args.check:
        check(out, pipe, [
            ("text_encoder", text, {"input_ids": ids}),
            ("unet", unet, dict(zip(["sample", "timestep", "encoder_hidden_states", "class_labels"], unet_args))),
            ("vae_decoder", dec, {"latent_sample": lat}),
        ])


if __name__ == "__main__":
    main()
