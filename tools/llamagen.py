"""Compact PyTorch re-implementation of LlamaGen's class-conditional GPT ("c2i") and VQ tokenizer.

Parameter names and semantics follow the official FoundationVision/LlamaGen code
(autoregressive/models/gpt.py, tokenizer/tokenizer_image/vq_model.py) so that official
checkpoints load with `load_state_dict(strict=False)` (official files carry extra buffers such as
`freqs_cis` / `quantize.codebook_used`, which we drop).

Only inference-relevant pieces plus what training on small data needs are implemented; dropout and
drop-path are omitted (they are identity at inference).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, asdict
from typing import List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F


def find_multiple(n: int, k: int) -> int:
    return n if n % k == 0 else n + k - (n % k)


# ----------------------------------------------------------------------------------------------
# GPT
# ----------------------------------------------------------------------------------------------
@dataclass
class GPTConfig:
    dim: int = 768
    n_layer: int = 12
    n_head: int = 12
    n_kv_head: Optional[int] = None
    vocab_size: int = 16384
    num_classes: int = 1000
    grid: int = 16
    cls_token_num: int = 1
    multiple_of: int = 256
    ffn_dim_multiplier: Optional[float] = None
    norm_eps: float = 1e-5
    rope_base: float = 10000

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_head

    @property
    def kv_heads(self) -> int:
        return self.n_kv_head if self.n_kv_head is not None else self.n_head

    @property
    def ffn_hidden(self) -> int:
        hidden = int(2 * (4 * self.dim) / 3)
        if self.ffn_dim_multiplier is not None:
            hidden = int(self.ffn_dim_multiplier * hidden)
        return find_multiple(hidden, self.multiple_of)

    def to_json(self) -> dict:
        d = asdict(self)
        if d["n_kv_head"] is None:
            d["n_kv_head"] = self.n_head
        if isinstance(d["rope_base"], float) and d["rope_base"].is_integer():
            d["rope_base"] = int(d["rope_base"])
        return d

    @staticmethod
    def from_json(d: dict) -> "GPTConfig":
        keys = GPTConfig.__dataclass_fields__.keys()
        return GPTConfig(**{k: v for k, v in d.items() if k in keys})


def precompute_freqs_cis_2d(grid_size: int, head_dim: int, base: float = 10000, cls_token_num: int = 1):
    """Table [cls_token_num + grid^2, head_dim//2, 2] of (cos, sin), as official.

    The first half of the rotated pairs uses the row index, the second half the column index.
    The class-token prefix rows are all zeros (cos = 0 and sin = 0) - an upstream quirk that makes
    q and k at the prefix positions zero vectors.
    """
    half = head_dim // 2
    freqs = 1.0 / (base ** (torch.arange(0, half, 2)[: half // 2].float() / half))  # [half//2]
    t = torch.arange(grid_size, dtype=torch.float32)
    f = torch.outer(t, freqs)  # [grid, half//2]
    rows = f[:, None, :].expand(grid_size, grid_size, -1)
    cols = f[None, :, :].expand(grid_size, grid_size, -1)
    ang = torch.cat([rows, cols], dim=-1).reshape(grid_size * grid_size, -1)  # [g*g, half]
    table = torch.stack([torch.cos(ang), torch.sin(ang)], dim=-1)
    return torch.cat([torch.zeros(cls_token_num, half, 2), table], dim=0)


def apply_rotary_emb(x: torch.Tensor, freqs: torch.Tensor) -> torch.Tensor:
    """x: [B, S, H, D]; freqs: [S, D//2, 2] (or [B, S, D//2, 2]). Rotates interleaved pairs."""
    xs = x.float().reshape(*x.shape[:-1], -1, 2)
    if freqs.dim() == 3:
        fc = freqs[None, :, None]
    else:
        fc = freqs[:, :, None]
    cos, sin = fc[..., 0], fc[..., 1]
    x0, x1 = xs[..., 0], xs[..., 1]
    out = torch.stack([x0 * cos - x1 * sin, x1 * cos + x0 * sin], dim=-1)
    return out.flatten(-2).type_as(x)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        xf = x.float()
        y = xf * torch.rsqrt(torch.mean(xf * xf, dim=-1, keepdim=True) + self.eps)
        return y.type_as(x) * self.weight


class FeedForward(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        h = cfg.ffn_hidden
        self.w1 = nn.Linear(cfg.dim, h, bias=False)
        self.w3 = nn.Linear(cfg.dim, h, bias=False)
        self.w2 = nn.Linear(h, cfg.dim, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Attention(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        assert cfg.dim % cfg.n_head == 0
        self.dim = cfg.dim
        self.n_head = cfg.n_head
        self.n_kv_head = cfg.kv_heads
        self.head_dim = cfg.head_dim
        self.wqkv = nn.Linear(cfg.dim, (self.n_head + 2 * self.n_kv_head) * self.head_dim, bias=False)
        self.wo = nn.Linear(cfg.dim, cfg.dim, bias=False)

    def forward(self, x, freqs, cache=None, pos=None):
        """cache: optional dict with 'k','v' [B, n_kv, T, D] filled in place at slots `pos`.

        Without a cache: plain causal attention over the given sequence.
        With a cache: new k/v written at `pos` (1-D LongTensor, strictly increasing); each query
        attends to slots <= its own position (causal over absolute positions).
        """
        b, s, _ = x.shape
        kv = self.n_kv_head * self.head_dim
        q, k, v = self.wqkv(x).split([self.dim, kv, kv], dim=-1)
        q = q.view(b, s, self.n_head, self.head_dim)
        k = k.view(b, s, self.n_kv_head, self.head_dim)
        v = v.view(b, s, self.n_kv_head, self.head_dim)
        q = apply_rotary_emb(q, freqs)
        k = apply_rotary_emb(k, freqs)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        rep = self.n_head // self.n_kv_head
        if cache is None:
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            cache["k"][:, :, pos] = k
            cache["v"][:, :, pos] = v
            T = int(pos[-1].item()) + 1
            kk = cache["k"][:, :, :T].repeat_interleave(rep, dim=1)
            vv = cache["v"][:, :, :T].repeat_interleave(rep, dim=1)
            mask = torch.arange(T)[None, :] <= pos[:, None]  # [s, T]
            o = F.scaled_dot_product_attention(q, kk, vv, attn_mask=mask)
        o = o.transpose(1, 2).reshape(b, s, self.dim)
        return self.wo(o)


class TransformerBlock(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.attention = Attention(cfg)
        self.feed_forward = FeedForward(cfg)
        self.attention_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.ffn_norm = RMSNorm(cfg.dim, cfg.norm_eps)

    def forward(self, x, freqs, cache=None, pos=None):
        h = x + self.attention(self.attention_norm(x), freqs, cache, pos)
        return h + self.feed_forward(self.ffn_norm(h))


class LabelEmbedder(nn.Module):
    def __init__(self, num_classes: int, dim: int):
        super().__init__()
        self.num_classes = num_classes
        self.embedding_table = nn.Embedding(num_classes + 1, dim)  # last row: null class (CFG)

    def forward(self, labels):
        return self.embedding_table(labels).unsqueeze(1)


class Transformer(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.cls_embedding = LabelEmbedder(cfg.num_classes, cfg.dim)
        self.tok_embeddings = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.layers = nn.ModuleList([TransformerBlock(cfg) for _ in range(cfg.n_layer)])
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.output = nn.Linear(cfg.dim, cfg.vocab_size, bias=False)
        self.register_buffer(
            "freqs_cis",
            precompute_freqs_cis_2d(cfg.grid, cfg.head_dim, cfg.rope_base, cfg.cls_token_num),
            persistent=False,
        )

    def init_weights(self, std: float = 0.02, zero_output: bool = True):
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, std)
        if zero_output:
            nn.init.zeros_(self.output.weight)

    def forward(self, tokens: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Teacher-forced forward (cls_token_num == 1).

        tokens [B, N] (N = grid^2), labels [B] (num_classes = null class).
        Input = [class embedding, tok_emb(tokens[:, :-1])]; returns logits [B, N, vocab] where
        logits[:, p] predicts tokens[:, p].
        """
        assert self.cfg.cls_token_num == 1, "teacher-forced forward implemented for c2i (1 class token)"
        c = self.cls_embedding(labels)[:, : self.cfg.cls_token_num]
        h = torch.cat([c, self.tok_embeddings(tokens[:, :-1])], dim=1)
        freqs = self.freqs_cis[: h.shape[1]]
        for layer in self.layers:
            h = layer(h, freqs)
        return self.output(self.norm(h)).float()

    # --- incremental decoding (used for sample grids) -----------------------------------------
    def new_cache(self, batch: int, dtype=torch.float32):
        T = self.cfg.cls_token_num + self.cfg.grid ** 2
        shape = (batch, self.cfg.kv_heads, T, self.cfg.head_dim)
        return [{"k": torch.zeros(shape, dtype=dtype), "v": torch.zeros(shape, dtype=dtype)}
                for _ in self.layers]

    def step(self, h: torch.Tensor, pos: torch.Tensor, caches):
        freqs = self.freqs_cis[pos]
        for layer, c in zip(self.layers, caches):
            h = layer(h, freqs, c, pos)
        return self.output(self.norm(h)).float()

    @torch.no_grad()
    def generate(self, labels: torch.Tensor, cfg_scale: float = 1.0, temperature: float = 1.0,
                 top_k: int = 0, top_p: float = 1.0, generator: Optional[torch.Generator] = None):
        """Plain next-token-prediction sampling with optional classifier-free guidance."""
        n = self.cfg.grid ** 2
        B = labels.shape[0]
        use_cfg = cfg_scale != 1.0
        if use_cfg:
            null = torch.full_like(labels, self.cfg.num_classes)
            cond = torch.cat([labels, null])
        else:
            cond = labels
        caches = self.new_cache(cond.shape[0])
        h = self.cls_embedding(cond)[:, : self.cfg.cls_token_num]
        pos = torch.arange(self.cfg.cls_token_num)
        out = torch.zeros(B, n, dtype=torch.long)
        for i in range(n):
            logits = self.step(h, pos, caches)[:, -1]
            if use_cfg:
                c, u = logits[:B], logits[B:]
                logits = u + (c - u) * cfg_scale
            logits = logits / max(temperature, 1e-5)
            if top_k > 0:
                v, _ = torch.topk(logits, top_k)
                logits = logits.masked_fill(logits < v[:, -1:], float("-inf"))
            if top_p < 1.0:
                sl, si = torch.sort(logits, descending=True)
                cp = sl.softmax(-1).cumsum(-1)
                rm = cp > top_p
                rm[:, 1:] = rm[:, :-1].clone()
                rm[:, 0] = False
                logits = logits.scatter(1, si, sl.masked_fill(rm, float("-inf")))
            probs = logits.softmax(-1)
            tok = torch.multinomial(probs, 1, generator=generator)[:, 0]
            out[:, i] = tok
            if i + 1 < n:
                t = torch.cat([tok, tok]) if use_cfg else tok
                h = self.tok_embeddings(t)[:, None]
                pos = torch.tensor([self.cfg.cls_token_num + i])
        return out


# ----------------------------------------------------------------------------------------------
# VQ tokenizer
# ----------------------------------------------------------------------------------------------
@dataclass
class VQConfig:
    codebook_size: int = 16384
    codebook_embed_dim: int = 8
    codebook_l2_norm: bool = True
    z_channels: int = 256
    ch: int = 128
    ch_mult: List[int] = field(default_factory=lambda: [1, 1, 2, 2, 4])
    num_res_blocks: int = 2
    out_channels: int = 3
    image_size: int = 256

    @property
    def in_channels(self) -> int:
        return self.out_channels

    @property
    def downsample(self) -> int:
        return 2 ** (len(self.ch_mult) - 1)

    def to_json(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_json(d: dict) -> "VQConfig":
        keys = VQConfig.__dataclass_fields__.keys()
        return VQConfig(**{k: v for k, v in d.items() if k in keys})


def swish(x):
    return x * torch.sigmoid(x)


def group_norm(c: int) -> nn.GroupNorm:
    return nn.GroupNorm(num_groups=32, num_channels=c, eps=1e-6, affine=True)


class ResnetBlock(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.cin, self.cout = cin, cout
        self.norm1 = group_norm(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1)
        self.norm2 = group_norm(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        if cin != cout:
            self.nin_shortcut = nn.Conv2d(cin, cout, 1, 1, 0)

    def forward(self, x):
        h = self.conv1(swish(self.norm1(x)))
        h = self.conv2(swish(self.norm2(h)))
        if self.cin != self.cout:
            x = self.nin_shortcut(x)
        return x + h


class AttnBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.norm = group_norm(c)
        self.q = nn.Conv2d(c, c, 1)
        self.k = nn.Conv2d(c, c, 1)
        self.v = nn.Conv2d(c, c, 1)
        self.proj_out = nn.Conv2d(c, c, 1)

    def forward(self, x):
        b, c, hh, ww = x.shape
        h = self.norm(x)
        q = self.q(h).reshape(b, c, hh * ww).transpose(1, 2)  # [b, hw, c]
        k = self.k(h).reshape(b, c, hh * ww)  # [b, c, hw]
        v = self.v(h).reshape(b, c, hh * ww)
        w = torch.softmax(torch.bmm(q, k) * (c ** -0.5), dim=2)  # [b, hw_q, hw_k]
        o = torch.bmm(v, w.transpose(1, 2)).reshape(b, c, hh, ww)
        return x + self.proj_out(o)


class Upsample(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, 1, 1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Downsample(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, 2, 0)

    def forward(self, x):
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Encoder(nn.Module):
    def __init__(self, cfg: VQConfig):
        super().__init__()
        ch, mult, nr = cfg.ch, cfg.ch_mult, cfg.num_res_blocks
        self.n_levels = len(mult)
        self.nr = nr
        self.conv_in = nn.Conv2d(cfg.in_channels, ch, 3, 1, 1)
        in_mult = (1,) + tuple(mult)
        self.conv_blocks = nn.ModuleList()
        block_in = ch
        for i in range(self.n_levels):
            blk = nn.Module()
            res, attn = nn.ModuleList(), nn.ModuleList()
            block_in = ch * in_mult[i]
            block_out = ch * mult[i]
            for _ in range(nr):
                res.append(ResnetBlock(block_in, block_out))
                block_in = block_out
                if i == self.n_levels - 1:
                    attn.append(AttnBlock(block_in))
            blk.res, blk.attn = res, attn
            if i != self.n_levels - 1:
                blk.downsample = Downsample(block_in)
            self.conv_blocks.append(blk)
        self.mid = nn.ModuleList([ResnetBlock(block_in, block_in), AttnBlock(block_in),
                                  ResnetBlock(block_in, block_in)])
        self.norm_out = group_norm(block_in)
        self.conv_out = nn.Conv2d(block_in, cfg.z_channels, 3, 1, 1)

    def forward(self, x):
        h = self.conv_in(x)
        for i, blk in enumerate(self.conv_blocks):
            for j in range(self.nr):
                h = blk.res[j](h)
                if len(blk.attn) > 0:
                    h = blk.attn[j](h)
            if i != self.n_levels - 1:
                h = blk.downsample(h)
        for m in self.mid:
            h = m(h)
        return self.conv_out(swish(self.norm_out(h)))


class Decoder(nn.Module):
    def __init__(self, cfg: VQConfig):
        super().__init__()
        ch, mult, nr = cfg.ch, cfg.ch_mult, cfg.num_res_blocks
        self.n_levels = len(mult)
        self.nr = nr
        block_in = ch * mult[-1]
        self.conv_in = nn.Conv2d(cfg.z_channels, block_in, 3, 1, 1)
        self.mid = nn.ModuleList([ResnetBlock(block_in, block_in), AttnBlock(block_in),
                                  ResnetBlock(block_in, block_in)])
        self.conv_blocks = nn.ModuleList()
        for i_level in reversed(range(self.n_levels)):
            blk = nn.Module()
            res, attn = nn.ModuleList(), nn.ModuleList()
            block_out = ch * mult[i_level]
            for _ in range(nr + 1):
                res.append(ResnetBlock(block_in, block_out))
                block_in = block_out
                if i_level == self.n_levels - 1:  # attention only at the lowest resolution
                    attn.append(AttnBlock(block_in))
            blk.res, blk.attn = res, attn
            if i_level != 0:
                blk.upsample = Upsample(block_in)
            self.conv_blocks.append(blk)
        self.norm_out = group_norm(block_in)
        self.conv_out = nn.Conv2d(block_in, cfg.out_channels, 3, 1, 1)

    def forward(self, z):
        h = self.conv_in(z)
        for m in self.mid:
            h = m(h)
        for i, blk in enumerate(self.conv_blocks):
            for j in range(self.nr + 1):
                h = blk.res[j](h)
                if len(blk.attn) > 0:
                    h = blk.attn[j](h)
            if i != self.n_levels - 1:
                h = blk.upsample(h)
        return self.conv_out(swish(self.norm_out(h)))


class VectorQuantizer(nn.Module):
    def __init__(self, n_e: int, e_dim: int, l2_norm: bool = True, beta: float = 0.25):
        super().__init__()
        self.n_e, self.e_dim, self.l2_norm, self.beta = n_e, e_dim, l2_norm, beta
        self.embedding = nn.Embedding(n_e, e_dim)
        self.embedding.weight.data.uniform_(-1.0 / n_e, 1.0 / n_e)
        if l2_norm:
            self.embedding.weight.data = F.normalize(self.embedding.weight.data, p=2, dim=-1)

    def codebook(self):
        w = self.embedding.weight
        return F.normalize(w, p=2, dim=-1) if self.l2_norm else w

    def forward(self, z):
        """z [B, C, H, W] -> (z_q straight-through [B,C,H,W], codebook_loss, commit_loss, idx [B,H,W])."""
        z = z.permute(0, 2, 3, 1).contiguous()
        if self.l2_norm:
            z = F.normalize(z, p=2, dim=-1)
        zf = z.reshape(-1, self.e_dim)
        e = self.codebook()
        d = (zf ** 2).sum(1, keepdim=True) + (e ** 2).sum(1) - 2 * zf @ e.t()
        idx = d.argmin(1)
        zq = e[idx].view(z.shape)
        cb_loss = torch.mean((zq - z.detach()) ** 2)
        commit = self.beta * torch.mean((zq.detach() - z) ** 2)
        zq = z + (zq - z).detach()
        return zq.permute(0, 3, 1, 2), cb_loss, commit, idx.view(z.shape[:-1])

    def lookup(self, idx: torch.Tensor) -> torch.Tensor:
        """idx [B, H, W] -> [B, C, H, W]."""
        return self.codebook()[idx].permute(0, 3, 1, 2).contiguous()


class VQModel(nn.Module):
    def __init__(self, cfg: VQConfig, with_encoder: bool = True):
        super().__init__()
        self.cfg = cfg
        if with_encoder:
            self.encoder = Encoder(cfg)
            self.quant_conv = nn.Conv2d(cfg.z_channels, cfg.codebook_embed_dim, 1)
        self.decoder = Decoder(cfg)
        self.quantize = VectorQuantizer(cfg.codebook_size, cfg.codebook_embed_dim, cfg.codebook_l2_norm)
        self.post_quant_conv = nn.Conv2d(cfg.codebook_embed_dim, cfg.z_channels, 1)

    def encode(self, x):
        return self.quantize(self.quant_conv(self.encoder(x)))

    def decode(self, zq):
        return self.decoder(self.post_quant_conv(zq))

    def decode_code(self, idx: torch.Tensor) -> torch.Tensor:
        """idx [B, H, W] (or [B, H*W], square) -> pixels [B, out_channels, H*ds, W*ds] in ~[-1, 1]."""
        if idx.dim() == 2:
            g = int(round(math.sqrt(idx.shape[1])))
            idx = idx.view(idx.shape[0], g, g)
        return self.decode(self.quantize.lookup(idx))

    def forward(self, x):
        zq, cb, commit, idx = self.encode(x)
        return self.decode(zq), cb, commit, idx


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """LlamaGen sampler pixel convention: clamp(127.5*x + 128, 0, 255), truncated toward zero."""
    return torch.clamp(127.5 * x + 128.0, 0, 255).to(torch.uint8)


# ----------------------------------------------------------------------------------------------
# bundle I/O
# ----------------------------------------------------------------------------------------------
VQ_DECODER_PREFIXES = ("quantize.embedding.weight", "post_quant_conv.", "decoder.")


def load_bundle(path: str, dtype=torch.float32):
    """Loads models/<name>/ (config.json, gpt.safetensors, vq.safetensors) -> (config, gpt, vq)."""
    import os
    from safetensors.torch import load_file
    with open(os.path.join(path, "config.json")) as f:
        conf = json.load(f)
    gpt = Transformer(GPTConfig.from_json(conf["gpt"]))
    sd = {k: v.to(dtype) for k, v in load_file(os.path.join(path, "gpt.safetensors")).items()}
    gpt.load_state_dict(sd, strict=True)
    vq = VQModel(VQConfig.from_json(conf["vq"]), with_encoder=False)
    vsd = {k: v.to(dtype) for k, v in load_file(os.path.join(path, "vq.safetensors")).items()}
    missing, unexpected = vq.load_state_dict(vsd, strict=False)
    assert not unexpected, unexpected
    assert not missing, missing
    gpt.eval()
    vq.eval()
    return conf, gpt, vq
