"""Textual inversion: one new token `<pink>` whose input embedding (1 vector by default, --vectors for
more) is the only thing trained; the UNet, the text encoder and every other embedding stay frozen.
Two objectives:
* --objective denoise (runs 1-2): pink rows only ("a <pink> circle on a blue background", ...), ε-prediction
  as train_unet.py, no empty captions (the unconditional branch cannot change);
* --objective sampled (runs 3-4 of the shipped file): sampled_loss.py, the decoded image of a whole DDIM
  sample against a pink target, the gradient through every sampler step.
Time-boxed by --minutes.
Writes diffusers' format {"<pink>": [n, 64]} to packages/model-shapes/adapters/pink-embedding.safetensors.

    /usr/bin/python3 train_ti.py --minutes 25
"""
import argparse
import json
import os
import time

import torch
import torch.nn.functional as F
from torch import nn

import pink
import safetensors_io
import sampled_loss
from tokenizer import Tokenizer
from train_common import Batches, load_decoder, load_shipped, lr_at


class ExtendedEmbedding(nn.Module):
    """The frozen token table with `new` rows appended (ids len(table), len(table)+1, ...)."""

    def __init__(self, table, new):
        super().__init__()
        self.register_buffer("table", table.detach().clone())
        self.new = nn.Parameter(new.detach().clone())

    def forward(self, ids):
        return F.embedding(ids, torch.cat([self.table, self.new]))


def vector_tokens(n):
    """diffusers' names for an n-vector embedding: <pink>, <pink>_1, ..."""
    return [pink.TOKEN] + [f"{pink.TOKEN}_{i}" for i in range(1, n)]


def expand(text, n):
    """diffusers' maybe_convert_prompt: `<pink>` -> `<pink> <pink>_1 ...`."""
    return text.replace(pink.TOKEN, " ".join(vector_tokens(n)))


