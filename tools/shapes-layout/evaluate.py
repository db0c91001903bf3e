"""Python check of the layout model: our own DDIM + CFG + GLIGEN scheduled sampling (the
maths of diffusers' StableDiffusionGLIGENPipeline with the shipped DDIM scheduler config),
then a simple judge per box: the box (plus a 2-px margin) is cropped and classified by
judge_object() (nearest palette colour of the core foreground pixels, fill ratio of their
bounding box -> shape, as tools/shapes-model/evaluate.py's classify()); an object is right
when colour and shape are.
"Clean" = >= 95 % of the pixels farther than 1 px from every box have the background's
nearest colour.  (`npm run eval:layout` with the project's judge is the reference figure;
this one picks the settings.)

    TORCH_THREADS=2 /usr/bin/python3 evaluate.py --ckpt .work/layout.pt --configs 25:4:0.3,25:4:1.0 --out .work/eval.json
"""
import argparse
import importlib.util
import json
import os
import random
import time

import numpy as np
import torch

import common
import data
import layout_data
from train import build
from train_unet import alphas_cumprod

_spec = importlib.util.spec_from_file_location("shapes_eval", os.path.join(common.SHAPES_MODEL, "evaluate.py"))
shapes_eval = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shapes_eval)


def load(ckpt, which="ema_state", decoder=None):
    """(GroundedUNet, Joint, VAE, tokenizer, scaling_factor, checkpoint); with `decoder` (a
    train_decoder.py checkpoint) the VAE decodes with the fine-tuned decoder."""
    ck = torch.load(ckpt)
    g, joint, vae, tok, scale = build(ck["hidden"], ck.get("token_positions", False))
    missing, unexpected = g.load_state_dict(ck[which], strict=False)
    assert not unexpected and all(k.startswith("unet.") for k in missing), (missing, unexpected)
    if decoder:
        vae.decoder.load_state_dict(torch.load(decoder)["decoder"])
    return g.eval(), joint, vae, tok, scale, ck


def ddim_timesteps(n):
    """diffusers DDIMScheduler.set_timesteps, timestep_spacing='leading', steps_offset=1."""
    ratio = 1000 // n
    return (np.arange(0, n) * ratio).round()[::-1].astype(np.int64) + 1, ratio


def grounding_tensors(joint, tok, layouts):
    """boxes, pooled phrase embeddings, masks padded to 30 slots (as the pipeline)."""
    n = common.MAX_OBJECTS
    b = len(layouts)
    boxes, masks = torch.zeros(b, n, 4), torch.zeros(b, n)
    emb = torch.zeros(b, n, joint.text.final_ln.normalized_shape[0])
    with torch.no_grad():
        for i, lay in enumerate(layouts):
            objs = lay["objects"]
            ids = torch.tensor([tok.encode(o["phrase"]) for o in objs], dtype=torch.int32)
            emb[i, : len(objs)] = joint.text(ids)[1]
            boxes[i, : len(objs)] = torch.tensor([o["box"] for o in objs])
            masks[i, : len(objs)] = 1
    return boxes, emb, masks


