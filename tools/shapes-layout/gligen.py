"""GLIGEN "text-box" grounding for the shapes-world UNet, in plain torch.

Follows diffusers' GLIGENTextBoundingboxProjection (the position net) and
GatedSelfAttentionDense (the fuser inserted between attn1 and attn2 of every
BasicTransformerBlock), written for tools/shapes-model/models.py's UNet:

* position net: boxes [B,N,4] -> Fourier features (8 frequencies 100^(k/8), sin
  and cos of each coordinate, ordered frequency, sin/cos, coordinate as diffusers'
  get_fourier_embeds_from_boundingbox); slots whose mask is 0 get the learned
  null phrase / null position features; an MLP maps [phrase; position] to one
  grounding token of the cross-attention width per slot.
* fuser: x <- x + e*tanh(a_attn) * attn(norm1([x; linear(objs)]))[:, :n_visual]
         x <- x + e*tanh(a_dense) * ff(norm2(x))          (GEGLU feed-forward)
  with a_attn = a_dense = 0 at initialisation and e the scalar gate
  `gligen_enabled` of latentkit's ONNX convention (diffusers switches the fusers
  with a Python flag instead; e = 1 is diffusers' "on", e = 0 leaves x untouched,
  so the plain UNet's output comes out exactly).

The base UNet is not modified: GroundedUNet wraps it and re-routes the forward
of each of its Transformer2D blocks, so the base state_dict keeps its keys
(`unet.*`) and the trainable part is `position_net.*` + `fusers.*`.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

import common  # noqa: F401  (sys.path -> tools/shapes-model)
from models import Attention, Transformer2D

FOURIER_FREQS = 8
POSITION_DIM = FOURIER_FREQS * 2 * 4


def fourier_embed(boxes, n_freq=FOURIER_FREQS):
    """boxes [B,N,4] -> [B,N,n_freq*2*4] (diffusers' get_fourier_embeds_from_boundingbox)."""
    freqs = 100.0 ** (torch.arange(n_freq, dtype=torch.float32) / n_freq)
    emb = boxes[..., None] * freqs  # [B,N,4,F]
    emb = torch.stack((emb.sin(), emb.cos()), dim=-1)  # [B,N,4,F,2]
    return emb.permute(0, 1, 3, 4, 2).flatten(2)  # [B,N,F,2,4] -> [B,N,F*2*4]


class PositionNet(nn.Module):
    """diffusers' GLIGENTextBoundingboxProjection (feature_type "text-only")."""

    def __init__(self, positive_len, out_dim, hidden=512):
        super().__init__()
        self.linears = nn.Sequential(
            nn.Linear(positive_len + POSITION_DIM, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, out_dim)
        )
        self.null_positive_feature = nn.Parameter(torch.zeros(positive_len))
        self.null_position_feature = nn.Parameter(torch.zeros(POSITION_DIM))

    def forward(self, boxes, positive_embeddings, masks):
        m = masks[..., None]
        xyxy = fourier_embed(boxes) * m + (1 - m) * self.null_position_feature.view(1, 1, -1)
        pos = positive_embeddings * m + (1 - m) * self.null_positive_feature.view(1, 1, -1)
        return self.linears(torch.cat([pos, xyxy], dim=-1))


def token_boxes(h, w):
    """[h*w, 4]: each latent pixel's own box [x0, y0, x1, y1] in fractions (row-major, like the tokens)."""
    ys = torch.arange(h, dtype=torch.float32) / h
    xs = torch.arange(w, dtype=torch.float32) / w
    y0 = ys[:, None].expand(-1, w).reshape(-1)
    x0 = xs[None, :].expand(h, -1).reshape(-1)
    return torch.stack([x0, y0, x0 + 1.0 / w, y0 + 1.0 / h], dim=-1)


class GatedSelfAttentionDense(nn.Module):
    """diffusers' GatedSelfAttentionDense with the residuals multiplied by the gate e.

    token_positions=True (a deviation from diffusers, used by the shipped shapes layout model): the
    attention's visual tokens get linear(Fourier(own pixel box)) added, the same features as the
    objects' boxes, so a tiny UNet at 8x8 latents (whose features carry little absolute position)
    can match tokens to boxes.  Only the attention input changes; the residuals stay gated."""

    def __init__(self, dim, context_dim, heads, token_positions=False):
        super().__init__()
        self.pos = nn.Linear(POSITION_DIM, dim) if token_positions else None
        self.linear = nn.Linear(context_dim, dim)
        self.attn = Attention(dim, dim, heads)
        self.ff_in = nn.Linear(dim, dim * 4 * 2)  # GEGLU: value and gate
        self.ff_out = nn.Linear(dim * 4, dim)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.alpha_attn = nn.Parameter(torch.tensor(0.0))
        self.alpha_dense = nn.Parameter(torch.tensor(0.0))

    def forward(self, x, objs, gate, hw=None):
        n_visual = x.shape[1]
        xa = x
        if self.pos is not None:
            xa = x + self.pos(fourier_embed(token_boxes(*hw)[None]))
        h = self.norm1(torch.cat([xa, self.linear(objs)], dim=1))
        x = x + gate * self.alpha_attn.tanh() * self.attn(h, h)[:, :n_visual, :]
        v, g = self.ff_in(self.norm2(x)).chunk(2, dim=-1)
        return x + gate * self.alpha_dense.tanh() * self.ff_out(v * F.gelu(g))


def grounded_transformer_forward(t, fuser, grounding, x, ctx):
    """models.Transformer2D.forward with the fuser between attn1 and attn2
    (diffusers' BasicTransformerBlock "1.2 GLIGEN Control"); grounding None = plain."""
    b, c, h, w = x.shape
    r = x
    x = t.norm(x).permute(0, 2, 3, 1).reshape(b, h * w, c)
    x = t.proj_in(x)
    n1 = t.ln1(x)
    x = x + t.attn1(n1, n1)
    if grounding is not None:
        objs, gate = grounding
        x = fuser(x, objs, gate, (h, w))
    x = x + t.attn2(t.ln2(x), ctx)
    v, g = t.ff_in(t.ln3(x)).chunk(2, dim=-1)
    x = x + t.ff_out(v * F.gelu(g))
    x = t.proj_out(x)
    return x.reshape(b, h, w, c).permute(0, 3, 1, 2) + r


def transformer_blocks(unet):
    """The UNet's Transformer2D blocks in a fixed order (down, mid, up)."""
    return [m for m in unet.modules() if isinstance(m, Transformer2D)]


class GroundedUNet(nn.Module):
    """A models.UNet plus a position net and one fuser per Transformer2D block.

    forward(sample, timestep[B], encoder_hidden_states, boxes[B,N,4],
    positive_embeddings[B,N,D], masks[B,N], enabled (scalar tensor)); with
    grounding=False the fusers are skipped altogether (the plain UNet)."""

    def __init__(self, unet, context_dim, hidden=512, token_positions=False):
        super().__init__()
        self.unet = unet
        self.position_net = PositionNet(context_dim, context_dim, hidden)
        blocks = transformer_blocks(unet)
        self.fusers = nn.ModuleList(GatedSelfAttentionDense(t.proj_in.in_features, context_dim, t.attn1.heads, token_positions) for t in blocks)
        self._grounding = None
        for t, f in zip(blocks, self.fusers):
            self._route(t, f)

    def _route(self, t, fuser):
        def forward(x, ctx):
            return grounded_transformer_forward(t, fuser, self._grounding, x, ctx)

        t.forward = forward  # a plain attribute: not a submodule, so state_dict keys stay as they are

    def trainable_parameters(self):
        return list(self.position_net.parameters()) + list(self.fusers.parameters())

    def forward(self, sample, timestep, encoder_hidden_states, boxes=None, positive_embeddings=None, masks=None, enabled=None, grounding=True):
        if not grounding:
            return self.unet(sample, timestep, encoder_hidden_states)
        objs = self.position_net(boxes, positive_embeddings, masks)
        self._grounding = (objs, enabled)
        try:
            return self.unet(sample, timestep, encoder_hidden_states)
        finally:
            self._grounding = None


class OnnxGroundedUNet(nn.Module):
    """The graph of latentkit's ONNX convention: a [1] or [B] timestep is broadcast
    to the batch like UNet2DConditionModel does; gligen_enabled is a scalar."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, sample, timestep, encoder_hidden_states, gligen_boxes, gligen_positive_embeddings, gligen_masks, gligen_enabled):
        t = timestep.reshape(-1).expand(sample.shape[0])
        return self.m(sample, t, encoder_hidden_states, gligen_boxes, gligen_positive_embeddings, gligen_masks, gligen_enabled)


INPUT_NAMES = ["sample", "timestep", "encoder_hidden_states", "gligen_boxes", "gligen_positive_embeddings", "gligen_masks", "gligen_enabled"]
OUTPUT_NAMES = ["out_sample"]
DYNAMIC_AXES = {
    "sample": {0: "batch", 2: "height", 3: "width"},
    "timestep": {0: "steps"},
    "encoder_hidden_states": {0: "batch", 1: "sequence"},
    "gligen_boxes": {0: "batch"},
    "gligen_positive_embeddings": {0: "batch"},
    "gligen_masks": {0: "batch"},
    "out_sample": {0: "batch", 2: "height", 3: "width"},
}


def export_onnx(grounded, example_args, path):
    """Export a GroundedUNet in the convention (opset 17, one self-contained file)."""
    import os

    import onnx

    os.makedirs(os.path.dirname(path), exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(OnnxGroundedUNet(grounded).eval(), example_args, path, input_names=INPUT_NAMES, output_names=OUTPUT_NAMES,
                          dynamic_axes=DYNAMIC_AXES, opset_version=common.OPSET, do_constant_folding=True)
    m = onnx.load(path)
    onnx.checker.check_model(m)
    onnx.save_model(m, path, save_as_external_data=False)
    return m
