"""Fine-tunes the VAE decoder for the layout folder (the encoder stays the shipped one, so the
latent space the UNet and the grounding layers work in does not change).

Why: the shipped decoder was trained on the text-to-image world (one shape, large and centred or
small at five anchors). Layout scenes put 1-3 shapes of 8-18 px anywhere; a round trip of the 200
held-out layouts through the shipped encoder and decoder already loses a third of their objects
(tools/shapes-layout/README.md, "The VAE decoder"), so no UNet could reach the issue's targets
through it. Losses as tools/shapes-model/train_vae.py (L1 + MSE on shape pixels weighted up,
image-gradient L1), on latents sampled from the frozen encoder's posterior; the LR follows a
cosine over the wall-clock budget. Training scenes are rendered here (training_layout: no
held-out triple) and re-rendered every `--refresh` steps from new seeds.

    /usr/bin/python3 train_decoder.py --minutes 40 --out .work/decoder.pt
"""
import argparse
import json
import math
import os
import random
import time

import numpy as np
import torch

import common
import layout_data
from encode_latents import encode, to_tensor
from evaluate import judge
from prepare import load_frozen
from train_vae import grad_l1, shape_weight

torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "1")))


def render(rng, n):
    lays = [layout_data.training_layout(rng) for _ in range(n)]
    return to_tensor(np.stack([layout_data.render_layout(lay["objects"], lay["background"]) for lay in lays]))


@torch.no_grad()
def roundtrip_judge(vae, layouts, x):
    mean, _std, _scale = encode(vae.encoder, x)
    img = ((vae.decoder(mean).clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    return judge(img, layouts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=40)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--fg_weight", type=float, default=2.0)
    ap.add_argument("--pool", type=int, default=4096, help="scenes rendered at a time")
    ap.add_argument("--refresh", type=int, default=500, help="steps between new pools")
    ap.add_argument("--train_encoder", type=int, default=0,
                    help="1: a probe, not for shipping: train the encoder too (a new latent space, which the frozen UNet does not know), "
                         "to measure how much of a layout scene a 4x8x8 latent can hold at all")
    ap.add_argument("--resume", default=None, help="start from this train_decoder.py checkpoint's decoder (fresh optimiser and LR schedule)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=os.path.join(common.WORK, "decoder.pt"))
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    rng = random.Random(1000 + args.seed)
    _joint, vae, _tok, _scale = load_frozen()
    prev_steps = prev_seconds = 0
    if args.resume:
        ck = torch.load(args.resume)
        vae.decoder.load_state_dict(ck["decoder"])
        prev_steps, prev_seconds = ck["step"], ck["seconds"]
    dec = vae.decoder.train().requires_grad_(True)
    params = list(dec.parameters())
    if args.train_encoder:
        vae.encoder.train().requires_grad_(True)
        params += list(vae.encoder.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)

    held = json.load(open(os.path.join(common.LAYOUT_MODEL, "heldout-layouts.json")))["layouts"]
    x_held = to_tensor(np.stack([layout_data.render_layout(lay["objects"], lay["background"]) for lay in held]))
    before = roundtrip_judge(vae.eval(), held, x_held)
    dec.train()
    print(f"round trip, {'resumed' if args.resume else 'shipped'} decoder:", json.dumps(before), flush=True)

    budget, t0, step, avg, log = args.minutes * 60, time.time(), 0, None, []
    if args.resume:
        log = list(ck["log"])
    def state():
        """The checkpoint: the decoder (and the probe's encoder), steps and seconds counted across resumes."""
        return {"decoder": dec.state_dict(), **({"encoder": vae.encoder.state_dict()} if args.train_encoder else {}),
                "step": prev_steps + step, "seconds": prev_seconds + time.time() - t0, "log": log, "args": vars(args)}

    x_pool = mean_pool = std_pool = None
    while True:
        frac = (time.time() - t0) / budget
        if frac >= 1:
            break
        if step % args.refresh == 0:
            x_pool = render(rng, args.pool)
            with torch.no_grad():  # the encoder's posterior (unused by the probe, which encodes each batch)
                mean_pool, std_pool, _scale = encode(vae.encoder, x_pool)
        for pg in opt.param_groups:
            pg["lr"] = args.lr * min(1.0, (step + 1) / 100) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        i = torch.randint(0, len(x_pool), (args.batch,))
        x = x_pool[i]
        if args.train_encoder:
            ml = vae.encoder(x)
            mean, logvar = ml[:, :4], ml[:, 4:].clamp(-30, 20)
            z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)
        else:
            z = mean_pool[i] + torch.randn_like(mean_pool[i]) * std_pool[i]
        y = dec(z)
        w = shape_weight(x, args.fg_weight)
        loss = (w * (y - x).abs()).mean() + (w * (y - x).pow(2)).mean() + grad_l1(y, x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        avg = loss.item() if avg is None else 0.98 * avg + 0.02 * loss.item()
        if step % 500 == 0:
            vae.eval()
            r = roundtrip_judge(vae, held, x_held)
            vae.train()
            log.append({"step": prev_steps + step, "seconds": round(prev_seconds + time.time() - t0), "loss": round(avg, 5),
                        "objects_right": [r["2"]["objects_right"], r["3"]["objects_right"]]})
            print(json.dumps(log[-1]), flush=True)
            torch.save(state(), args.out)
    after = roundtrip_judge(vae.eval(), held, x_held)
    print("round trip, fine-tuned decoder:", json.dumps(after), flush=True)
    torch.save({**state(), "roundtrip_before": ck["roundtrip_before"] if args.resume else before, "roundtrip_after": after}, args.out)


if __name__ == "__main__":
    main()
