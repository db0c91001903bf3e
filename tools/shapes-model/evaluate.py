"""Prompt-adherence check: sample with our own DDIM + CFG (same maths as
diffusers' DDIMScheduler with the exported scheduler_config), then judge each
image by simple image analysis (the same rules the TypeScript evaluator is
meant to use: border colour, nearest-RGB shape colour, fill ratio of the
bounding box, bounding-box size and centre).
"""
import argparse
import json
import os
import random
import struct
import time
import zlib

import numpy as np
import torch

import data
from models import VAE, VAE_CFG, VAE_DOWNSCALE
from tokenizer import Tokenizer
from train_unet import Joint, alphas_cumprod

torch.set_num_threads(1)
PALETTE = np.array([data.COLORS[c] for c in data.COLOR_NAMES], np.float32)


# ------------------------------------------------------------------ judging
def nearest_color(rgb):
    return data.COLOR_NAMES[int(np.argmin(((PALETTE - rgb) ** 2).sum(-1)))]


def classify(img):
    """img: uint8 [R,R,3] -> dict of judged attributes (None if no shape).
    Geometric thresholds are in 1/64-of-side units so they work at any R."""
    f = img.astype(np.float32)
    border = np.concatenate([f[:2].reshape(-1, 3), f[-2:].reshape(-1, 3), f[:, :2].reshape(-1, 3), f[:, -2:].reshape(-1, 3)])
    bg_rgb = np.median(border, 0)
    out = {"background": nearest_color(bg_rgb)}
    dist = np.sqrt(((f - bg_rgb) ** 2).sum(-1))
    mask = dist > 60
    if mask.sum() < 12 * (img.shape[0] / 64.0) ** 2:
        return {**out, "color": None, "shape": None, "size": None, "position": None}
    # Shape colour: majority nearest-palette vote over clearly-foreground
    # pixels (the anti-aliased rim is a blend and would bias a mean).
    core = dist > 0.6 * dist[mask].max()
    votes = [nearest_color(p) for p in f[core]]
    votes = [v for v in votes if v != out["background"]] or votes
    out["color"] = max(set(votes), key=votes.count)
    ys, xs = np.nonzero(mask)
    w, h = xs.max() - xs.min() + 1, ys.max() - ys.min() + 1
    fill = mask.sum() / float(w * h)
    out["fill"] = round(float(fill), 3)
    # Cut-offs halfway between the clean-render fill ratios at 32 px (small
    # shapes: triangle ~0.6, circle ~0.75, square ~0.99; large: 0.52, 0.78, 1.0).
    out["shape"] = "square" if fill > 0.88 else "circle" if fill > 0.68 else "triangle"
    side = max(w, h) * 64.0 / img.shape[0]
    out["size"] = "large" if side > 27 else "small"
    cx, cy = (xs.min() + xs.max() + 1) / 2 * 64.0 / img.shape[1], (ys.min() + ys.max() + 1) / 2 * 64.0 / img.shape[0]
    col = "left" if cx < 24 else "right" if cx > 40 else "mid"
    row = "top" if cy < 24 else "bottom" if cy > 40 else "mid"
    out["position"] = "center" if (col, row) == ("mid", "mid") else f"{row} {col}" if "mid" not in (col, row) else "other"
    return out


# ----------------------------------------------------------------- sampling
def ddim_timesteps(n):
    """diffusers DDIMScheduler.set_timesteps, timestep_spacing='leading', steps_offset=1."""
    ratio = 1000 // n
    return (np.arange(0, n) * ratio).round()[::-1].astype(np.int64) + 1, ratio


def ddim_loop(unet, ctx, z, steps, guidance):
    """DDIM (eta 0) with classifier-free guidance from z; ctx is [uncond; cond]. Differentiable (no no_grad
    here): tools/shapes-adapters/sampled_loss.py trains through it."""
    acp = alphas_cumprod()
    ts, ratio = ddim_timesteps(steps)
    for t in ts:
        e_u, e_c = unet(torch.cat([z, z]), torch.full((2 * len(z),), float(t)), ctx).chunk(2)
        eps = e_u + guidance * (e_c - e_u)
        a_t = acp[t]
        a_prev = acp[t - ratio] if t - ratio >= 0 else acp[0]  # set_alpha_to_one=False
        x0 = (z - (1 - a_t).sqrt() * eps) / a_t.sqrt()
        z = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
    return z


