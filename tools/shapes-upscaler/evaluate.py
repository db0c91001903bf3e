"""Measure the upscaler on held-out renders: the 16 held-out triples of
tools/shapes-model/data.py (never in the training pairs), every layout, a
seed of their own.  Input: the renderer's 32x32 image; ground truth: the same
jittered scene rendered at 128x128.  Sampling is our own DDIM (diffusers'
DDIMScheduler maths with the exported scheduler_config: v_prediction,
leading (steps_offset 1) or trailing spacing, set_alpha_to_one false, eta 0) with the
x4 pipeline's conditioning (low-res noised by the DDPM low_res_scheduler at
noise_level, class label = noise level, CFG on the v-prediction).

Figures per configuration: PSNR (dB) of the upscaled image vs the ground
truth, and of bicubic upscaling of the same 32x32 input; edge sharpness
(common.edge_sharpness: mean gradient magnitude at the ground truth's edges,
relative to the ground truth); the shapes-model judge (evaluate.classify) on
the 128 px outputs: share of images whose colour, shape, background, size
and position are all right.

    /usr/bin/python3 evaluate.py --ckpt .work/up.pt --configs 1:1:20:trailing,25:1:20 --out .work/eval.json
"""
import argparse
import json
import os
import time

import numpy as np
import torch

import common
import data
from models import VAE, VAE_CFG
from models_up import UpscaleUNet, scaled_linear_acp
from tokenizer import Tokenizer
from train import load_text_encoder

import importlib.util

_spec = importlib.util.spec_from_file_location("shapes_eval", os.path.join(common.SHAPES_MODEL, "evaluate.py"))
shapes_eval = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shapes_eval)

torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "1")))


def ddim_timesteps(n, spacing="leading"):
    """diffusers DDIMScheduler.set_timesteps: timestep_spacing 'leading' (steps_offset 1) or 'trailing'
    (t = 999, ... e.g. one step at 999, which starts from pure noise); step() goes back 1000 // n."""
    ratio = 1000 // n
    if spacing == "trailing":
        return np.round(np.arange(1000, 0, -1000 / n)).astype(np.int64) - 1, ratio
    return (np.arange(0, n) * ratio).round()[::-1].astype(np.int64) + 1, ratio


@torch.no_grad()
def upscale(unet, decoder, scale, ctx_c, ctx_u, lo, steps=25, guidance=1.0, noise_level=20, seed=0, spacing="leading"):
    """lo: float [N,3,32,32] in [-1,1]; ctx_c/ctx_u: [N,77,D]. Returns float [N,3,128,128]."""
    g = torch.Generator().manual_seed(seed)
    acp = scaled_linear_acp()
    n = lo.shape[0]
    an = acp[noise_level]
    low = an.sqrt() * lo + (1 - an).sqrt() * torch.randn(lo.shape, generator=g)
    z = torch.randn(n, 4, lo.shape[2], lo.shape[3], generator=g)
    nl = torch.full((n,), noise_level, dtype=torch.long)
    ts, ratio = ddim_timesteps(steps, spacing)
    cfg = guidance != 1.0
    for t in ts:
        if cfg:
            x = torch.cat([torch.cat([z, z]), torch.cat([low, low])], 1)
            vu, vc = unet(x, torch.full((2 * n,), float(t)), torch.cat([ctx_u, ctx_c]), torch.cat([nl, nl])).chunk(2)
            v = vu + guidance * (vc - vu)
        else:
            v = unet(torch.cat([z, low], 1), torch.full((n,), float(t)), ctx_c, nl)
        a_t = acp[t]
        a_prev = acp[t - ratio] if t - ratio >= 0 else acp[0]
        x0 = a_t.sqrt() * z - (1 - a_t).sqrt() * v
        eps = a_t.sqrt() * v + (1 - a_t).sqrt() * z
        z = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
    return decoder(z / scale)


