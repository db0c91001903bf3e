"""Exports the trained layout model to packages/model-shapes/layout/: a full diffusers ONNX
folder for latentkit's StableDiffusionGLIGENPipeline.

    model_index.json   _class_name StableDiffusionGLIGENPipeline
    unet/model.onnx    the shipped UNet + position net + fusers in the ONNX convention for grounded
                       UNets: sample [B,4,h,w], timestep [1|B], encoder_hidden_states [B,S,64],
                       gligen_boxes [B,30,4], gligen_positive_embeddings [B,30,64], gligen_masks [B,30],
                       gligen_enabled [] -> out_sample (opset 17, one self-contained file)
    unet/config.json   the shipped UNet's config + "attention_type": "gated"
    scheduler/, tokenizer/, text_encoder/, vae_decoder/, vae_encoder/   copies of packages/model-shapes/model/
    layout.json        recommended settings, training figures, the Python evaluation
    (heldout-layouts.json is written by write_heldout.py and left alone)

Also dumps torch test vectors (gate on vs torch; gate off vs the plain shipped UNet) for verify_ort.cjs.

    /usr/bin/python3 export.py --ckpt .work/layout.pt --eval .work/eval.json
"""
import argparse
import json
import os
import shutil

import onnx
import torch

import common
from evaluate import load
from gligen import export_onnx

torch.set_num_threads(1)
COPIED = ("scheduler", "tokenizer", "text_encoder", "vae_decoder", "vae_encoder")


def tensor_json(t):
    return {"dims": list(t.shape), "dtype": "float32", "data": t.detach().reshape(-1).tolist()}


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


class DecoderGraph(torch.nn.Module):
    """The VAE decoder graph as tools/shapes-model/export.py writes it (its DecWrap: the same attribute
    name, so the same initializer names), for the fine-tuned decoder."""

    def __init__(self, vae):
        super().__init__()
        self.d = vae.decoder

    def forward(self, latent_sample):
        return self.d(latent_sample)


def export_decoder(vae, path):
    torch.onnx.export(DecoderGraph(vae), (torch.randn(1, 4, 8, 8),), path, input_names=["latent_sample"], output_names=["sample"],
                      dynamic_axes={"latent_sample": {0: "batch", 2: "height", 3: "width"}, "sample": {0: "batch", 2: "height", 3: "width"}},
                      opset_version=common.OPSET, do_constant_folding=True)
    m = onnx.load(path)
    onnx.checker.check_model(m)
    onnx.save_model(m, path, save_as_external_data=False)


def grounding_inputs(b, k, d, gen):
    """Grounding inputs for b rows with k random boxes (a quarter to half of the side) and phrase embeddings of width d."""
    n = common.MAX_OBJECTS
    boxes, emb, masks = torch.zeros(b, n, 4), torch.zeros(b, n, d), torch.zeros(b, n)
    lo = torch.rand(b, k, 2, generator=gen) * 0.5
    boxes[:, :k] = torch.cat([lo, lo + 0.25 + torch.rand(b, k, 2, generator=gen) * 0.25], -1)
    emb[:, :k] = torch.randn(b, k, d, generator=gen)
    masks[:, :k] = 1
    return boxes, emb, masks


def trace_inputs(d, gen):
    """The inputs the grounded UNet is traced with (import_shipped.py's probe export uses the same shapes)."""
    return (torch.randn(2, 4, 8, 8, generator=gen), torch.tensor([981.0]), torch.randn(2, 77, d, generator=gen), *grounding_inputs(2, 2, d, gen),
            torch.tensor(1.0))


