"""Export to the folder layout and I/O names of a Hugging Face Optimum /
diffusers ONNX Stable Diffusion export, plus heldout.json for the evaluator.

Also dumps random-input test vectors (inputs + torch outputs) as JSON so that
verify_ort.js can check onnxruntime against torch.
"""
import argparse
import json
import os
import shutil

import numpy as np
import onnx
import torch

import data
from models import TEXT_CFG, UNET_CFG, VAE_CFG, VAE_DOWNSCALE, VAE
from tokenizer import MAX_LEN, Tokenizer, self_check
from evaluate import default_vae
from train_unet import Joint

torch.set_num_threads(1)
OPSET = 17
DIFFUSERS_VERSION = "0.24.0"


class TextWrap(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids):
        return self.m(input_ids)


class UNetWrap(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, sample, timestep, encoder_hidden_states):
        # diffusers' ONNX pipeline feeds a length-1 timestep for a CFG batch of
        # 2; broadcast like UNet2DConditionModel does.
        return self.m(sample, timestep.reshape(-1).expand(sample.shape[0]), encoder_hidden_states)


class DecWrap(torch.nn.Module):
    def __init__(self, vae):
        super().__init__()
        self.d = vae.decoder

    def forward(self, latent_sample):
        return self.d(latent_sample)


class EncWrap(torch.nn.Module):
    def __init__(self, vae):
        super().__init__()
        self.e = vae.encoder

    def forward(self, sample):
        return self.e(sample)


