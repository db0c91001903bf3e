"""Writes the pink judge fixture (packages/model-shapes/test-fixtures/pink-judge-cases.json) for
packages/model-shapes/src/evaluation/concept-prompts.test.ts: clean renders of PINK shapes by
data.py's renderer (training-time jitter), every shape x layout on the palette colours nearest to pink
(purple, white, orange, red) and a far one (green), same format as tools/shapes-model/render_judge_fixture.py,
with the judge's palette = the 8 world colours + pink.  Seeded: reruns write the same file.

    /usr/bin/python3 render_pink_fixture.py
"""
import base64
import json
import os
import random
import zlib

import pink
import data

OUT = os.path.join(pink.HERE, "..", "..", "packages", "model-shapes", "test-fixtures", "pink-judge-cases.json")
BACKGROUNDS = ["purple", "white", "orange", "red", "green"]


def main():
    rng = random.Random(17)
    cases = []
    for k, (shape, (size, position)) in enumerate((s, l) for s in data.SHAPES for l in data.layouts()):
        bg = BACKGROUNDS[k % len(BACKGROUNDS)]
        img = data.render_rgb(pink.PINK, shape, data.COLORS[bg], size, position, rng)
        cases.append({"color": "pink", "shape": shape, "background": bg, "size": size, "position": position, "width": data.RES, "height": data.RES,
                      "rgb": base64.b64encode(zlib.compress(img.tobytes(), 9)).decode()})
        assert pink.classify(img)["color"] == "pink", (shape, bg)
    names, pal = pink.palette_with_pink()
    doc = {"source": "tools/shapes-adapters/render_pink_fixture.py (data.py's renderer, shape colour pink.PINK)",
           "colors": {n: [int(v) for v in rgb] for n, rgb in zip(names, pal)}, "cases": cases}
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(len(cases), "cases ->", os.path.abspath(OUT))


if __name__ == "__main__":
    main()
