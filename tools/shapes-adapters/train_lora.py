"""Train a rank-4 LoRA that teaches the shipped model the colour "pink" (see pink.py, make_data.py).

Frozen base; LoRA on q/k/v/o of attn1/attn2 in every UNet transformer block and q/k/v/o of the
text encoder's layers (lora.py).  ε-prediction with 10 % empty captions (CFG dropout) as in
train_unet.py; each batch is half pink rows ("a pink circle on a blue background", ...) and half
prior-preservation rows from the 8-colour vocabulary.  Time-boxed by --minutes (LR cosine over it).
Writes the kohya-format safetensors (lora.kohya_tensors) to packages/model-shapes/adapters/.

    /usr/bin/python3 train_lora.py --minutes 30
"""
import argparse
import json
import os
import time

import torch

import lora
import pink
import safetensors_io
from tokenizer import Tokenizer
from train_common import Batches, load_decoder, load_shipped, lr_at


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--rank", type=int, default=4)
    ap.add_argument("--alpha", type=float, default=4.0)
    ap.add_argument("--conv_rank", type=int, default=0, help="> 0: also a LoRA of this rank (alpha = rank) on the UNet ResNets' conv1/conv2 (kohya LoCon)")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--n_pink", type=int, default=32)
    ap.add_argument("--n_prior", type=int, default=32)
    ap.add_argument("--p_uncond", type=float, default=0.1)
    ap.add_argument("--fg_weight", type=float, default=2.0)
    ap.add_argument("--pixel_loss", type=float, default=0.0,
                    help="weight of an extra loss: the frozen VAE decoder's image of the predicted x0 vs the render (weighted by alpha_bar_t)")
    ap.add_argument("--ema", type=float, default=0.995, help="EMA decay of the LoRA weights (what is saved); 0: none")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--latents", default=os.path.join(pink.WORK, "pink_latents.pt"))
    ap.add_argument("--out", default=os.path.join(pink.ADAPTERS, "pink-lora.safetensors"))
    ap.add_argument("--resume", default=None, help="start from this kohya file's down/up weights (fresh optimiser and LR schedule)")
    ap.add_argument("--prev_cpu_seconds", type=int, default=None, help="CPU seconds of the run resumed from, when its file does not record them")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    joint = load_shipped()
    unet_l = lora.inject(joint.unet, lora.UNET_TARGET, args.rank, args.alpha)
    te_l = lora.inject(joint.text, lora.TE_TARGET, args.rank, args.alpha)
    if args.conv_rank:
        unet_l |= lora.inject(joint.unet, lora.UNET_CONV_TARGET, args.conv_rank, float(args.conv_rank), kind=torch.nn.Conv2d)
    prev_steps = prev_seconds = prev_cpu = 0
    if args.resume:
        tensors, meta = safetensors_io.read(args.resume)
        for prefix, loras in (("lora_unet", unet_l), ("lora_te", te_l)):
            for path, l in loras.items():
                key = f"{prefix}_{path.replace('.', '_')}"
                if f"{key}.lora_down.weight" not in tensors:  # e.g. conv targets added to an attention-only LoRA: they start fresh
                    continue
                down, up = (torch.from_numpy(tensors[f"{key}.lora_{n}.weight"]) for n in ("down", "up"))
                r = down.shape[0]  # a file of a lower rank fills the first r components; the others start new (up = 0)
                assert r <= l.rank and float(tensors[f"{key}.alpha"]) / r == l.alpha / l.rank, (key, r, l.rank)
                with torch.no_grad():
                    l.down[:r].copy_(down)
                    l.up[:, :r].copy_(up)
        prev_steps, prev_seconds = int(meta["steps"]), int(meta["train_seconds"])
        prev_cpu = args.prev_cpu_seconds if args.prev_cpu_seconds is not None else int(meta.get("cpu_seconds", prev_seconds))
        print(f"resumed from {args.resume}: {prev_steps} steps, {prev_seconds} s", flush=True)
    params = [p for l in list(unet_l.values()) + list(te_l.values()) for p in (l.down, l.up)]
    n_params = sum(p.numel() for p in params)
    print(f"LoRA: {len(unet_l)} UNet Linears/Convs + {len(te_l)} text-encoder Linears, {n_params} parameters", flush=True)
    tok = Tokenizer.load(os.path.join(pink.MODEL, "tokenizer"))
    batches = Batches(torch.load(args.latents), tok, pink.caption, args.n_pink, args.n_prior, args.p_uncond, args.fg_weight, args.seed,
                      args.pixel_loss, load_decoder() if args.pixel_loss else None)
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    ema = [p.detach().clone() for p in params]
    budget, t0, step, avg, last = args.minutes * 60, time.time(), 0, None, time.time()
    c0 = time.process_time()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)

    def save():
        live = [p.detach().clone() for p in params]
        if args.ema:
            with torch.no_grad():
                for p, e in zip(params, ema):
                    p.copy_(e)
        meta = {"ema": args.ema, "format": "kohya", "concept": "pink", "rgb": list(pink.PINK), "rank": args.rank, "alpha": args.alpha, "conv_rank": args.conv_rank, "steps": prev_steps + step,
                "train_seconds": prev_seconds + round(time.time() - t0),
                "cpu_seconds": prev_cpu + round(time.process_time() - c0), "base_model": "latentkit shapes model (packages/model-shapes/model)",
                "trainer": "tools/shapes-adapters/train_lora.py"}
        safetensors_io.write(args.out, lora.kohya_tensors(unet_l, te_l), meta)
        with torch.no_grad():
            for p, v in zip(params, live):
                p.copy_(v)
        return meta

    while (frac := (time.time() - t0) / budget) < 1:
        for g in opt.param_groups:
            g["lr"] = lr_at(args.lr, frac, step)
        loss = batches.loss(joint)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        decay = min(args.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            for p, e in zip(params, ema):
                e.lerp_(p, 1 - decay)
        avg = loss.item() if avg is None else 0.98 * avg + 0.02 * loss.item()
        if step % 50 == 0:
            print(f"step {step} t {time.time() - t0:.0f}s loss {avg:.4f} lr {opt.param_groups[0]['lr']:.2e}", flush=True)
        if time.time() - last > 120:
            save()
            last = time.time()
    meta = save()
    stats = meta | {"params": n_params, "unet_targets": len(unet_l), "te_targets": len(te_l), "final_loss_ema": avg, "bytes": os.path.getsize(args.out),
                    "batch": args.n_pink + args.n_prior, "lr": args.lr, "pixel_loss": args.pixel_loss}
    json.dump(stats, open(os.path.join(pink.WORK, "lora_stats.json"), "w"), indent=2)
    print(stats, flush=True)


if __name__ == "__main__":
    main()
