"""The synthetic "shapes world": vocabulary, colour table, held-out split,
rendering and captions.

One shape (circle / square / triangle with apex up) in one of 8 colours on a
plain background of a *different* colour.  A large shape is centred; a small
shape sits at one of five anchors.  Images are rendered with 4x4 supersampling
so edges are anti-aliased, and size/position get a little jitter so the model
cannot memorise exact pixels.
"""
import itertools
import json
import random

import numpy as np

# Image side in pixels.  64 was the goal, but a 64x64 / 8x-downscale VAE only
# reached ~22 dB (blurry edges, wrong shape colours) in the CPU budget on this
# shared machine, so the shipped model uses 32x32 with a 4x-downscale VAE: the
# latents are still [4, 8, 8], so the UNet is unchanged.
RES = 32
SUPERSAMPLE = 4

# Canonical colours.  Chosen far apart in RGB so that nearest-colour
# classification is unambiguous (red/orange/yellow differ by >= 80 in G).
COLORS = {
    "red": (220, 30, 30),
    "green": (30, 170, 50),
    "blue": (30, 60, 220),
    "yellow": (240, 220, 40),
    "purple": (140, 50, 180),
    "orange": (245, 140, 20),
    "white": (245, 245, 245),
    "black": (15, 15, 15),
}
COLOR_NAMES = list(COLORS)
SHAPES = ["circle", "square", "triangle"]
SIZES = ["small", "large"]
POSITIONS = ["top left", "top right", "bottom left", "bottom right", "center"]

# Nominal geometry in units of 1/64 of the image side (scaled to RES when
# rendering): (centre x, centre y) of each anchor and the bounding-box side.
ANCHORS = {
    "top left": (16, 16),
    "top right": (48, 16),
    "bottom left": (16, 48),
    "bottom right": (48, 48),
    "center": (32, 32),
}
SIZE_PX = {"small": 18, "large": 36}
SIZE_JITTER = 2  # +- pixels on the bounding-box side
POS_JITTER = 2  # +- pixels on the centre

HELDOUT_SEED = 1234
N_HELDOUT = 16
# The documentation's running example must stay in training so demos of
# "a red circle on a blue background" show in-distribution quality.
NEVER_HELD_OUT = {("red", "circle", "blue")}


def all_triples():
    """Every (colour, shape, background) with background != colour: 168."""
    return [(c, s, b) for c, s, b in itertools.product(COLOR_NAMES, SHAPES, COLOR_NAMES) if c != b]


def heldout_triples():
    """Deterministic held-out split.  Re-draw until every colour, shape and
    background (and every colour-shape pair) still occurs in training, so the
    held-out set tests *composition*, not unseen words."""
    triples = [t for t in all_triples() if t not in NEVER_HELD_OUT]
    rng = random.Random(HELDOUT_SEED)
    while True:
        held = sorted(rng.sample(triples, N_HELDOUT))
        train = [t for t in all_triples() if t not in held]
        ok = (
            {t[0] for t in train} == set(COLOR_NAMES)
            and {t[2] for t in train} == set(COLOR_NAMES)
            and {(t[0], t[1]) for t in train} == {(c, s) for c in COLOR_NAMES for s in SHAPES}
        )
        if ok:
            return held


def train_triples():
    held = set(heldout_triples())
    return [t for t in all_triples() if t not in held]


def layouts():
    """(size, position) combinations that exist in the world."""
    return [("large", "center")] + [("small", p) for p in POSITIONS]


def render(color, shape, bg, size, position, rng=None, res=RES):
    """Render one image as uint8 [res, res, 3].  rng=None gives the nominal
    (un-jittered) geometry."""
    return render_rgb(COLORS[color], shape, COLORS[bg], size, position, rng, res)


