"""Encode and decode jittered renders of every triple and layout with a VAE,
for judging by latentkit's image judge (`npx tsx scripts/judge-vae-roundtrip.ts`).

Writes PREFIX.json (attributes), PREFIX_clean.rgb (the renders) and
PREFIX.rgb (after the round trip through the posterior mean): raw uint8 RGB,
images back to back.  How well small shapes survive the VAE bounds how well
any UNet can draw them through it.
"""
import argparse
import json
import os
import random

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import torch

import data
from encode_latents import to_tensor
from models import VAE, VAE_CFG

torch.set_num_threads(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vae", default=".work/vae_ft_big.pt")
    ap.add_argument("--out", default=".work/roundtrip", help="output prefix")
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()
    vae = VAE(**VAE_CFG)
    vae.load_state_dict(torch.load(args.vae))
    vae.eval()
    rng = random.Random(args.seed)
    attrs = [(c, s, b, z, p) for c, s, b in data.all_triples() for z, p in data.layouts()]
    clean = np.stack([data.render(*a, rng) for a in attrs])
    x = to_tensor(clean)
    with torch.no_grad():
        y = torch.cat([vae.decoder(vae.encoder(x[i : i + 256])[:, :4]) for i in range(0, len(x), 256)])
    decoded = ((y.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    clean.tofile(args.out + "_clean.rgb")
    decoded.tofile(args.out + ".rgb")
    json.dump({"resolution": data.RES, "attributes": attrs}, open(args.out + ".json", "w"))
    print(f"{len(attrs)} images -> {args.out}.rgb, {args.out}_clean.rgb, {args.out}.json")


if __name__ == "__main__":
    main()
