#!/usr/bin/env python3
"""Our own minimal PyTorch LlamaGen-shaped GPT with a KV cache, for zipar-bench's side-by-side.

Random weights (std 0.02) at an official shape (default GPT-B on a 16x16 grid), fp32, batch 1
(2 with CFG), on `--threads` threads. Decodes whole images by NTP and by ZipAR with a fixed
window (paper criterion: row i starts once row i-1 has S tokens, (H-1)*S + W passes, the same
schedule as our scheduler), including the placeholder rewrite of a row's last slot. Each pass
feeds every active row's newest token with its own position, writes K/V into a cache indexed by
raster position and attends with a mask over positions <= its own that hold decoded tokens.

Prints a table, and with --json FILE (or -) one JSON line:
{"torch": version, "threads": n, "rows": [{"policy", "cfg", "passes", "seconds"}]}.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time

import torch
import torch.nn.functional as F

SHAPES = {"GPT-B": (768, 12, 12), "GPT-L": (1024, 24, 16), "GPT-XL": (1280, 36, 20)}


def ffn_hidden(dim: int, multiple_of: int = 256) -> int:
    h = int(2 * (4 * dim) / 3)
    return h + (multiple_of - h % multiple_of) % multiple_of


def rope_table(grid: int, head_dim: int, cls: int = 1, base: float = 10000.0) -> torch.Tensor:
    """LlamaGen's 2-D RoPE as (cos, sin) per position; the class prefix gets zeros (its quirk)."""
    half = head_dim // 2
    quarter = half // 2
    freqs = 1.0 / (base ** (torch.arange(0, half, 2)[:quarter].float() / half))
    t = torch.arange(grid).float()
    f = torch.outer(t, freqs)                                    # [grid, quarter]
    f_grid = torch.cat([f[:, None, :].expand(grid, grid, quarter), f[None, :, :].expand(grid, grid, quarter)], dim=-1)
    cache = torch.stack([torch.cos(f_grid), torch.sin(f_grid)], dim=-1).reshape(grid * grid, half, 2)
    return torch.cat([torch.zeros(cls, half, 2), cache])          # [L, half, 2]


