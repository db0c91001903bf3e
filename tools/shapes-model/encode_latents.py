"""Pre-encode a rendered dataset with a (frozen) VAE encoder for UNet training.

Stores the posterior mean and std of every image (so train_unet.py samples
z like diffusers' ``latent_dist.sample()``), the attributes, and the
``scaling_factor`` = 1 / std of sampled latents over the set.  The encoder is
never changed after the first VAE run, so any dataset encoded with it lives
in the same latent space as the shipped VAE decoder.
"""
import argparse
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import torch

from models import VAE, VAE_CFG

torch.set_num_threads(1)


def to_tensor(imgs):
    """uint8 [N,H,W,3] -> float [N,3,H,W] in [-1, 1]."""
    return torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 127.5 - 1


@torch.no_grad()
def encode(encoder, x_all, seed=0):
    """Returns (mean, std, scaling_factor) for images x_all in [-1, 1]."""
    ml = torch.cat([encoder(x_all[i : i + 256]) for i in range(0, len(x_all), 256)])
    mean, std = ml[:, :4], torch.exp(0.5 * ml[:, 4:].clamp(-30, 20))
    z = mean + torch.randn(mean.shape, generator=torch.Generator().manual_seed(seed)) * std
    return mean, std, 1.0 / z.std().item()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vae", default=".work/vae.pt", help="VAE state dict (only its encoder is used)")
    ap.add_argument("--data", default=".work/data.npz")
    ap.add_argument("--out", default=".work/latents.pt")
    args = ap.parse_args()
    vae = VAE(**VAE_CFG)
    vae.load_state_dict(torch.load(args.vae))
    d = np.load(args.data)
    mean, std, scaling = encode(vae.encoder.eval(), to_tensor(d["images"]))
    torch.save({"mean": mean, "std": std, "attrs": d["attrs"], "scaling_factor": scaling}, args.out)
    print({"images": len(mean), "scaling_factor": scaling, "out": args.out}, flush=True)


if __name__ == "__main__":
    main()
