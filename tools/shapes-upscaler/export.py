"""Export the trained upscaler to packages/model-shapes/upscaler/ in the ONNX
layout of latentkit's StableDiffusionUpscalePipeline (diffusers'
stabilityai/stable-diffusion-x4-upscaler folder, Optimum-style ONNX files):

    model_index.json            _class_name StableDiffusionUpscalePipeline, max_noise_level 350
    scheduler/                  DDIMScheduler, v_prediction, scaled_linear 0.0001..0.02, the timestep_spacing
                                of the evaluation's best configuration
    low_res_scheduler/          DDPMScheduler, scaled_linear 0.0001..0.02, clip_sample, fixed_small
    tokenizer/, text_encoder/   copies of the shipped shapes model's (frozen, shared)
    unet/model.onnx             sample [B,7,h,w] f32, timestep [1|B] f32, encoder_hidden_states [B,77,64] f32,
                                class_labels [B] int64 -> out_sample [B,4,h,w]
    vae_decoder/model.onnx      copy of the shipped shapes VAE decoder (latent_sample -> sample, x4),
                                config with the 128-px latents' scaling_factor
    upscaler.json               measured figures and recommended settings (evaluate.py)

Also dumps torch test vectors for verify_ort.cjs.

    /usr/bin/python3 export.py --ckpt .work/up.pt --eval .work/eval.json
"""
import argparse
import json
import os
import shutil

import numpy as np
import onnx
import torch

import common
from evaluate import load_unet
from models import VAE, VAE_CFG

torch.set_num_threads(1)
OPSET = 17
DIFFUSERS_VERSION = "0.24.0"
MAX_NOISE_LEVEL = 350


class UNetWrap(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, sample, timestep, encoder_hidden_states, class_labels):
        # A length-1 timestep broadcasts over the batch, like UNet2DConditionModel.
        return self.m(sample, timestep.reshape(-1).expand(sample.shape[0]), encoder_hidden_states, class_labels)


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def tensor_json(t):
    t = t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    return {"dims": list(t.shape), "dtype": str(t.dtype), "data": t.reshape(-1).tolist()}


