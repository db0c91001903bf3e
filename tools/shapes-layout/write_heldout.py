"""Writes packages/model-shapes/layout/heldout-layouts.json: the evaluation layouts of the
shapes layout model (read by `npm run eval:layout`).

100 layouts with 2 objects and 100 with 3, on pixel-aligned square boxes (sides 8-18 px
of 32, not overlapping) drawn with seeds of their own; every layout has at least one
held-out (colour, shape, background) triple of tools/shapes-model/data.py's
heldout_triples(), which never occurs as an object on its background in training.

    /usr/bin/python3 write_heldout.py
"""
import json
import os
import re

import common
import data
import layout_data

SEEDS = {2: 16002, 3: 16003}
COUNT = 100


def main():
    layouts = []
    for n, seed in SEEDS.items():
        layouts += layout_data.heldout_layouts(n, COUNT, seed)
    doc = {
        "description": "Held-out layouts of the shapes layout model (tools/shapes-layout/write_heldout.py). Boxes are "
                       "[x0, y0, x1, y1] in fractions of the side, origin top left; every layout has >= 1 object whose "
                       "(color, shape, background) triple is held out of training (heldout_objects counts them).",
        "resolution": layout_data.RES,
        "seeds": {str(k): v for k, v in SEEDS.items()},
        "colors": {k: list(v) for k, v in data.COLORS.items()},
        "heldout_triples": [{"color": c, "shape": s, "background": b} for c, s, b in data.heldout_triples()],
        "layouts": layouts,
    }
    os.makedirs(common.LAYOUT_MODEL, exist_ok=True)
    path = os.path.join(common.LAYOUT_MODEL, "heldout-layouts.json")
    text = json.dumps(doc, indent=1)
    text = re.sub(r"\[\s*([-0-9.e,\s]+?)\s*\]", lambda m: "[" + ", ".join(m.group(1).split()).replace(",,", ",") + "]", text)  # number lists on one line
    with open(path, "w") as f:
        f.write(text + "\n")
    held = sum(lay["heldout_objects"] for lay in layouts)
    objs = sum(len(lay["objects"]) for lay in layouts)
    print(f"{path}: {len(layouts)} layouts, {objs} objects, {held} of them held-out triples")


if __name__ == "__main__":
    main()
