"""Train the tiny x4 upscaler UNet on pre-encoded pairs (prepare.py).

Recipe of stabilityai/stable-diffusion-x4-upscaler, scaled down:
v-prediction with the scaled_linear 0.0001..0.02 schedule over 1000 steps; the
low-res image (in [-1,1]) is noise-augmented with the same schedule (the
pipeline's low_res_scheduler, a DDPM) at a random noise level in
[0, max_noise_level=350], which is also the class label; the frozen shipped
text encoder's hidden states as context, 10 % empty captions for CFG; EMA.
Trains on random 16x16 latent crops (64x64 px) with the matching 16x16
low-res crop (--crop 32: whole images); the LR follows a cosine over the
wall-clock budget.

The one-step fine-tune (README.md, runs 3-5) adds: --p_high_t (more timesteps
near 999, where a one-step trailing DDIM run takes the model's x0 prediction as
the answer), --target mean (the VAE posterior's mean as z0) and --pixel_loss
(MSE between the frozen decoder's image of the predicted x0 and the render).

    /usr/bin/python3 train.py --minutes 40 --out .work/up.pt
"""
import argparse
import copy
import json
import math
import os
import random
import time

import numpy as np
import torch
import torch.nn.functional as F

import common
import data
from models import TEXT_CFG, VAE, VAE_CFG, TextEncoder, n_params
from models_up import UPSCALE_UNET_CFG, UpscaleUNet, scaled_linear_acp
from tokenizer import Tokenizer
from train_unet import optimizer_and_ema_step  # tools/shapes-model/train_unet.py

torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "1")))
MAX_NOISE_LEVEL = 350


