"""Torch reference images for tests/shapes-adapters.test.ts: the shipped model with the shipped pink LoRA
merged into its weights (W + (alpha/rank)·up·down, lora.merge_kohya) and with the shipped `<pink>`
embedding appended to its token table, sampled by tools/shapes-model/evaluate.py's own DDIM + CFG (50
steps, guidance 5, seed 0: the same initial noise as latentkit's TorchGenerator(0) for one image).
latentkit must give the same pixels through loadLoraWeights / loadTextualInversion (measured here: 0
levels of difference on all three).

    /usr/bin/python3 reference_images.py   # -> packages/model-shapes/test-fixtures/adapters-reference.json
"""
import base64
import copy
import json
import os
import zlib

import torch

import pink  # first: puts ../shapes-model on sys.path
import evaluate
import lora
import safetensors_io
from models import VAE, VAE_CFG
from tokenizer import Tokenizer
from train_common import load_shipped
from train_ti import with_embedding

OUT = os.path.join(pink.HERE, "..", "..", "packages", "model-shapes", "test-fixtures", "adapters-reference.json")
CASES = [("bare", "a pink circle on a blue background"), ("lora", "a pink circle on a blue background"),
         ("embedding", "a <pink> square on a green background")]


def main():
    vae = VAE(**VAE_CFG)
    vae.load_state_dict(torch.load(os.path.join(pink.HERE, "..", "shapes-model", ".work", "vae_shipped.pt")))
    vae.eval()
    scale = pink.latent_scale()
    tok = Tokenizer.load(os.path.join(pink.MODEL, "tokenizer"))
    base = load_shipped()
    merged = copy.deepcopy(base)
    lora.merge_kohya(merged, safetensors_io.read(os.path.join(pink.ADAPTERS, "pink-lora.safetensors"))[0], 1.0)
    emb = copy.deepcopy(base)
    vectors = safetensors_io.read(os.path.join(pink.ADAPTERS, "pink-embedding.safetensors"))[0][pink.TOKEN]
    etok = with_embedding(emb, torch.from_numpy(vectors), tok)
    models = {"bare": (base, tok), "lora": (merged, tok), "embedding": (emb, etok)}
    out = {"source": "tools/shapes-adapters/reference_images.py", "steps": 50, "guidance": 5.0, "seed": 0, "cases": []}
    for name, prompt in CASES:
        model, tk = models[name]
        img = evaluate.sample(model, vae, scale, tk, [prompt], 50, 5.0, seed=0)[0]
        out["cases"].append({"adapter": name, "prompt": prompt, "width": img.shape[1], "height": img.shape[0],
                             "rgb": base64.b64encode(zlib.compress(img.tobytes(), 9)).decode()})
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print("wrote", os.path.abspath(OUT))


if __name__ == "__main__":
    main()
