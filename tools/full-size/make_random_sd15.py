#!/usr/bin/env python3
"""A full-size, random-weight model with Stable Diffusion 1.5's architecture, in the diffusers ONNX layout.

For benchmarking only (bench/pipeline.bench.ts): the weights are random, the images are noise, but every
tensor has SD 1.5's shape, so session.run costs what the real model costs (UNet ~860M parameters, VAE
~84M, CLIP text encoder ~123M). diffusers is not available here, so the networks are written in plain
torch following diffusers' UNet2DConditionModel / AutoencoderKL and transformers' CLIPTextModel, driven by
the real configs in configs/ (copied from the project's shared reference data, sd-v1-configs). The
tokenizer is the real CLIP one (tests/fixtures/clip). Exports follow diffusers'
scripts/convert_stable_diffusion_checkpoint_to_onnx.py: input/output names, dynamic axes, int32
input_ids, float timestep [batch], the UNet's weights in one external file `unet/weights.pb`.

    /usr/bin/python3 tools/full-size/make_random_sd15.py --out /tmp/sd15-random      # ~4.3 GB, not committed

The same weights as PyTorch modules, for the side-by-side bench (bench/compare, `npm run bench:compare`):
`--save-torch PATH` also saves the text encoder's, UNet's and VAE decoder's state dicts (one torch.save file,
~4.1 GB). With `--torch-only` it writes nothing else: each net's forward runs once on the export's example
input instead of torch.onnx.export (whose trace runs it once), so the seeded random stream advances as in
a full run and the weights come out bit-identical to an earlier run's ONNX initializers:

    /usr/bin/python3 tools/full-size/make_random_sd15.py --torch-only --save-torch /tmp/sd15-random-torch.pt

Needs Debian's python3-torch and python3-onnx. Memory: ~10 GB peak; time: several minutes on 2 cores.
"""
import argparse
import json
import math
import os
import shutil

import onnx
import torch
import torch.nn.functional as F
from torch import nn

from fused_attention import attention  # plain chain here; make_optimised_sd15.py exports the fused form

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
OPSET = 14


def load_config(name):
    with open(os.path.join(HERE, "configs", name)) as f:
        return json.load(f)


# ---------------------------------------------------------------- CLIP text encoder (transformers CLIPTextModel)
class ClipLayer(nn.Module):
    def __init__(self, d, heads, ff):
        super().__init__()
        self.heads = heads
        self.layer_norm1 = nn.LayerNorm(d)
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(d, d) for _ in range(4))
        self.layer_norm2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, ff)
        self.fc2 = nn.Linear(ff, d)

    def forward(self, x, mask):
        b, n, d = x.shape
        h = self.layer_norm1(x)
        split = lambda t: t.view(b, n, self.heads, d // self.heads).transpose(1, 2)
        q, k, v = split(self.q_proj(h)), split(self.k_proj(h)), split(self.v_proj(h))
        w = (q @ k.transpose(-1, -2)) / math.sqrt(d // self.heads) + mask
        h = (w.softmax(-1) @ v).transpose(1, 2).reshape(b, n, d)
        x = x + self.out_proj(h)
        h = self.fc1(self.layer_norm2(x))
        h = h * torch.sigmoid(1.702 * h)  # quick_gelu
        return x + self.fc2(h)


class ClipTextModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["hidden_size"]
        self.token_embedding = nn.Embedding(cfg["vocab_size"], d)
        self.position_embedding = nn.Embedding(cfg["max_position_embeddings"], d)
        self.layers = nn.ModuleList(
            ClipLayer(d, cfg["num_attention_heads"], cfg["intermediate_size"]) for _ in range(cfg["num_hidden_layers"])
        )
        self.final_layer_norm = nn.LayerNorm(d)

    def forward(self, input_ids):
        n = input_ids.shape[1]
        x = self.token_embedding(input_ids.long()) + self.position_embedding(torch.arange(n))
        mask = torch.full((n, n), float("-inf")).triu(1)
        for layer in self.layers:
            x = layer(x, mask)
        x = self.final_layer_norm(x)
        pooled = x[torch.arange(x.shape[0]), input_ids.long().argmax(-1)]
        return x, pooled


# ---------------------------------------------------------------- UNet (diffusers UNet2DConditionModel, SD 1.x)
class Resnet(nn.Module):
    def __init__(self, cin, cout, temb=1280, groups=32, eps=1e-5):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=eps)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb, cout) if temb else None
        self.norm2 = nn.GroupNorm(groups, cout, eps=eps)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb=None):
        h = self.conv1(F.silu(self.norm1(x)))
        if self.time_emb_proj is not None:
            h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.conv_shortcut(x) if self.conv_shortcut is not None else x) + h


