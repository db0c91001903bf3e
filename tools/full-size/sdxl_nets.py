"""SDXL's networks in plain torch, written once from a config and used at every size.

diffusers and transformers are not installed here, so these modules follow their source and keep their
module names (so ONNX node names such as `/down_blocks.1/attentions.0/transformer_blocks.0/attn1/to_q/MatMul`
and `/text_model/encoder/layers.0/self_attn/q_proj/MatMul` carry the diffusers / transformers module paths,
as in a real Optimum export, which LoRA matching relies on):

* `ClipTextModel`: transformers' CLIPTextModel (`with_projection=False`: last_hidden_state, pooler_output)
  and CLIPTextModelWithProjection (`with_projection=True`: text_embeds = text_projection(pooled), no bias,
  then last_hidden_state), optionally followed by every hidden state (`hidden_states.0…L`: the embeddings,
  then each layer's output, the last one before `final_layer_norm`), as Optimum exports SDXL's encoders.
* `UNet2DConditionModel`: diffusers' UNet2DConditionModel with SDXL's options: per-block
  `transformer_layers_per_block`, `attention_head_dim` read as the number of heads (diffusers' legacy
  naming), `use_linear_projection`, any mix of DownBlock2D / CrossAttnDownBlock2D (the base has no attention
  in its first block, the refiner none in its first and last), and `addition_embed_type: "text_time"`:
  time_ids flattened → sinusoidal embedding of `addition_time_embed_dim` → reshape [B, K·dim] →
  concat([text_embeds, ·]) → TimestepEmbedding (linear_1, silu, linear_2) → added to the time embedding.

Used by tools/fixtures/make_sdxl_fixtures.py (tiny configs) and tools/full-size/make_random_sdxl.py (the real
SDXL configs in tools/full-size/configs/sdxl/).
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from fused_attention import attention

MAX_LEN = 77


# ---------------------------------------------------------------- CLIP text encoders (transformers)
class ClipAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.k_proj = nn.Linear(d, d)
        self.v_proj = nn.Linear(d, d)
        self.q_proj = nn.Linear(d, d)
        self.out_proj = nn.Linear(d, d)

    def forward(self, x, mask):
        b, n, d = x.shape
        hd = d // self.heads
        split = lambda t: t.reshape(b, n, self.heads, hd).transpose(1, 2)
        q = split(self.q_proj(x) * hd**-0.5)
        k, v = split(self.k_proj(x)), split(self.v_proj(x))
        w = (q @ k.transpose(-1, -2) + mask).softmax(-1)
        return self.out_proj((w @ v).transpose(1, 2).reshape(b, n, d))


class ClipMlp(nn.Module):
    def __init__(self, d, ff, act):
        super().__init__()
        self.fc1 = nn.Linear(d, ff)
        self.fc2 = nn.Linear(ff, d)
        self.act = act

    def forward(self, x):
        h = self.fc1(x)
        h = h * torch.sigmoid(1.702 * h) if self.act == "quick_gelu" else F.gelu(h)
        return self.fc2(h)


class ClipEncoderLayer(nn.Module):
    def __init__(self, d, heads, ff, act, eps):
        super().__init__()
        self.self_attn = ClipAttention(d, heads)
        self.layer_norm1 = nn.LayerNorm(d, eps=eps)
        self.mlp = ClipMlp(d, ff, act)
        self.layer_norm2 = nn.LayerNorm(d, eps=eps)

    def forward(self, x, mask):
        x = x + self.self_attn(self.layer_norm1(x), mask)
        return x + self.mlp(self.layer_norm2(x))


class ClipEmbeddings(nn.Module):
    def __init__(self, vocab, d, positions):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, d)
        self.position_embedding = nn.Embedding(positions, d)
        self.register_buffer("position_ids", torch.arange(positions).unsqueeze(0), persistent=False)

    def forward(self, ids):
        return self.token_embedding(ids) + self.position_embedding(self.position_ids[:, : ids.shape[1]])


class ClipEncoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.layers = nn.ModuleList(
            ClipEncoderLayer(cfg["hidden_size"], cfg["num_attention_heads"], cfg["intermediate_size"],
                             cfg["hidden_act"], cfg.get("layer_norm_eps", 1e-5))
            for _ in range(cfg["num_hidden_layers"])
        )

    def forward(self, x, mask):
        states = [x]
        for layer in self.layers:
            x = layer(x, mask)
            states.append(x)
        return states


class ClipTextTransformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["hidden_size"]
        self.embeddings = ClipEmbeddings(cfg["vocab_size"], d, cfg["max_position_embeddings"])
        self.encoder = ClipEncoder(cfg)
        self.final_layer_norm = nn.LayerNorm(d, eps=cfg.get("layer_norm_eps", 1e-5))
        n = cfg["max_position_embeddings"]
        # transformers' causal mask: the dtype's minimum above the diagonal
        self.register_buffer("causal_mask", torch.full((n, n), torch.finfo(torch.float32).min).triu(1), persistent=False)

    def forward(self, ids):
        n = ids.shape[1]
        states = self.encoder(self.embeddings(ids), self.causal_mask[:n, :n])
        last = self.final_layer_norm(states[-1])
        pooled = last[torch.arange(last.shape[0]), ids.argmax(-1)]
        return last, pooled, states


class ClipTextModel(nn.Module):
    """CLIPTextModel / CLIPTextModelWithProjection: input_ids → (text_embeds | last_hidden_state, pooler_output)
    [+ hidden_states.0…L]. Pools at argmax(input_ids), as transformers does for configs with eos_token_id 2
    (SDXL's): the EOS token has the highest id in CLIP vocabularies."""

    def __init__(self, cfg, with_projection=False, hidden_states=True):
        super().__init__()
        self.text_model = ClipTextTransformer(cfg)
        if with_projection:
            self.text_projection = nn.Linear(cfg["hidden_size"], cfg["projection_dim"], bias=False)
        self.with_projection = with_projection
        self.hidden_states = hidden_states

    def forward(self, input_ids):
        last, pooled, states = self.text_model(input_ids.long())
        head = (self.text_projection(pooled), last) if self.with_projection else (last, pooled)
        return head + tuple(states) if self.hidden_states else head

    def output_names(self):
        names = ["text_embeds", "last_hidden_state"] if self.with_projection else ["last_hidden_state", "pooler_output"]
        if self.hidden_states:
            names += [f"hidden_states.{i}" for i in range(len(self.text_model.encoder.layers) + 1)]
        return names


# ---------------------------------------------------------------- UNet (diffusers UNet2DConditionModel)
def get_timestep_embedding(timesteps, dim):
    """diffusers' get_timestep_embedding(·, dim, flip_sin_to_cos=True, downscale_freq_shift=0): [cos | sin]."""
    half = dim // 2
    exponent = -math.log(10000) * torch.arange(half, dtype=torch.float32) / half
    args = timesteps[:, None].float() * torch.exp(exponent)[None, :]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class TimestepEmbedding(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.linear_1 = nn.Linear(cin, cout)
        self.linear_2 = nn.Linear(cout, cout)

    def forward(self, x):
        return self.linear_2(F.silu(self.linear_1(x)))


class ResnetBlock2D(nn.Module):
    def __init__(self, cin, cout, temb, groups, eps):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=eps)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb, cout)
        self.norm2 = nn.GroupNorm(groups, cout, eps=eps)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.conv_shortcut(x) if self.conv_shortcut is not None else x) + h