def with_embedding(joint, vectors, tok):
    """Put the learned vectors into `joint`'s text encoder; returns the tokenizer that knows the token."""
    joint.text.tok = ExtendedEmbedding(joint.text.tok.weight if isinstance(joint.text.tok, nn.Embedding) else joint.text.tok.table, vectors)
    return pink.AddedTokenTokenizer(tok, vector_tokens(len(vectors)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=25)
    ap.add_argument("--vectors", type=int, default=1)
    ap.add_argument("--init", default="red white", help="words whose mean embedding starts every vector")
    ap.add_argument("--extra_init", default="a", help="--resume from a file with fewer vectors: the new ones start as these words' mean embedding")
    ap.add_argument("--lr", type=float, default=5e-3)
    ap.add_argument("--batch", type=int, default=48)
    ap.add_argument("--fg_weight", type=float, default=2.0)
    ap.add_argument("--pixel_loss", type=float, default=0.0,
                    help="weight of an extra loss: the frozen VAE decoder's image of the predicted x0 vs the render (weighted by alpha_bar_t)")
    ap.add_argument("--objective", choices=["denoise", "sampled"], default="denoise",
                    help="denoise: epsilon-prediction on make_data.py's latents; sampled: sampled_loss.py (generate, decode, compare)")
    ap.add_argument("--sample_steps", type=int, default=10, help="--objective sampled: DDIM steps of each training sample")
    ap.add_argument("--n_targets", type=int, default=2048, help="--objective sampled: references sampled (judge-rejected ones dropped)")
    ap.add_argument("--ema", type=float, default=0.995, help="EMA decay of the embedding (what is saved); 0: none")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--latents", default=os.path.join(pink.WORK, "pink_latents.pt"))
    ap.add_argument("--out", default=os.path.join(pink.ADAPTERS, "pink-embedding.safetensors"))
    ap.add_argument("--resume", default=None, help="start from this embedding file (fresh optimiser and LR schedule)")
    ap.add_argument("--prev_cpu_seconds", type=int, default=None, help="CPU seconds of the run resumed from, when its file does not record them")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    joint = load_shipped()
    base_tok = Tokenizer.load(os.path.join(pink.MODEL, "tokenizer"))
    table = joint.text.tok.weight
    init_ids = [t for w in args.init.split() for t in base_tok.tokens(w)]
    init = table[init_ids].mean(0, keepdim=True).repeat(args.vectors, 1)
    prev_steps = prev_seconds = prev_cpu = 0
    if args.resume:
        tensors, meta = safetensors_io.read(args.resume)
        init = torch.from_numpy(tensors[pink.TOKEN])
        if len(init) < args.vectors:  # a shorter file starting an n-vector run: the new vectors start as --extra_init
            extra = table[[t for w in args.extra_init.split() for t in base_tok.tokens(w)]].mean(0, keepdim=True)
            init = torch.cat([init, extra.repeat(args.vectors - len(init), 1)])
        prev_steps, prev_seconds = int(meta["steps"]), int(meta["train_seconds"])
        prev_cpu = args.prev_cpu_seconds if args.prev_cpu_seconds is not None else int(meta.get("cpu_seconds", prev_seconds))
        print(f"resumed from {args.resume}: {prev_steps} steps, {prev_seconds} s", flush=True)
    tok = with_embedding(joint, init, base_tok)
    emb = joint.text.tok.new
    print(f"token {pink.TOKEN}: {args.vectors} vector(s) of {table.shape[1]}, ids {list(tok.added.values())}, init from {args.resume or repr(args.init)} (norm {init[0].norm():.3f}, "
          f"mean token norm {table.norm(dim=1).mean():.3f})", flush=True)
    caption = lambda rng, a: expand(pink.caption(rng, a, pink.TOKEN), args.vectors)
    if args.objective == "sampled":
        decoder, scale = load_decoder(), pink.latent_scale()
        targets = sampled_loss.make_targets(joint, decoder, scale, tok, args.n_targets, args.sample_steps, args.seed + 1000)
        batches = sampled_loss.SampledLoss(targets, tok, decoder, scale, args.batch, args.sample_steps, args.fg_weight, args.seed,
                                           lambda s: expand(s, args.vectors))
    else:
        lat = torch.load(args.latents)
        batches = Batches(lat, tok, caption, args.batch, 0, 0.0, args.fg_weight, args.seed, args.pixel_loss,
                          load_decoder() if args.pixel_loss else None)
    opt = torch.optim.AdamW([emb], lr=args.lr, weight_decay=0.0)
    ema = emb.detach().clone()
    budget, t0, step, avg, last = args.minutes * 60, time.time(), 0, None, time.time()
    c0 = time.process_time()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)

    def save():
        meta = {"format": "diffusers", "token": pink.TOKEN, "vectors": args.vectors, "concept": "pink", "rgb": list(pink.PINK), "steps": prev_steps + step,
                "train_seconds": prev_seconds + round(time.time() - t0),
                "cpu_seconds": prev_cpu + round(time.process_time() - c0), "trainer": "tools/shapes-adapters/train_ti.py"}
        meta["ema"] = args.ema
        safetensors_io.write(args.out, {pink.TOKEN: (ema if args.ema else emb.detach()).numpy()}, meta)
        return meta

    while (frac := (time.time() - t0) / budget) < 1:
        for g in opt.param_groups:
            g["lr"] = lr_at(args.lr, frac, step, warmup=50)
        loss = batches.loss(joint)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        with torch.no_grad():
            ema.lerp_(emb.detach(), 1 - min(args.ema, (1 + step) / (10 + step)))
        avg = loss.item() if avg is None else 0.98 * avg + 0.02 * loss.item()
        if step % 50 == 0:
            print(f"step {step} t {time.time() - t0:.0f}s loss {avg:.4f} norm {emb.detach().norm(dim=1).tolist()}", flush=True)
        if time.time() - last > 120:
            save()
            last = time.time()
    meta = save()
    stats = meta | {"final_loss_ema": avg, "bytes": os.path.getsize(args.out), "batch": args.batch, "lr": args.lr, "init": args.init, "pixel_loss": args.pixel_loss,
                    "objective": args.objective} | ({"sample_steps": args.sample_steps} if args.objective == "sampled" else {})
    json.dump(stats, open(os.path.join(pink.WORK, "ti_stats.json"), "w"), indent=2)
    print(stats, flush=True)


if __name__ == "__main__":
    main()
