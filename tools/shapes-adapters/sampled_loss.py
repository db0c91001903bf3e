"""The through-the-sampler loss of train_ti.py --objective sampled: generate with the embedding (DDIM with
classifier-free guidance: evaluate.ddim_loop, evaluate.sample's own loop) from a stored starting noise,
decode with the frozen VAE decoder, and compare the image with a pink target; the gradient flows back
through every sampler step to the embedding.  Nothing but the embedding is trained, so the file stays an
ordinary embedding.

Why: the denoising loss asks the frozen UNet to predict the noise of decoder-inverted latents it never
learned to produce (make_data.py); with one 64-wide input vector it gets close in latent MSE but the
decoder, trained on the 8 palette colours only, turns near-misses whitish.  This loss measures what the
judge measures, the decoded colour, so the optimiser looks for conditioning that the frozen UNet turns
into latents the decoder draws pink.

Targets come from the base model itself: the same prompt with a palette colour word instead of the
token (red; purple on red backgrounds), sampled from the same noise; kept only when the judge finds
that colour and the prompt's shape; the shape's pixels recoloured pink in proportion to how far each
pixel is from the background (so the anti-aliased rim blends as in a render).
"""
import random

import numpy as np
import torch

import data
import evaluate
import pink
from models import VAE_DOWNSCALE

GUIDANCE = 3.0  # adapters.json's recommendation, the setting eval:adapters measures


def reference_word(bg):
    return "purple" if bg == "red" else "red"


@torch.no_grad()
def make_targets(joint, decoder, scale, tok, n, steps, seed, chunk=64):
    """n cases: a caption from the pink training set's distribution, a starting noise and the target image
    ([3, R, R] in [-1, 1]) with a foreground weight map ([R, R] in [0, 1]); judge-rejected references are dropped."""
    rng = random.Random(seed)
    g = torch.Generator().manual_seed(seed)
    _imgs, attrs = pink.render_pink_set()
    pinkv = torch.tensor(pink.PINK, dtype=torch.float32)
    empty = torch.tensor([tok.encode("")], dtype=torch.int32)
    side = data.RES // VAE_DOWNSCALE
    out = {"captions": [], "noise": [], "target": [], "alpha": []}
    kept = 0
    for start in range(0, n, chunk):
        rows = [rng.choice(attrs) for _ in range(min(chunk, n - start))]
        caps = [pink.caption(rng, a, "{c}") for a in rows]
        words = [reference_word(a[2]) for a in rows]
        ids = torch.tensor([tok.encode(c.format(c=w)) for c, w in zip(caps, words)], dtype=torch.int32)
        ctx = joint.text(torch.cat([empty.repeat(len(rows), 1), ids]))[0]
        z = torch.randn(len(rows), 4, side, side, generator=g)
        img = decoder(evaluate.ddim_loop(joint.unet, ctx, z.clone(), steps, GUIDANCE) / scale)
        u8 = evaluate.to_uint8(img)
        for i, (a, w) in enumerate(zip(rows, words)):
            got = evaluate.classify(u8[i])
            if got["color"] != w or got["shape"] != a[1] or got["background"] != a[2]:
                continue
            f = u8[i].astype(np.float32)
            bg = np.array(data.COLORS[a[2]], np.float32)
            ref = np.array(data.COLORS[w], np.float32)
            alpha = np.clip(np.sqrt(((f - bg) ** 2).sum(-1)) / np.linalg.norm(ref - bg), 0, 1)
            tgt = torch.from_numpy(f) + torch.from_numpy(alpha)[..., None] * (pinkv - torch.from_numpy(ref))
            out["captions"].append(caps[i].format(c=pink.TOKEN))
            out["noise"].append(z[i])
            out["target"].append((tgt.clamp(0, 255) / 127.5 - 1).permute(2, 0, 1))
            out["alpha"].append(torch.from_numpy(alpha))
            kept += 1
    print(f"sampled-loss targets: kept {kept} of {n} references (judge: reference colour, shape and background right)", flush=True)
    return {k: torch.stack(v) if k in ("noise", "target", "alpha") else v for k, v in out.items()}


class SampledLoss:
    """Draws `batch` cases of make_targets' set; loss = foreground-weighted MSE between the decoded sample and the target."""

    def __init__(self, targets, tok, decoder, scale, batch, steps, fg_weight, seed, expand=lambda s: s):
        self.t, self.decoder, self.scale = targets, decoder, scale
        self.batch, self.steps, self.fg_weight = batch, steps, fg_weight
        self.rng = random.Random(seed)
        self.ids = torch.tensor([tok.encode(expand(c)) for c in targets["captions"]], dtype=torch.int32)
        self.empty = torch.tensor([tok.encode("")], dtype=torch.int32)

    def loss(self, joint):
        idx = torch.tensor([self.rng.randrange(len(self.ids)) for _ in range(self.batch)])
        with torch.no_grad():
            ctx_u = joint.text(self.empty.repeat(self.batch, 1))[0]
        ctx = torch.cat([ctx_u, joint.text(self.ids[idx])[0]])
        img = self.decoder(evaluate.ddim_loop(joint.unet, ctx, self.t["noise"][idx].clone(), self.steps, GUIDANCE) / self.scale)
        w = 1 + self.fg_weight * self.t["alpha"][idx][:, None]
        return (w * (img - self.t["target"][idx]).pow(2)).mean() / w.mean()