def render_rgb(fg_rgb, shape, bg_rgb, size, position, rng=None, res=RES):
    """render() with the shape and background colours given as RGB triples."""
    scale = res / 64.0
    cx, cy = ANCHORS[position]
    side = SIZE_PX[size]
    if rng is not None:
        cx += rng.uniform(-POS_JITTER, POS_JITTER)
        cy += rng.uniform(-POS_JITTER, POS_JITTER)
        side += rng.uniform(-SIZE_JITTER, SIZE_JITTER)
    cx, cy, side = cx * scale, cy * scale, side * scale
    n = res * SUPERSAMPLE
    # Sample points at supersampled pixel centres, in output-pixel units.
    coords = (np.arange(n) + 0.5) / SUPERSAMPLE
    x, y = np.meshgrid(coords, coords)
    h = side / 2
    if shape == "circle":
        mask = (x - cx) ** 2 + (y - cy) ** 2 <= h * h
    elif shape == "square":
        mask = (np.abs(x - cx) <= h) & (np.abs(y - cy) <= h)
    elif shape == "triangle":
        # Isosceles, apex up, base = height = side: half the bounding box.
        top, bottom = cy - h, cy + h
        t = (y - top) / side  # 0 at apex, 1 at base
        mask = (y >= top) & (y <= bottom) & (np.abs(x - cx) <= t * h)
    else:
        raise ValueError(shape)
    cov = mask.reshape(res, SUPERSAMPLE, res, SUPERSAMPLE).mean(axis=(1, 3))[..., None]
    fg = np.array(fg_rgb, np.float32)
    bgc = np.array(bg_rgb, np.float32)
    img = cov * fg + (1 - cov) * bgc
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- captions
def caption_variants(color, shape, bg, size, position):
    """All captions that correctly describe the image, with sampling weights.
    Captions that omit size/position are trained on every layout, so for those
    the model samples size/position from the training prior (50% large-centred,
    50% small at one of the five anchors)."""
    out = [
        (f"a {color} {shape} on a {bg} background", 0.20),
        (f"a {size} {color} {shape} on a {bg} background", 0.20),
        (f"{color} {shape}, {bg} background", 0.10),
        (f"{size} {color} {shape}, {bg} background", 0.10),
    ]
    where = "in the center" if position == "center" else f"at the {position}"
    out.append((f"a {size} {color} {shape} {where} on a {bg} background", 0.40))
    # English says "an orange"; people type both, so both are trained (half
    # the weight each).  Only one of shape and background can be orange.
    return [v for cap, w in out for v in ([(cap, w)] if "a orange" not in cap else [(cap, w / 2), (cap.replace("a orange", "an orange"), w / 2)])]


def sample_caption(rng, attrs):
    caps, w = zip(*caption_variants(*attrs))
    return rng.choices(caps, weights=w)[0]


def sample_shape_only_caption(rng, attrs):
    """A caption that names the shape but not the background (training
    augmentation: the shape words alone must decide the shape, which is what
    an unseen colour/background combination needs)."""
    color, shape, _bg, size, position = attrs
    where = "in the center" if position == "center" else f"at the {position}"
    art = "an" if color == "orange" and rng.random() < 0.5 else "a"
    return rng.choice([f"{art} {color} {shape}", f"a {size} {color} {shape}", f"a {size} {color} {shape} {where}", f"{size} {color} {shape}"])


# Off-palette augmentation: shapes in random colours that are none of the 8
# words, captioned without colour words.  In the palette set, some colour +
# background pairs only ever come with one or two shapes (the third is held
# out), so the image colours alone predict the shape; in this set they never
# do, and only the shape word can.  Colours stay this far (RGB distance) from
# every palette colour, so no held-out triple leaks in.
OFF_PALETTE_MIN_DIST = 80
OFF_PALETTE_MIN_CONTRAST = 120


def random_off_palette_pair(rng):
    def far(rgb):
        return all(np.linalg.norm(np.subtract(rgb, p)) >= OFF_PALETTE_MIN_DIST for p in COLORS.values())

    while True:
        fg, bg = (tuple(rng.randrange(256) for _ in range(3)) for _ in range(2))
        if far(fg) and far(bg) and np.linalg.norm(np.subtract(fg, bg)) >= OFF_PALETTE_MIN_CONTRAST:
            return fg, bg