class Attention(nn.Module):
    def __init__(self, d, heads, context=None):
        super().__init__()
        self.heads = heads
        self.to_q = nn.Linear(d, d, bias=False)
        self.to_k = nn.Linear(context or d, d, bias=False)
        self.to_v = nn.Linear(context or d, d, bias=False)
        self.to_out = nn.Linear(d, d)

    def forward(self, x, context=None):
        context = x if context is None else context
        # plain Reshape/Transpose/MatMul/Softmax chain, or one com.microsoft::MultiHeadAttention (--attention fused)
        return self.to_out(attention(self.to_q(x), self.to_k(context), self.to_v(context), self.heads))


class TransformerBlock(nn.Module):
    def __init__(self, d, heads, context):
        super().__init__()
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn1 = Attention(d, heads)
        self.attn2 = Attention(d, heads, context)
        self.ff_proj = nn.Linear(d, d * 8)  # GEGLU: 2 × 4d
        self.ff_out = nn.Linear(d * 4, d)

    def forward(self, x, context):
        x = self.attn1(self.norm1(x)) + x
        x = self.attn2(self.norm2(x), context) + x
        h, gate = self.ff_proj(self.norm3(x)).chunk(2, dim=-1)
        return self.ff_out(h * F.gelu(gate)) + x


class Transformer2D(nn.Module):
    def __init__(self, c, heads, context, groups=32):  # groups: unet config norm_num_groups (32 in SD 1.x)
        super().__init__()
        self.norm = nn.GroupNorm(groups, c, eps=1e-6)
        self.proj_in = nn.Conv2d(c, c, 1)  # use_linear_projection = false in SD 1.x
        self.block = TransformerBlock(c, heads, context)
        self.proj_out = nn.Conv2d(c, c, 1)

    def forward(self, x, context):
        b, c, h, w = x.shape
        y = self.proj_in(self.norm(x)).permute(0, 2, 3, 1).reshape(b, h * w, c)
        y = self.block(y, context).reshape(b, h, w, c).permute(0, 3, 1, 2)
        return self.proj_out(y) + x


