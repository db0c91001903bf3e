"""Renders the layout training set and pre-computes everything frozen:

* scenes (layout_data.training_layout: 1-3 shapes in square, non-overlapping boxes of
  8-18 px on a 32-px image, no held-out triple), rendered with render_layout();
* their latents with the shipped (frozen) VAE encoder: posterior mean and std, so train.py
  samples z like diffusers' latent_dist.sample(), times the shipped scaling_factor;
* the shipped (frozen) text encoder's outputs: pooled embeddings of every phrase (what the
  pipeline feeds as gligen_positive_embeddings) and last hidden states of every global
  prompt ("on a {bg} background") and of "" (CFG).

    /usr/bin/python3 prepare.py --scenes 24000 --out .work/train.pt
"""
import argparse
import json
import os
import random
import time

import numpy as np
import torch

import common
import data
import layout_data
from encode_latents import encode, to_tensor
from models import VAE, VAE_CFG
from tokenizer import Tokenizer
from train_unet import Joint

torch.set_num_threads(1)
MAX_PER_SCENE = 3


def load_frozen(work=common.WORK):
    """(text+UNet Joint, VAE, tokenizer, scaling_factor) of the shipped model, from the torch
    checkpoints import_onnx.py recovered (bit-identical to the ONNX graphs)."""
    tok = Tokenizer.load(os.path.join(common.SHIPPED_MODEL, "tokenizer"))
    ck = torch.load(os.path.join(work, "unet_shipped.pt"))
    joint = Joint(ck["vocab_size"])
    joint.load_state_dict(ck["ema"])
    vae = VAE(**VAE_CFG)
    vae.load_state_dict(torch.load(os.path.join(work, "vae_shipped.pt")))
    scale = json.load(open(os.path.join(common.SHIPPED_MODEL, "vae_decoder", "config.json")))["scaling_factor"]
    return joint.eval().requires_grad_(False), vae.eval().requires_grad_(False), tok, scale


@torch.no_grad()
def text_features(joint, tok, phrases, prompts):
    """(pooled [P,64] of the phrases, last_hidden_state [Q,77,64] of the prompts)."""
    ids = lambda texts: torch.tensor([tok.encode(t) for t in texts], dtype=torch.int32)  # noqa: E731
    return joint.text(ids(phrases))[1], joint.text(ids(prompts))[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenes", type=int, default=24000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=os.path.join(common.WORK, "train.pt"))
    args = ap.parse_args()
    t0 = time.time()
    joint, vae, tok, scale = load_frozen()
    for w in ("on", "a", "an", "background", *data.COLOR_NAMES, *data.SHAPES):
        assert len(tok.tokens(w)) == 1, f"the tokenizer splits {w!r}"
    phrases = layout_data.all_phrases()
    prompts = [""] + [layout_data.PROMPT.format(bg=c) for c in data.COLOR_NAMES]  # index 0 = "", 1 + colour index
    pooled, hidden = text_features(joint, tok, phrases, prompts)

    rng = random.Random(args.seed)
    n = args.scenes
    boxes = torch.zeros(n, MAX_PER_SCENE, 4)
    phrase_idx = torch.zeros(n, MAX_PER_SCENE, dtype=torch.long)
    count = torch.zeros(n, dtype=torch.long)
    bg = torch.zeros(n, dtype=torch.long)
    imgs = np.zeros((n, layout_data.RES, layout_data.RES, 3), np.uint8)
    scenes = []
    for i in range(n):
        lay = layout_data.training_layout(rng)
        imgs[i] = layout_data.render_layout(lay["objects"], lay["background"])
        bg[i] = data.COLOR_NAMES.index(lay["background"])
        count[i] = len(lay["objects"])
        for j, o in enumerate(lay["objects"]):
            boxes[i, j] = torch.tensor(o["box"])
            phrase_idx[i, j] = phrases.index(o["phrase"])
        scenes.append(lay)
    t_render = time.time() - t0
    mean, std, _ = encode(vae.encoder, to_tensor(imgs))
    held = set(data.heldout_triples())
    leaks = sum((o["color"], o["shape"], s["background"]) in held for s in scenes for o in s["objects"])
    assert leaks == 0
    torch.save({"mean": mean, "std": std, "scaling_factor": scale, "boxes": boxes, "phrase_idx": phrase_idx, "count": count, "bg": bg,
                "phrases": phrases, "pooled": pooled, "prompts": prompts, "prompt_hidden": hidden, "images": torch.from_numpy(imgs[:64])}, args.out)
    print(json.dumps({"scenes": n, "objects": int(count.sum()), "per_count": torch.bincount(count).tolist(), "phrases": len(phrases),
                      "render_s": round(t_render), "total_s": round(time.time() - t0), "out": args.out}))


if __name__ == "__main__":
    main()
