#!/usr/bin/env python3
"""Exports masterful/gligen-1-4-generation-text-box (diffusers' StableDiffusionGLIGENPipeline, text-box
grounding) to latentkit's ONNX convention for grounded UNets (docs/layout-to-image.md):

    text_encoder/model.onnx  input_ids int32 [B, S] → last_hidden_state [B, S, 768], pooler_output [B, 768]
                             (the pipeline encodes each phrase to pooler_output)
    unet/model.onnx          sample [B, 4, h, w], timestep float32 [1|B], encoder_hidden_states [B, S, 768],
                             gligen_boxes float32 [B, 30, 4], gligen_positive_embeddings float32 [B, 30, 768],
                             gligen_masks float32 [B, 30], gligen_enabled float32 [] (1 = on, 0 = off)
                             → out_sample [B, 4, h, w]   (+ unet/model.onnx_data: external weights, > 2 GB)
    vae_decoder/, vae_encoder/, tokenizer/, scheduler/, model_index.json (_class_name StableDiffusionGLIGENPipeline),
    unet/config.json ("attention_type": "gated", as saved by diffusers).

diffusers switches its GatedSelfAttentionDense layers with a Python flag (`fuser.enabled`, set by the
pipeline's enable_fuser() when scheduled sampling ends), which an ONNX graph cannot have. Here every fuser's
forward is replaced by the same arithmetic with both residuals multiplied by the graph input `gligen_enabled`:

    x ← x + e·tanh(α_attn)·attn(norm1([x; linear(objs)]))[:, :n_visual]
    x ← x + e·tanh(α_dense)·ff(norm2(x))

so e = 1 is diffusers' "on" (e·tanh(α) = tanh(α) exactly) and e = 0 leaves x unchanged: the plain UNet. One
graph serves both phases of scheduled sampling. The position net (GLIGENTextBoundingboxProjection) runs
inside the graph from boxes, embeddings and masks (diffusers passes them as
cross_attention_kwargs={"gligen": {...}}).

NOT run in CI and NOT run in this project's sandbox (no Hugging Face Hub access there, and no diffusers
install): it is written against diffusers' public API (≥ 0.21, which has StableDiffusionGLIGENPipeline and
attention_type "gated"), transformers (≥ 4.30), torch ≥ 1.13. The same wrapping was checked in the
sandbox on this project's own grounded UNet (tools/shapes-layout/gligen.py: gate off = the plain UNet exactly
in torch; onnxruntime vs torch ≤ 4e-6). Usage:

    pip install torch diffusers transformers onnx onnxruntime
    python tools/full-size/export_gligen.py --out gligen-1-4-text-box-onnx/
    python tools/full-size/export_gligen.py --model ./local-copy --out gligen-onnx/ --check

Expect ≈ 4 GB of float32 files (UNet ≈ 3.5 GB with the fusers and position net, text encoder ≈ 0.5 GB,
VAE ≈ 0.3 GB) and ≈ 16 GB of RAM at the peak (the UNet export).
"""
import argparse
import json
import os
import shutil
import tempfile

import onnx
import torch
from torch import nn

OPSET = 17
MAX_OBJECTS = 30  # diffusers' GLIGEN pipeline pads every layout to 30 slots