class Attention(nn.Module):
    def __init__(self, d, heads, context=None):
        super().__init__()
        self.heads = heads
        self.to_q = nn.Linear(d, d, bias=False)
        self.to_k = nn.Linear(context or d, d, bias=False)
        self.to_v = nn.Linear(context or d, d, bias=False)
        self.to_out = nn.ModuleList([nn.Linear(d, d)])

    def forward(self, x, context=None):
        context = x if context is None else context
        # plain Reshape/Transpose/MatMul/Softmax chain, or one com.microsoft::MultiHeadAttention node inside
        # fused_attention.fused_attention() (tools/full-size/fused_attention.py)
        return self.to_out[0](attention(self.to_q(x), self.to_k(context), self.to_v(context), self.heads))


class GEGLU(nn.Module):
    def __init__(self, d, inner):
        super().__init__()
        self.proj = nn.Linear(d, inner * 2)

    def forward(self, x):
        h, gate = self.proj(x).chunk(2, dim=-1)
        return h * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, d, mult=4):
        super().__init__()
        self.net = nn.ModuleList([GEGLU(d, d * mult), nn.Dropout(0.0), nn.Linear(d * mult, d)])

    def forward(self, x):
        for module in self.net:
            x = module(x)
        return x


class BasicTransformerBlock(nn.Module):
    def __init__(self, d, heads, context):
        super().__init__()
        self.norm1 = nn.LayerNorm(d)
        self.attn1 = Attention(d, heads)
        self.norm2 = nn.LayerNorm(d)
        self.attn2 = Attention(d, heads, context)
        self.norm3 = nn.LayerNorm(d)
        self.ff = FeedForward(d)

    def forward(self, x, context):
        x = self.attn1(self.norm1(x)) + x
        x = self.attn2(self.norm2(x), context) + x
        return self.ff(self.norm3(x)) + x