def load_text_encoder(path=".work/unet_shipped.pt"):
    """The shipped (frozen) text encoder, recovered by tools/shapes-model/import_onnx.py."""
    ck = torch.load(path)
    te = TextEncoder(ck["vocab_size"], **TEXT_CFG)
    te.load_state_dict({k[len("text."):]: v for k, v in ck["ema"].items() if k.startswith("text.")})
    return te.eval().requires_grad_(False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=40)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--crop", type=int, default=16, help="latent crop side (x4 = pixels)")
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--p_uncond", type=float, default=0.1)
    ap.add_argument("--p_low_noise", type=float, default=0.0,
                    help="share of each batch whose low-res noise level is drawn from [0, --low_noise_max] instead of [0, 350] "
                         "(more training where the pipeline's default noise_level 20 is)")
    ap.add_argument("--low_noise_max", type=int, default=40)
    ap.add_argument("--p_high_t", type=float, default=0.0,
                    help="share of each batch whose timestep is drawn from [--high_t_min, 999] instead of [0, 999] (more training "
                         "where a one-step trailing-spacing sampler starts: t = 999, where the model's x0 estimate is the whole answer)")
    ap.add_argument("--high_t_min", type=int, default=900)
    ap.add_argument("--target", default="sample", choices=["sample", "mean"],
                    help="z0 = a sample of the VAE posterior (the real recipe) or its mean (less noise in the target)")
    ap.add_argument("--pixel_loss", type=float, default=0.0,
                    help="weight of an extra loss: MSE between the frozen VAE decoder's image of the predicted x0 and the 128 px render")
    ap.add_argument("--pixel_margin", type=int, default=0,
                    help="leave this many pixels at each crop border out of the pixel loss (the decoder sees zero padding there, "
                         "which the whole image's decoding does not have inside it)")
    ap.add_argument("--vae", default=".work/vae_shipped.pt")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pairs", default=".work/pairs.pt")
    ap.add_argument("--text", default=".work/unet_shipped.pt")
    ap.add_argument("--resume", default=None)
    ap.add_argument("--out", default=".work/up.pt")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)

    d = torch.load(args.pairs)
    mean, std, scale = d["mean"], d["std"], d["scaling_factor"]
    lo = common.to_unit(d["lo"].numpy())
    decoder = None
    if args.pixel_loss:
        hi = d["hi"].numpy()  # uint8 [N,128,128,3]; each batch's crops are scaled to [-1, 1] (all of it would be 1 GB of floats)
        vae = VAE(**VAE_CFG)
        vae.load_state_dict(torch.load(args.vae))
        decoder = vae.decoder.eval().requires_grad_(False)
    attrs = [tuple(a) for a in d["attrs"]]
    n, L = len(attrs), mean.shape[-1]
    te = load_text_encoder(args.text)
    tok = Tokenizer.build()
    cache = {}

    def hidden(text):
        if text not in cache:
            with torch.no_grad():
                cache[text] = te(torch.tensor([tok.encode(text)], dtype=torch.int32))[0][0]
        return cache[text]

    acp = scaled_linear_acp()
    model = UpscaleUNet(**UPSCALE_UNET_CFG)
    prev_steps = prev_seconds = 0
    if args.resume:
        ck = torch.load(args.resume)
        model.load_state_dict(ck["model"])
        prev_steps, prev_seconds = ck["step"], ck["seconds"]
    ema = copy.deepcopy(model).requires_grad_(False)
    if args.resume:
        ema.load_state_dict(ck["ema"])
    print("unet params", n_params(model), "pairs", n, "scaling_factor", scale, flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    budget = args.minutes * 60
    t0 = time.time()
    last_ckpt, step, avg = t0, 0, None

    def save():
        torch.save({"model": model.state_dict(), "ema": ema.state_dict(), "step": prev_steps + step, "seconds": prev_seconds + time.time() - t0,
                    "scaling_factor": scale, "cfg": UPSCALE_UNET_CFG}, args.out)

    C = args.crop
    while True:
        frac = (time.time() - t0) / budget
        if frac >= 1:
            break
        warm = min(1.0, (step + 1) / 200)
        for g in opt.param_groups:
            g["lr"] = args.lr * warm * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        idx = torch.tensor([rng.randrange(n) for _ in range(args.batch)])
        ys = [rng.randrange(L - C + 1) for _ in range(args.batch)]
        xs = [rng.randrange(L - C + 1) for _ in range(args.batch)]
        m = torch.stack([mean[i, :, y:y + C, x:x + C] for i, y, x in zip(idx.tolist(), ys, xs)])
        s = torch.stack([std[i, :, y:y + C, x:x + C] for i, y, x in zip(idx.tolist(), ys, xs)])
        low = torch.stack([lo[i, :, y:y + C, x:x + C] for i, y, x in zip(idx.tolist(), ys, xs)])
        z0 = (m if args.target == "mean" else m + torch.randn_like(m) * s) * scale
        # low-res noise augmentation (the pipeline's low_res_scheduler.add_noise at noise_level)
        nl = torch.randint(0, MAX_NOISE_LEVEL + 1, (args.batch,))
        if args.p_low_noise:
            low_nl = torch.rand(args.batch) < args.p_low_noise
            nl = torch.where(low_nl, torch.randint(0, args.low_noise_max + 1, (args.batch,)), nl)
        an = acp[nl][:, None, None, None]
        low = an.sqrt() * low + (1 - an).sqrt() * torch.randn_like(low)
        caps = ["" if rng.random() < args.p_uncond else data.sample_caption(rng, attrs[i]) for i in idx.tolist()]
        ehs = torch.stack([hidden(c) for c in caps])
        t = torch.randint(0, 1000, (args.batch,))
        if args.p_high_t:
            t = torch.where(torch.rand(args.batch) < args.p_high_t, torch.randint(args.high_t_min, 1000, (args.batch,)), t)
        noise = torch.randn_like(z0)
        a = acp[t][:, None, None, None]
        zt = a.sqrt() * z0 + (1 - a).sqrt() * noise
        v = a.sqrt() * noise - (1 - a).sqrt() * z0
        v_hat = model(torch.cat([zt, low], 1), t.float(), ehs, nl)
        loss = F.mse_loss(v_hat, v)
        if decoder is not None:
            x0_hat = a.sqrt() * zt - (1 - a).sqrt() * v_hat
            px = common.to_unit(np.stack([hi[i, 4 * y:4 * (y + C), 4 * x:4 * (x + C)] for i, y, x in zip(idx.tolist(), ys, xs)]))
            k = args.pixel_margin
            y_hat = decoder(x0_hat / scale)
            loss = loss + args.pixel_loss * F.mse_loss(y_hat[..., k:4 * C - k, k:4 * C - k], px[..., k:4 * C - k, k:4 * C - k])
        step += 1
        optimizer_and_ema_step(model, ema, opt, loss, args.ema, prev_steps + step)
        avg = loss.item() if avg is None else 0.98 * avg + 0.02 * loss.item()
        if step % 50 == 0:
            print(f"step {step} t {time.time()-t0:.0f}s loss {avg:.4f} lr {opt.param_groups[0]['lr']:.2e}", flush=True)
        if time.time() - last_ckpt > 150:
            save()
            last_ckpt = time.time()
    save()
    stats = {"steps": prev_steps + step, "train_seconds": round(prev_seconds + time.time() - t0), "batch": args.batch, "crop": C,
             "final_loss_ema": avg, "unet_params": n_params(model), "scaling_factor": scale,
             "options": {k: getattr(args, k) for k in ("lr", "p_low_noise", "p_high_t", "high_t_min", "target", "pixel_loss", "pixel_margin", "seed")}}
    json.dump(stats, open(os.path.splitext(args.out)[0] + "_stats.json", "w"), indent=2)
    print(stats, flush=True)


if __name__ == "__main__":
    main()
