"""Scaled-down Stable Diffusion components in plain torch.

Module structure and maths follow diffusers / transformers (CLIPTextModel,
UNet2DConditionModel, AutoencoderKL) so the ONNX graphs have the same
semantics as a real SD export; only widths and depths are tiny.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

# ------------------------------------------------------------------ config
TEXT_CFG = dict(hidden_size=64, num_hidden_layers=3, num_attention_heads=4, intermediate_size=256, max_position_embeddings=77)
UNET_CFG = dict(block_out_channels=(32, 64), layers_per_block=1, heads=2, norm_num_groups=8, cross_attention_dim=64)
VAE_CFG = dict(block_out_channels=(16, 32, 64), latent_channels=4, norm_num_groups=8)
VAE_DOWNSCALE = 2 ** (len(VAE_CFG["block_out_channels"]) - 1)


def quick_gelu(x):
    return x * torch.sigmoid(1.702 * x)


# ------------------------------------------------------------ text encoder
class CLIPLayer(nn.Module):
    def __init__(self, d, heads, inter):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d)
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.ln2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, inter)
        self.fc2 = nn.Linear(inter, d)

    def forward(self, x, mask):
        b, n, d = x.shape
        h = self.ln1(x)
        q, k, v = (t.reshape(b, n, self.heads, d // self.heads).transpose(1, 2) for t in (self.q(h), self.k(h), self.v(h)))
        att = (q @ k.transpose(-1, -2)) * (d // self.heads) ** -0.5 + mask
        h = (att.softmax(-1) @ v).transpose(1, 2).reshape(b, n, d)
        x = x + self.o(h)
        return x + self.fc2(quick_gelu(self.fc1(self.ln2(x))))


class TextEncoder(nn.Module):
    """CLIP text transformer: causal, pre-LN, quick_gelu, final LayerNorm.
    Returns (last_hidden_state, pooler_output = hidden state at argmax(ids),
    i.e. at the first EOS since EOS has the highest id)."""

    def __init__(self, vocab_size, hidden_size, num_hidden_layers, num_attention_heads, intermediate_size, max_position_embeddings):
        super().__init__()
        self.tok = nn.Embedding(vocab_size, hidden_size)
        self.pos = nn.Embedding(max_position_embeddings, hidden_size)
        self.layers = nn.ModuleList(CLIPLayer(hidden_size, num_attention_heads, intermediate_size) for _ in range(num_hidden_layers))
        self.final_ln = nn.LayerNorm(hidden_size)

    def forward(self, input_ids):
        n = input_ids.shape[1]
        pos = torch.arange(n, device=input_ids.device)
        x = self.tok(input_ids.long()) + self.pos(pos)[None]
        # Causal mask built from the (dynamic) sequence length.
        mask = torch.full((n, n), float("-inf"), device=x.device).triu(1)
        for layer in self.layers:
            x = layer(x, mask)
        x = self.final_ln(x)
        eos = input_ids.to(torch.int32).argmax(-1)
        pooled = x[torch.arange(x.shape[0], device=x.device), eos]
        return x, pooled


# -------------------------------------------------------------------- UNet
def timestep_embedding(t, dim):
    """diffusers Timesteps(dim, flip_sin_to_cos=True, downscale_freq_shift=0)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class ResnetBlock(nn.Module):
    """diffusers ResnetBlock2D (pre-norm, SiLU, optional time-embedding add)."""

    def __init__(self, cin, cout, groups, temb=None):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=1e-6 if temb is None else 1e-5)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.temb = nn.Linear(temb, cout) if temb else None
        self.norm2 = nn.GroupNorm(groups, cout, eps=1e-6 if temb is None else 1e-5)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, temb=None):
        h = self.conv1(F.silu(self.norm1(x)))
        if self.temb is not None:
            h = h + self.temb(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class Attention(nn.Module):
    def __init__(self, dim, ctx_dim, heads):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim, bias=False)
        self.k = nn.Linear(ctx_dim, dim, bias=False)
        self.v = nn.Linear(ctx_dim, dim, bias=False)
        self.o = nn.Linear(dim, dim)

    def forward(self, x, ctx):
        b, n, d = x.shape
        hd = d // self.heads
        q = self.q(x).reshape(b, n, self.heads, hd).transpose(1, 2)
        k = self.k(ctx).reshape(b, -1, self.heads, hd).transpose(1, 2)
        v = self.v(ctx).reshape(b, -1, self.heads, hd).transpose(1, 2)
        a = ((q @ k.transpose(-1, -2)) * hd**-0.5).softmax(-1)
        return self.o((a @ v).transpose(1, 2).reshape(b, n, d))


