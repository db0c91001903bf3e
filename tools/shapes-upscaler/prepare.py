"""Render the paired training set (128x128 ground truth + 32x32 low-res of the
same jittered geometry) over the training triples of tools/shapes-model/data.py
(the 16 held-out triples are kept for evaluation), and pre-encode the 128 px
renders with the frozen shipped VAE encoder.  The 128 px renders are kept too
(uint8), for train.py's pixel loss.

    /usr/bin/python3 prepare.py --out .work/pairs.pt
"""
import argparse

import torch

import common
import data
from models import VAE, VAE_CFG

torch.set_num_threads(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vae", default=".work/vae_shipped.pt")
    ap.add_argument("--large", type=int, default=10, help="large centred renders per training triple")
    ap.add_argument("--small_each", type=int, default=5, help="small renders per training triple and anchor")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--out", default=".work/pairs.pt")
    args = ap.parse_args()
    hi, lo, attrs = common.make_pairs(data.train_triples(), args.large, args.small_each, args.seed)
    vae = VAE(**VAE_CFG)
    vae.load_state_dict(torch.load(args.vae))
    enc = vae.encoder.eval()
    means, stds = [], []
    with torch.no_grad():
        for i in range(0, len(hi), 64):
            ml = enc(common.to_unit(hi[i:i + 64]))
            means.append(ml[:, :4].clone())
            stds.append(torch.exp(0.5 * ml[:, 4:].clamp(-30, 20)))
    mean, std = torch.cat(means), torch.cat(stds)
    z = mean + torch.randn(mean.shape, generator=torch.Generator().manual_seed(0)) * std
    scale = 1.0 / z.std().item()
    torch.save({"mean": mean, "std": std, "lo": torch.from_numpy(lo), "hi": torch.from_numpy(hi), "attrs": attrs, "scaling_factor": scale}, args.out)
    print({"pairs": len(hi), "latent": tuple(mean.shape[1:]), "scaling_factor": scale, "mean_std_ratio": (std.mean() / mean.std()).item()})


if __name__ == "__main__":
    main()