class TextEncoder(nn.Module):
    """CLIPTextModel with int32 input_ids and a tuple output (last_hidden_state, pooler_output)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids):
        out = self.model(input_ids=input_ids.long(), return_dict=False)
        return out[0], out[1]


class Gate:
    """Holds the current gligen_enabled tensor while the wrapped UNet runs (read by the fusers)."""

    value = None


def gated_fuser_forward(fuser, gate):
    """GatedSelfAttentionDense.forward with the residuals multiplied by gate.value (a traced tensor)."""

    def forward(x, objs):
        e = gate.value
        n_visual = x.shape[1]
        objs = fuser.linear(objs)
        x = x + e * fuser.alpha_attn.tanh() * fuser.attn(fuser.norm1(torch.cat([x, objs], dim=1)))[:, :n_visual, :]
        return x + e * fuser.alpha_dense.tanh() * fuser.ff(fuser.norm2(x))

    return forward


def fusers_of(unet):
    from diffusers.models.attention import GatedSelfAttentionDense

    return [m for m in unet.modules() if isinstance(m, GatedSelfAttentionDense)]


class GroundedUnet(nn.Module):
    """UNet2DConditionModel (attention_type "gated") in the convention: gligen inputs as graph inputs, the
    fusers gated by gligen_enabled instead of their Python `enabled` flag."""

    def __init__(self, unet):
        super().__init__()
        self.unet = unet
        self.gate = Gate()
        self.fusers = fusers_of(unet)
        if not self.fusers:
            raise SystemExit("this UNet has no GatedSelfAttentionDense layers (unet/config.json attention_type must be 'gated')")
        self.original = [f.forward for f in self.fusers]

    def forward(self, sample, timestep, encoder_hidden_states, gligen_boxes, gligen_positive_embeddings, gligen_masks, gligen_enabled):
        for f in self.fusers:
            f.forward = gated_fuser_forward(f, self.gate)
        self.gate.value = gligen_enabled
        try:
            t = timestep.reshape(-1).expand(sample.shape[0])
            gligen = {"boxes": gligen_boxes, "positive_embeddings": gligen_positive_embeddings, "masks": gligen_masks}
            return self.unet(sample, t, encoder_hidden_states, cross_attention_kwargs={"gligen": gligen}, return_dict=False)[0]
        finally:
            self.gate.value = None
            for f, fwd in zip(self.fusers, self.original):
                f.forward = fwd


class VaeDecoder(nn.Module):
    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, latent_sample):
        return self.vae.decode(latent_sample, return_dict=False)[0]


class VaeEncoder(nn.Module):
    """AutoencoderKL.encode's moments (mean ‖ logvar), as latentkit's `latent_parameters` output."""

    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, sample):
        return self.vae.quant_conv(self.vae.encoder(sample))


def export(module, args, path, input_names, output_names, dynamic_axes, external=False):
    """torch.onnx.export into `path`; large models get their weights in one `model.onnx_data` beside it."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "model.onnx")
        with torch.no_grad():
            torch.onnx.export(module, args, raw, input_names=input_names, output_names=output_names,
                              dynamic_axes=dynamic_axes, opset_version=OPSET, do_constant_folding=True)
        model = onnx.load(raw)
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


