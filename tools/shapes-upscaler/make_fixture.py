"""Write the held-out test fixture of the TypeScript test tests/shapes-upscaler.test.ts:
for each layout, held-out triples rendered with the evaluation's seed, as PNGs
(32x32 low-res input, 128x128 ground truth) plus cases.json (attributes, prompt,
and the PSNR of torch bicubic upscaling of the same input, the baseline).

    /usr/bin/python3 make_fixture.py --out ../../tests/fixtures/shapes-upscaler
"""
import argparse
import json
import os

import common
import data
from evaluate import shapes_eval

ap = argparse.ArgumentParser()
ap.add_argument("--out", default=os.path.join(common.HERE, "..", "..", "tests", "fixtures", "shapes-upscaler"))
ap.add_argument("--seed", type=int, default=4048)
args = ap.parse_args()
held = data.heldout_triples()
os.makedirs(args.out, exist_ok=True)
cases = []
import random

rng = random.Random(args.seed)
for i, (z, p) in enumerate(data.layouts() * 2):
    c, s, b = held[i % len(held)]
    hi, lo = common.render_pair((c, s, b, z, p), rng)
    bic = common.bicubic(lo[None])[0]
    name = f"{i:02d}-{c}-{s}-on-{b}-{z}-{p.replace(' ', '-')}"
    shapes_eval.write_png(f"{args.out}/{name}-32.png", lo)
    shapes_eval.write_png(f"{args.out}/{name}-128.png", hi)
    where = "in the center" if p == "center" else f"at the {p}"
    cases.append({"name": name, "color": c, "shape": s, "background": b, "size": z, "position": p,
                  "prompt": f"a {z} {c} {s} {where} on a {b} background",
                  "bicubic_psnr": round(float(common.psnr(bic[None], hi[None])[0]), 4),
                  "bicubic_sharpness": round(common.edge_sharpness(bic[None], hi[None]), 4)})
with open(f"{args.out}/cases.json", "w") as f:
    json.dump({"description": "held-out shapes-world scenes (tools/shapes-upscaler/make_fixture.py): <name>-32.png is the renderer's 32x32 "
               "image (upscaler input), <name>-128.png the same scene rendered at 128x128 (ground truth); bicubic_psnr is torch's "
               "bicubic (align_corners false) upscaling of the 32x32 image against the ground truth, in dB; bicubic_sharpness its mean "
               "gradient magnitude (central differences, RGB in quadrature) over the ground truth's edge pixels (gradient > 20) "
               "relative to the ground truth's",
               "seed": args.seed, "cases": cases}, f, indent=1)
    f.write("\n")
print(len(cases), "cases; mean bicubic PSNR", sum(c["bicubic_psnr"] for c in cases) / len(cases))