def eval_layout_summary(ev):
    """layout.json's `evalLayout`: the settings and per-object-count rates of `npm run eval:layout --json`."""
    st = ev["settings"]
    out = {"judge": "npm run eval:layout (@latentkit/model-shapes judgeLayout)", "steps": st["numInferenceSteps"],
           "guidance": st["guidanceScale"], "beta": st["gligenScheduledSamplingBeta"], "layouts": sum(g["layouts"]["total"] for g in ev["groups"])}
    rate = lambda c: round(c["correct"] / c["total"], 3)  # noqa: E731
    for g in ev["groups"]:
        out[str(g["objectsPerLayout"])] = {"objects_right": rate(g["objects"]), "color": rate(g["color"]), "shape": rate(g["shape"]),
                                           "outside_clean": rate(g["clean"]), "layouts_all_right": rate(g["layouts"])}
    out["objects_right_by_triple"] = {k: rate(v) for k, v in ev["objectsByTriple"].items()}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default=os.path.join(common.WORK, "layout.pt"))
    ap.add_argument("--decoder", default=None, help="train_decoder.py checkpoint: exported as vae_decoder/ instead of the shipped decoder's copy")
    ap.add_argument("--eval", default=None, help="evaluate.py output: the best config becomes `recommended`")
    ap.add_argument("--eval_seen", default=None, help="evaluate.py --split seen output (reported only)")
    ap.add_argument("--recommend", default=None, help="steps:guidance:beta written as `recommended` instead of the best --eval config "
                    "(e.g. the best of an `npm run eval:layout --guidance` sweep, the reference judge)")
    ap.add_argument("--eval_layout", default=None, help="`npm run eval:layout -- --json FILE` output on this export: written as `evalLayout`")
    ap.add_argument("--out", default=common.LAYOUT_MODEL)
    ap.add_argument("--vectors", default=os.path.join(common.WORK, "vectors"))
    args = ap.parse_args()
    g, joint, vae, _tok, _scale, ck = load(args.ckpt, decoder=args.decoder)
    d = joint.text.final_ln.normalized_shape[0]
    out = args.out
    for part in COPIED:
        shutil.rmtree(os.path.join(out, part), ignore_errors=True)
        shutil.copytree(os.path.join(common.SHIPPED_MODEL, part), os.path.join(out, part))
    idx = json.load(open(os.path.join(common.SHIPPED_MODEL, "model_index.json")))
    idx["_class_name"] = "StableDiffusionGLIGENPipeline"
    write_json(os.path.join(out, "model_index.json"), idx)
    if args.decoder:
        export_decoder(vae, os.path.join(out, "vae_decoder", "model.onnx"))
    cfg = json.load(open(os.path.join(common.SHIPPED_MODEL, "unet", "config.json")))
    cfg["attention_type"] = "gated"
    write_json(os.path.join(out, "unet", "config.json"), cfg)

    gen = torch.Generator().manual_seed(3)
    one, zero = torch.tensor(1.0), torch.tensor(0.0)
    export_onnx(g, trace_inputs(d, gen), os.path.join(out, "unet", "model.onnx"))

    vec = []
    with torch.no_grad():
        for b, h, w, ts, k in ((2, 8, 8, [981.0], 2), (2, 8, 12, [501.0, 501.0], 3), (1, 8, 8, [21.0], 1)):
            s, e = torch.randn(b, 4, h, w, generator=gen), torch.randn(b, 77, d, generator=gen)
            t = torch.tensor(ts)
            boxes, emb, masks = grounding_inputs(b, k, d, gen)
            masks[0] = 0 if b == 2 else masks[0]  # a CFG-style unconditional row
            te = t.expand(b) if t.numel() == 1 else t
            feeds = {"sample": s, "timestep": t, "encoder_hidden_states": e, "gligen_boxes": boxes, "gligen_positive_embeddings": emb, "gligen_masks": masks}
            on = g(s, te, e, boxes, emb, masks, one)
            plain = g(s, te, e, grounding=False)
            vec.append({"inputs": {k2: tensor_json(v) for k2, v in {**feeds, "gligen_enabled": one}.items()}, "outputs": {"out_sample": tensor_json(on)}})
            vec.append({"inputs": {k2: tensor_json(v) for k2, v in {**feeds, "gligen_enabled": zero}.items()}, "outputs": {"out_sample": tensor_json(plain)}})
    os.makedirs(args.vectors, exist_ok=True)
    with open(os.path.join(args.vectors, "unet.json"), "w") as f:
        json.dump(vec, f)

    info = {
        "description": "The shapes layout model: the shipped shapes UNet (frozen) + GLIGEN text-box grounding layers "
                       "(tools/shapes-layout). 32x32 images, 1-3 objects in square boxes of 8-18 px (a quarter to ~0.56 of the side).",
        "resolution": 32,
        "maxObjects": common.MAX_OBJECTS,
        "phrases": "a {color} {shape} (colors: red, green, blue, yellow, purple, orange, white, black; shapes: circle, square, triangle)",
        "prompt": "on a {background} background",
        "training": {"minutes": round(ck["seconds"] / 60, 1), "steps": ck["step"], "batch": ck["args"]["batch"], "params": ck["trainable_params"],
                     "frozen": "the shipped UNet and text encoder" + (", the VAE encoder" if args.decoder else " and VAE")},
    }
    if args.decoder:
        dk = torch.load(args.decoder)
        info["vaeDecoder"] = {"description": "fine-tuned on layout scenes by tools/shapes-layout/train_decoder.py (the encoder is the shipped one)",
                              "minutes": round(dk["seconds"] / 60, 1), "steps": dk["step"], "batch": dk["args"]["batch"],
                              "roundTripObjectsRight": {"shipped": {k: v["objects_right"] for k, v in dk["roundtrip_before"].items()},
                                                        "fineTuned": {k: v["objects_right"] for k, v in dk["roundtrip_after"].items()}}}
    if args.eval:
        ev = json.load(open(args.eval))
        best = max(ev["configs"], key=lambda r: (r["2"]["objects_right"] + r["3"]["objects_right"], r["2"]["outside_clean"] + r["3"]["outside_clean"]))
        info["recommended"] = {"numInferenceSteps": best["steps"], "guidanceScale": best["guidance"], "gligenScheduledSamplingBeta": best["beta"]}
        info["pythonEvaluation"] = {"judge": "tools/shapes-layout/evaluate.py (box crop, nearest palette colour, fill ratio)",
                                    "heldout": ev["configs"], "judgeOnGroundTruth": ev["judge_on_ground_truth"]}
    if args.eval_seen:
        info.setdefault("pythonEvaluation", {})["seen"] = json.load(open(args.eval_seen))["configs"]
    if args.recommend:
        steps, guidance, beta = args.recommend.split(":")
        info["recommended"] = {"numInferenceSteps": int(steps), "guidanceScale": float(guidance), "gligenScheduledSamplingBeta": float(beta)}
    if args.eval_layout:
        info["evalLayout"] = eval_layout_summary(json.load(open(args.eval_layout)))
    write_json(os.path.join(out, "layout.json"), info)

    sizes = {}
    for root, _, files in os.walk(out):
        for fn in files:
            p = os.path.join(root, fn)
            sizes[os.path.relpath(p, out)] = os.path.getsize(p)
    print(json.dumps({"out": out, "total_bytes": sum(sizes.values()), "files": sizes}, indent=1))


if __name__ == "__main__":
    main()
