"""Train the UNet and the text encoder jointly on pre-encoded latents.

SD recipe: epsilon prediction, scaled_linear betas 0.00085..0.012 over 1000
steps, 10% empty captions for classifier-free guidance (the empty caption is
tokenised exactly as the pipeline tokenises "": BOS, EOS, padding), EMA.
The LR follows a cosine over the wall-clock budget so the run ends annealed
whenever --minutes says it must end.
"""
import argparse
import copy
import json
import math
import os
import random
import time

# On the shared 2-core machine, a 2-thread OpenBLAS competing with other jobs
# ran ~2x slower per step than a single BLAS thread (spin-waiting threads).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import torch
import torch.nn.functional as F

import data
from models import TEXT_CFG, UNET_CFG, TextEncoder, UNet, n_params
from tokenizer import Tokenizer

torch.set_num_threads(1)

N_TRAIN_T = 1000


def shape_region_weights(attrs, fg_weight, latent_res):
    """Per-latent-pixel loss weight 1 + fg_weight over each image's shape box
    (nominal anchor and size, widened by the jitter and one pixel), [N,1,L,L].
    A small shape covers ~9 of the 64 latent pixels; its corners, which tell a
    square from a circle, are a small part of an unweighted loss."""
    down = data.RES / latent_res
    centres = (torch.arange(latent_res, dtype=torch.float32) + 0.5) * down
    w = torch.ones(len(attrs), 1, latent_res, latent_res)
    for i, (_c, _s, _b, size, position) in enumerate(attrs):
        cx, cy = (v * data.RES / 64 for v in data.ANCHORS[position])
        half = (data.SIZE_PX[size] + data.SIZE_JITTER) * data.RES / 128 + (data.POS_JITTER * data.RES / 64) + 1
        inside_x = (centres - cx).abs() <= half
        inside_y = (centres - cy).abs() <= half
        w[i, 0] += fg_weight * (inside_y[:, None] & inside_x[None, :]).float()
    return w


def splice_after_shape(ids, caps, attrs, shape_tokens, train_set, p, rng):
    """Token splicing, against held-out fallbacks.  The text encoder is causal,
    so the tokens after the shape word ("on a white background", EOS, padding)
    encode the whole (colour, shape, background) triple; for an unseen triple
    the UNet read the shape from them and drew the shape it had seen with that
    colour and background.  For a share p of captions, those later tokens are
    taken from the same caption with another shape word (only ones whose
    triple is in training, so no held-out caption is ever encoded): only the
    shape word's own token, whose context ("a small purple circle") is seen in
    training for every colour-shape pair, then tells the shape.
    Returns (ids of the donor captions, [B, L] mask of the positions to take
    from them)."""
    donor = ids.clone()
    take = torch.zeros(ids.shape, dtype=torch.bool)
    for j, (cap, (c, s, b, *_)) in enumerate(zip(caps, attrs)):
        if not cap or rng.random() >= p:
            continue
        alternatives = [x for x in data.SHAPES if x != s and (c, x, b) in train_set]
        if not alternatives:
            continue
        k = (ids[j] == shape_tokens[s]).nonzero()[0].item()
        donor[j, k] = shape_tokens[rng.choice(alternatives)]
        take[j, k + 1 :] = True
    return donor, take


def alphas_cumprod():
    betas = torch.linspace(0.00085**0.5, 0.012**0.5, N_TRAIN_T, dtype=torch.float64) ** 2
    return torch.cumprod(1 - betas, 0).float()


class Joint(torch.nn.Module):
    def __init__(self, vocab_size):
        super().__init__()
        self.text = TextEncoder(vocab_size, **TEXT_CFG)
        self.unet = UNet(**UNET_CFG)

    def forward(self, zt, t, ids, donor=None, take=None):
        h = self.text(ids)[0]
        if donor is not None:
            h = torch.where(take[..., None], self.text(donor)[0], h)
        return self.unet(zt, t.float(), h)