def make_off_palette_dataset(n, seed=0):
    """n renders in random off-palette colours, a third large-centred and the
    rest small at the five anchors, like the palette set; attrs have "" for
    the colours."""
    rng = random.Random(seed)
    lay = layouts()
    imgs, attrs = [], []
    for i in range(n):
        shape = SHAPES[i % len(SHAPES)]
        size, position = lay[0] if rng.random() < 1 / 3 else rng.choice(lay[1:])
        fg, bg = random_off_palette_pair(rng)
        imgs.append(render_rgb(fg, shape, bg, size, position, rng))
        attrs.append(("", shape, "", size, position))
    return np.stack(imgs), attrs


def sample_colorless_caption(rng, attrs):
    """A caption without colour words, for the off-palette set."""
    _c, shape, _b, size, position = attrs
    where = "in the center" if position == "center" else f"at the {position}"
    return rng.choice([f"a {shape}", f"a {size} {shape}", f"a {size} {shape} {where}", f"{size} {shape}"])


def make_dataset(per_triple_large=15, per_triple_small_each=3, seed=0, triples=None):
    """Images + attributes: per training triple, `per_triple_large` large
    centred renders and `per_triple_small_each` small ones at each of the five
    anchors.  The VAE's set is 15 + 5x3 (half large, half small); the diffusion
    model's set 100 + 5x40 (a third large), so every corner has many renders."""
    rng = random.Random(seed)
    triples = triples if triples is not None else train_triples()
    imgs, attrs = [], []
    for c, s, b in triples:
        lay = [("large", "center")] * per_triple_large
        for p in POSITIONS:
            lay += [("small", p)] * per_triple_small_each
        for z, p in lay:
            imgs.append(render(c, s, b, z, p, rng))
            attrs.append((c, s, b, z, p))
    return np.stack(imgs), attrs


def world_json():
    """Everything the TypeScript evaluator needs (written to heldout.json)."""
    return {
        "resolution": RES,
        "colors": {k: list(v) for k, v in COLORS.items()},
        "shapes": SHAPES,
        "sizes": SIZES,
        "positions": POSITIONS,
        "large_position": "center",
        "heldout_seed": HELDOUT_SEED,
        "heldout": [{"color": c, "shape": s, "background": b} for c, s, b in heldout_triples()],
        "phrasings": [
            "a {color} {shape} on a {background} background",
            "a {size} {color} {shape} on a {background} background",
            "a small {color} {shape} at the {position} on a {background} background",
            "a small {color} {shape} in the center on a {background} background",
            "a large {color} {shape} in the center on a {background} background",
            "{color} {shape}, {background} background",
            "{size} {color} {shape}, {background} background",
        ],
        "articles": 'Before a colour word "a" is used, and before "orange" both "a" and "an" (trained half each).',
        "geometry": {
            "units": "pixels at the stated resolution",
            "anchors_px": {k: [v[0] * RES / 64, v[1] * RES / 64] for k, v in ANCHORS.items()},
            "size_px": {k: v * RES / 64 for k, v in SIZE_PX.items()},
            "size_jitter_px": SIZE_JITTER * RES / 64,
            "position_jitter_px": POS_JITTER * RES / 64,
            "fill_ratio": {"circle": 0.785, "square": 1.0, "triangle": 0.5},
        },
    }


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="render a training set (images + attributes) to an .npz file")
    ap.add_argument("--out", default=".work/data.npz")
    ap.add_argument("--large", type=int, default=15, help="large centred renders per training triple")
    ap.add_argument("--small_each", type=int, default=3, help="small renders per training triple and anchor")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--off_palette", type=int, default=0, help="instead: this many off-palette renders (make_off_palette_dataset)")
    args = ap.parse_args()
    if args.off_palette:
        imgs, attrs = make_off_palette_dataset(args.off_palette, seed=args.seed)
    else:
        imgs, attrs = make_dataset(args.large, args.small_each, seed=args.seed)
    np.savez_compressed(args.out, images=imgs, attrs=np.array(attrs))
    print("images", imgs.shape, "train triples", len(train_triples()), "held out", len(heldout_triples()))
    print(json.dumps(world_json()["heldout"]))