class Transformer2D(nn.Module):
    """diffusers Transformer2DModel with one BasicTransformerBlock
    (self-attn, cross-attn, GEGLU feed-forward), linear proj in/out."""

    def __init__(self, dim, ctx_dim, heads, groups):
        super().__init__()
        self.norm = nn.GroupNorm(groups, dim, eps=1e-6)
        self.proj_in = nn.Linear(dim, dim)
        self.ln1, self.ln2, self.ln3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn1 = Attention(dim, dim, heads)
        self.attn2 = Attention(dim, ctx_dim, heads)
        self.ff_in = nn.Linear(dim, dim * 4 * 2)  # GEGLU: value and gate
        self.ff_out = nn.Linear(dim * 4, dim)
        self.proj_out = nn.Linear(dim, dim)

    def forward(self, x, ctx):
        b, c, h, w = x.shape
        r = x
        x = self.norm(x).permute(0, 2, 3, 1).reshape(b, h * w, c)
        x = self.proj_in(x)
        n1 = self.ln1(x)
        x = x + self.attn1(n1, n1)
        x = x + self.attn2(self.ln2(x), ctx)
        v, g = self.ff_in(self.ln3(x)).chunk(2, dim=-1)
        x = x + self.ff_out(v * F.gelu(g))
        x = self.proj_out(x)
        return x.reshape(b, h, w, c).permute(0, 3, 1, 2) + r


class UNet(nn.Module):
    """UNet2DConditionModel with CrossAttnDownBlock2D x2 / UNetMidBlock2DCrossAttn /
    CrossAttnUpBlock2D x2, layers_per_block=1 (so 2 resnets per up block)."""

    def __init__(self, block_out_channels, layers_per_block, heads, norm_num_groups, cross_attention_dim, in_channels=4, out_channels=4):
        super().__init__()
        ch = list(block_out_channels)
        g, ctx = norm_num_groups, cross_attention_dim
        self.t_dim = ch[0]
        temb = ch[0] * 4
        self.time_mlp = nn.Sequential(nn.Linear(ch[0], temb), nn.SiLU(), nn.Linear(temb, temb))
        self.conv_in = nn.Conv2d(in_channels, ch[0], 3, padding=1)

        self.down = nn.ModuleList()
        skip_ch = [ch[0]]
        cin = ch[0]
        for i, c in enumerate(ch):
            blk = nn.Module()
            blk.res = nn.ModuleList()
            blk.att = nn.ModuleList()
            for _ in range(layers_per_block):
                blk.res.append(ResnetBlock(cin, c, g, temb))
                blk.att.append(Transformer2D(c, ctx, heads, g))
                cin = c
                skip_ch.append(c)
            last = i == len(ch) - 1
            blk.downsample = None if last else nn.Conv2d(c, c, 3, stride=2, padding=1)
            if not last:
                skip_ch.append(c)
            self.down.append(blk)

        self.mid_res1 = ResnetBlock(ch[-1], ch[-1], g, temb)
        self.mid_att = Transformer2D(ch[-1], ctx, heads, g)
        self.mid_res2 = ResnetBlock(ch[-1], ch[-1], g, temb)

        self.up = nn.ModuleList()
        rch = ch[::-1]
        cin = ch[-1]
        for i, c in enumerate(rch):
            blk = nn.Module()
            blk.res = nn.ModuleList()
            blk.att = nn.ModuleList()
            for _ in range(layers_per_block + 1):
                blk.res.append(ResnetBlock(cin + skip_ch.pop(), c, g, temb))
                blk.att.append(Transformer2D(c, ctx, heads, g))
                cin = c
            last = i == len(rch) - 1
            blk.upsample = None if last else nn.Conv2d(c, c, 3, padding=1)
            self.up.append(blk)

        self.norm_out = nn.GroupNorm(g, ch[0], eps=1e-5)
        self.conv_out = nn.Conv2d(ch[0], out_channels, 3, padding=1)

    def forward(self, sample, timestep, encoder_hidden_states):
        temb = self.time_mlp(timestep_embedding(timestep, self.t_dim))
        x = self.conv_in(sample)
        skips = [x]
        for blk in self.down:
            for res, att in zip(blk.res, blk.att):
                x = att(res(x, temb), encoder_hidden_states)
                skips.append(x)
            if blk.downsample is not None:
                x = blk.downsample(x)
                skips.append(x)
        x = self.mid_res2(self.mid_att(self.mid_res1(x, temb), encoder_hidden_states), temb)
        for blk in self.up:
            for res, att in zip(blk.res, blk.att):
                x = att(res(torch.cat([x, skips.pop()], 1), temb), encoder_hidden_states)
            if blk.upsample is not None:
                x = blk.upsample(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(x)))


