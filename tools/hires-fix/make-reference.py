"""Reference numbers for packages/core/src/hires-fix: torch's bilinear latent upscale (A1111's "Latent")
and PIL's Lanczos resize (A1111's "Lanczos"), on small deterministic inputs.

Run: /usr/bin/python3 tools/hires-fix/make-reference.py > packages/core/src/hires-fix/reference.json
(torch 1.13 and Pillow 9.4 from Debian: apt-get install -y python3-torch python3-pil)
"""
import json

import numpy as np
import torch
from PIL import Image

cases = {"bilinear": [], "lanczos": []}

# Latents: [1, 2, h, w] -> sizes, F.interpolate(mode="bilinear", antialias=False), as A1111's "Latent".
for (h, w), (H, W) in [((2, 3), (4, 6)), ((3, 2), (5, 7)), ((4, 4), (6, 6)), ((4, 4), (2, 3))]:
    x = torch.from_numpy(np.sin(np.arange(2 * h * w, dtype=np.float32) * 0.7).reshape(1, 2, h, w).copy())
    y = torch.nn.functional.interpolate(x, size=(H, W), mode="bilinear", antialias=False)
    cases["bilinear"].append({
        "shape": [1, 2, h, w], "size": [H, W],
        "input": x.flatten().tolist(), "output": y.flatten().tolist(),
    })

# RGBA bytes -> PIL RGB image resized with LANCZOS (A1111's "Lanczos" upscaler: img.resize((w, h), LANCZOS)).
for (w, h), (W, H) in [((4, 3), (8, 6)), ((5, 4), (11, 9)), ((8, 8), (16, 16)), ((6, 6), (4, 5))]:
    n = np.arange(w * h * 3, dtype=np.int64)
    rgb = ((n * 97 + (n * n) % 61) % 256).astype(np.uint8).reshape(h, w, 3)
    out = np.asarray(Image.fromarray(rgb, "RGB").resize((W, H), resample=Image.LANCZOS))
    cases["lanczos"].append({
        "size": [w, h], "target": [W, H],
        "input": rgb.flatten().tolist(), "output": out.flatten().tolist(),
    })

print(json.dumps(cases))
