"""What train_lora.py and train_ti.py share: the shipped model as a torch Joint, the batch sampler
(ε-prediction on the SD noise schedule, as train_unet.py) and the wall-clock LR schedule."""
import math
import os
import random

import torch

import pink
from train_unet import Joint, alphas_cumprod, shape_region_weights

N_TRAIN_T = 1000


def load_decoder(path=None):
    """The shipped VAE decoder (import_onnx.py's checkpoint), frozen, for the pixel loss."""
    from models import VAE, VAE_CFG

    vae = VAE(**VAE_CFG)
    vae.load_state_dict(torch.load(path or os.path.join(pink.HERE, "..", "shapes-model", ".work", "vae_shipped.pt")))
    return vae.decoder.eval().requires_grad_(False)


def load_shipped(ckpt=None):
    """The shipped UNet + text encoder (import_onnx.py's checkpoint), frozen, eval mode."""
    ckpt = ckpt or os.path.join(pink.HERE, "..", "shapes-model", ".work", "unet_shipped.pt")
    ck = torch.load(ckpt)
    joint = Joint(ck["vocab_size"])
    joint.load_state_dict(ck["ema"])
    return joint.eval().requires_grad_(False)


class Batches:
    """Draws training batches from make_data.py's set: `n_pink` pink rows (captioned by `pink_caption`) and
    `n_prior` ordinary rows (data.sample_caption); a share p_uncond of captions is empty (CFG dropout)."""

    def __init__(self, lat, tok, pink_caption, n_pink, n_prior, p_uncond, fg_weight, seed, pixel_loss=0.0, decoder=None):
        self.rng = random.Random(seed)
        self.tok, self.pink_caption = tok, pink_caption
        self.n_pink, self.n_prior, self.p_uncond = n_pink, n_prior, p_uncond
        p, q = lat["pink"], lat["prior"]
        self.mean = torch.cat([p["mean"], q["mean"]])
        self.std = torch.cat([p["std"], q["std"]])
        self.attrs = list(p["attrs"]) + list(q["attrs"])
        self.n_p = len(p["attrs"])
        self.scale = lat["scaling_factor"]
        self.w = shape_region_weights(self.attrs, fg_weight, self.mean.shape[-1]) if fg_weight else None
        self.acp = alphas_cumprod()
        self.cache = {}
        # Optional pixel loss: the frozen VAE decoder's image of the predicted x0 against the render, weighted by
        # alpha_bar_t (x0 = (z_t - sqrt(1 - a) eps) / sqrt(a) is unbounded as a -> 0; a * |D(x0) - x|^2 is not).
        self.pixel_loss, self.decoder = pixel_loss, decoder
        if pixel_loss:
            self.images = torch.cat([p["images"], q["images"]]).permute(0, 3, 1, 2).float() / 127.5 - 1

    def ids(self, text):
        if text not in self.cache:
            self.cache[text] = torch.tensor(self.tok.encode(text), dtype=torch.int32)
        return self.cache[text]

    def caption(self, i):
        import data

        if self.rng.random() < self.p_uncond:
            return ""
        return self.pink_caption(self.rng, self.attrs[i]) if i < self.n_p else data.sample_caption(self.rng, self.attrs[i])

    def loss(self, joint):
        idx = [self.rng.randrange(self.n_p) for _ in range(self.n_pink)] + [self.rng.randrange(self.n_p, len(self.attrs)) for _ in range(self.n_prior)]
        ids = torch.stack([self.ids(self.caption(i)) for i in idx])
        it = torch.tensor(idx)
        z0 = (self.mean[it] + torch.randn_like(self.mean[it]) * self.std[it]) * self.scale
        t = torch.randint(0, N_TRAIN_T, (len(idx),))
        noise = torch.randn_like(z0)
        a = self.acp[t][:, None, None, None]
        zt = a.sqrt() * z0 + (1 - a).sqrt() * noise
        eps = joint(zt, t, ids)
        err = (eps - noise).pow(2)
        loss = err.mean() if self.w is None else (self.w[it] * err).mean() / self.w[it].mean()
        if self.pixel_loss:
            x0 = (zt - (1 - a).sqrt() * eps) / a.sqrt()
            loss = loss + self.pixel_loss * (a * (self.decoder(x0 / self.scale) - self.images[it]).pow(2)).mean()
        return loss


def lr_at(base, frac, step, warmup=100):
    """Linear warm-up, then a cosine from base to base/10 over the wall-clock budget."""
    return base * min(1.0, (step + 1) / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))