class Transformer2DModel(nn.Module):
    def __init__(self, c, heads, context, depth, groups, linear):
        super().__init__()
        self.norm = nn.GroupNorm(groups, c, eps=1e-6)
        self.linear = linear
        self.proj_in = nn.Linear(c, c) if linear else nn.Conv2d(c, c, 1)
        self.transformer_blocks = nn.ModuleList(BasicTransformerBlock(c, heads, context) for _ in range(depth))
        self.proj_out = nn.Linear(c, c) if linear else nn.Conv2d(c, c, 1)

    def forward(self, x, context):
        b, c, h, w = x.shape
        y = self.norm(x)
        if self.linear:
            y = self.proj_in(y.permute(0, 2, 3, 1).reshape(b, h * w, c))
        else:
            y = self.proj_in(y).permute(0, 2, 3, 1).reshape(b, h * w, c)
        for block in self.transformer_blocks:
            y = block(y, context)
        if self.linear:
            y = self.proj_out(y).reshape(b, h, w, c).permute(0, 3, 1, 2)
        else:
            y = self.proj_out(y.reshape(b, h, w, c).permute(0, 3, 1, 2))
        return y + x


class Downsample2D(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class Upsample2D(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


def per_block(value, n):
    return list(value) if isinstance(value, (list, tuple)) else [value] * n


class DownBlock2D(nn.Module):
    """DownBlock2D (attentions None) or CrossAttnDownBlock2D: returns the output and the skip connections."""

    def __init__(self, cin, cout, temb, layers, groups, eps, attention, downsample):
        super().__init__()
        self.resnets = nn.ModuleList(ResnetBlock2D(cin if j == 0 else cout, cout, temb, groups, eps) for j in range(layers))
        self.attentions = nn.ModuleList(attention() for _ in range(layers)) if attention else None
        self.downsamplers = nn.ModuleList([Downsample2D(cout)]) if downsample else None

    def forward(self, x, temb, context):
        skips = []
        for j, resnet in enumerate(self.resnets):
            x = resnet(x, temb)
            if self.attentions is not None:
                x = self.attentions[j](x, context)
            skips.append(x)
        if self.downsamplers is not None:
            x = self.downsamplers[0](x)
            skips.append(x)
        return x, skips


class UNetMidBlock2DCrossAttn(nn.Module):
    def __init__(self, c, temb, groups, eps, attention):
        super().__init__()
        self.attentions = nn.ModuleList([attention()])
        self.resnets = nn.ModuleList(ResnetBlock2D(c, c, temb, groups, eps) for _ in range(2))

    def forward(self, x, temb, context):
        return self.resnets[1](self.attentions[0](self.resnets[0](x, temb), context), temb)


class UpBlock2D(nn.Module):
    """UpBlock2D (attentions None) or CrossAttnUpBlock2D: consumes one skip connection per resnet."""

    def __init__(self, prev, cout, cin, temb, layers, groups, eps, attention, upsample):
        super().__init__()
        self.resnets = nn.ModuleList(
            ResnetBlock2D((prev if j == 0 else cout) + (cin if j == layers - 1 else cout), cout, temb, groups, eps)
            for j in range(layers)
        )
        self.attentions = nn.ModuleList(attention() for _ in range(layers)) if attention else None
        self.upsamplers = nn.ModuleList([Upsample2D(cout)]) if upsample else None

    def forward(self, x, skips, temb, context):
        for j, resnet in enumerate(self.resnets):
            x = resnet(torch.cat([x, skips[-1 - j]], dim=1), temb)
            if self.attentions is not None:
                x = self.attentions[j](x, context)
        if self.upsamplers is not None:
            x = self.upsamplers[0](x)
        return x


class UNet2DConditionModel(nn.Module):
    """diffusers' UNet2DConditionModel for SDXL-style configs: (sample, timestep, encoder_hidden_states,
    text_embeds, time_ids) → out_sample."""

    def __init__(self, cfg):
        super().__init__()
        ch = cfg["block_out_channels"]
        n = len(ch)
        heads = per_block(cfg.get("num_attention_heads") or cfg["attention_head_dim"], n)  # legacy naming: heads
        depth = per_block(cfg.get("transformer_layers_per_block", 1), n)
        ctx = cfg["cross_attention_dim"]
        layers = cfg["layers_per_block"]
        groups, eps = cfg["norm_num_groups"], cfg["norm_eps"]
        linear = cfg.get("use_linear_projection", False)
        temb = ch[0] * 4
        assert cfg.get("addition_embed_type") == "text_time", "SDXL UNets use addition_embed_type text_time"
        self.ch0 = ch[0]
        self.add_time_dim = cfg["addition_time_embed_dim"]
        self.conv_in = nn.Conv2d(cfg["in_channels"], ch[0], 3, padding=1)
        self.time_embedding = TimestepEmbedding(ch[0], temb)
        self.add_embedding = TimestepEmbedding(cfg["projection_class_embeddings_input_dim"], temb)

        def attention(kind, c, h, d):
            return (lambda: Transformer2DModel(c, h, ctx, d, groups, linear)) if kind.startswith("CrossAttn") else None

        self.down_blocks = nn.ModuleList()
        cout = ch[0]
        for i, kind in enumerate(cfg["down_block_types"]):
            cin, cout = cout, ch[i]
            self.down_blocks.append(
                DownBlock2D(cin, cout, temb, layers, groups, eps, attention(kind, cout, heads[i], depth[i]), i < n - 1)
            )
        self.mid_block = UNetMidBlock2DCrossAttn(ch[-1], temb, groups, eps, attention("CrossAttn", ch[-1], heads[-1], depth[-1]))
        self.up_blocks = nn.ModuleList()
        rev, rev_heads, rev_depth = list(reversed(ch)), list(reversed(heads)), list(reversed(depth))
        cout = rev[0]
        for i, kind in enumerate(cfg["up_block_types"]):
            prev, cout, cin = cout, rev[i], rev[min(i + 1, n - 1)]
            self.up_blocks.append(
                UpBlock2D(prev, cout, cin, temb, layers + 1, groups, eps, attention(kind, cout, rev_heads[i], rev_depth[i]), i < n - 1)
            )
        self.conv_norm_out = nn.GroupNorm(groups, ch[0], eps=eps)
        self.conv_out = nn.Conv2d(ch[0], cfg["out_channels"], 3, padding=1)

    def forward(self, sample, timestep, encoder_hidden_states, text_embeds, time_ids):
        b = sample.shape[0]
        t = timestep.reshape(-1).expand(b)  # a scalar, [1] or [B] timestep, as diffusers expands it
        emb = self.time_embedding(get_timestep_embedding(t, self.ch0))
        time_embeds = get_timestep_embedding(time_ids.flatten(), self.add_time_dim).reshape(b, -1)
        emb = emb + self.add_embedding(torch.cat([text_embeds, time_embeds], dim=-1))

        x = self.conv_in(sample)
        skips = [x]
        for block in self.down_blocks:
            x, block_skips = block(x, emb, encoder_hidden_states)
            skips += block_skips
        x = self.mid_block(x, emb, encoder_hidden_states)
        for block in self.up_blocks:
            k = len(block.resnets)
            x = block(x, skips[-k:], emb, encoder_hidden_states)
            skips = skips[:-k]
        return self.conv_out(F.silu(self.conv_norm_out(x)))
