"""Shared helpers of the shapes-world x4 upscaler: paths into tools/shapes-model,
paired renders (128x128 ground truth + 32x32 low-res of the same geometry),
PSNR, bicubic upscaling and the edge-sharpness figure."""
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SHAPES_MODEL = os.path.join(HERE, "..", "shapes-model")
sys.path.append(SHAPES_MODEL)  # after this folder: our evaluate.py/export.py shadow theirs
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import data  # noqa: E402  (tools/shapes-model/data.py)

HI = 128  # ground-truth / output side
LO = 32  # low-res side (the shipped model's output size)
SHIPPED_MODEL = os.path.join(HERE, "..", "..", "packages", "model-shapes", "model")


def render_pair(attrs, rng):
    """(hi [128,128,3] uint8, lo [32,32,3] uint8) of one scene: the same jittered
    geometry rendered by the shapes-world renderer at 128 and at 32 px (the
    renderer's 32 px output is exactly the shipped model's output domain)."""
    c, s, b, z, p = attrs
    state = rng.getstate()
    hi = data.render(c, s, b, z, p, rng, res=HI)
    rng.setstate(state)
    lo = data.render(c, s, b, z, p, rng, res=LO)
    return hi, lo


def make_pairs(triples, per_large, per_small_each, seed):
    """Paired renders of every triple: per_large large-centred and per_small_each
    small renders at each of the five anchors."""
    rng = random.Random(seed)
    his, los, attrs = [], [], []
    for c, s, b in triples:
        lay = [("large", "center")] * per_large
        for p in data.POSITIONS:
            lay += [("small", p)] * per_small_each
        for z, p in lay:
            hi, lo = render_pair((c, s, b, z, p), rng)
            his.append(hi)
            los.append(lo)
            attrs.append((c, s, b, z, p))
    return np.stack(his), np.stack(los), attrs


def to_unit(imgs):
    """uint8 [N,H,W,3] -> float [N,3,H,W] in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(imgs)).permute(0, 3, 1, 2).float() / 127.5 - 1


def to_uint8(x):
    """float [N,3,H,W] in [-1,1] -> uint8 [N,H,W,3] (round, clamp)."""
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def bicubic(lo_uint8, size=HI):
    """Bicubic upscaling (torch, align_corners=False, like PIL/diffusers' resize), uint8 out."""
    x = to_unit(lo_uint8)
    return to_uint8(F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False))


def psnr(a, b):
    """PSNR in dB per image of uint8 arrays [N,H,W,3]."""
    mse = ((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean(axis=(1, 2, 3))
    return 10 * np.log10(255.0**2 / np.maximum(mse, 1e-10))


def edge_mask(gt, thresh=20.0):
    """Pixels at shape edges: where the ground truth's gradient magnitude is large."""
    return grad_mag(gt) > thresh


def grad_mag(imgs):
    """Per-pixel gradient magnitude (central differences, summed over RGB in
    quadrature) of uint8 [N,H,W,3] -> float [N,H,W]."""
    x = imgs.astype(np.float64)
    gx = np.zeros_like(x)
    gy = np.zeros_like(x)
    gx[:, :, 1:-1] = (x[:, :, 2:] - x[:, :, :-2]) / 2
    gy[:, 1:-1] = (x[:, 2:] - x[:, :-2]) / 2
    return np.sqrt((gx**2 + gy**2).sum(-1))


def edge_sharpness(imgs, gt):
    """Mean gradient magnitude over the ground truth's edge pixels, as a fraction
    of the ground truth's own (1.0 = as sharp as the render; blur gives less)."""
    m = edge_mask(gt)
    return float(grad_mag(imgs)[m].mean() / grad_mag(gt)[m].mean())
