"""Writes the ground-truth fixture of the TypeScript image judge
(packages/model-shapes/src/evaluation/judge-image.test.ts): clean renders of
the shapes world, made by data.py's own renderer, with their attributes.

    /usr/bin/python3 render_judge_fixture.py   # -> packages/model-shapes/test-fixtures/judge-cases.json

Every shape x every layout (large-centred, small at each of the five
positions) x three colour pairs, at the model's resolution, with the
training-time jitter (a quarter of the cases at the jitter's extremes), plus a
few 64x64 renders to check the judge does not depend on the resolution.
Pixels are raw RGB bytes, zlib-deflated, base64 (the test inflates them with
node:zlib).  Seeded: reruns write the same file.
"""
import base64
import json
import os
import random
import zlib

import data

OUT = os.path.join(os.path.dirname(__file__), "../../packages/model-shapes/test-fixtures/judge-cases.json")

# (shape colour, background): every colour appears as both; includes the
# closest pairs of the palette (red/orange, blue/purple, yellow/white).
PAIRS = [
    ("red", "orange"), ("orange", "red"), ("blue", "purple"), ("purple", "blue"),
    ("yellow", "white"), ("white", "yellow"), ("green", "black"), ("black", "green"),
    ("red", "blue"), ("white", "black"), ("orange", "yellow"), ("purple", "green"),
]


class ExtremeJitter:
    """Stands in for random.Random: every uniform(a, b) draw returns a or b,
    following a fixed bit pattern, to put jitter at its limits."""

    def __init__(self, pattern):
        self.pattern = pattern
        self.i = 0

    def uniform(self, a, b):
        bit = (self.pattern >> self.i) & 1
        self.i += 1
        return b if bit else a


def encode(img):
    return base64.b64encode(zlib.compress(img.tobytes(), 9)).decode("ascii")


def main():
    cases = []
    i = 0
    for shape in data.SHAPES:
        for size, position in data.layouts():
            for k in range(3):
                color, bg = PAIRS[i % len(PAIRS)]
                rng = ExtremeJitter(i * 7 + k) if i % 4 == 3 else random.Random(1000 + i)
                img = data.render(color, shape, bg, size, position, rng)
                cases.append(dict(color=color, shape=shape, background=bg, size=size, position=position,
                                  width=data.RES, height=data.RES, rgb=encode(img)))
                i += 1
    for j, (shape, (size, position)) in enumerate(zip(data.SHAPES * 2, data.layouts())):
        color, bg = PAIRS[(3 * j + 1) % len(PAIRS)]
        img = data.render(color, shape, bg, size, position, random.Random(2000 + j), res=64)
        cases.append(dict(color=color, shape=shape, background=bg, size=size, position=position,
                          width=64, height=64, rgb=encode(img)))
    doc = {
        "source": "tools/shapes-model/render_judge_fixture.py (data.render of the shapes world)",
        "colors": {k: list(v) for k, v in data.COLORS.items()},
        "cases": cases,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1)
    print(f"{len(cases)} cases -> {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
