"""The tiny x4 upscaler UNet: diffusers' UNet2DConditionModel as configured in
stabilityai/stable-diffusion-x4-upscaler (7 input channels = latents || noised
low-res RGB, 4 out, a class embedding nn.Embedding(1000, temb) of the low-res
noise level added to the time embedding, cross-attention to the text encoder,
`only_cross_attention` transformer blocks), scaled down.

Layout (UPSCALE_UNET_CFG): DownBlock2D, DownBlock2D, CrossAttnDownBlock2D /
UNetMidBlock2DCrossAttn / CrossAttnUpBlock2D, UpBlock2D, UpBlock2D: attention
only at the lowest resolution.  Every transformer block is cross-attention only
(the real upscaler's `only_cross_attention`, and `mid_block_only_cross_attention`
for the mid block): no spatial self-attention, so the network is convolutional
plus a per-pixel text lookup, trains on crops and runs at any size.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

import common  # noqa: F401  (puts tools/shapes-model on sys.path)
from models import Attention, ResnetBlock, timestep_embedding

UPSCALE_UNET_CFG = dict(block_out_channels=(48, 96, 96), layers_per_block=1, heads=2, norm_num_groups=8, cross_attention_dim=64,
                        attention=(False, False, True), num_class_embeds=1000, in_channels=7, out_channels=4)


class CrossOnlyTransformer2D(nn.Module):
    """diffusers Transformer2DModel, one BasicTransformerBlock with
    only_cross_attention=True (attn1 and attn2 both attend to the text),
    GEGLU feed-forward, linear proj in/out."""

    def __init__(self, dim, ctx_dim, heads, groups):
        super().__init__()
        self.norm = nn.GroupNorm(groups, dim, eps=1e-6)
        self.proj_in = nn.Linear(dim, dim)
        self.ln1, self.ln2, self.ln3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn1 = Attention(dim, ctx_dim, heads)
        self.attn2 = Attention(dim, ctx_dim, heads)
        self.ff_in = nn.Linear(dim, dim * 4 * 2)
        self.ff_out = nn.Linear(dim * 4, dim)
        self.proj_out = nn.Linear(dim, dim)

    def forward(self, x, ctx):
        b, c, h, w = x.shape
        r = x
        x = self.norm(x).permute(0, 2, 3, 1).reshape(b, h * w, c)
        x = self.proj_in(x)
        x = x + self.attn1(self.ln1(x), ctx)
        x = x + self.attn2(self.ln2(x), ctx)
        v, g = self.ff_in(self.ln3(x)).chunk(2, dim=-1)
        x = x + self.ff_out(v * F.gelu(g))
        x = self.proj_out(x)
        return x.reshape(b, h, w, c).permute(0, 3, 1, 2) + r


class UpscaleUNet(nn.Module):
    """forward(sample [B,7,h,w], timestep [B] float, encoder_hidden_states [B,77,D],
    class_labels [B] int64) -> v-prediction [B,4,h,w]; h, w multiples of 4."""

    def __init__(self, block_out_channels, layers_per_block, heads, norm_num_groups, cross_attention_dim, attention, num_class_embeds,
                 in_channels, out_channels):
        super().__init__()
        ch = list(block_out_channels)
        g, ctx = norm_num_groups, cross_attention_dim
        self.t_dim = ch[0]
        temb = ch[0] * 4
        self.time_mlp = nn.Sequential(nn.Linear(ch[0], temb), nn.SiLU(), nn.Linear(temb, temb))
        self.class_embedding = nn.Embedding(num_class_embeds, temb)
        self.conv_in = nn.Conv2d(in_channels, ch[0], 3, padding=1)

        def att(c, on):
            return CrossOnlyTransformer2D(c, ctx, heads, g) if on else None

        self.down = nn.ModuleList()
        skip_ch = [ch[0]]
        cin = ch[0]
        for i, c in enumerate(ch):
            blk = nn.Module()
            blk.res = nn.ModuleList()
            blk.att = nn.ModuleList()
            for _ in range(layers_per_block):
                blk.res.append(ResnetBlock(cin, c, g, temb))
                blk.att.append(att(c, attention[i]) or nn.Identity())
                cin = c
                skip_ch.append(c)
            last = i == len(ch) - 1
            blk.downsample = None if last else nn.Conv2d(c, c, 3, stride=2, padding=1)
            if not last:
                skip_ch.append(c)
            self.down.append(blk)
        self.down_attn = list(attention)

        self.mid_res1 = ResnetBlock(ch[-1], ch[-1], g, temb)
        self.mid_att = CrossOnlyTransformer2D(ch[-1], ctx, heads, g)
        self.mid_res2 = ResnetBlock(ch[-1], ch[-1], g, temb)

        self.up = nn.ModuleList()
        rch = ch[::-1]
        ratt = list(attention)[::-1]
        cin = ch[-1]
        for i, c in enumerate(rch):
            blk = nn.Module()
            blk.res = nn.ModuleList()
            blk.att = nn.ModuleList()
            for _ in range(layers_per_block + 1):
                blk.res.append(ResnetBlock(cin + skip_ch.pop(), c, g, temb))
                blk.att.append(att(c, ratt[i]) or nn.Identity())
                cin = c
            last = i == len(rch) - 1
            blk.upsample = None if last else nn.Conv2d(c, c, 3, padding=1)
            self.up.append(blk)
        self.up_attn = ratt

        self.norm_out = nn.GroupNorm(g, ch[0], eps=1e-5)
        self.conv_out = nn.Conv2d(ch[0], out_channels, 3, padding=1)

    @staticmethod
    def _att(m, x, ctx):
        return x if isinstance(m, nn.Identity) else m(x, ctx)

    def forward(self, sample, timestep, encoder_hidden_states, class_labels):
        temb = self.time_mlp(timestep_embedding(timestep, self.t_dim)) + self.class_embedding(class_labels.long())
        x = self.conv_in(sample)
        skips = [x]
        for blk in self.down:
            for res, at in zip(blk.res, blk.att):
                x = self._att(at, res(x, temb), encoder_hidden_states)
                skips.append(x)
            if blk.downsample is not None:
                x = blk.downsample(x)
                skips.append(x)
        x = self.mid_res2(self.mid_att(self.mid_res1(x, temb), encoder_hidden_states), temb)
        for blk in self.up:
            for res, at in zip(blk.res, blk.att):
                x = self._att(at, res(torch.cat([x, skips.pop()], 1), temb), encoder_hidden_states)
            if blk.upsample is not None:
                x = blk.upsample(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(x)))


def scaled_linear_acp(beta_start=0.0001, beta_end=0.02, n=1000):
    """alphas_cumprod of diffusers' "scaled_linear" schedule (the x4 upscaler's
    scheduler and low_res_scheduler both use 0.0001..0.02 over 1000 steps)."""
    betas = torch.linspace(beta_start**0.5, beta_end**0.5, n, dtype=torch.float64) ** 2
    return torch.cumprod(1 - betas, 0).float()