@torch.no_grad()
def sample(g, joint, vae, tok, scale, layouts, steps, guidance, beta, seed=0):
    """uint8 [N,32,32,3]: DDIM with CFG (rows [uncond; cond], uncond masks 0) and grounding on for
    denoiser call i < int(beta * len(timesteps)) (diffusers' GLIGEN pipeline), off after."""
    gen = torch.Generator().manual_seed(seed)
    acp = alphas_cumprod()
    b = len(layouts)
    ids = torch.tensor([tok.encode(lay["prompt"]) for lay in layouts] + [tok.encode("")] * b, dtype=torch.int32)
    hid = joint.text(ids)[0]
    ctx = torch.cat([hid[b:], hid[:b]])
    boxes, emb, masks = grounding_tensors(joint, tok, layouts)
    boxes, emb, masks = torch.cat([boxes, boxes]), torch.cat([emb, emb]), torch.cat([torch.zeros_like(masks), masks])
    n = layout_data.RES // 4
    z = torch.randn(b, 4, n, n, generator=gen)
    ts, ratio = ddim_timesteps(steps)
    n_grounding = int(beta * len(ts))
    for i, t in enumerate(ts):
        gate = torch.tensor(1.0 if i < n_grounding else 0.0)
        e_u, e_c = g(torch.cat([z, z]), torch.full((2 * b,), float(t)), ctx, boxes, emb, masks, gate).chunk(2)
        eps = e_u + guidance * (e_c - e_u)
        a_t = acp[t]
        a_prev = acp[t - ratio] if t - ratio >= 0 else acp[0]  # set_alpha_to_one=False
        x0 = (z - (1 - a_t).sqrt() * eps) / a_t.sqrt()
        z = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
    img = vae.decoder(z / scale)
    return ((img.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()


def judge_object(img, obj, lay, res=layout_data.RES):
    """Colour and shape of what is inside obj's box (1-px margin; pixels of other boxes excluded):
    foreground = farther than 60 (RGB) from the background colour; colour = majority nearest palette
    colour of the core foreground pixels; shape from the fill ratio of the foreground's bounding box
    (tools/shapes-model/evaluate.py's cut-offs: square > 0.88 > circle > 0.68 > triangle)."""
    def px_box(o, m):
        x0, y0, x1, y1 = (v * res for v in o["box"])
        return max(0, int(np.floor(y0)) - m), min(res, int(np.ceil(y1)) + m), max(0, int(np.floor(x0)) - m), min(res, int(np.ceil(x1)) + m)

    region = np.zeros((res, res), bool)
    r0, r1, c0, c1 = px_box(obj, 1)
    region[r0:r1, c0:c1] = True
    for o in lay["objects"]:
        if o is not obj:
            q0, q1, p0, p1 = px_box(o, 0)
            region[q0:q1, p0:p1] = False
    f = img.astype(np.float32)
    bg = np.array(data.COLORS[lay["background"]], np.float32)
    dist = np.sqrt(((f - bg) ** 2).sum(-1))
    mask = (dist > 60) & region
    if mask.sum() < 6:
        return {"color": False, "shape": False}
    core = mask & (dist > 0.6 * dist[mask].max())
    votes = [shapes_eval.nearest_color(p) for p in f[core]]
    votes = [v for v in votes if v != lay["background"]] or votes
    color = max(set(votes), key=votes.count)
    ys, xs = np.nonzero(mask)
    fill = mask.sum() / float((xs.max() - xs.min() + 1) * (ys.max() - ys.min() + 1))
    shape = "square" if fill > 0.88 else "circle" if fill > 0.68 else "triangle"
    return {"color": color == obj["color"], "shape": shape == obj["shape"]}


def outside_clean(img, lay, res=layout_data.RES):
    keep = np.ones((res, res), bool)
    for o in lay["objects"]:
        x0, y0, x1, y1 = (v * res for v in o["box"])
        keep[max(0, int(np.floor(y0)) - 1): int(np.ceil(y1)) + 1, max(0, int(np.floor(x0)) - 1): int(np.ceil(x1)) + 1] = False
    px = img[keep].astype(np.float32)
    if len(px) == 0:
        return True
    near = np.argmin(((px[:, None] - shapes_eval.PALETTE[None]) ** 2).sum(-1), 1)
    return float(np.mean(near == data.COLOR_NAMES.index(lay["background"]))) >= 0.95


def judge(imgs, layouts):
    rows = {}
    for img, lay in zip(imgs, layouts):
        k = str(len(lay["objects"]))
        r = rows.setdefault(k, {"objects": 0, "right": 0, "color": 0, "shape": 0, "layouts": 0, "all_right": 0, "clean": 0})
        res = [judge_object(img, o, lay) for o in lay["objects"]]
        r["objects"] += len(res)
        r["right"] += sum(x["color"] and x["shape"] for x in res)
        r["color"] += sum(x["color"] for x in res)
        r["shape"] += sum(x["shape"] for x in res)
        r["layouts"] += 1
        r["all_right"] += all(x["color"] and x["shape"] for x in res)
        r["clean"] += outside_clean(img, lay)
    return {k: {"objects_right": round(r["right"] / r["objects"], 3), "color": round(r["color"] / r["objects"], 3), "shape": round(r["shape"] / r["objects"], 3),
                "layouts_all_right": round(r["all_right"] / r["layouts"], 3), "outside_clean": round(r["clean"] / r["layouts"], 3),
                "objects": r["objects"], "layouts": r["layouts"]} for k, r in sorted(rows.items())}


def seen_layouts(count, seed=77):
    """Fresh layouts of training triples (same distribution as training, other seeds), pixel-aligned boxes."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        lay = layout_data.training_layout(rng, n=2 + i % 2)
        boxes = layout_data.sample_boxes(rng, len(lay["objects"]), integer=True)
        for o, b in zip(lay["objects"], boxes):
            o["box"] = b
        out.append(lay)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default=os.path.join(common.WORK, "layout.pt"))
    ap.add_argument("--decoder", default=None, help="train_decoder.py checkpoint (default: the shipped VAE decoder)")
    ap.add_argument("--configs", default="25:4:0.3,25:4:1.0", help="steps:guidance:beta, comma-separated")
    ap.add_argument("--limit", type=int, default=0, help="per object count, the first N held-out layouts (0 = all 100)")
    ap.add_argument("--split", default="heldout", choices=["heldout", "seen"])
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--grid", default=None, help="PNG of the first config's images with their boxes")
    ap.add_argument("--out", default=os.path.join(common.WORK, "eval.json"))
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "1")))
    g, joint, vae, tok, scale, ck = load(args.ckpt, decoder=args.decoder)
    if args.split == "heldout":
        layouts = json.load(open(os.path.join(common.LAYOUT_MODEL, "heldout-layouts.json")))["layouts"]
        if args.limit:
            layouts = [lay for k in (2, 3) for lay in [x for x in layouts if len(x["objects"]) == k][: args.limit]]
    else:
        layouts = seen_layouts(args.limit or 100)
    gt = np.stack([layout_data.render_layout(lay["objects"], lay["background"]) for lay in layouts])
    result = {"ckpt": args.ckpt, "decoder": args.decoder, "step": ck["step"], "split": args.split, "judge_on_ground_truth": judge(gt, layouts), "configs": []}
    print(json.dumps(result["judge_on_ground_truth"]), flush=True)
    for ci, cfg in enumerate(args.configs.split(",")):
        steps, guidance, beta = cfg.split(":")
        steps, guidance, beta = int(steps), float(guidance), float(beta)
        t0 = time.time()
        imgs = np.concatenate([sample(g, joint, vae, tok, scale, layouts[i: i + args.batch], steps, guidance, beta, seed=i)
                               for i in range(0, len(layouts), args.batch)])
        row = {"steps": steps, "guidance": guidance, "beta": beta, "seconds": round(time.time() - t0), **judge(imgs, layouts)}
        result["configs"].append(row)
        print(json.dumps(row), flush=True)
        if args.grid and ci == 0:
            write_grid(args.grid, imgs[:48], layouts[:48], gt[:48])
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)


def write_grid(path, imgs, layouts, gt, up=3):
    """Pairs (generated | ground truth), boxes outlined in grey on the generated image."""
    tiles = []
    for img, lay, ref in zip(imgs, layouts, gt):
        a = np.kron(img, np.ones((up, up, 1), np.uint8))
        for o in lay["objects"]:
            x0, y0, x1, y1 = (int(round(v * layout_data.RES * up)) for v in o["box"])
            x1, y1 = min(x1, a.shape[1] - 1), min(y1, a.shape[0] - 1)
            a[y0, x0:x1 + 1] = a[y1, x0:x1 + 1] = 128
            a[y0:y1 + 1, x0] = a[y0:y1 + 1, x1] = 128
        tiles.append(np.concatenate([a, np.kron(ref, np.ones((up, up, 1), np.uint8))], 1))
    shapes_eval.write_png(path, shapes_eval.grid(tiles, cols=6, up=1))


if __name__ == "__main__":
    main()