def export(module, args, path, inputs, outputs, axes, fold=True):
    """fold=False keeps every weight as an initializer named after its parameter (e.g.
    `m.down.0.att.0.attn2.k.weight`, untransposed, with a Transpose node before the MatMul),
    which is what a LoRA loader looks up; fold=True lets torch pre-transpose Linear weights
    into anonymous `onnx::MatMul_N` initializers (the VAE graphs are still exported that way)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.onnx.export(module, args, path, input_names=inputs, output_names=outputs, dynamic_axes=axes, opset_version=OPSET, do_constant_folding=fold)
    m = onnx.load(path)
    onnx.checker.check_model(m)
    # Keep the graph self-contained (no external data), named like Optimum's.
    onnx.save_model(m, path, save_as_external_data=False)


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def tensor_json(t):
    t = t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    return {"dims": list(t.shape), "dtype": str(t.dtype), "data": t.reshape(-1).tolist()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="../../packages/model-shapes/model")
    ap.add_argument("--ckpt", default=".work/unet.pt")
    ap.add_argument("--vectors", default="/tmp/ortcheck/vectors")
    ap.add_argument("--vae", default=None)
    ap.add_argument("--latents", default=".work/latents.pt", help="the encoded set the UNet was trained on (for its scaling_factor)")
    ap.add_argument("--recommended", default=".work/recommended.json")
    args = ap.parse_args()
    out = args.out
    torch.manual_seed(0)

    ck = torch.load(args.ckpt)
    joint = Joint(ck["vocab_size"])
    joint.load_state_dict(ck["ema"])
    joint.eval()
    vae = VAE(**VAE_CFG)
    vae.load_state_dict(torch.load(args.vae or default_vae()))
    vae.eval()
    scale = torch.load(args.latents)["scaling_factor"]
    tok = Tokenizer.build()
    assert tok.vocab_size if hasattr(tok, "vocab_size") else len(tok.vocab) == ck["vocab_size"]
    D = TEXT_CFG["hidden_size"]

    # ---- tokenizer (and check the written files reload to the same tokenizer)
    tok.save(f"{out}/tokenizer")
    tok2 = Tokenizer.load(f"{out}/tokenizer")
    self_check(tok2)
    for p in ["a red circle on a blue background", "", "red circle, blue background", "a small red circle at the top left on a blue background"]:
        assert tok2.encode(p) == tok.encode(p)

    # ---- ONNX graphs (UNet and text encoder unfolded: weights keep their parameter names, for LoRA)
    ids = torch.tensor([tok.encode("a red circle on a blue background"), tok.encode("")], dtype=torch.int32)
    export(TextWrap(joint.text), (ids,), f"{out}/text_encoder/model.onnx", ["input_ids"], ["last_hidden_state", "pooler_output"],
           {"input_ids": {0: "batch", 1: "sequence"}, "last_hidden_state": {0: "batch", 1: "sequence"}, "pooler_output": {0: "batch"}}, fold=False)
    L = data.RES // VAE_DOWNSCALE
    s, t, ehs = torch.randn(2, 4, L, L), torch.tensor([981.0, 981.0]), torch.randn(2, MAX_LEN, D)
    export(UNetWrap(joint.unet), (s, t, ehs), f"{out}/unet/model.onnx", ["sample", "timestep", "encoder_hidden_states"], ["out_sample"],
           {"sample": {0: "batch", 2: "height", 3: "width"}, "timestep": {0: "steps"}, "encoder_hidden_states": {0: "batch", 1: "sequence"},
            "out_sample": {0: "batch", 2: "height", 3: "width"}}, fold=False)
    export(DecWrap(vae), (torch.randn(1, 4, L, L),), f"{out}/vae_decoder/model.onnx", ["latent_sample"], ["sample"],
           {"latent_sample": {0: "batch", 2: "height", 3: "width"}, "sample": {0: "batch", 2: "height", 3: "width"}})
    export(EncWrap(vae), (torch.randn(1, 3, data.RES, data.RES),), f"{out}/vae_encoder/model.onnx", ["sample"], ["latent_parameters"],
           {"sample": {0: "batch", 2: "height", 3: "width"}, "latent_parameters": {0: "batch", 2: "height", 3: "width"}})

    # ---- configs (diffusers / transformers forms)
    write_json(f"{out}/model_index.json", {
        "_class_name": "OnnxStableDiffusionPipeline", "_diffusers_version": DIFFUSERS_VERSION,
        "feature_extractor": [None, None], "requires_safety_checker": False, "safety_checker": [None, None],
        "scheduler": ["diffusers", "DDIMScheduler"], "text_encoder": ["diffusers", "OnnxRuntimeModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "OnnxRuntimeModel"],
        "vae_decoder": ["diffusers", "OnnxRuntimeModel"], "vae_encoder": ["diffusers", "OnnxRuntimeModel"]})
    write_json(f"{out}/scheduler/scheduler_config.json", {
        "_class_name": "DDIMScheduler", "_diffusers_version": DIFFUSERS_VERSION, "beta_end": 0.012, "beta_schedule": "scaled_linear",
        "beta_start": 0.00085, "clip_sample": False, "num_train_timesteps": 1000, "prediction_type": "epsilon", "set_alpha_to_one": False,
        "steps_offset": 1, "timestep_spacing": "leading", "trained_betas": None})
    write_json(f"{out}/text_encoder/config.json", {
        "architectures": ["CLIPTextModel"], "attention_dropout": 0.0, "bos_token_id": tok.bos_id, "dropout": 0.0, "eos_token_id": tok.eos_id,
        "hidden_act": "quick_gelu", "hidden_size": D, "initializer_factor": 1.0, "initializer_range": 0.02,
        "intermediate_size": TEXT_CFG["intermediate_size"], "layer_norm_eps": 1e-05, "max_position_embeddings": TEXT_CFG["max_position_embeddings"],
        "model_type": "clip_text_model", "num_attention_heads": TEXT_CFG["num_attention_heads"], "num_hidden_layers": TEXT_CFG["num_hidden_layers"],
        "pad_token_id": tok.pad_id, "projection_dim": D, "torch_dtype": "float32", "transformers_version": "4.35.2", "vocab_size": len(tok.vocab)})
    u = UNET_CFG
    write_json(f"{out}/unet/config.json", {
        "_class_name": "UNet2DConditionModel", "_diffusers_version": DIFFUSERS_VERSION, "act_fn": "silu",
        # Like SD 1.x, attention_head_dim here is (legacy diffusers naming) the number of heads.
        "attention_head_dim": u["heads"], "block_out_channels": list(u["block_out_channels"]), "center_input_sample": False,
        "cross_attention_dim": u["cross_attention_dim"], "down_block_types": ["CrossAttnDownBlock2D"] * len(u["block_out_channels"]),
        "downsample_padding": 1, "dual_cross_attention": False, "flip_sin_to_cos": True, "freq_shift": 0, "in_channels": 4,
        "layers_per_block": u["layers_per_block"], "mid_block_scale_factor": 1, "mid_block_type": "UNetMidBlock2DCrossAttn", "norm_eps": 1e-05,
        "norm_num_groups": u["norm_num_groups"], "only_cross_attention": False, "out_channels": 4, "sample_size": data.RES // VAE_DOWNSCALE,
        "time_embedding_type": "positional", "transformer_layers_per_block": 1,
        "up_block_types": ["CrossAttnUpBlock2D"] * len(u["block_out_channels"]), "upcast_attention": False, "use_linear_projection": True})
    vae_cfg = {
        "_class_name": "AutoencoderKL", "_diffusers_version": DIFFUSERS_VERSION, "act_fn": "silu", "block_out_channels": list(VAE_CFG["block_out_channels"]),
        "down_block_types": ["DownEncoderBlock2D"] * len(VAE_CFG["block_out_channels"]), "force_upcast": True, "in_channels": 3,
        "latent_channels": 4, "layers_per_block": 1, "norm_num_groups": VAE_CFG["norm_num_groups"], "out_channels": 3, "sample_size": data.RES,
        "scaling_factor": scale, "up_block_types": ["UpDecoderBlock2D"] * len(VAE_CFG["block_out_channels"])}
    write_json(f"{out}/vae_decoder/config.json", vae_cfg)
    write_json(f"{out}/vae_encoder/config.json", vae_cfg)
    world = data.world_json()
    world["tokenizer_words"] = [w for w in sorted(tok.vocab) if w.endswith("</w>") and len(w) > 5]
    if os.path.exists(args.recommended):
        world["recommended"] = json.load(open(args.recommended))
    write_json(f"{out}/heldout.json", world)

    # ---- test vectors for verify_ort.js
    os.makedirs(args.vectors, exist_ok=True)
    g = torch.Generator().manual_seed(1)
    ids_short = ids[:, :12].clone()
    vec = {"text_encoder": [], "unet": [], "vae_decoder": [], "vae_encoder": []}
    with torch.no_grad():
        for x in (ids, ids_short):
            h, p = joint.text(x)
            vec["text_encoder"].append({"inputs": {"input_ids": tensor_json(x)}, "outputs": {"last_hidden_state": tensor_json(h), "pooler_output": tensor_json(p)}})
        for b, hw, ts in ((2, L, [981.0, 1.0]), (2, L, [501.0]), (1, 2 * L, [41.0])):
            s = torch.randn(b, 4, hw, hw, generator=g)
            t = torch.tensor(ts, dtype=torch.float32)
            e = torch.randn(b, MAX_LEN, D, generator=g)
            o = joint.unet(s, t.expand(b), e)
            vec["unet"].append({"inputs": {"sample": tensor_json(s), "timestep": tensor_json(t), "encoder_hidden_states": tensor_json(e)},
                                "outputs": {"out_sample": tensor_json(o)}})
        for b, hw in ((2, L), (1, L // 2)):
            z = torch.randn(b, 4, hw, hw, generator=g)
            vec["vae_decoder"].append({"inputs": {"latent_sample": tensor_json(z)}, "outputs": {"sample": tensor_json(vae.decoder(z))}})
        for b, hw in ((2, data.RES), (1, 2 * data.RES)):
            x = torch.rand(b, 3, hw, hw, generator=g) * 2 - 1
            vec["vae_encoder"].append({"inputs": {"sample": tensor_json(x)}, "outputs": {"latent_parameters": tensor_json(vae.encoder(x))}})
    for k, v in vec.items():
        with open(f"{args.vectors}/{k}.json", "w") as f:
            json.dump(v, f)

    total = 0
    for root, _, files in os.walk(out):
        for fn in files:
            total += os.path.getsize(os.path.join(root, fn))
    print("exported to", os.path.abspath(out), "total bytes", total, "scaling_factor", scale)


if __name__ == "__main__":
    main()