# --------------------------------------------------------------------- VAE
class AttnBlock(nn.Module):
    """Single-head spatial self-attention (the VAE mid-block attention)."""

    def __init__(self, c, groups):
        super().__init__()
        self.norm = nn.GroupNorm(groups, c, eps=1e-6)
        self.q, self.k, self.v, self.o = (nn.Linear(c, c) for _ in range(4))

    def forward(self, x):
        b, c, h, w = x.shape
        t = self.norm(x).permute(0, 2, 3, 1).reshape(b, h * w, c)
        a = ((self.q(t) @ self.k(t).transpose(-1, -2)) * c**-0.5).softmax(-1)
        o = self.o(a @ self.v(t))
        return x + o.reshape(b, h, w, c).permute(0, 3, 1, 2)


class Encoder(nn.Module):
    def __init__(self, block_out_channels, latent_channels, norm_num_groups):
        super().__init__()
        ch, g = list(block_out_channels), norm_num_groups
        self.conv_in = nn.Conv2d(3, ch[0], 3, padding=1)
        self.blocks = nn.ModuleList()
        cin = ch[0]
        for i, c in enumerate(ch):
            blk = nn.Module()
            blk.res = ResnetBlock(cin, c, g)
            # diffusers pads (0,1,0,1) then uses a stride-2 conv without padding.
            blk.down = nn.Conv2d(c, c, 3, stride=2) if i < len(ch) - 1 else None
            self.blocks.append(blk)
            cin = c
        self.mid1 = ResnetBlock(cin, cin, g)
        self.mid_att = AttnBlock(cin, g)
        self.mid2 = ResnetBlock(cin, cin, g)
        self.norm_out = nn.GroupNorm(g, cin, eps=1e-6)
        self.conv_out = nn.Conv2d(cin, 2 * latent_channels, 3, padding=1)
        self.quant_conv = nn.Conv2d(2 * latent_channels, 2 * latent_channels, 1)

    def forward(self, x):
        x = self.conv_in(x)
        for blk in self.blocks:
            x = blk.res(x)
            if blk.down is not None:
                x = blk.down(F.pad(x, (0, 1, 0, 1)))
        x = self.mid2(self.mid_att(self.mid1(x)))
        return self.quant_conv(self.conv_out(F.silu(self.norm_out(x))))  # mean || logvar


class Decoder(nn.Module):
    """Mirror of the encoder.  Deviation from diffusers for CPU speed: one
    resnet per level (diffusers uses layers_per_block+1) and each upsampling
    conv already maps to the next (narrower) level's width."""

    def __init__(self, block_out_channels, latent_channels, norm_num_groups):
        super().__init__()
        ch, g = list(block_out_channels)[::-1], norm_num_groups
        self.post_quant_conv = nn.Conv2d(latent_channels, latent_channels, 1)
        self.conv_in = nn.Conv2d(latent_channels, ch[0], 3, padding=1)
        self.mid1 = ResnetBlock(ch[0], ch[0], g)
        self.mid_att = AttnBlock(ch[0], g)
        self.mid2 = ResnetBlock(ch[0], ch[0], g)
        self.blocks = nn.ModuleList()
        for i, c in enumerate(ch):
            blk = nn.Module()
            blk.res = ResnetBlock(c, c, g)
            blk.up = nn.Conv2d(c, ch[i + 1], 3, padding=1) if i < len(ch) - 1 else None
            self.blocks.append(blk)
        self.norm_out = nn.GroupNorm(g, ch[-1], eps=1e-6)
        self.conv_out = nn.Conv2d(ch[-1], 3, 3, padding=1)

    def forward(self, z):
        x = self.conv_in(self.post_quant_conv(z))
        x = self.mid2(self.mid_att(self.mid1(x)))
        for blk in self.blocks:
            x = blk.res(x)
            if blk.up is not None:
                x = blk.up(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(x)))


class VAE(nn.Module):
    def __init__(self, block_out_channels, latent_channels, norm_num_groups):
        super().__init__()
        self.encoder = Encoder(block_out_channels, latent_channels, norm_num_groups)
        self.decoder = Decoder(block_out_channels, latent_channels, norm_num_groups)


def n_params(m):
    return sum(p.numel() for p in m.parameters())
