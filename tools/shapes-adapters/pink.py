"""The new concept, "pink", and everything the adapter scripts share: its colour, the rendered
data, the captions, the added `<pink>` token, the judge's extended palette and the test prompts.

The shipped model knows 8 colours; "pink" is not one of its words (it tokenizes into byte
tokens it never learned) and its VAE decoder, trained on the 8 palette colours only, turns
the encoder's latents of a pink shape into a whitish one.  make_data.py therefore trains on
latents found by decoder inversion (see invert_latents), which the decoder draws pink.
"""
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "shapes-model"))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

import data  # noqa: E402
import evaluate  # noqa: E402

torch.set_num_threads(1)

MODEL = os.path.join(HERE, "..", "..", "packages", "model-shapes", "model")
ADAPTERS = os.path.join(HERE, "..", "..", "packages", "model-shapes", "adapters")
WORK = os.path.join(HERE, ".work")

# RGB distance to the palette: purple 131, white 137, orange 171, red 186 (the 8 colours are >= 80 apart).
PINK = (250, 120, 190)
WORD = "pink"
TOKEN = "<pink>"


def latent_scale():
    """The shipped VAE's scaling_factor (vae_encoder/config.json)."""
    with open(os.path.join(MODEL, "vae_encoder", "config.json")) as f:
        return json.load(f)["scaling_factor"]


def palette_with_pink():
    """(names, [9,3] RGB) the judge uses for the adapter evaluation: the 8 words plus pink."""
    names = data.COLOR_NAMES + [WORD]
    return names, np.array([data.COLORS[c] for c in data.COLOR_NAMES] + [PINK], np.float32)


def classify(img):
    """evaluate.classify with pink added to the judge's palette (the nearest-colour vote)."""
    names, pal = palette_with_pink()
    saved_pal, saved_names = evaluate.PALETTE, data.COLOR_NAMES
    evaluate.PALETTE, data.COLOR_NAMES = pal, names
    try:
        return evaluate.classify(img)
    finally:
        evaluate.PALETTE, data.COLOR_NAMES = saved_pal, saved_names


def render_pink_set(large=6, small_each=3, seed=0):
    """Pink shapes: every shape, on every palette background, large-centred x `large` and small at
    each of the five anchors x `small_each`, jittered like data.py.  Returns (uint8 images, attrs)."""
    rng = random.Random(seed)
    imgs, attrs = [], []
    for s in data.SHAPES:
        for b in data.COLOR_NAMES:
            lay = [("large", "center")] * large + [("small", p) for p in data.POSITIONS for _ in range(small_each)]
            for z, p in lay:
                imgs.append(data.render_rgb(PINK, s, data.COLORS[b], z, p, rng))
                attrs.append((WORD, s, b, z, p))
    return np.stack(imgs), attrs


def caption(rng, attrs, word=WORD):
    """A training caption for a pink row (data.caption_variants with the colour word `word`)."""
    return data.sample_caption(rng, attrs).replace(WORD, word, 1)


class AddedTokenTokenizer:
    """The shipped tokenizer plus added tokens (like CLIPTokenizer.add_tokens): each added token is cut
    out of the text before BPE (the longest one where several start at the same place, as the tokenizers
    library's added-token trie does) and gets the next ids after the base vocabulary (603, 604, ...)."""

    def __init__(self, tok, added=()):
        self.tok = tok
        self.added = {t: len(tok.vocab) + i for i, t in enumerate(added)}

    def encode(self, text):
        ids = []
        rest = text
        while rest:
            hits = [(rest.find(t), t) for t in self.added if t in rest]
            if not hits:
                ids += self.tok.tokens(rest)
                break
            i, t = min(hits, key=lambda h: (h[0], -len(h[1])))  # longest at the first position: `<pink>_1` before `<pink>`
            ids += self.tok.tokens(rest[:i]) + [self.added[t]]
            rest = rest[i + len(t):]
        tk = self.tok
        ids = [tk.bos_id] + ids[: 77 - 2] + [tk.eos_id]
        return ids + [tk.pad_id] * (77 - len(ids))


def pink_prompts(word=WORD, seed=7, repeats=2):
    """Test prompts for the new colour: every shape on every palette background, `repeats` times,
    cycling the four phrasings of evaluate.make_prompts (so size/position are expected when stated).
    Returns (split, prompt, expected) like evaluate.make_prompts."""
    rng = random.Random(seed)
    cases = []
    triples = [(word, s, b) for s in data.SHAPES for b in data.COLOR_NAMES] * repeats
    for i, (c, s, b) in enumerate(triples):
        p, exp = evaluate.phrase_case(i % 4, c, s, b, rng, color=WORD)
        cases.append(("pink", p, exp))
    return cases


def score(cases, imgs, judge=None):
    """Per split: share of images with colour+shape right ("concept"), and with every stated attribute right ("all")."""
    judge = judge or classify
    res = {}
    for (split, _p, exp), img in zip(cases, imgs):
        got = judge(img)
        r = res.setdefault(split, {"concept": [0, 0], "all": [0, 0]})
        r["concept"][0] += got["color"] == exp["color"] and got["shape"] == exp["shape"]
        r["all"][0] += all(got[k] == v for k, v in exp.items())
        r["concept"][1] += 1
        r["all"][1] += 1
    return {s: {k: round(a / n, 4) for k, (a, n) in d.items()} | {"n": d["all"][1]} for s, d in res.items()}
