#!/usr/bin/env python3
"""Evaluate the exported fashion-16 bundle and write models/fashion-16/MODEL_CARD.md + PNGs.

  python3 tools/model_card.py [--bundle models/fashion-16] [--cfg 1,2,3,4] [--pick 3.0] [--seed 0]
          [--samples-only]

Uses the bundle's weights (f16 upcast to f32) for everything that ships; the VQ encoder (not shipped)
comes from tools/checkpoints/vq_last.pt for the reconstruction error. Sample grids: one row per class,
plain next-token sampling, temperature 1, no top-k/top-p, classifier-free guidance scale --cfg.
Writes samples_cfg<S>.png for every scale to tools/.cache/ and the picked one as
<bundle>/samples.png; the loss curve as <bundle>/loss.png.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import struct
import sys
import time
import zlib

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llamagen import load_bundle, to_uint8  # noqa: E402
import train_fashion as tf  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def write_png(path: str, img: np.ndarray):
    """img uint8 [H, W] (gray) or [H, W, 3] (RGB)."""
    img = np.ascontiguousarray(img, dtype=np.uint8)
    h, w = img.shape[:2]
    color = 0 if img.ndim == 2 else 2
    raw = b"".join(b"\x00" + img[y].tobytes() for y in range(h))

    def chunk(t, d):
        c = struct.pack(">I", len(d)) + t + d
        return c + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0))
    data += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


def tile(u8: np.ndarray, rows: int, cols: int, pad: int = 2, scale: int = 2) -> np.ndarray:
    """u8 [rows*cols, H, W] -> one gray image with padding, upscaled by `scale` (nearest)."""
    n, h, w = u8.shape
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad), 255, np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = u8[i]
    return out.repeat(scale, 0).repeat(scale, 1)


def plot_curve(path: str, steps, train, test_steps, test, width=640, height=320):
    """Tiny rasteriser: train loss (dark) and test loss (red dots), y axis from min to max of the data."""
    img = np.full((height, width, 3), 255, np.uint8)
    m = 30
    ys = np.array(list(train) + list(test), dtype=np.float64)
    lo, hi = float(ys.min()), float(ys.max())
    if hi - lo < 1e-9:
        hi = lo + 1
    smax = max(steps)

    def xy(s, v):
        x = m + int((width - 2 * m) * s / smax)
        y = height - m - int((height - 2 * m) * (v - lo) / (hi - lo))
        return x, y

    img[height - m, m:width - m] = 0
    img[m:height - m, m] = 0
    # horizontal grid lines at round loss values
    for gv in np.arange(np.ceil(lo * 2) / 2, hi, 0.5):
        _, y = xy(0, gv)
        img[y, m:width - m:4] = 180
    prev = None
    for s, v in zip(steps, train):
        p = xy(s, v)
        if prev is not None:
            n = max(abs(p[0] - prev[0]), abs(p[1] - prev[1]), 1)
            for t in np.linspace(0, 1, n + 1):
                x = int(round(prev[0] + t * (p[0] - prev[0])))
                y = int(round(prev[1] + t * (p[1] - prev[1])))
                img[y, x] = (20, 20, 120)
        prev = p
    for s, v in zip(test_steps, test):
        x, y = xy(s, v)
        img[max(0, y - 2):y + 3, max(0, x - 2):x + 3] = (220, 30, 30)
    write_png(path, img)
    return lo, hi, smax


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", default=os.path.join(ROOT, "models", "fashion-16"))
    ap.add_argument("--cfg", default="1,2,3,4")
    ap.add_argument("--pick", type=float, default=3.0)
    ap.add_argument("--per-class", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--samples-only", action="store_true")
    ap.add_argument("--nll-images", type=int, default=500, help="test images for the GPT NLL")
    ap.add_argument("--recon-images", type=int, default=2000, help="test images for the VQ reconstruction error")
    args = ap.parse_args()
    torch.set_num_threads(2)
    conf, gpt, vq = load_bundle(args.bundle, torch.float32)
    cache_dir = os.path.join(HERE, ".cache")
    os.makedirs(cache_dir, exist_ok=True)
    nc = conf["gpt"]["num_classes"]

    # ---- samples ------------------------------------------------------------------------
    labels = torch.arange(nc).repeat_interleave(args.per_class)
    scales = [float(s) for s in args.cfg.split(",")]
    if args.pick not in scales:
        scales.append(args.pick)
    t_sample = {}
    for s in scales:
        g = torch.Generator().manual_seed(args.seed)
        t0 = time.time()
        toks = gpt.generate(labels, cfg_scale=s, temperature=1.0, generator=g)
        with torch.no_grad():
            u8 = to_uint8(vq.decode_code(toks))[:, 0].numpy()
        t_sample[s] = time.time() - t0
        write_png(os.path.join(cache_dir, f"samples_cfg{s:g}.png"), tile(u8, nc, args.per_class))
        if s == args.pick:
            write_png(os.path.join(args.bundle, "samples.png"), tile(u8, nc, args.per_class))
        print(f"cfg {s}: sampled {len(labels)} images in {t_sample[s]:.1f}s")
    if args.samples_only:
        return

    # ---- GPT held-out loss (shipped weights) -------------------------------------------------
    data = torch.load(os.path.join(HERE, "checkpoints", "tokens.pt"), weights_only=False)
    Tte = data["test"]["tokens"].long()
    Yte = data["test"]["labels"].long()
    nll, nll_null, n = 0.0, 0.0, 0
    with torch.no_grad():
        for i in range(0, min(args.nll_images, Tte.shape[0]), 250):
            t, y = Tte[i:min(i + 250, args.nll_images)], Yte[i:min(i + 250, args.nll_images)]
            lg = gpt(t, y)
            nll += F.cross_entropy(lg.reshape(-1, lg.shape[-1]), t.reshape(-1), reduction="sum").item()
            lg = gpt(t, torch.full_like(y, nc))
            nll_null += F.cross_entropy(lg.reshape(-1, lg.shape[-1]), t.reshape(-1), reduction="sum").item()
            n += t.numel()
    test_nll, test_nll_null = nll / n, nll_null / n

    # ---- VQ reconstruction on the test split (checkpoint encoder + shipped decoder) -----------
    full = tf.load_vq()
    xte, _ = tf.load_split("test")
    xte = xte[:args.recon_images]
    mse, l1, mse_u8, cnt = 0.0, 0.0, 0.0, 0
    used = torch.zeros(conf["vq"]["codebook_size"])
    with torch.no_grad():
        for i in range(0, xte.shape[0], 500):
            x = tf.to_tensor(xte[i:i + 500])
            _, _, _, idx = full.encode(x)
            rec = vq.decode_code(idx)
            mse += ((rec - x) ** 2).sum().item()
            l1 += (rec - x).abs().sum().item()
            ref_u8 = torch.from_numpy(np.pad(xte[i:i + 500], ((0, 0), (2, 2), (2, 2)))).float()
            mse_u8 += ((to_uint8(rec)[:, 0].float() - ref_u8) ** 2).sum().item()
            cnt += x.numel()
            used += torch.bincount(idx.flatten(), minlength=used.numel()).float()
    mse, l1, mse_u8 = mse / cnt, l1 / cnt, mse_u8 / cnt
    psnr = 10 * np.log10(255.0 ** 2 / mse_u8)
    p = used / used.sum()
    perplexity = float(torch.exp(-(p[p > 0] * p[p > 0].log()).sum()))
    usage_test = int((used > 0).sum())
    usage_train = len(torch.unique(data["train"]["tokens"].long()))

    # ---- training logs ---------------------------------------------------------------------
    rows = list(csv.DictReader(open(os.path.join(HERE, "checkpoints", "gpt_log.csv"))))
    steps = [int(r["step"]) for r in rows]
    train = [float(r["train_loss"]) for r in rows]
    tsteps = [int(r["step"]) for r in rows if r["test_loss"]]
    tloss = [float(r["test_loss"]) for r in rows if r["test_loss"]]
    y_lo, y_hi, x_max = plot_curve(os.path.join(args.bundle, "loss.png"), steps, train, tsteps, tloss)
    vrows = list(csv.DictReader(open(os.path.join(HERE, "checkpoints", "vq_log.csv"))))
    gck = torch.load(os.path.join(HERE, "checkpoints", "gpt_last.pt"), weights_only=False, map_location="cpu")
    from safetensors import safe_open
    with safe_open(os.path.join(args.bundle, "gpt.safetensors"), "pt") as fh:
        bundle_step = int((fh.metadata() or {}).get("step") or -1)
    if bundle_step != gck["step"]:
        print(f"warning: bundle is step {bundle_step} but gpt_last.pt is step {gck['step']}; re-export first")
    vck = torch.load(os.path.join(HERE, "checkpoints", "vq_last.pt"), weights_only=False, map_location="cpu")
    g_params = sum(p.numel() for p in gpt.parameters())
    v_params_dec = sum(p.numel() for p in vq.parameters())
    v_params_all = sum(v.numel() for k, v in vck["model"].items() if not k.startswith("quantize.codebook_used"))
    gsize = os.path.getsize(os.path.join(args.bundle, "gpt.safetensors"))
    vsize = os.path.getsize(os.path.join(args.bundle, "vq.safetensors"))
    batch = gck.get("batch", 32)
    n_tr, n_te = data["train"]["tokens"].shape[0], data["test"]["tokens"].shape[0]

    # loss table: ~12 evenly spaced rows
    pick_rows = [rows[int(i)] for i in np.linspace(0, len(rows) - 1, min(12, len(rows)))]
    table = "\n".join(f"| {r['step']} | {r['train_loss']} | {r['test_loss'] or ''} | {float(r['elapsed_s']) / 60:.1f} |"
                      for r in pick_rows)
    last_test = tloss[-1] if tloss else float("nan")
    g = conf["gpt"]
    v = conf["vq"]
    card = f"""# fashion-16: class-conditional LlamaGen on Fashion-MNIST (16x16 tokens)

