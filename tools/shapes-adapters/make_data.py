"""The adapters' training set, in latents of the shipped (frozen) VAE:

* pink rows: pink.render_pink_set() (every shape, background, size and anchor), encoded, then
  refined by decoder inversion (invert_latents): the shipped decoder only knows the 8 palette
  colours and decodes the encoder's latents of a pink shape as whitish (40/144 judged pink);
  150 Adam steps on the latent to match the render (plus a pull towards the encoder's latent,
  so the latents stay in the UNet's range) make it decode pink (138/144 right);
* prior-preservation rows: data.make_dataset() of the ordinary training triples (the 8 words),
  so that the LoRA keeps the base vocabulary.

    /usr/bin/python3 import_onnx.py ...   (in ../shapes-model: .work/vae_shipped.pt)
    /usr/bin/python3 make_data.py          # -> .work/pink_latents.pt
"""
import argparse
import os
import time

import numpy as np
import torch

import pink
import evaluate
from encode_latents import encode, to_tensor
from models import VAE, VAE_CFG

import data


def invert_latents(decoder, x, z0, steps=150, lr=0.05, pull=0.01, batch=128):
    """Latents z with decoder(z) ~= x, starting from (and pulled towards) the encoder's means z0."""
    out = []
    for i in range(0, len(x), batch):
        xb, zb0 = x[i : i + batch], z0[i : i + batch]
        z = zb0.clone().requires_grad_(True)
        opt = torch.optim.Adam([z], lr=lr)
        for _ in range(steps):
            loss = ((decoder(z) - xb) ** 2).mean() + pull * ((z - zb0) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        out.append(z.detach())
    return torch.cat(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vae", default=os.path.join(pink.HERE, "..", "shapes-model", ".work", "vae_shipped.pt"))
    ap.add_argument("--out", default=os.path.join(pink.WORK, "pink_latents.pt"))
    ap.add_argument("--invert_steps", type=int, default=150, help="decoder-inversion steps on the pink rows (0: the encoder's latents as they are)")
    ap.add_argument("--prior_large", type=int, default=3)
    ap.add_argument("--prior_small_each", type=int, default=1)
    args = ap.parse_args()
    os.makedirs(pink.WORK, exist_ok=True)
    t0 = time.time()
    vae = VAE(**VAE_CFG)
    vae.load_state_dict(torch.load(args.vae))
    vae.eval().requires_grad_(False)
    scale = pink.latent_scale()

    imgs, attrs = pink.render_pink_set()
    x = to_tensor(imgs)
    mean, std, _ = encode(vae.encoder, x)
    with torch.no_grad():
        before = vae.decoder(mean)
    inv = invert_latents(vae.decoder, x, mean, steps=args.invert_steps)
    with torch.no_grad():
        after = vae.decoder(inv)

    def judged(y):
        u8 = evaluate.to_uint8(y)
        return sum(pink.classify(im)["color"] == "pink" and pink.classify(im)["shape"] == a[1] for im, a in zip(u8, attrs))

    stats = {"pink_images": len(attrs), "judged_right_encoder_latents": judged(before), "judged_right_inverted": judged(after),
             "latent_std_encoder": round(mean.std().item(), 3), "latent_std_inverted": round(inv.std().item(), 3)}

    pimgs, pattrs = data.make_dataset(args.prior_large, args.prior_small_each, seed=21)
    pmean, pstd, _ = encode(vae.encoder, to_tensor(pimgs))
    stats |= {"prior_images": len(pattrs), "seconds": round(time.time() - t0)}
    # The renders too (uint8 [N,32,32,3]), for the trainers' optional pixel loss (--pixel_loss).
    torch.save({"pink": {"mean": inv, "std": std, "attrs": attrs, "images": torch.from_numpy(imgs)},
                "prior": {"mean": pmean, "std": pstd, "attrs": [tuple(a) for a in pattrs], "images": torch.from_numpy(pimgs)},
                "scaling_factor": scale, "stats": stats}, args.out)
    print(stats, flush=True)


if __name__ == "__main__":
    main()
