"""Train the KL autoencoder (64x64x3 <-> 8x8x4), then pre-encode the dataset.

Loss: L1 + MSE + image-gradient (edge) L1 + tiny KL.  The edge term sharpens
shape outlines, which matters more here than texture.  The LR follows a cosine
schedule over the *wall-clock* budget so the run always ends annealed.
"""
import argparse
import json
import math
import time

import numpy as np
import torch
import torch.nn.functional as F

import data
from models import VAE, VAE_CFG, n_params

torch.set_num_threads(1)


def to_tensor(imgs):
    return torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 127.5 - 1


def grad_l1(a, b):
    dx = lambda t: t[..., :, 1:] - t[..., :, :-1]
    dy = lambda t: t[..., 1:, :] - t[..., :-1, :]
    return (dx(a) - dx(b)).abs().mean() + (dy(a) - dy(b)).abs().mean()


def psnr(vae, x):
    with torch.no_grad():
        y = vae.decoder(vae.encoder(x)[:, :4]).clamp(-1, 1)
    mse = ((y - x) / 2).pow(2).mean().item()
    return 10 * math.log10(1 / mse)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=14)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--kl", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--resume", default=None, help="continue from this state dict (second stage with a fresh LR cosine)")
    ap.add_argument("--decoder_only", action="store_true",
                    help="freeze the encoder (so pre-encoded latents and the UNet stay valid) and only fine-tune the decoder, like SD's ft-MSE VAE")
    ap.add_argument("--out", default=".work/vae.pt")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    d = np.load(".work/data.npz")
    x_all = to_tensor(d["images"])
    val_imgs, _ = data.make_dataset(2, 1, seed=99, triples=data.heldout_triples())
    x_val = to_tensor(val_imgs)

    vae = VAE(**VAE_CFG)
    if args.resume:
        vae.load_state_dict(torch.load(args.resume))
    print("vae params", n_params(vae), "encoder", n_params(vae.encoder), "decoder", n_params(vae.decoder), flush=True)
    if args.decoder_only:
        vae.encoder.requires_grad_(False).eval()
        with torch.no_grad():
            ml_all = torch.cat([vae.encoder(x_all[i : i + 256]) for i in range(0, len(x_all), 256)])
    opt = torch.optim.Adam(vae.decoder.parameters() if args.decoder_only else vae.parameters(), lr=args.lr)
    budget = args.minutes * 60
    t0 = time.time()
    last_ckpt = t0
    step = 0
    while True:
        frac = (time.time() - t0) / budget
        if frac >= 1:
            break
        for g in opt.param_groups:
            g["lr"] = args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        idx = rng.integers(0, len(x_all), args.batch)
        x = x_all[idx]
        ml = ml_all[idx] if args.decoder_only else vae.encoder(x)
        mean, logvar = ml[:, :4], ml[:, 4:].clamp(-30, 20)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)
        y = vae.decoder(z)
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).mean()
        loss = (y - x).abs().mean() + (y - x).pow(2).mean() + grad_l1(y, x) + args.kl * kl
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 100 == 0:
            print(f"step {step} t {time.time()-t0:.0f}s loss {loss.item():.4f} kl {kl.item():.2f} val_psnr {psnr(vae, x_val[:64]):.2f}", flush=True)
        if time.time() - last_ckpt > 120:
            torch.save(vae.state_dict(), args.out)
            last_ckpt = time.time()
    train_s = time.time() - t0
    torch.save(vae.state_dict(), args.out)
    vae.eval()
    if args.decoder_only:
        stats = {"steps": step, "train_seconds": round(train_s), "batch": args.batch,
                 "val_psnr_heldout_triples": round(psnr(vae, x_val), 2), "train_psnr": round(psnr(vae, x_all[:256]), 2)}
        json.dump(stats, open(".work/vae_decoder_ft_stats.json", "w"), indent=2)
        print(stats, flush=True)
        return

    # Pre-encode the training set for the UNet (store posterior mean and std,
    # so train_unet samples z like diffusers' latent_dist.sample()).
    with torch.no_grad():
        ml = torch.cat([vae.encoder(x_all[i : i + 256]) for i in range(0, len(x_all), 256)])
    mean, std = ml[:, :4], torch.exp(0.5 * ml[:, 4:].clamp(-30, 20))
    z = mean + torch.randn_like(mean) * std
    scaling = 1.0 / z.std().item()
    torch.save({"mean": mean, "std": std, "attrs": d["attrs"], "scaling_factor": scaling}, ".work/latents.pt")
    stats = {
        "steps": step,
        "train_seconds": round(train_s),
        "batch": args.batch,
        "images": len(x_all),
        "val_psnr_heldout_triples": round(psnr(vae, x_val), 2),
        "train_psnr": round(psnr(vae, x_all[:256]), 2),
        "scaling_factor": scaling,
        "params": n_params(vae),
    }
    json.dump(stats, open(".work/vae_stats.json", "w"), indent=2)
    print(stats, flush=True)


if __name__ == "__main__":
    main()