def check(out, pipe, unet_args):
    """onnxruntime vs diffusers itself: gate 1 vs the UNet with its fusers enabled (diffusers' own forward),
    gate 0 vs the UNet called without grounding (the plain UNet)."""
    import numpy as np
    import onnxruntime as ort

    names = ["sample", "timestep", "encoder_hidden_states", "gligen_boxes", "gligen_positive_embeddings", "gligen_masks", "gligen_enabled"]
    sess = ort.InferenceSession(os.path.join(out, "unet", "model.onnx"), providers=["CPUExecutionProvider"])
    s, t, e, boxes, emb, masks, _ = unet_args
    tb = t.reshape(-1).expand(s.shape[0])
    with torch.no_grad():
        for f in fusers_of(pipe.unet):
            f.enabled = True
        on = pipe.unet(s, tb, e, cross_attention_kwargs={"gligen": {"boxes": boxes, "positive_embeddings": emb, "masks": masks}}, return_dict=False)[0]
        plain = pipe.unet(s, tb, e, return_dict=False)[0]
    for gate, want in ((1.0, on), (0.0, plain)):
        feeds = dict(zip(names, [*(a.numpy() for a in unet_args[:6]), np.array(gate, np.float32)]))
        got = sess.run(None, feeds)[0]
        print(f"unet gligen_enabled={gate:g}: max |onnxruntime − diffusers| = {np.abs(got - want.numpy()).max():.3g}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="masterful/gligen-1-4-generation-text-box", help="a Hub id or a local diffusers folder")
    parser.add_argument("--out", required=True, help="the ONNX model folder to write")
    parser.add_argument("--check", action="store_true", help="compare the UNet with diffusers in onnxruntime (gate on and off)")
    args = parser.parse_args()

    import diffusers
    from diffusers import StableDiffusionGLIGENPipeline

    pipe = StableDiffusionGLIGENPipeline.from_pretrained(args.model, torch_dtype=torch.float32, safety_checker=None)
    for model in (pipe.unet, pipe.vae):
        if hasattr(model, "set_default_attn_processor"):
            model.set_default_attn_processor()  # plain attention exports on every torch version
    if pipe.unet.config.get("attention_type") != "gated":
        raise SystemExit(f"{args.model}: unet attention_type is {pipe.unet.config.get('attention_type')!r}, not 'gated'")
    out = args.out
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)

    pipe.tokenizer.save_pretrained(os.path.join(out, "tokenizer"))
    pipe.scheduler.save_pretrained(os.path.join(out, "scheduler"))
    write_json(os.path.join(out, "model_index.json"), {
        "_class_name": "StableDiffusionGLIGENPipeline",
        "_diffusers_version": diffusers.__version__,
        "feature_extractor": [None, None],
        "requires_safety_checker": False,
        "safety_checker": [None, None],
        "scheduler": ["diffusers", type(pipe.scheduler).__name__],
        "text_encoder": ["diffusers", "OnnxRuntimeModel"],
        "tokenizer": ["transformers", type(pipe.tokenizer).__name__],
        "unet": ["diffusers", "OnnxRuntimeModel"],
        "vae_decoder": ["diffusers", "OnnxRuntimeModel"],
        "vae_encoder": ["diffusers", "OnnxRuntimeModel"],
    })
    seq = pipe.tokenizer.model_max_length  # 77
    hidden = pipe.text_encoder.config.hidden_size  # 768
    positive_len = pipe.unet.position_net.null_positive_feature.shape[0]  # 768: the pooled phrase width
    latent = pipe.vae.config.latent_channels

    text = TextEncoder(pipe.text_encoder).eval()
    export(text, (torch.zeros((1, seq), dtype=torch.int32),), os.path.join(out, "text_encoder", "model.onnx"), ["input_ids"],
           ["last_hidden_state", "pooler_output"],
           {"input_ids": {0: "batch", 1: "sequence"}, "last_hidden_state": {0: "batch", 1: "sequence"}, "pooler_output": {0: "batch"}})
    pipe.text_encoder.config.to_json_file(os.path.join(out, "text_encoder", "config.json"))

    boxes = torch.zeros(2, MAX_OBJECTS, 4)
    boxes[:, 0] = torch.tensor([0.1, 0.1, 0.5, 0.5])
    boxes[:, 1] = torch.tensor([0.5, 0.4, 0.9, 0.9])
    emb = torch.zeros(2, MAX_OBJECTS, positive_len)
    emb[:, :2] = torch.randn(2, 2, positive_len)
    masks = torch.zeros(2, MAX_OBJECTS)
    masks[1, :2] = 1  # row 0 is a CFG unconditional row: masks 0
    unet_args = (torch.randn(2, latent, 64, 64), torch.tensor([981.0]), torch.randn(2, seq, hidden), boxes, emb, masks, torch.tensor(1.0))
    export(GroundedUnet(pipe.unet).eval(), unet_args, os.path.join(out, "unet", "model.onnx"),
           ["sample", "timestep", "encoder_hidden_states", "gligen_boxes", "gligen_positive_embeddings", "gligen_masks", "gligen_enabled"],
           ["out_sample"], {
               "sample": {0: "batch", 2: "height", 3: "width"},
               "timestep": {0: "steps"},
               "encoder_hidden_states": {0: "batch", 1: "sequence"},
               "gligen_boxes": {0: "batch"},
               "gligen_positive_embeddings": {0: "batch"},
               "gligen_masks": {0: "batch"},
               "out_sample": {0: "batch", 2: "height", 3: "width"},
           }, external=True)
    pipe.unet.save_config(os.path.join(out, "unet"))  # keeps "attention_type": "gated", cross_attention_dim 768

    lat = torch.randn(1, latent, 64, 64)
    export(VaeDecoder(pipe.vae).eval(), (lat,), os.path.join(out, "vae_decoder", "model.onnx"), ["latent_sample"], ["sample"], {
        "latent_sample": {0: "batch", 2: "height", 3: "width"}, "sample": {0: "batch", 2: "height", 3: "width"}})
    export(VaeEncoder(pipe.vae).eval(), (torch.randn(1, 3, 512, 512),), os.path.join(out, "vae_encoder", "model.onnx"), ["sample"],
           ["latent_parameters"], {"sample": {0: "batch", 2: "height", 3: "width"}, "latent_parameters": {0: "batch", 2: "height", 3: "width"}})
    for part in ("vae_decoder", "vae_encoder"):
        pipe.vae.save_config(os.path.join(out, part))

    if args.check:
        check(out, pipe, unet_args)


if __name__ == "__main__":
    main()
