"""Trains the GLIGEN layers of the shapes layout model: the shipped UNet (and text encoder,
VAE) frozen; trainable: the position net and one gated self-attention fuser per
Transformer2D block (gligen.py).

SD recipe as the shipped model's: epsilon prediction, scaled_linear betas 0.00085..0.012
over 1000 steps, uniform t.  Per batch row: the global prompt "on a {bg} background" and
the row's objects in random order in the first slots of the 30 (boxes, pooled phrase
embeddings, masks 1; the rest zero-padded as the pipeline pads); with p_both the prompt is
"" and every mask 0 (what the pipeline's unconditional CFG rows look like), with p_uncond
only the prompt is dropped, with p_drop_grounding only the masks; gate = 1.
AdamW on the trainable parameters only, LR warm-up then cosine to 10 %, grad-norm clip 1,
EMA of the trainable parameters.  The budget is wall-clock.

    TORCH_THREADS=2 /usr/bin/python3 train.py --minutes 45 --out .work/layout.pt
    python3 train.py --device cuda --batch 256 --minutes 8 --out .work/layout.pt   # on the GPU machine (README.md)
"""
import argparse
import json
import math
import os
import random
import time

import torch

import common
from gligen import GroundedUNet
from models import n_params
from prepare import load_frozen
from train_unet import alphas_cumprod

N_TRAIN_T = 1000


def build(hidden, token_positions=False, work=common.WORK):
    """(GroundedUNet on the frozen shipped UNet, frozen Joint, VAE, tokenizer, scaling_factor)."""
    joint, vae, tok, scale = load_frozen(work)
    g = GroundedUNet(joint.unet, joint.text.final_ln.normalized_shape[0], hidden, token_positions)
    joint.unet.requires_grad_(False)
    return g, joint, vae, tok, scale


def grounding_batch(d, idx, rng):
    """boxes [B,30,4], embeddings [B,30,64], masks [B,30] for scene indices idx."""
    b, n = len(idx), common.MAX_OBJECTS
    boxes, emb, masks = torch.zeros(b, n, 4), torch.zeros(b, n, d["pooled"].shape[1]), torch.zeros(b, n)
    for r, i in enumerate(idx):
        k = int(d["count"][i])
        slots = list(range(k))
        rng.shuffle(slots)  # object order is arbitrary; keep them in the first k slots as the pipeline does
        for s, j in enumerate(slots):
            boxes[r, s] = d["boxes"][i, j]
            emb[r, s] = d["pooled"][d["phrase_idx"][i, j]]
            masks[r, s] = 1.0
    return boxes, emb, masks