def optimizer_and_ema_step(model, ema, opt, loss, ema_max, total_steps):
    """One optimiser step (grad-norm clipped to 1) on `loss`, then the EMA update for
    step number `total_steps` (counting resumed steps). Also used by
    tools/shapes-upscaler/train.py."""
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    # Warm the EMA up quickly early on (like diffusers' EMA warmup) so
    # intermediate checkpoints are usable.
    decay = min(ema_max, (1 + total_steps) / (10 + total_steps))
    with torch.no_grad():
        for pe, pm in zip(ema.parameters(), model.parameters()):
            pe.lerp_(pm, 1 - decay)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=45)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--p_uncond", type=float, default=0.1)
    ap.add_argument("--p_shape_only", type=float, default=0.0, help="share of captions without the background (data.sample_shape_only_caption)")
    ap.add_argument("--fg_weight", type=float, default=0.0, help="extra loss weight on the shape's latent pixels (shape_region_weights)")
    ap.add_argument("--off_palette", default=None, help="encoded off-palette set (data.py --off_palette, encode_latents.py)")
    ap.add_argument("--p_off_palette", type=float, default=0.0, help="share of each batch drawn from --off_palette, captioned without colour words")
    ap.add_argument("--p_splice", type=float, default=0.0, help="share of captions whose tokens after the shape word come from another shape's caption (splice_after_shape)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--latents", default=".work/latents.pt", help="pre-encoded training set (encode_latents.py)")
    ap.add_argument("--resume", default=None, help="continue from a checkpoint's model/EMA weights (fresh optimiser and LR cosine)")
    ap.add_argument("--out", default=".work/unet.pt", help="checkpoint to write (stats go next to it as <out>_stats.json, or .work/unet_stats.json for the default)")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)

    lat = torch.load(args.latents)
    mean, std, scale = lat["mean"], lat["std"], lat["scaling_factor"]
    attrs = [tuple(a) for a in lat["attrs"]]
    n_palette = len(attrs)
    if args.off_palette:
        # Appended after the palette set; its own scaling_factor is ignored (same frozen encoder).
        off = torch.load(args.off_palette)
        mean, std = torch.cat([mean, off["mean"]]), torch.cat([std, off["std"]])
        attrs += [tuple(a) for a in off["attrs"]]
    weights = shape_region_weights(attrs, args.fg_weight, mean.shape[-1]) if args.fg_weight else None
    tok = Tokenizer.build()
    shape_tokens = {x: tok.encode(x)[1] for x in data.SHAPES}
    train_set = set(data.train_triples())
    cache = {}

    def ids_for(text):
        if text not in cache:
            cache[text] = torch.tensor(tok.encode(text), dtype=torch.int32)
        return cache[text]

    acp = alphas_cumprod()
    model = Joint(len(tok.vocab))
    prev_steps = prev_seconds = 0
    if args.resume:
        ck = torch.load(args.resume)
        model.load_state_dict(ck["model"])
        prev_steps, prev_seconds = ck["step"], ck["seconds"]
    ema = copy.deepcopy(model).requires_grad_(False)
    if args.resume:
        ema.load_state_dict(ck["ema"])
    print("text params", n_params(model.text), "unet params", n_params(model.unet), "images", len(attrs), flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)

    budget = args.minutes * 60
    t0 = time.time()
    last_ckpt, step, avg = t0, 0, None

    def save():
        torch.save({"model": model.state_dict(), "ema": ema.state_dict(), "step": prev_steps + step, "seconds": prev_seconds + time.time() - t0,
                    "vocab_size": len(tok.vocab)}, args.out)

    def caption(a):
        r = rng.random()
        if r < args.p_uncond:
            return ""
        if a[0] == "":
            return data.sample_colorless_caption(rng, a)
        if r < args.p_uncond + args.p_shape_only:
            return data.sample_shape_only_caption(rng, a)
        return data.sample_caption(rng, a)

    while True:
        frac = (time.time() - t0) / budget
        if frac >= 1:
            break
        warm = min(1.0, (step + 1) / 200)
        for g in opt.param_groups:
            g["lr"] = args.lr * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        idx = [rng.randrange(n_palette, len(attrs)) if args.p_off_palette and rng.random() < args.p_off_palette else rng.randrange(n_palette)
               for _ in range(args.batch)]
        caps = [caption(attrs[i]) for i in idx]
        ids = torch.stack([ids_for(c) for c in caps])
        splice = splice_after_shape(ids, caps, [attrs[i] for i in idx], shape_tokens, train_set, args.p_splice, rng) if args.p_splice else (None, None)
        idx_t = torch.tensor(idx)
        z0 = (mean[idx_t] + torch.randn_like(mean[idx_t]) * std[idx_t]) * scale
        t = torch.randint(0, N_TRAIN_T, (args.batch,))
        noise = torch.randn_like(z0)
        a = acp[t][:, None, None, None]
        zt = a.sqrt() * z0 + (1 - a).sqrt() * noise
        if weights is None:
            loss = F.mse_loss(model(zt, t, ids, *splice), noise)
        else:
            w = weights[idx_t]
            loss = (w * (model(zt, t, ids, *splice) - noise).pow(2)).mean() / w.mean()
        step += 1
        optimizer_and_ema_step(model, ema, opt, loss, args.ema, prev_steps + step)
        avg = loss.item() if avg is None else 0.98 * avg + 0.02 * loss.item()
        if step % 100 == 0:
            print(f"step {step} t {time.time()-t0:.0f}s loss {avg:.4f} lr {opt.param_groups[0]['lr']:.2e}", flush=True)
        if time.time() - last_ckpt > 180:
            save()
            last_ckpt = time.time()
    save()
    stats = {"steps": prev_steps + step, "train_seconds": round(prev_seconds + time.time() - t0), "resumed_from_step": prev_steps, "batch": args.batch, "final_loss_ema": avg,
             "text_params": n_params(model.text), "unet_params": n_params(model.unet)}
    stats_path = ".work/unet_stats.json" if args.out == ".work/unet.pt" else os.path.splitext(args.out)[0] + "_stats.json"
    json.dump(stats, open(stats_path, "w"), indent=2)
    print(stats, flush=True)


if __name__ == "__main__":
    main()
