"""LoRA on the shipped model's attention projections, and its export in kohya format.

Targets: q, k, v, o of attn1 and attn2 in every UNet transformer block (7 blocks, 56 Linears) and
q, k, v, o of every text-encoder layer (3 layers, 12 Linears).  W' = W + (alpha / rank) * up @ down.

Kohya names: `lora_unet_<module path with "." -> "_">` / `lora_te_<...>`, each with
`.lora_down.weight` [rank, in], `.lora_up.weight` [out, rank] and `.alpha` (a scalar); the module
path is the torch one, which is the ONNX initializer name without the export wrapper's `m.` and
without `.weight` (e.g. `down.0.att.0.attn2.k` <- initializer `m.down.0.att.0.attn2.k.weight`).
"""
import re

import numpy as np
import torch
from torch import nn

UNET_TARGET = re.compile(r"(^|\.)attn[12]\.[qkvo]$")
TE_TARGET = re.compile(r"^layers\.\d+\.[qkvo]$")


class LoRALinear(nn.Module):
    """base(x) + scale * (alpha / rank) * up(down(x)); `base` is frozen, `up` starts at zero."""

    def __init__(self, base, rank, alpha):
        super().__init__()
        self.base = base.requires_grad_(False)
        self.rank, self.alpha, self.scale = rank, alpha, 1.0
        self.down = nn.Parameter(torch.randn(rank, base.in_features) / rank)
        self.up = nn.Parameter(torch.zeros(base.out_features, rank))

    def forward(self, x):
        return self.base(x) + (x @ self.down.t() @ self.up.t()) * (self.scale * self.alpha / self.rank)

    def delta(self):
        """The weight change at scale 1, [out, in]."""
        return (self.up @ self.down) * (self.alpha / self.rank)


def inject(module, pattern, rank, alpha):
    """Replace every nn.Linear whose path matches `pattern` with a LoRALinear; returns {path: LoRALinear}."""
    found = {}
    for path, m in list(module.named_modules()):
        if isinstance(m, nn.Linear) and pattern.search(path):
            parent_path, _, leaf = path.rpartition(".")
            parent = module.get_submodule(parent_path) if parent_path else module
            lora = LoRALinear(m, rank, alpha)
            setattr(parent, leaf, lora)
            found[path] = lora
    return found


def set_scale(loras, scale):
    for l in loras.values():
        l.scale = scale


def kohya_tensors(unet_loras, te_loras):
    """{kohya name: numpy array} for the safetensors file."""
    out = {}
    for prefix, loras in (("lora_unet", unet_loras), ("lora_te", te_loras)):
        for path, l in loras.items():
            key = f"{prefix}_{path.replace('.', '_')}"
            out[f"{key}.lora_down.weight"] = l.down.detach().numpy()
            out[f"{key}.lora_up.weight"] = l.up.detach().numpy()
            out[f"{key}.alpha"] = np.array(l.alpha, np.float32)
    return out


def merge_kohya(joint, tensors, scale=1.0):
    """Add scale * (alpha/rank) * up @ down from a kohya dict into a plain Joint's Linear weights in place
    (what a loader must do; used to check the written file).  Returns how many weights changed."""
    n = 0
    for prefix, module in (("lora_unet_", joint.unet), ("lora_te_", joint.text)):
        by_key = {f"{prefix}{p.replace('.', '_')}": m for p, m in module.named_modules() if isinstance(m, nn.Linear)}
        for name in tensors:
            if not (name.startswith(prefix) and name.endswith(".lora_down.weight")):
                continue
            key = name[: -len(".lora_down.weight")]
            down, up = torch.from_numpy(tensors[name]), torch.from_numpy(tensors[f"{key}.lora_up.weight"])
            alpha = float(tensors[f"{key}.alpha"])
            with torch.no_grad():
                by_key[key].weight += scale * (alpha / down.shape[0]) * (up @ down)
            n += 1
    return n