def box_weight(boxes, masks, h, w, extra):
    """Per-latent-pixel loss weight [B,1,h,w]: 1 + extra on latent pixels that overlap an object's
    box (as train_unet.py's --fg_weight: the shapes are a small part of each image, and their
    outlines are what the judge reads)."""
    if extra == 0:
        return 1.0
    ys = torch.arange(h, device=boxes.device, dtype=boxes.dtype)
    xs = torch.arange(w, device=boxes.device, dtype=boxes.dtype)
    x0, y0, x1, y1 = (boxes[..., i, None] for i in range(4))  # [B,N,1], fractions of the side
    in_x = (xs / w < x1) & ((xs + 1) / w > x0)  # [B,N,w]
    in_y = (ys / h < y1) & ((ys + 1) / h > y0)  # [B,N,h]
    cover = (in_y[..., :, None] & in_x[..., None, :]) & (masks[..., None, None] > 0)
    return 1 + extra * cover.any(1, keepdim=True).to(boxes.dtype)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(common.WORK, "train.pt"))
    ap.add_argument("--device", default="cpu", help="torch device: cpu, or cuda on the GPU machine (checkpoints are saved on the CPU)")
    ap.add_argument("--minutes", type=float, default=45)
    ap.add_argument("--max_steps", type=int, default=0, help="stop after this many steps (0 = only the time budget)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--hidden", type=int, default=512, help="position net MLP width (diffusers: 512)")
    ap.add_argument("--token_positions", type=int, default=0, help="1: fusers add Fourier features of each visual token's own box (gligen.py)")
    ap.add_argument("--p_both", type=float, default=0.1, help="share of rows with the empty prompt AND every mask 0 (the pipeline's CFG rows)")
    ap.add_argument("--p_uncond", type=float, default=0.05, help="share of rows with the empty prompt only")
    ap.add_argument("--p_drop_grounding", type=float, default=0.05, help="share of rows with every mask 0 only")
    ap.add_argument("--box_weight", type=float, default=0.0, help="extra loss weight on latent pixels inside the objects' boxes (box_weight)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--resume", default=None)
    ap.add_argument("--out", default=os.path.join(common.WORK, "layout.pt"))
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "1")))
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)

    dev = torch.device(args.device)
    d = torch.load(args.data)
    for k in ("mean", "std", "prompt_hidden", "bg"):  # what each step indexes; grounding_batch stays on the CPU
        d[k] = d[k].to(dev)
    g, joint, _vae, _tok, _ = build(args.hidden, bool(args.token_positions))
    g.to(dev)
    scale = d["scaling_factor"]
    params = g.trainable_parameters()
    prev_steps = prev_seconds = 0
    if args.resume:
        ck = torch.load(args.resume, map_location=dev)
        g.load_state_dict(ck["model"], strict=False)
        prev_steps, prev_seconds = ck["step"], ck["seconds"]
    ema = [p.detach().clone() for p in params]
    if args.resume:
        for e, v in zip(ema, ck["ema"]):
            e.copy_(v)
    n_train = sum(p.numel() for p in params)
    print(f"trainable params {n_train}, frozen UNet params {n_params(joint.unet)}, scenes {len(d['mean'])}", flush=True)
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    acp = alphas_cumprod().to(dev)
    one = torch.tensor(1.0, device=dev)
    n_scenes = len(d["mean"])

    budget = args.minutes * 60
    t0 = time.time()
    last_ckpt, step, avg = t0, 0, None
    log = []

    def trainable_state():
        return {k: v.detach().cpu() for k, v in g.state_dict().items() if k.startswith(("position_net.", "fusers."))}

    def save():
        # EMA weights in the module layout, for evaluate.py / export.py
        live = [p.detach().clone() for p in params]
        with torch.no_grad():
            for p, e in zip(params, ema):
                p.copy_(e)
            ema_state = {k: v.clone() for k, v in trainable_state().items()}
            for p, v in zip(params, live):
                p.copy_(v)
        torch.save({"model": trainable_state(), "ema_state": ema_state, "ema": [e.cpu() for e in ema], "step": prev_steps + step,
                    "seconds": prev_seconds + time.time() - t0, "hidden": args.hidden, "token_positions": bool(args.token_positions), "trainable_params": n_train, "args": vars(args),
                    "log": log}, args.out)

    while True:
        frac = (time.time() - t0) / budget
        if frac >= 1 or (args.max_steps and step >= args.max_steps):
            break
        warm = min(1.0, (step + 1) / 200)
        for pg in opt.param_groups:
            pg["lr"] = args.lr * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        idx = [rng.randrange(n_scenes) for _ in range(args.batch)]
        it = torch.tensor(idx, device=dev)
        z0 = (d["mean"][it] + torch.randn_like(d["mean"][it]) * d["std"][it]) * scale
        t = torch.randint(0, N_TRAIN_T, (args.batch,), device=dev)
        noise = torch.randn_like(z0)
        a = acp[t][:, None, None, None]
        zt = a.sqrt() * z0 + (1 - a).sqrt() * noise
        r = torch.rand(args.batch, device=dev)
        both, no_prompt = r < args.p_both, (r >= args.p_both) & (r < args.p_both + args.p_uncond)
        no_masks = both | ((r >= args.p_both + args.p_uncond) & (r < args.p_both + args.p_uncond + args.p_drop_grounding))
        prompt = torch.where(both | no_prompt, torch.zeros_like(it), 1 + d["bg"][it])
        ctx = d["prompt_hidden"][prompt]
        boxes, emb, masks = (x.to(dev) for x in grounding_batch(d, idx, rng))
        masks[no_masks] = 0
        w = box_weight(boxes, masks, zt.shape[2], zt.shape[3], args.box_weight)
        loss = (w * (g(zt, t.float(), ctx, boxes, emb, masks, one) - noise) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        decay = min(args.ema, (1 + prev_steps + step) / (10 + prev_steps + step))
        with torch.no_grad():
            for e, p in zip(ema, params):
                e.lerp_(p, 1 - decay)
        avg = loss.item() if avg is None else 0.98 * avg + 0.02 * loss.item()
        if step % 50 == 0:
            alphas = [round(math.tanh(f.alpha_attn.item()), 3) for f in g.fusers]
            line = f"step {prev_steps + step} t {time.time() - t0:.0f}s loss {avg:.4f} lr {opt.param_groups[0]['lr']:.2e} tanh(alpha_attn) {alphas}"
            print(line, flush=True)
            log.append({"step": prev_steps + step, "seconds": round(time.time() - t0), "loss": round(avg, 5)})
        if time.time() - last_ckpt > 180:
            save()
            last_ckpt = time.time()
    save()
    stats = {"steps": prev_steps + step, "train_seconds": round(prev_seconds + time.time() - t0), "batch": args.batch, "final_loss_ema": avg,
             "trainable_params": n_train, "frozen_unet_params": n_params(joint.unet)}
    json.dump(stats, open(os.path.splitext(args.out)[0] + "_stats.json", "w"), indent=2)
    print(stats, flush=True)


if __name__ == "__main__":
    main()
