"""Writes the ground-truth fixture of the TypeScript layout judge
(packages/model-shapes/src/evaluation/judge-layout.test.ts): layouts of 1-3 shapes
rendered by layout_data.render_layout, with their truth, plus negative cases.

    /usr/bin/python3 tools/shapes-layout/render_layout_judge_fixture.py
    # -> packages/model-shapes/test-fixtures/layout-judge-cases.json

Truth cases ("truth"): 60 layouts (20 each of 1, 2 and 3 objects) at 32x32, half on
sub-pixel boxes (as training draws them), half on pixel-aligned boxes (as the held-out
layouts), the palette's closest colour pairs included, plus 6 at 64x64.  The judge must
get >= 98 % of their objects right and flag none as dirty.

Negative cases, each with the object (or the image) the judge must call wrong:
  "wrong-color"  one object drawn in another colour than its phrase says;
  "wrong-shape"  one object drawn as another shape;
  "missing"      one object not drawn at all;
  "stray"        every object right, plus a shape outside all boxes (6-10 px).
The wrong object's index is `wrong`; for "stray" the image must be flagged not clean.
Pixels are raw RGB bytes, zlib-deflated, base64 (the test inflates them with node:zlib).
Seeded: reruns write the same file.
"""
import base64
import json
import os
import random
import zlib

import common
import data
import layout_data

OUT = os.path.join(common.ROOT, "packages", "model-shapes", "test-fixtures", "layout-judge-cases.json")

# The palette's closest pairs (object colour, background), both ways round.
CLOSE_PAIRS = [("red", "orange"), ("orange", "red"), ("blue", "purple"), ("purple", "blue"),
               ("yellow", "white"), ("white", "yellow"), ("orange", "yellow"), ("yellow", "orange")]
NEGATIVES_PER_KIND = 10


def encode(img):
    return base64.b64encode(zlib.compress(img.tobytes(), 9)).decode("ascii")


def scene(rng, n, i, res):
    """A layout of n objects; every fourth case puts its first object on a close background."""
    bg, objs = layout_data.sample_scene(rng, n)
    if i % 4 == 0:
        color, bg = CLOSE_PAIRS[(i // 4) % len(CLOSE_PAIRS)]
        objs = [(color, objs[0][1])] + [(c, s) if c != bg else (color, s) for c, s in objs[1:]]
    boxes = layout_data.sample_boxes(rng, n, res=res, min_side=res // 4, max_side=res * 18 // 32,
                                     integer=i % 2 == 1)
    return {"prompt": layout_data.PROMPT.format(bg=bg), "background": bg,
            "objects": [{"phrase": layout_data.phrase(c, s), "color": c, "shape": s, "box": b}
                        for (c, s), b in zip(objs, boxes)]}


def case(layout, kind, res, drawn, wrong=None):
    img = layout_data.render_layout(drawn, layout["background"], res)
    out = dict(layout, kind=kind, width=res, height=res, rgb=encode(img))
    if wrong is not None:
        out["wrong"] = wrong
    return out


def stray_box(rng, boxes, res):
    """A 6-10 px square box at least 2 px away from every box of the layout, or None."""
    for _ in range(500):
        side = rng.randint(6, 10)
        x0, y0 = rng.randint(0, res - side), rng.randint(0, res - side)
        b = [v / res for v in (x0, y0, x0 + side, y0 + side)]
        if all(not layout_data._overlaps(b, o, 2 / res) for o in boxes):
            return b
    return None


def main():
    rng = random.Random(16016)
    cases = []
    for i in range(60):
        lay = scene(rng, 1 + i % 3, i, 32)
        cases.append(case(lay, "truth", 32, lay["objects"]))
    for i in range(6):
        lay = scene(rng, 1 + i % 3, i + 1, 64)
        cases.append(case(lay, "truth", 64, lay["objects"]))

    kinds = ["wrong-color", "wrong-shape", "missing", "stray"]
    for kind in kinds:
        made = 0
        while made < NEGATIVES_PER_KIND:
            i = len(cases)
            lay = scene(rng, 1 + made % 3, i, 32)
            objs = [dict(o) for o in lay["objects"]]
            k = rng.randrange(len(objs))
            if kind == "wrong-color":
                o = objs[k]
                o["color"] = rng.choice([c for c in data.COLOR_NAMES if c not in (o["color"], lay["background"])])
                cases.append(case(lay, kind, 32, objs, k))
            elif kind == "wrong-shape":
                o = objs[k]
                o["shape"] = rng.choice([s for s in data.SHAPES if s != o["shape"]])
                cases.append(case(lay, kind, 32, objs, k))
            elif kind == "missing":
                cases.append(case(lay, kind, 32, objs[:k] + objs[k + 1:], k))
            else:
                b = stray_box(rng, [o["box"] for o in objs], 32)
                if b is None:
                    continue
                c = rng.choice([c for c in data.COLOR_NAMES if c != lay["background"]])
                cases.append(case(lay, kind, 32, objs + [{"color": c, "shape": rng.choice(data.SHAPES), "box": b}]))
            made += 1

    doc = {
        "source": "tools/shapes-layout/render_layout_judge_fixture.py (layout_data.render_layout)",
        "colors": {k: list(v) for k, v in data.COLORS.items()},
        "cases": cases,
    }
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1)
    counts = {k: sum(c["kind"] == k for c in cases) for k in ["truth"] + kinds}
    print(f"{len(cases)} cases {counts} -> {os.path.relpath(OUT, common.ROOT)} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