def unet_config(cfg):
    n = len(cfg["block_out_channels"])
    return {
        "_class_name": "UNet2DConditionModel", "_diffusers_version": DIFFUSERS_VERSION, "act_fn": "silu",
        # Legacy diffusers naming, as in SD 1.x and the x4 upscaler: attention_head_dim = number of heads.
        "attention_head_dim": cfg["heads"], "block_out_channels": list(cfg["block_out_channels"]), "center_input_sample": False,
        "class_embed_type": None, "cross_attention_dim": cfg["cross_attention_dim"],
        "down_block_types": ["CrossAttnDownBlock2D" if a else "DownBlock2D" for a in cfg["attention"]],
        "downsample_padding": 1, "dual_cross_attention": False, "flip_sin_to_cos": True, "freq_shift": 0, "in_channels": cfg["in_channels"],
        "layers_per_block": cfg["layers_per_block"], "mid_block_scale_factor": 1, "mid_block_type": "UNetMidBlock2DCrossAttn",
        "mid_block_only_cross_attention": True, "norm_eps": 1e-05, "norm_num_groups": cfg["norm_num_groups"],
        "num_class_embeds": cfg["num_class_embeds"], "only_cross_attention": [True] * n, "out_channels": cfg["out_channels"],
        "sample_size": common.LO, "time_embedding_type": "positional", "transformer_layers_per_block": 1,
        "up_block_types": ["CrossAttnUpBlock2D" if a else "UpBlock2D" for a in cfg["attention"][::-1]],
        "upcast_attention": False, "use_linear_projection": True}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default=".work/up.pt")
    ap.add_argument("--vae", default=".work/vae_shipped.pt")
    ap.add_argument("--shipped", default=common.SHIPPED_MODEL, help="the shipped shapes model (tokenizer, text encoder, VAE decoder are copied)")
    ap.add_argument("--eval", default=None, help="evaluate.py --out JSON: figures and the recommended settings go to upscaler.json")
    ap.add_argument("--out", default=os.path.join(common.HERE, "..", "..", "packages", "model-shapes", "upscaler"))
    ap.add_argument("--vectors", default=".work/vectors")
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    unet, ck = load_unet(args.ckpt)
    cfg, scale = ck["cfg"], ck["scaling_factor"]
    if os.path.exists(out):
        shutil.rmtree(out)

    # ---- copies of the shipped model's tokenizer, text encoder and VAE decoder graph
    for sub in ("tokenizer", "text_encoder"):
        shutil.copytree(os.path.join(args.shipped, sub), os.path.join(out, sub))
    os.makedirs(os.path.join(out, "vae_decoder"))
    shutil.copyfile(os.path.join(args.shipped, "vae_decoder", "model.onnx"), os.path.join(out, "vae_decoder", "model.onnx"))
    vae_cfg = json.load(open(os.path.join(args.shipped, "vae_decoder", "config.json")))
    vae_cfg.update({"sample_size": common.HI, "scaling_factor": scale})
    write_json(f"{out}/vae_decoder/config.json", vae_cfg)

    # ---- the UNet
    D = 64
    s, t, e, c = torch.randn(2, 7, common.LO, common.LO), torch.tensor([981.0]), torch.randn(2, 77, D), torch.tensor([20, 20])
    path = f"{out}/unet/model.onnx"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.onnx.export(UNetWrap(unet), (s, t, e, c), path, input_names=["sample", "timestep", "encoder_hidden_states", "class_labels"],
                      output_names=["out_sample"], opset_version=OPSET, do_constant_folding=True,
                      dynamic_axes={"sample": {0: "batch", 2: "height", 3: "width"}, "timestep": {0: "steps"},
                                    "encoder_hidden_states": {0: "batch", 1: "sequence"}, "class_labels": {0: "batch"},
                                    "out_sample": {0: "batch", 2: "height", 3: "width"}})
    m = onnx.load(path)
    onnx.checker.check_model(m)
    onnx.save_model(m, path, save_as_external_data=False)
    write_json(f"{out}/unet/config.json", unet_config(cfg))

    # ---- pipeline and scheduler configs
    write_json(f"{out}/model_index.json", {
        "_class_name": "StableDiffusionUpscalePipeline", "_diffusers_version": DIFFUSERS_VERSION,
        "low_res_scheduler": ["diffusers", "DDPMScheduler"], "max_noise_level": MAX_NOISE_LEVEL,
        "scheduler": ["diffusers", "DDIMScheduler"], "text_encoder": ["diffusers", "OnnxRuntimeModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "OnnxRuntimeModel"], "vae_decoder": ["diffusers", "OnnxRuntimeModel"]})
    # The evaluation's best configuration decides the scheduler's timestep_spacing too ('trailing' lets a
    # one-step run start at t = 999, from pure noise; 'leading' would run its one step at t = 1).
    best = None
    if args.eval:
        ev = json.load(open(args.eval))
        best = max(ev["configs"], key=lambda r: (r["judge"], r["psnr"]))  # the judge first, then PSNR
    write_json(f"{out}/scheduler/scheduler_config.json", {
        "_class_name": "DDIMScheduler", "_diffusers_version": DIFFUSERS_VERSION, "beta_end": 0.02, "beta_schedule": "scaled_linear",
        "beta_start": 0.0001, "clip_sample": False, "num_train_timesteps": 1000, "prediction_type": "v_prediction", "set_alpha_to_one": False,
        "steps_offset": 1, "timestep_spacing": best.get("spacing", "leading") if best else "leading", "trained_betas": None})
    write_json(f"{out}/low_res_scheduler/scheduler_config.json", {
        "_class_name": "DDPMScheduler", "_diffusers_version": DIFFUSERS_VERSION, "beta_end": 0.02, "beta_schedule": "scaled_linear",
        "beta_start": 0.0001, "clip_sample": True, "num_train_timesteps": 1000, "trained_betas": None, "variance_type": "fixed_small"})
    info = {"description": "x4 upscaler for the shapes world (32x32 -> 128x128); see MODEL_CARD.md", "training_steps": ck["step"],
            "training_seconds": round(ck["seconds"]), "scaling_factor": scale}
    if best:
        info["recommended"] = {"numInferenceSteps": best["steps"], "guidanceScale": best["guidance"], "noiseLevel": best["noise_level"]}
        info["evaluation"] = ev
    write_json(f"{out}/upscaler.json", info)

    # ---- torch test vectors for verify_ort.cjs
    vae = VAE(**VAE_CFG)
    vae.load_state_dict(torch.load(args.vae))
    g = torch.Generator().manual_seed(1)
    vec = {"unet": [], "vae_decoder": []}
    with torch.no_grad():
        for b, h, w, ts, labels in ((2, 32, 32, [981.0], [20, 20]), (2, 16, 24, [501.0, 1.0], [0, 350]), (1, 32, 32, [41.0], [999])):
            s = torch.randn(b, 7, h, w, generator=g)
            t = torch.tensor(ts, dtype=torch.float32)
            e = torch.randn(b, 77, D, generator=g)
            c = torch.tensor(labels, dtype=torch.int64)
            o = unet(s, t.expand(b), e, c)
            vec["unet"].append({"inputs": {"sample": tensor_json(s), "timestep": tensor_json(t), "encoder_hidden_states": tensor_json(e),
                                           "class_labels": tensor_json(c)}, "outputs": {"out_sample": tensor_json(o)}})
        for b, h, w in ((1, 32, 32), (2, 8, 12)):
            z = torch.randn(b, 4, h, w, generator=g)
            vec["vae_decoder"].append({"inputs": {"latent_sample": tensor_json(z)}, "outputs": {"sample": tensor_json(vae.decoder(z))}})
    os.makedirs(args.vectors, exist_ok=True)
    for k, v in vec.items():
        with open(f"{args.vectors}/{k}.json", "w") as f:
            json.dump(v, f)

    sizes = {}
    for root, _, files in os.walk(out):
        for fn in files:
            p = os.path.join(root, fn)
            sizes[os.path.relpath(p, out)] = os.path.getsize(p)
    print(json.dumps({"out": out, "total_bytes": sum(sizes.values()), "files": sizes, "scaling_factor": scale}, indent=1))


if __name__ == "__main__":
    main()