def rotate(x: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    # x: [B, n, heads, hd]; table: [n, hd/2, 2]
    xs = x.float().reshape(*x.shape[:-1], -1, 2)
    t = table[None, :, None]
    out = torch.stack([xs[..., 0] * t[..., 0] - xs[..., 1] * t[..., 1],
                       xs[..., 1] * t[..., 0] + xs[..., 0] * t[..., 1]], dim=-1)
    return out.flatten(3)


class GPT:
    def __init__(self, shape: str, grid: int, vocab: int = 16384, classes: int = 1000, seed: int = 0):
        dim, layers, heads = SHAPES[shape]
        g = torch.Generator().manual_seed(seed)
        def w(*s):
            return torch.randn(*s, generator=g) * 0.02
        self.dim, self.heads, self.hd, self.grid = dim, heads, dim // heads, grid
        self.L = 1 + grid * grid
        hidden = ffn_hidden(dim)
        self.tok = w(vocab, dim)
        self.cls = w(classes + 1, dim)
        self.layers = [dict(attn_norm=torch.ones(dim), wqkv=w(3 * dim, dim), wo=w(dim, dim), ffn_norm=torch.ones(dim),
                            w1=w(hidden, dim), w3=w(hidden, dim), w2=w(dim, hidden)) for _ in range(layers)]
        self.norm = torch.ones(dim)
        self.output = w(vocab, dim)
        self.rope = rope_table(grid, self.hd)
        self.k = self.v = None

    def reset(self, batch: int):
        shape = (len(self.layers), batch, self.heads, self.L, self.hd)
        self.k = torch.zeros(shape)
        self.v = torch.zeros(shape)
        self.filled = torch.zeros(self.L, dtype=torch.bool)

    @staticmethod
    def rms(x, w, eps=1e-5):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w

    def forward(self, x: torch.Tensor, pos: torch.Tensor, logits_rows: torch.Tensor) -> torch.Tensor:
        """x: [B, n, dim] input embeddings at positions pos [n]; returns logits of rows logits_rows."""
        B, n, d = x.shape
        self.filled[pos] = True
        idx = torch.arange(self.L)
        mask = (idx[None, :] <= pos[:, None]) & self.filled[None, :]     # [n, L]
        table = self.rope[pos]
        for li, l in enumerate(self.layers):
            h = self.rms(x, l["attn_norm"])
            qkv = F.linear(h, l["wqkv"])
            q, k, v = qkv.split(d, dim=-1)
            q = rotate(q.view(B, n, self.heads, self.hd), table).transpose(1, 2)
            k = rotate(k.view(B, n, self.heads, self.hd), table).transpose(1, 2)
            v = v.view(B, n, self.heads, self.hd).transpose(1, 2)
            self.k[li][:, :, pos] = k
            self.v[li][:, :, pos] = v
            a = F.scaled_dot_product_attention(q, self.k[li], self.v[li], attn_mask=mask)
            x = x + F.linear(a.transpose(1, 2).reshape(B, n, d), l["wo"])
            h = self.rms(x, l["ffn_norm"])
            x = x + F.linear(F.silu(F.linear(h, l["w1"])) * F.linear(h, l["w3"]), l["w2"])
        x = self.rms(x[:, logits_rows], self.norm)
        return F.linear(x, self.output)


def generate(model: GPT, window: int | None, cfg: float, label: int, gen: torch.Generator) -> int:
    """Decodes one image; returns the number of passes. window None = NTP."""
    H = W = model.grid
    s = W if window is None else window
    B = 2 if cfg != 1 else 1
    model.reset(B)
    tokens = torch.full((H, W), -1, dtype=torch.long)
    count = [0] * H
    labels = torch.tensor([label, 1000][:B])

    def sample(logits: torch.Tensor) -> torch.Tensor:          # logits [B, k, vocab] -> [k]
        if B == 2:
            logits = logits[1] + (logits[0] - logits[1]) * cfg
        else:
            logits = logits[0]
        return torch.multinomial(F.softmax(logits, dim=-1), 1, generator=gen)[:, 0]

    # Pass 1: the class token predicts x(0, 0).
    x = model.cls[labels][:, None, :]
    tokens[0, 0] = sample(model.forward(x, torch.tensor([0]), torch.tensor([0])))[0]
    count[0] = 1
    passes = 1
    placeholders: list[int] = []         # rows whose last slot holds a placeholder's K/V
    while count[H - 1] < W:
        ids, pos, want, rows = [], [], [], []
        for r in [r for r in placeholders if count[r] == W]:
            # The real x(r, W-1) overwrites the placeholder's slot in the next pass; no logits.
            ids.append(int(tokens[r, W - 1])); pos.append(1 + r * W + W - 1); want.append(False)
            placeholders.remove(r)
        for i in range(H):
            if count[i] >= W or (i > 0 and count[i - 1] < s and count[i - 1] < W):
                continue
            c = count[i]
            if c > 0:
                ids.append(int(tokens[i, c - 1])); pos.append(1 + i * W + c - 1)
            else:                         # x(i, 0) is predicted from slot (i-1, W-1)
                real = int(tokens[i - 1, W - 1])
                if real < 0:              # not decoded yet: copy the token above it (or the row's newest)
                    real = int(tokens[i - 2, W - 1]) if i >= 2 else int(tokens[i - 1, count[i - 1] - 1])
                    placeholders.append(i - 1)
                ids.append(real); pos.append(1 + (i - 1) * W + W - 1)
            want.append(True); rows.append(i)
        x = model.tok[torch.tensor(ids)][None].expand(B, -1, -1)
        lrows = torch.tensor([k for k, w in enumerate(want) if w])
        out = sample(model.forward(x, torch.tensor(pos), lrows))
        for k, i in enumerate(rows):
            tokens[i, count[i]] = out[k]
            count[i] += 1
        passes += 1
    return passes


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shape", default="GPT-B", choices=sorted(SHAPES))
    ap.add_argument("--grid", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--policies", default="ntp,zipar:8", help="comma separated: ntp, zipar:S")
    ap.add_argument("--cfg", default="1", help="comma separated guidance scales (1 = off)")
    ap.add_argument("--json", default=None, help="write one JSON line here ('-' = stdout)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = GPT(args.shape, args.grid)
    gen = torch.Generator().manual_seed(1)
    rows = []
    with torch.inference_mode():
        generate(model, 4, 1.0, 0, gen)                       # warm-up
        for cfg in [float(c) for c in args.cfg.split(",")]:
            for p in args.policies.split(","):
                window = None if p == "ntp" else int(p.split(":")[1])
                t0 = time.perf_counter()
                passes = generate(model, window, cfg, 3, gen)
                dt = time.perf_counter() - t0
                rows.append(dict(policy=p, cfg=cfg, passes=passes, seconds=dt))
                print(f"torch {args.shape} {args.grid}x{args.grid} {p:9s} cfg {cfg:g}: {passes} passes, "
                      f"{dt:.2f} s/image, {dt / passes * 1e3:.1f} ms/pass", file=sys.stderr)
    out = json.dumps(dict(torch=torch.__version__, threads=args.threads, rows=rows))
    if args.json == "-":
        print(out)
    elif args.json:
        with open(args.json, "w") as fh:
            fh.write(out + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