A small model with the exact LlamaGen c2i architecture (2-D RoPE with the zeroed class-token prefix, fused
`wqkv`, SwiGLU, RMSNorm, null class row for classifier-free guidance) and LlamaGen's VQ decoder, trained
from scratch on CPU (2 cores) so the Swift service has a real, small model to serve and test against.
Produced by `tools/train_fashion.py`, exported by `tools/export_bundle.py`, this card by `tools/model_card.py`.

## Files

| file | contents | size |
|---|---|---|
| `config.json` | architecture (format read by the Swift side) | |
| `gpt.safetensors` | all GPT weights, F16 | {gsize / 1e6:.2f} MB |
| `vq.safetensors` | VQ decoder side only (`quantize.embedding.weight`, `post_quant_conv.*`, `decoder.*`), F16 | {vsize / 1e6:.2f} MB |
| `samples.png` | one row per class (t-shirt ... ankle-boot), {args.per_class} samples each, CFG {args.pick:g} | |
| `loss.png` | GPT training loss (blue line, per {int(rows[1]['step']) - int(rows[0]['step']) if len(rows) > 1 else '?'}-step mean) and held-out loss (red dots); y axis {y_lo:.2f} (bottom) to {y_hi:.2f} nats (top), dotted lines at multiples of 0.5 nats; x axis steps 0 to {x_max} | |