@torch.no_grad()
def sample(model, vae, scale, tok, prompts, steps=50, guidance=5.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.tensor([tok.encode(p) for p in prompts], dtype=torch.int32)
    empty = torch.tensor([tok.encode("")] * len(prompts), dtype=torch.int32)
    ctx = model.text(torch.cat([empty, ids]))[0]
    n = data.RES // VAE_DOWNSCALE
    z = torch.randn(len(prompts), 4, n, n, generator=g)
    z = ddim_loop(model.unet, ctx, z, steps, guidance)
    return to_uint8(vae.decoder(z / scale))


def to_uint8(img):
    """Decoder output [B,3,H,W] in [-1, 1] -> uint8 images [B,H,W,3]."""
    return ((img.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()


def write_png(path, img):
    h, w, _ = img.shape
    raw = b"".join(b"\x00" + img[y].tobytes() for y in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def grid(imgs, cols=8, up=2):
    imgs = [np.kron(i, np.ones((up, up, 1), np.uint8)) for i in imgs]
    rows = [np.concatenate(imgs[r : r + cols] + [np.zeros_like(imgs[0])] * (cols - len(imgs[r : r + cols])), 1) for r in range(0, len(imgs), cols)]
    return np.concatenate(rows, 0)


# --------------------------------------------------------------- test suite
def phrase_case(kind, c, s, b, rng, color=None):
    """One test prompt in phrasing `kind` (0: plain, 1: with a size, 2: small at a position, 3: terse) and
    the attributes it states; `color` is the expected colour name when it differs from the word `c`."""
    exp = {"color": color or c, "shape": s, "background": b}
    if kind == 0:
        p = f"a {c} {s} on a {b} background"
    elif kind == 1:
        z = rng.choice(data.SIZES)
        p, exp["size"] = f"a {z} {c} {s} on a {b} background", z
        if z == "large":
            exp["position"] = "center"
    elif kind == 2:
        pos = rng.choice(data.POSITIONS)
        where = "in the center" if pos == "center" else f"at the {pos}"
        p = f"a small {c} {s} {where} on a {b} background"
        exp.update(size="small", position=pos)
    else:
        p = f"{c} {s}, {b} background"
    return p, exp


def make_prompts(n_seen=48, seed=7):
    """Each held-out triple twice + n_seen seen triples, cycling phrasings.
    Returns (prompt, expected-attributes) pairs; size/position are only
    expected when the prompt states them."""
    rng = random.Random(seed)
    held = data.heldout_triples()
    seen = rng.sample(data.train_triples(), n_seen)
    cases = []
    for split, triples in (("heldout", held + held), ("seen", seen)):
        for i, (c, s, b) in enumerate(triples):
            p, exp = phrase_case(i % 4, c, s, b, rng)
            cases.append((split, p, exp))
    return cases


def default_vae():
    """The decoder-fine-tuned VAE if it exists (same encoder, better decoder)."""
    return ".work/vae_ft.pt" if os.path.exists(".work/vae_ft.pt") else ".work/vae.pt"


def load(unet_ckpt=".work/unet.pt", use_ema=True, vae_path=None, latents=".work/latents.pt"):
    ck = torch.load(unet_ckpt)
    model = Joint(ck["vocab_size"])
    model.load_state_dict(ck["ema" if use_ema else "model"])
    vae = VAE(**VAE_CFG)
    vae.load_state_dict(torch.load(vae_path or default_vae()))
    scale = torch.load(latents)["scaling_factor"]
    return model.eval(), vae.eval(), scale, ck


def evaluate(model, vae, scale, tok, steps, guidance, n_seen=48, seed=0, save=None):
    cases = make_prompts(n_seen)
    imgs = sample(model, vae, scale, tok, [c[1] for c in cases], steps, guidance, seed)
    res = {}
    for (split, p, exp), img in zip(cases, imgs):
        got = classify(img)
        for k, v in exp.items():
            r = res.setdefault(split, {}).setdefault(k, [0, 0])
            r[0] += got[k] == v
            r[1] += 1
        r = res[split].setdefault("all", [0, 0])
        r[0] += all(got[k] == v for k, v in exp.items())
        r[1] += 1
    if save:
        write_png(save, grid(list(imgs)))
    return {s: {k: round(a / n, 3) for k, (a, n) in d.items()} for s, d in res.items()}, cases, imgs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default=".work/unet.pt")
    ap.add_argument("--configs", default="50:5,50:7.5,20:5")
    ap.add_argument("--n_seen", type=int, default=48)
    ap.add_argument("--vae", default=None)
    ap.add_argument("--latents", default=".work/latents.pt", help="the encoded set the UNet was trained on (for its scaling_factor)")
    ap.add_argument("--raw", action="store_true", help="use the raw (non-EMA) weights")
    ap.add_argument("--out", default=".work/eval.json")
    args = ap.parse_args()
    model, vae, scale, ck = load(args.ckpt, use_ema=not args.raw, vae_path=args.vae, latents=args.latents)
    tok = Tokenizer.build()
    # Sanity check of the judge itself on clean renders of every test case.
    cases = make_prompts(args.n_seen)
    judge_ok = 0
    for _, _, exp in cases:
        z = exp.get("size", "large")
        img = data.render(exp["color"], exp["shape"], exp["background"], z, exp.get("position", "center"), random.Random(1))
        got = classify(img)
        judge_ok += all(got[k] == v for k, v in exp.items())
    print(f"judge accuracy on clean renders: {judge_ok}/{len(cases)}", flush=True)
    report = {"checkpoint_step": ck["step"], "weights": "raw" if args.raw else "ema", "judge_clean_accuracy": judge_ok / len(cases), "runs": []}
    for cfg in args.configs.split(","):
        steps, g = cfg.split(":")
        t0 = time.time()
        acc, _, _ = evaluate(model, vae, scale, tok, int(steps), float(g), args.n_seen, save=os.path.splitext(args.out)[0] + f"_{steps}_{g}.png")
        run = {"scheduler": "DDIM", "steps": int(steps), "guidance": float(g), "accuracy": acc, "seconds": round(time.time() - t0, 1)}
        report["runs"].append(run)
        print(json.dumps(run), flush=True)
    json.dump(report, open(args.out, "w"), indent=2)


if __name__ == "__main__":
    main()
