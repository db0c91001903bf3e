"""Python evaluation of the two adapter files with tools/shapes-model/evaluate.py's own DDIM sampler
and judge (pink added to the judge's palette, pink.classify), at the model card's recommended
settings (DDIM, 50 steps, guidance 5):

* pink prompts (every shape on every background, 4 phrasings): base model vs LoRA (merged from the
  written kohya file at scale 1) with the word "pink", and the embedding with `<pink>`;
* the base vocabulary (evaluate.make_prompts: 32 held-out + 48 seen prompts) with the LoRA at
  scale 1 vs the same model at scale 0 (= the shipped model).

    /usr/bin/python3 evaluate_adapters.py --seeds 0,1
"""
import argparse
import copy
import json
import os
import time

import torch

import pink  # first: puts ../shapes-model on sys.path
import evaluate
import lora
import safetensors_io
from tokenizer import Tokenizer
from train_common import load_shipped
from train_ti import expand, with_embedding


def run(joint, vae, scale, tok, cases, seeds, steps, guidance, judge=None):
    imgs = []
    for s in seeds:
        imgs += list(evaluate.sample(joint, vae, scale, tok, [c[1] for c in cases], steps, guidance, seed=s))
    return pink.score(cases * len(seeds), imgs, judge), imgs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lora", default=os.path.join(pink.ADAPTERS, "pink-lora.safetensors"))
    ap.add_argument("--embedding", default=os.path.join(pink.ADAPTERS, "pink-embedding.safetensors"))
    ap.add_argument("--vae", default=os.path.join(pink.HERE, "..", "shapes-model", ".work", "vae_shipped.pt"))
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--guidance", type=float, default=5.0)
    ap.add_argument("--skip", default="", help="comma list of runs to skip: lora, embedding, base_vocab")
    ap.add_argument("--out", default=os.path.join(pink.WORK, "eval_adapters.json"))
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    skip = set(args.skip.split(","))
    from models import VAE, VAE_CFG

    vae = VAE(**VAE_CFG)
    vae.load_state_dict(torch.load(args.vae))
    vae.eval()
    scale = pink.latent_scale()
    tok = Tokenizer.load(os.path.join(pink.MODEL, "tokenizer"))
    base = load_shipped()
    report = {"sampler": {"scheduler": "DDIM", "steps": args.steps, "guidance": args.guidance, "seeds": seeds}, "runs": {}}
    grids = {}

    def record(name, res, imgs):
        report["runs"][name] = res
        grids[name] = imgs
        print(name, json.dumps(res), flush=True)

    t0 = time.time()
    pink_cases = pink.pink_prompts(pink.WORD)
    tok_cases = pink.pink_prompts(pink.TOKEN)
    record("pink/base", *run(base, vae, scale, tok, pink_cases, seeds, args.steps, args.guidance))
    if "lora" not in skip:
        tensors, meta = safetensors_io.read(args.lora)
        merged = copy.deepcopy(base)
        n = lora.merge_kohya(merged, tensors, 1.0)
        report["lora_file"] = {"targets": n, "metadata": meta, "bytes": os.path.getsize(args.lora)}
        record("pink/lora", *run(merged, vae, scale, tok, pink_cases, seeds, args.steps, args.guidance))
    if "embedding" not in skip:
        tensors, meta = safetensors_io.read(args.embedding)
        vec = torch.from_numpy(tensors[pink.TOKEN])
        with_emb = copy.deepcopy(base)
        etok = with_embedding(with_emb, vec, tok)
        report["embedding_file"] = {"vectors": int(vec.shape[0]), "metadata": meta, "bytes": os.path.getsize(args.embedding)}
        record("pink/base_token", *run(base, vae, scale, tok, tok_cases, seeds, args.steps, args.guidance))
        ecases = [(s, expand(p, vec.shape[0]), e) for s, p, e in tok_cases]
        record("pink/embedding", *run(with_emb, vae, scale, etok, ecases, seeds, args.steps, args.guidance))
    if "base_vocab" not in skip and "lora" not in skip:
        cases = evaluate.make_prompts(48)
        record("vocab/lora_scale0", *run(base, vae, scale, tok, cases, seeds, args.steps, args.guidance, evaluate.classify))
        record("vocab/lora_scale1", *run(merged, vae, scale, tok, cases, seeds, args.steps, args.guidance, evaluate.classify))
    report["seconds"] = round(time.time() - t0)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    json.dump(report, open(args.out, "w"), indent=2)
    # A grid per run: the first 24 images of the first seed (one per shape x background).
    for name, imgs in grids.items():
        evaluate.write_png(os.path.join(pink.WORK, name.replace("/", "_") + ".png"), evaluate.grid(imgs[:24], cols=8, up=2))
    print("seconds", report["seconds"], flush=True)


if __name__ == "__main__":
    main()
