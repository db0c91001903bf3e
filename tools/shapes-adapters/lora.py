"""LoRA on the shipped model's attention projections (and, optionally, its ResNet convolutions:
kohya's LoCon), and its export in kohya format.

Targets: q, k, v, o of attn1 and attn2 in every UNet transformer block (7 blocks, 56 Linears) and
q, k, v, o of every text-encoder layer (3 layers, 12 Linears).  W' = W + (alpha / rank) * up @ down.
With conv targets also conv1 and conv2 of every UNet ResNet block (16 Conv2d 3x3): down is a conv
with the base's kernel, stride and padding [rank, in, 3, 3], up a 1x1 conv [out, rank, 1, 1].

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
UNET_CONV_TARGET = re.compile(r"(^|\.)(res\.\d+|mid_res\d)\.conv[12]$")
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


class LoRAConv(nn.Module):
    """base(x) + scale * (alpha / rank) * up(down(x)) for a Conv2d base (kohya LoCon): down has the
    base's kernel, stride and padding, up is 1x1; `base` is frozen, `up` starts at zero."""

    def __init__(self, base, rank, alpha):
        super().__init__()
        self.base = base.requires_grad_(False)
        self.rank, self.alpha, self.scale = rank, alpha, 1.0
        out_ch, in_ch, kh, kw = base.weight.shape
        self.down = nn.Parameter(torch.randn(rank, in_ch, kh, kw) / (rank * kh * kw) ** 0.5)
        self.up = nn.Parameter(torch.zeros(out_ch, rank, 1, 1))

    def forward(self, x):
        h = nn.functional.conv2d(x, self.down, stride=self.base.stride, padding=self.base.padding)
        return self.base(x) + nn.functional.conv2d(h, self.up) * (self.scale * self.alpha / self.rank)

    def delta(self):
        """The weight change at scale 1, [out, in, kh, kw]."""
        return conv_delta(self.down, self.up, self.alpha)


def conv_delta(down, up, alpha):
    """(alpha / rank) * up @ down for conv LoRA weights, shaped like the base weight [out, in, kh, kw]."""
    r = down.shape[0]
    return (up.reshape(up.shape[0], r) @ down.reshape(r, -1)).reshape(up.shape[0], *down.shape[1:]) * (alpha / r)


def inject(module, pattern, rank, alpha, kind=nn.Linear):
    """Replace every `kind` (nn.Linear or nn.Conv2d) whose path matches `pattern` with a LoRALinear /
    LoRAConv; returns {path: LoRA module}."""
    found = {}
    for path, m in list(module.named_modules()):
        if isinstance(m, kind) and pattern.search(path):
            parent_path, _, leaf = path.rpartition(".")
            parent = module.get_submodule(parent_path) if parent_path else module
            lora = (LoRAConv if kind is nn.Conv2d else LoRALinear)(m, rank, alpha)
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
    """Add scale * (alpha/rank) * up @ down from a kohya dict into a plain Joint's Linear and Conv2d weights
    in place (what a loader must do; used to check the written file).  Returns how many weights changed."""
    n = 0
    for prefix, module in (("lora_unet_", joint.unet), ("lora_te_", joint.text)):
        by_key = {f"{prefix}{p.replace('.', '_')}": m for p, m in module.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))}
        for name in tensors:
            if not (name.startswith(prefix) and name.endswith(".lora_down.weight")):
                continue
            key = name[: -len(".lora_down.weight")]
            down, up = torch.from_numpy(tensors[name]), torch.from_numpy(tensors[f"{key}.lora_up.weight"])
            alpha = float(tensors[f"{key}.alpha"])
            with torch.no_grad():
                if down.ndim == 4:
                    by_key[key].weight += scale * conv_delta(down, up, alpha)
                else:
                    by_key[key].weight += scale * (alpha / down.shape[0]) * (up @ down)
            n += 1
    return n