def load_unet(path, which="ema"):
    ck = torch.load(path)
    unet = UpscaleUNet(**ck["cfg"])
    unet.load_state_dict(ck[which])
    return unet.eval(), ck


def eval_set(per_large=2, per_small_each=2, seed=2024, split="heldout"):
    """Held-out triples (never trained on), or 16 training triples ("seen": the combinations were
    trained on, these renders were not: another seed)."""
    triples = data.heldout_triples() if split == "heldout" else sorted(__import__("random").Random(3).sample(data.train_triples(), 16))
    return common.make_pairs(triples, per_large, per_small_each, seed)


def judge(imgs, attrs):
    ok = 0
    for img, (c, s, b, z, p) in zip(imgs, attrs):
        j = shapes_eval.classify(img)
        ok += (j["color"], j["shape"], j["background"], j["size"], j["position"]) == (c, s, b, z, p)
    return ok / len(imgs)


def parse_config(cfg):
    """"steps:guidance:noise_level[:spacing]" -> (steps, guidance, noise_level, spacing)."""
    steps, guidance, nl, *rest = cfg.split(":")
    return int(steps), float(guidance), int(nl), rest[0] if rest else "leading"


def eval_generated(unet, dec, scale, te, tok, n, steps, guidance, noise_level, spacing, batch):
    """Upscale n images of the shipped text-to-image model (its own prompts: held-out and seen triples,
    full phrasing, every layout) and judge them before and after: share right at 32 px, at 128 px,
    and share whose verdict did not change."""
    import random

    from train_unet import Joint

    ck = torch.load(os.path.join(common.HERE, ".work", "unet_shipped.pt"))
    joint = Joint(ck["vocab_size"])
    joint.load_state_dict(ck["ema"])
    joint.eval()
    vae = VAE(**VAE_CFG)
    vae.load_state_dict(torch.load(os.path.join(common.HERE, ".work", "vae_shipped.pt")))
    vae.eval()
    shipped_scale = json.load(open(os.path.join(common.SHIPPED_MODEL, "vae_decoder", "config.json")))["scaling_factor"]
    rng = random.Random(5)
    triples = data.heldout_triples() + rng.sample(data.train_triples(), 16)
    attrs = [(c, s, b, z, p) for i, (c, s, b) in enumerate(triples * ((n + len(triples) - 1) // len(triples)))
             for z, p in [data.layouts()[i % 6]]][:n]
    prompts = [f"a {z} {c} {s} " + ("in the center" if p == "center" else f"at the {p}") + f" on a {b} background" for c, s, b, z, p in attrs]
    small, big = [], []
    for i in range(0, n, batch):
        lo = shapes_eval.sample(joint, vae, shipped_scale, tok, prompts[i:i + batch], steps=50, guidance=5.0, seed=100 + i)
        small.append(lo)
        with torch.no_grad():
            ctx_c = te(torch.tensor([tok.encode(p) for p in prompts[i:i + batch]], dtype=torch.int32))[0]
            ctx_u = te(torch.tensor([tok.encode("")], dtype=torch.int32))[0].expand(len(lo), -1, -1)
            big.append(common.to_uint8(upscale(unet, dec, scale, ctx_c, ctx_u, common.to_unit(lo), steps, guidance, noise_level, seed=i, spacing=spacing)))
    small, big = np.concatenate(small), np.concatenate(big)
    same = sum(shapes_eval.classify(a) == shapes_eval.classify(b) or
               all(shapes_eval.classify(a)[k] == shapes_eval.classify(b)[k] for k in ("color", "shape", "background", "size", "position"))
               for a, b in zip(small, big)) / n
    np.save(os.path.join(common.HERE, ".work", "generated_32.npy"), small)
    np.save(os.path.join(common.HERE, ".work", "generated_128.npy"), big)
    return {"images": n, "judge_right_32": judge(small, attrs), "judge_right_128": judge(big, attrs), "judge_unchanged": same}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default=".work/up.pt")
    ap.add_argument("--vae", default=".work/vae_shipped.pt")
    ap.add_argument("--text", default=".work/unet_shipped.pt")
    ap.add_argument("--configs", default="25:1:20", help="steps:guidance:noise_level[:spacing], comma-separated (spacing leading or trailing)")
    ap.add_argument("--limit", type=int, default=0, help="evaluate only the first N images (every k-th, spread over the set)")
    ap.add_argument("--batch", type=int, default=48)
    ap.add_argument("--split", default="heldout", choices=["heldout", "seen"], help="held-out triples, or 16 training triples (new renders)")
    ap.add_argument("--grid", default=None, help="write a PNG grid (ground truth / bicubic / upscaled) of the first config here")
    ap.add_argument("--generated", type=int, default=0,
                    help="also upscale this many images generated by the shipped model (50 DDIM steps, guidance 5; held-out and seen triples, "
                         "every layout) with the first config, and judge them at 32 and at 128 px")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    unet, ck = load_unet(args.ckpt)
    scale = ck["scaling_factor"]
    vae = VAE(**VAE_CFG)
    vae.load_state_dict(torch.load(args.vae))
    dec = vae.decoder.eval()
    te = load_text_encoder(args.text)
    tok = Tokenizer.build()
    hi, lo, attrs = eval_set(split=args.split)
    if args.limit:
        k = max(1, len(hi) // args.limit)
        sel = list(range(0, len(hi), k))[: args.limit]
        hi, lo, attrs = hi[sel], lo[sel], [attrs[i] for i in sel]
    prompts = [f"a {z} {c} {s} " + ("in the center" if p == "center" else f"at the {p}") + f" on a {b} background" for c, s, b, z, p in attrs]
    with torch.no_grad():
        ctx_c = te(torch.tensor([tok.encode(p) for p in prompts], dtype=torch.int32))[0]
        ctx_u = te(torch.tensor([tok.encode("")], dtype=torch.int32))[0].expand(len(prompts), -1, -1)
    bic = common.bicubic(lo)
    res = {"checkpoint": args.ckpt, "step": ck["step"], "images": len(hi), "split": args.split,
           "bicubic": {"psnr": float(common.psnr(bic, hi).mean()), "sharpness": common.edge_sharpness(bic, hi), "judge": judge(bic, attrs)},
           "ground_truth_judge": judge(hi, attrs), "configs": []}
    print(json.dumps(res), flush=True)
    lo_t = common.to_unit(lo)
    first = None
    for cfg in args.configs.split(","):
        steps, guidance, nl, spacing = parse_config(cfg)
        t0 = time.time()
        out = []
        for i in range(0, len(hi), args.batch):
            sl = slice(i, i + args.batch)
            out.append(common.to_uint8(upscale(unet, dec, scale, ctx_c[sl], ctx_u[sl], lo_t[sl], steps, guidance, nl, seed=i, spacing=spacing)))
        up = np.concatenate(out)
        first = up if first is None else first
        p = common.psnr(up, hi)
        r = {"steps": steps, "guidance": guidance, "noise_level": nl, "spacing": spacing, "psnr": float(p.mean()), "psnr_gain_db": float(p.mean() - res["bicubic"]["psnr"]),
             "share_better_than_bicubic": float((p > common.psnr(bic, hi)).mean()), "sharpness": common.edge_sharpness(up, hi), "judge": judge(up, attrs),
             "seconds": round(time.time() - t0, 1)}
        res["configs"].append(r)
        print(json.dumps(r), flush=True)
    if args.generated:
        res["generated"] = eval_generated(unet, dec, scale, te, tok, args.generated, *parse_config(args.configs.split(",")[0]), args.batch)
        print(json.dumps(res["generated"]), flush=True)
    if args.grid:
        n = min(16, len(hi))
        rows = [np.concatenate([hi[i], bic[i], first[i]], 1) for i in range(n)]
        shapes_eval.write_png(args.grid, shapes_eval.grid(rows, cols=4, up=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(res, f, indent=2)


if __name__ == "__main__":
    main()