class Downsample(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class Upsample(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class UNet(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        ch = cfg["block_out_channels"]
        heads = cfg["attention_head_dim"]  # legacy naming: the number of heads in SD 1.x
        ctx = cfg["cross_attention_dim"]
        layers = cfg["layers_per_block"]
        temb = ch[0] * 4
        g = cfg.get("norm_num_groups", 32)
        self.ch0 = ch[0]
        self.time_linear_1 = nn.Linear(ch[0], temb)
        self.time_linear_2 = nn.Linear(temb, temb)
        self.conv_in = nn.Conv2d(cfg["in_channels"], ch[0], 3, padding=1)
        self.down = nn.ModuleList()
        cout = ch[0]
        for i, kind in enumerate(cfg["down_block_types"]):
            cin, cout = cout, ch[i]
            block = nn.Module()
            block.resnets = nn.ModuleList(Resnet(cin if j == 0 else cout, cout, temb, g) for j in range(layers))
            block.attentions = (
                nn.ModuleList(Transformer2D(cout, heads, ctx, g) for _ in range(layers)) if kind.startswith("CrossAttn") else None
            )
            block.downsample = Downsample(cout) if i < len(ch) - 1 else None
            self.down.append(block)
        self.mid_resnet_1 = Resnet(ch[-1], ch[-1], temb, g)
        self.mid_attention = Transformer2D(ch[-1], heads, ctx, g)
        self.mid_resnet_2 = Resnet(ch[-1], ch[-1], temb, g)
        self.up = nn.ModuleList()
        rev = list(reversed(ch))
        cout = rev[0]
        for i, kind in enumerate(cfg["up_block_types"]):
            prev, cout, cin = cout, rev[i], rev[min(i + 1, len(ch) - 1)]
            block = nn.Module()
            block.resnets = nn.ModuleList(
                Resnet((prev if j == 0 else cout) + (cin if j == layers else cout), cout, temb, g) for j in range(layers + 1)
            )
            block.attentions = (
                nn.ModuleList(Transformer2D(cout, heads, ctx, g) for _ in range(layers + 1))
                if kind.startswith("CrossAttn")
                else None
            )
            block.upsample = Upsample(cout) if i < len(ch) - 1 else None
            self.up.append(block)
        self.conv_norm_out = nn.GroupNorm(cfg["norm_num_groups"], ch[0], eps=cfg["norm_eps"])
        self.conv_out = nn.Conv2d(ch[0], cfg["out_channels"], 3, padding=1)

    def time_embedding(self, timestep):
        # flip_sin_to_cos = true, freq_shift = 0 (diffusers get_timestep_embedding)
        half = self.ch0 // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / half)
        args = timestep.float()[:, None] * freqs[None]
        emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
        return self.time_linear_2(F.silu(self.time_linear_1(emb)))

    def forward(self, sample, timestep, encoder_hidden_states):
        temb = self.time_embedding(timestep.expand(sample.shape[0]))
        x = self.conv_in(sample)
        skips = [x]
        for block in self.down:
            for j, resnet in enumerate(block.resnets):
                x = resnet(x, temb)
                if block.attentions is not None:
                    x = block.attentions[j](x, encoder_hidden_states)
                skips.append(x)
            if block.downsample is not None:
                x = block.downsample(x)
                skips.append(x)
        x = self.mid_resnet_2(self.mid_attention(self.mid_resnet_1(x, temb), encoder_hidden_states), temb)
        for block in self.up:
            for j, resnet in enumerate(block.resnets):
                x = resnet(torch.cat([x, skips.pop()], dim=1), temb)
                if block.attentions is not None:
                    x = block.attentions[j](x, encoder_hidden_states)
            if block.upsample is not None:
                x = block.upsample(x)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


# ---------------------------------------------------------------- VAE (diffusers AutoencoderKL)
class VaeAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.group_norm = nn.GroupNorm(32, c, eps=1e-6)
        self.to_q, self.to_k, self.to_v, self.to_out = (nn.Linear(c, c) for _ in range(4))

    def forward(self, x):
        b, c, h, w = x.shape
        y = self.group_norm(x).view(b, c, h * w).transpose(1, 2)
        y = attention(self.to_q(y), self.to_k(y), self.to_v(y), 1)  # one head of c channels
        return self.to_out(y).transpose(1, 2).reshape(b, c, h, w) + x


class VaeDownsample(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, stride=2)

    def forward(self, x):
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class VaeEncoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        ch, layers, z = cfg["block_out_channels"], cfg["layers_per_block"], cfg["latent_channels"]
        self.conv_in = nn.Conv2d(cfg["in_channels"], ch[0], 3, padding=1)
        self.blocks = nn.ModuleList()
        cout = ch[0]
        for i in range(len(ch)):
            cin, cout = cout, ch[i]
            self.blocks.extend(Resnet(cin if j == 0 else cout, cout, temb=0, eps=1e-6) for j in range(layers))
            if i < len(ch) - 1:
                self.blocks.append(VaeDownsample(cout))
        self.mid = nn.Sequential(Resnet(ch[-1], ch[-1], 0, eps=1e-6), VaeAttention(ch[-1]), Resnet(ch[-1], ch[-1], 0, eps=1e-6))
        self.norm_out = nn.GroupNorm(32, ch[-1], eps=1e-6)
        self.conv_out = nn.Conv2d(ch[-1], 2 * z, 3, padding=1)
        self.quant_conv = nn.Conv2d(2 * z, 2 * z, 1)
        self.scaling = cfg["scaling_factor"]

    def forward(self, sample):
        x = self.conv_in(sample)
        for block in self.blocks:
            x = block(x)
        x = self.quant_conv(self.conv_out(F.silu(self.norm_out(self.mid(x)))))
        mean, logvar = x.chunk(2, dim=1)
        # diffusers' export samples the posterior: mean + std · ε
        return mean + torch.exp(0.5 * logvar.clamp(-30, 20)) * torch.randn_like(mean)


class VaeDecoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        ch, layers, z = list(reversed(cfg["block_out_channels"])), cfg["layers_per_block"], cfg["latent_channels"]
        self.post_quant_conv = nn.Conv2d(z, z, 1)
        self.conv_in = nn.Conv2d(z, ch[0], 3, padding=1)
        self.mid = nn.Sequential(Resnet(ch[0], ch[0], 0, eps=1e-6), VaeAttention(ch[0]), Resnet(ch[0], ch[0], 0, eps=1e-6))
        self.blocks = nn.ModuleList()
        cout = ch[0]
        for i in range(len(ch)):
            cin, cout = cout, ch[i]
            self.blocks.extend(Resnet(cin if j == 0 else cout, cout, temb=0, eps=1e-6) for j in range(layers + 1))
            if i < len(ch) - 1:
                self.blocks.append(Upsample(cout))
        self.norm_out = nn.GroupNorm(32, ch[-1], eps=1e-6)
        self.conv_out = nn.Conv2d(ch[-1], cfg["out_channels"], 3, padding=1)

    def forward(self, latent_sample):
        x = self.mid(self.conv_in(self.post_quant_conv(latent_sample)))
        for block in self.blocks:
            x = block(x)
        return self.conv_out(F.silu(self.norm_out(x)))


# ---------------------------------------------------------------- export
def params(module):
    return sum(p.numel() for p in module.parameters())


def export(module, args, path, inputs, outputs, axes, external=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = os.path.join(os.path.dirname(path), "tmp")
    os.makedirs(tmp, exist_ok=True)
    raw = os.path.join(tmp, "model.onnx")
    with torch.no_grad():
        torch.onnx.export(module, args, raw, input_names=inputs, output_names=outputs, dynamic_axes=axes,
                          opset_version=OPSET, do_constant_folding=True)
    model = onnx.load(raw)  # also loads the per-tensor files torch writes for models > 2 GB
    if external:
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True, location=external,
                        convert_attribute=False)
    else:
        onnx.save_model(model, path)
    shutil.rmtree(tmp)


def run_forward(module, args, *_, **__):
    """What torch.onnx.export's trace does to the random stream: one forward on the example input."""
    with torch.no_grad():
        module(*args)


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="/tmp/sd15-random")
    ap.add_argument("--only", choices=["text_encoder", "unet", "vae_decoder", "vae_encoder"], action="append")
    ap.add_argument("--save-torch", metavar="PATH",
                    help="also save the text encoder's, UNet's and VAE decoder's torch state dicts to PATH")
    ap.add_argument("--torch-only", action="store_true",
                    help="with --save-torch: write only that file (no ONNX export, the same weights)")
    args = ap.parse_args()
    if args.torch_only and not args.save_torch:
        ap.error("--torch-only needs --save-torch PATH")
    out = args.out
    only = set(args.only or ["text_encoder", "unet", "vae_decoder", "vae_encoder"])
    write = not args.torch_only
    # torch-only: the forward that torch.onnx.export's trace runs, so that the seeded stream advances the same
    run = export if write else run_forward
    state = {"format": "latentkit-sd15-random-torch/1", "seed": 0}

    def keep(name, module):
        if args.save_torch:
            state[name] = module.state_dict()

    torch.manual_seed(0)
    text_cfg, unet_cfg, vae_cfg = load_config("text_encoder.json"), load_config("unet.json"), load_config("vae.json")

    if write:
        index = load_config("onnx_model_index.json")
        index["safety_checker"] = [None, None]
        index["feature_extractor"] = [None, None]
        index["requires_safety_checker"] = False
        write_json(f"{out}/model_index.json", index)
        write_json(f"{out}/scheduler/scheduler_config.json", load_config("onnx_scheduler_config.json"))
        write_json(f"{out}/text_encoder/config.json", text_cfg)
        write_json(f"{out}/unet/config.json", unet_cfg)
        write_json(f"{out}/vae_decoder/config.json", vae_cfg)
        write_json(f"{out}/vae_encoder/config.json", vae_cfg)
        os.makedirs(f"{out}/tokenizer", exist_ok=True)
        for name in ["vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"]:
            shutil.copy(os.path.join(REPO, "tests", "fixtures", "clip", name), f"{out}/tokenizer/{name}")

    if "text_encoder" in only:
        te = ClipTextModel(text_cfg).eval()
        keep("text_encoder", te)
        print(f"text_encoder: {params(te) / 1e6:.1f}M parameters", flush=True)
        run(te, (torch.zeros(1, 77, dtype=torch.int32),), f"{out}/text_encoder/model.onnx", ["input_ids"],
            ["last_hidden_state", "pooler_output"], {"input_ids": {0: "batch", 1: "sequence"}})
        del te
    if "unet" in only:
        unet = UNet(unet_cfg).eval()
        keep("unet", unet)
        print(f"unet: {params(unet) / 1e6:.1f}M parameters", flush=True)
        run(unet, (torch.randn(2, 4, 64, 64), torch.randn(2), torch.randn(2, 77, 768)), f"{out}/unet/model.onnx",
            ["sample", "timestep", "encoder_hidden_states"], ["out_sample"],
            {"sample": {0: "batch", 1: "channels", 2: "height", 3: "width"}, "timestep": {0: "batch"},
             "encoder_hidden_states": {0: "batch", 1: "sequence"}}, external="weights.pb")
        del unet
    if "vae_encoder" in only:
        enc = VaeEncoder(vae_cfg).eval()
        print(f"vae_encoder: {params(enc) / 1e6:.1f}M parameters", flush=True)
        run(enc, (torch.randn(1, 3, 64, 64),), f"{out}/vae_encoder/model.onnx", ["sample"], ["latent_sample"],
            {"sample": {0: "batch", 1: "channels", 2: "height", 3: "width"}})
    if "vae_decoder" in only:
        dec = VaeDecoder(vae_cfg).eval()
        keep("vae_decoder", dec)
        print(f"vae_decoder: {params(dec) / 1e6:.1f}M parameters", flush=True)
        run(dec, (torch.randn(1, 4, 8, 8),), f"{out}/vae_decoder/model.onnx", ["latent_sample"], ["sample"],
            {"latent_sample": {0: "batch", 1: "channels", 2: "height", 3: "width"}})
    if write:
        print("wrote", out, flush=True)
    if args.save_torch:
        torch.save(state, args.save_torch)
        print("wrote", args.save_torch, flush=True)


if __name__ == "__main__":
    main()
