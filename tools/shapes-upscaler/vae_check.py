"""Round trip of the shipped shapes VAE on 128x128 renders vs bicubic-from-32,
and the scaling_factor (1/std) of 128-px latents."""
import argparse

import torch

import common
import data
from models import VAE, VAE_CFG

torch.set_num_threads(1)

ap = argparse.ArgumentParser()
ap.add_argument("--vae", default=".work/vae_shipped.pt")
ap.add_argument("--n", type=int, default=4)
args = ap.parse_args()
vae = VAE(**VAE_CFG)
vae.load_state_dict(torch.load(args.vae))
vae.eval()
hi, lo, attrs = common.make_pairs(data.heldout_triples(), args.n, 1, seed=99)
with torch.no_grad():
    outs, means = [], []
    for i in range(0, len(hi), 32):
        x = common.to_unit(hi[i:i + 32])
        mom = vae.encoder(x)
        mean = mom[:, :4]
        means.append(mean)
        outs.append(common.to_uint8(vae.decoder(mean)))
import numpy as np
rt = np.concatenate(outs)
bic = common.bicubic(lo)
m = torch.cat(means)
print("images", len(hi), "latent", tuple(m.shape[1:]), "std", m.std().item(), "scaling_factor", 1 / m.std().item())
print("VAE round trip PSNR %.2f dB  sharp %.3f" % (common.psnr(rt, hi).mean(), common.edge_sharpness(rt, hi)))
print("bicubic-from-32 PSNR %.2f dB  sharp %.3f" % (common.psnr(bic, hi).mean(), common.edge_sharpness(bic, hi)))