## Data

Fashion-MNIST (Debian package `dataset-fashion-mnist`, `/usr/share/datasets/fashion-mnist/`), 60,000 train /
10,000 test gray 28x28 images, 10 classes. Scaled to [-1, 1] and padded by 2 px of background (-1) to 32x32.
No augmentation. Class ids follow the dataset: {", ".join(f"{i} {c}" for i, c in enumerate(conf["class_names"]))}.

## Architecture

GPT (LlamaGen `Transformer`, c2i): dim {g['dim']}, {g['n_layer']} layers, {g['n_head']} heads (head_dim
{g['dim'] // g['n_head']}), n_kv_head {g['n_kv_head']}, FFN hidden {gpt.cfg.ffn_hidden} (multiple_of {g['multiple_of']}),
vocab {g['vocab_size']}, {g['num_classes']} classes + null row, 1 class token, 16x16 grid (256 tokens), RMSNorm eps
{g['norm_eps']}, RoPE base {g['rope_base']}. **{g_params:,} parameters.**

VQ (LlamaGen `VQModel` layout, one downsampling level): ch {v['ch']}, ch_mult {v['ch_mult']}, {v['num_res_blocks']} res
block(s) per level (decoder: {v['num_res_blocks'] + 1}), z_channels {v['z_channels']}, codebook {v['codebook_size']} x
{v['codebook_embed_dim']} l2-normalised, GroupNorm(32, eps 1e-6), attention at the 16x16 level and in the middle, 1
output channel (gray). 32x32 image <-> 16x16 tokens. {v_params_all:,} parameters in total, {v_params_dec:,} in the
shipped decoder side.

## Training

* VQ: {vck['step']} steps, batch 32, Adam (betas 0.9/0.95), peak lr 1e-3 with 100 warm-up steps and a cosine decay
  driven by whichever of the step budget (1500) and the wall-clock budget ran out first (the machine was shared with
  Swift builds, so the wall clock won); loss = L1 + MSE + codebook MSE + 0.25 commitment (l2-normalised vectors);
  dead codes (EMA count < 0.01) re-initialised from encoder outputs every 100 steps (none were needed: all 512 codes
  stayed in use); about {float(vrows[-1]['elapsed_s']) / 60:.0f} min of training.
* Token grids cached once for the first {n_tr:,} training and {n_te:,} test images.
* GPT: {gck['step']} steps x batch {batch} ({gck['step'] * batch:,} sequences = {gck['step'] * batch / n_tr:.2f} epochs
  of the cached set), AdamW (betas 0.9/0.95, weight decay 0.05 on matrices), grad-clip 1.0, class dropout 0.1 (null
  class), no other dropout, fp32. LR: the first 93 steps warmed up toward 1e-3; training was then resumed with a
  1.5e-3 peak and a cosine decay to 10 % of the peak over a 73-minute wall-clock budget. **{gck.get('elapsed', 0) / 60:.0f} min
  of training wall time** on 2 shared CPU cores (torch 2 threads; the machine ran Swift builds at the same time,
  so a step took about 4-6 s instead of the 0.35 s measured on an idle machine).

## Results

| metric | value |
|---|---|
| GPT final train loss (last logged mean) | {train[-1]:.4f} nats/token |
| GPT held-out loss (last logged, first 512 test images, fp32 ckpt) | {last_test:.4f} nats/token |
| GPT test NLL, shipped F16 weights, first {args.nll_images} test images, true class | {test_nll:.4f} nats/token ({test_nll / np.log(2):.3f} bits) |
| same, null class (unconditional) | {test_nll_null:.4f} nats/token |
| VQ test reconstruction MSE (in [-1,1] units, first {xte.shape[0]} test images, shipped decoder) | {mse:.5f} (L1 {l1:.4f}) |
| VQ test reconstruction PSNR on uint8 pixels vs the padded original | {psnr:.2f} dB |
| codebook usage: distinct codes in the cached train / test token grids | {usage_train} / {usage_test} of {v['codebook_size']} |
| codebook perplexity on the test split | {perplexity:.1f} |
| sampling time, {len(labels)} images, PyTorch 2 threads, CFG {args.pick:g} (batch {2 * len(labels)} with CFG), KV cache | {t_sample[args.pick]:.1f} s |

Loss curve (`loss.png`) and a few points of the log (`tools/checkpoints/gpt_log.csv`):

![loss](loss.png)

| step | train loss | held-out loss | minutes |
|---|---|---|---|
{table}

## Samples

![samples](samples.png)

One row per class (top to bottom: {", ".join(conf["class_names"])}); plain next-token prediction, temperature 1.0,
no top-k/top-p, classifier-free guidance scale {args.pick:g} (logits = uncond + (cond - uncond) * scale), seed
{args.seed}, sampled with `tools/llamagen.py` from the shipped F16 weights. Other scales for comparison can be
regenerated with `python3 tools/model_card.py --samples-only --cfg 1,2,3,4` (written to tools/.cache/).

## Limitations

Tiny model, less than {max(1, int(np.ceil(gck['step'] * batch / 60000)))} epoch(s) of training on CPU: samples are recognisable garments but not
Fashion-MNIST quality; it exists to exercise the serving stack (and ZipAR parallel decoding) with real, non-random
weights. Pixel convention: decoder output x in [-1, 1] -> uint8 = clamp(127.5 x + 128, 0, 255) truncated.
"""
    with open(os.path.join(args.bundle, "MODEL_CARD.md"), "w") as f:
        f.write(card)
    summary = {"gpt_params": g_params, "vq_params": v_params_all, "vq_decoder_params": v_params_dec,
               "gpt_steps": gck["step"], "gpt_minutes": gck.get("elapsed", 0) / 60, "train_loss": train[-1],
               "heldout_loss": last_test, "test_nll_f16": test_nll, "test_nll_null": test_nll_null,
               "vq_mse": mse, "vq_l1": l1, "psnr_u8": psnr, "usage_train": usage_train, "usage_test": usage_test,
               "perplexity": perplexity}
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
