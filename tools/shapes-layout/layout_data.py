"""The shapes world with layouts: 1-3 shapes, each in a given box, on a plain background.

A box is [x0, y0, x1, y1] in fractions of the image side (origin top left, as
latentkit's LayoutBox).  A shape is drawn as tools/shapes-model/data.py draws it
(4x4 supersampled coverage, the palette colours), with the box as its bounding box:
circle = the ellipse inscribed in the box, square = the box, triangle = apex at the
top centre, base along the bottom edge.  For a square box this is exactly data.py's
geometry.

    render_layout([("red", "circle", [0.05, 0.05, 0.45, 0.45]), ...], "white") -> uint8 [32, 32, 3]

Objects may also be dicts {"color", "shape", "box"} (the heldout-layouts.json form).
Later objects are drawn over earlier ones (training layouts never overlap).
"""
import random

import numpy as np

import common  # noqa: F401  (sys.path -> tools/shapes-model)
import data

RES = data.RES  # 32: the shipped model's image side
MIN_SIDE_PX = 8  # a quarter of the side
MAX_SIDE_PX = 18
GAP_PX = 1  # training boxes keep at least this much space between them
PROMPT = "on a {bg} background"


def shape_coverage(shape, box, res=RES, supersample=data.SUPERSAMPLE):
    """Fraction [res, res] of each pixel covered by the shape whose bounding box is `box`."""
    x0, y0, x1, y1 = (v * res for v in box)
    n = res * supersample
    coords = (np.arange(n) + 0.5) / supersample
    x, y = np.meshgrid(coords, coords)
    cx, cy, hw, hh = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
    if shape == "circle":
        mask = ((x - cx) / hw) ** 2 + ((y - cy) / hh) ** 2 <= 1
    elif shape == "square":
        mask = (np.abs(x - cx) <= hw) & (np.abs(y - cy) <= hh)
    elif shape == "triangle":
        t = (y - y0) / (y1 - y0)  # 0 at the apex, 1 at the base
        mask = (y >= y0) & (y <= y1) & (np.abs(x - cx) <= t * hw)
    else:
        raise ValueError(f"unknown shape {shape!r}")
    return mask.reshape(res, supersample, res, supersample).mean(axis=(1, 3))


def _fields(obj):
    if isinstance(obj, dict):
        return obj["color"], obj["shape"], obj["box"]
    return obj


def render_layout(objects, bg, res=RES):
    """uint8 [res, res, 3]: every (colour, shape, box) object drawn on the `bg` colour
    (colour names from data.COLORS, or RGB triples)."""
    rgb = lambda c: np.array(data.COLORS[c] if isinstance(c, str) else c, np.float32)  # noqa: E731
    img = np.broadcast_to(rgb(bg), (res, res, 3)).copy()
    for obj in objects:
        color, shape, box = _fields(obj)
        cov = shape_coverage(shape, box, res)[..., None]
        img = cov * rgb(color) + (1 - cov) * img
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def phrase(color, shape, rng=None):
    """"a red circle"; "an orange ..." half the time when rng is given (data.py trains both)."""
    art = "an" if color == "orange" and (rng is None or rng.random() < 0.5) else "a"
    return f"{art} {color} {shape}"


def all_phrases():
    """Every phrase the training uses (both articles before orange)."""
    out = []
    for c in data.COLOR_NAMES:
        for s in data.SHAPES:
            out.append(f"a {c} {s}")
            if c == "orange":
                out.append(f"an {c} {s}")
    return out


def _overlaps(a, b, gap):
    return not (a[2] + gap <= b[0] or b[2] + gap <= a[0] or a[3] + gap <= b[1] or b[3] + gap <= a[1])


def sample_boxes(rng, n, res=RES, min_side=MIN_SIDE_PX, max_side=MAX_SIDE_PX, integer=False, gap=GAP_PX):
    """n square, non-overlapping boxes (fractions) with sides in [min_side, max_side] px;
    integer=True puts their edges on the pixel grid.  Re-draws until they fit."""
    while True:
        boxes = []
        for _ in range(200):
            side = rng.randint(min_side, max_side) if integer else rng.uniform(min_side, max_side)
            x0 = rng.randint(0, res - side) if integer else rng.uniform(0, res - side)
            y0 = rng.randint(0, res - side) if integer else rng.uniform(0, res - side)
            b = (x0, y0, x0 + side, y0 + side)
            if all(not _overlaps(b, o, gap) for o in boxes):
                boxes.append(b)
                if len(boxes) == n:
                    return [[v / res for v in b] for b in boxes]


def sample_scene(rng, n, allowed=None):
    """(background, [(colour, shape)] * n): colours differ from the background; with
    `allowed` (a set of (colour, shape, background) triples) only those occur."""
    while True:
        bg = rng.choice(data.COLOR_NAMES)
        objs = []
        for _ in range(n):
            choices = [(c, s) for c in data.COLOR_NAMES for s in data.SHAPES if c != bg and (allowed is None or (c, s, bg) in allowed)]
            if not choices:
                break
            objs.append(rng.choice(choices))
        if len(objs) == n:
            return bg, objs


def training_layout(rng, n=None):
    """One training scene: {"background", "prompt", "objects": [{"color", "shape", "phrase", "box"}]},
    1-3 objects, no held-out triple, continuous (sub-pixel) square boxes."""
    n = n or rng.choice([1, 2, 3])
    bg, objs = sample_scene(rng, n, set(data.train_triples()))
    boxes = sample_boxes(rng, n)
    return {"background": bg, "prompt": PROMPT.format(bg=bg),
            "objects": [{"color": c, "shape": s, "phrase": phrase(c, s, rng), "box": b} for (c, s), b in zip(objs, boxes)]}


def heldout_layouts(n_objects, count, seed):
    """`count` evaluation layouts with `n_objects` objects on pixel-aligned boxes, each with
    at least one held-out (colour, shape, background) triple of data.heldout_triples()."""
    rng = random.Random(seed)
    held = data.heldout_triples()
    out = []
    while len(out) < count:
        c0, s0, bg = rng.choice(held)
        _, rest = sample_scene(random.Random(rng.random()), n_objects - 1) if n_objects > 1 else (None, [])
        objs = [(c0, s0)] + [(c, s) for c, s in rest if c != bg]
        if len(objs) != n_objects:
            continue
        rng.shuffle(objs)
        boxes = sample_boxes(rng, n_objects, integer=True)
        out.append({"prompt": PROMPT.format(bg=bg), "background": bg,
                    "objects": [{"phrase": phrase(c, s), "color": c, "shape": s, "box": b} for (c, s), b in zip(objs, boxes)],
                    "heldout_objects": sum((c, s, bg) in held for c, s in objs)})
    return out
