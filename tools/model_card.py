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
import math
import os
import re
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


def plot_curve(path: str, steps, train, test_steps, test, width=640, height=320, ema_steps=(), ema=()):
    """Tiny rasteriser: train loss (dark) and test loss (red dots), optionally the EMA weights' test loss (green
    dots); y axis from min to max of the data."""
    img = np.full((height, width, 3), 255, np.uint8)
    m = 30
    ys = np.array(list(train) + list(test) + list(ema), dtype=np.float64)
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
    for s, v in zip(ema_steps, ema):
        x, y = xy(s, v)
        img[max(0, y - 2):y + 3, max(0, x - 2):x + 3] = (20, 160, 40)
    write_png(path, img)
    return lo, hi, smax


def argparse_default(src: str, flag: str):
    """Default of `flag` in a tools script's argparse block (the card states what the code does)."""
    m = re.search(r'add_argument\("' + re.escape(flag) + r'"[^)]*?default=([^,)]+)', src)
    return eval(m.group(1), {}) if m else None  # noqa: S307 (a literal of our own source)


def lr_progress(lr: float, peak: float, floor: float = 0.1) -> float:
    """Inverse of train_fashion.cosine_lr after warm-up: schedule position in [0, 1] for a logged lr."""
    c = min(1.0, max(-1.0, (lr / peak - floor) / ((1 - floor) * 0.5) - 1))
    return math.acos(c) / math.pi


def training_sessions(log_path: str, peak: float, warmup: int, prefix: str = "gpt step"):
    """Sessions of a resumed run from its log: start step, the step budget T of the `<prefix> a/T` lines, the note
    of a `resumed with ...` line, and whether the cosine was driven by the wall clock (the logged lr is further along
    than step/T; then the wall-clock budget implied by it, in minutes)."""
    sessions, note = [], None
    line_re = re.compile(re.escape(prefix) + r" (\d+)/(\d+) .*?lr ([0-9.e+-]+) .*?elapsed ([0-9.]+)s")
    for line in open(log_path):
        m = re.search(r"resumed with (.*)$", line)
        if m:
            note = m.group(1).strip()
            continue
        m = re.search(r"resumed (?:gpt )?at step (\d+)", line)
        if m or not sessions and line_re.search(line):
            sessions.append({"start": int(m.group(1)) if m else 0, "budget": None, "note": note, "wall_min": None,
                             "last": None})
            note = None
        m = line_re.search(line)
        if m and sessions:
            a, T, lr, el = int(m.group(1)), int(m.group(2)), float(m.group(3)), float(m.group(4))
            se = sessions[-1]
            se["budget"] = se["budget"] or T
            se["last"] = a
            if a > warmup + 25:  # the last row of the session: the least relative timing error
                p = lr_progress(lr, peak)
                se["wall_min"] = el / p / 60 if p > a / T + 0.02 else 0.0
    return sessions


def v2_training(ck, gck, vck, rows, vrows, n_tr, n_te, batch, bundle_meta) -> str:
    """Training section for the v2 recipe, from its logs/checkpoints and train_fashion.py's own defaults."""
    src = open(os.path.join(HERE, "train_fashion.py")).read()
    pr = tf.PRESETS["v2"]
    cd, wd, warmup = (argparse_default(src, f) for f in ("--class-dropout", "--wd", "--warmup"))
    # VQ: step budget from vq.log ("vq step a/T"), wall-clock budget of the preset, time from vq_log.csv
    vlog = open(os.path.join(ck, "vq.log")).read()
    vbud = [int(x) for x in re.findall(r"vq step \d+/(\d+)", vlog)]
    vbudget = vbud[-1] if vbud else pr["vq_args"]["steps"]
    vmin = float(vrows[-1]["elapsed_s"]) / 60
    reinit = sum(int(x) for x in re.findall(r"re-initialised (\d+) dead codes", vlog))
    reinit_txt = f"{reinit} re-initialised in all" if reinit else "none were needed"
    vtest = re.findall(r"vq test mse ([0-9.]+) l1 ([0-9.]+)", vlog)
    vb, vlr, vwall = pr["vq_args"]["batch"], max(float(r["lr"]) for r in vrows), pr["vq_args"]["minutes"]
    which = (f"the {vwall:g}-minute wall-clock budget ran out first, at step {vck['step']} of the {vbudget}-step budget"
             if vck["step"] < vbudget else f"the {vbudget}-step budget ran out first")
    vq_md = (f"* VQ: {vck['step']} steps x batch {vb} ({vck['step'] * vb / 60000:.2f} epochs of the 60,000 training "
             f"images), Adam (betas 0.9/0.95), peak lr {vlr:g} after a warm-up of ~100 steps, cosine decay to 10 % of "
             f"the peak driven by whichever of the step and wall-clock budgets ran out first ({which}); loss = L1 + MSE "
             f"+ codebook MSE + 0.25 commitment (l2-normalised vectors); dead codes (EMA count < 0.01) re-initialised "
             f"from encoder outputs every 100 steps ({reinit_txt}); {vmin:.0f} min of training"
             + (f"; held-out MSE {vtest[-1][0]} / L1 {vtest[-1][1]} on the first 1,000 test images at the end (`vq.log`)."
                if vtest else "."))
    peak = max(float(r["lr"]) for r in rows)
    sess = training_sessions(os.path.join(ck, "train.log"), peak, warmup)
    srows = []
    for i, se in enumerate(sess):
        drive = "?" if se["wall_min"] is None else (
            f"wall clock (budget ~{se['wall_min']:.0f} min incl. earlier sessions)" if se["wall_min"] else "step budget")
        srows.append(f"| {i + 1} | {se['start']} | {se['last'] if se['last'] is not None else ''} | {se['budget'] or ''} | "
                     f"{drive} | {se['note'] or ''} |")
    final_budget = sess[-1]["budget"] if sess else None
    step = gck["step"]
    el = float(rows[-1]["elapsed_s"])
    ema = gck.get("ema_decay")
    status = ("finished its final budget" if final_budget and step >= final_budget else
              f"had reached step {step} of its final {final_budget}-step budget when this bundle was exported" if final_budget else f"at step {step}")
    gpt_md = f"""* Token grids cached once with this VQ for all {n_tr:,} training and the first {n_te:,} test images.
* GPT: **{step} steps** x batch {batch} ({step * batch:,} sequences = **{step * batch / n_tr:.2f} epochs** of the {n_tr:,}
  cached training grids); the run {status}. AdamW (betas 0.9/0.95, weight decay {wd} on the weight matrices, none on
  norm gains), gradient-norm clipping at 1.0, fp32, no dropout; class dropout {cd} (the label is replaced by the
  null class, the row classifier-free guidance uses). EMA of the weights with decay {ema} (ramped as min({ema},
  (1+step)/(10+step)) so the random init fades out), updated after every step; **the shipped weights are the EMA
  weights** (bundle metadata: `weights` = `{bundle_meta.get('weights', 'raw')}`, step {bundle_meta.get('step', '?')}).
* LR: linear warm-up over {warmup} steps to the peak {peak:g}, then a cosine decay to 10 % of the peak. The schedule
  position is whichever of the step budget (`--steps`) and the wall-clock budget (`--minutes`, resumed time
  included) is used up more. The run was stopped and resumed several times, and the step budget was shortened on
  resume; each session's cosine follows the budget it was given (so the LR jumps at a resume). Final step budget:
  **{final_budget}** steps. Sessions, from `{os.path.relpath(os.path.join(ck, 'train.log'), ROOT)}` (steps of an
  interrupted session past its last checkpoint were redone by the next one):

| run | started at step | last logged step | step budget | cosine driven by | note in the log |
|---|---|---|---|---|---|
""" + "\n".join(srows) + f"""

* **{el / 60:.0f} min ({el / 3600:.1f} h) of training wall time** (elapsed_s of the last log row: training time only,
  without the time between sessions), on 2 CPU cores shared with another training and with Swift builds, torch 1
  thread; a step took {min(el / max(1, step), 1e9):.1f} s on average."""
    return vq_md + "\n" + gpt_md


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", choices=sorted(tf.PRESETS), default="v2",
                    help="train_fashion.py recipe the bundle was trained with: checkpoint folder, logs, Training text")
    ap.add_argument("--bundle", default=os.path.join(ROOT, "models", "fashion-16"))
    ap.add_argument("--cfg", default="1,2,3,4")
    ap.add_argument("--pick", type=float, default=3.0)
    ap.add_argument("--per-class", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--samples-only", action="store_true")
    ap.add_argument("--nll-images", type=int, default=500, help="test images for the GPT NLL")
    ap.add_argument("--recon-images", type=int, default=2000, help="test images for the VQ reconstruction error")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: 2 for v1, 1 for v2)")
    args = ap.parse_args()
    threads = args.threads or (2 if args.preset == "v1" else 1)
    torch.set_num_threads(threads)
    tf.use_preset(args.preset)
    ck = tf.CKPT
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
    data = torch.load(os.path.join(ck, "tokens.pt"), weights_only=False)
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
    raw_rows = list(csv.DictReader(open(os.path.join(ck, "gpt_log.csv"))))
    # a resume restarts from the last checkpoint: rows logged after it by the interrupted run are superseded
    rows = []
    for r in raw_rows:
        while rows and int(rows[-1]["step"]) >= int(r["step"]):
            rows.pop()
        rows.append(r)
    steps = [int(r["step"]) for r in rows]
    train = [float(r["train_loss"]) for r in rows]
    tsteps = [int(r["step"]) for r in rows if r["test_loss"]]
    tloss = [float(r["test_loss"]) for r in rows if r["test_loss"]]
    esteps = [int(r["step"]) for r in rows if r.get("ema_test_loss")]
    eloss = [float(r["ema_test_loss"]) for r in rows if r.get("ema_test_loss")]
    y_lo, y_hi, x_max = plot_curve(os.path.join(args.bundle, "loss.png"), steps, train, tsteps, tloss,
                                   ema_steps=esteps, ema=eloss)
    vrows = list(csv.DictReader(open(os.path.join(ck, "vq_log.csv"))))
    gck = torch.load(os.path.join(ck, "gpt_last.pt"), weights_only=False, map_location="cpu")
    from safetensors import safe_open
    with safe_open(os.path.join(args.bundle, "gpt.safetensors"), "pt") as fh:
        bundle_meta = fh.metadata() or {}
        bundle_step = int(bundle_meta.get("step") or -1)
    if bundle_step != gck["step"]:
        print(f"warning: bundle is step {bundle_step} but gpt_last.pt is step {gck['step']}; re-export first")
    vck = torch.load(os.path.join(ck, "vq_last.pt"), weights_only=False, map_location="cpu")
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
    v2 = args.preset != "v1"
    ema_tl = eloss[-1] if eloss else None
    if v2:
        pick_rows = [r for r in rows if r["test_loss"]]
        pick_rows = [rows[0]] + pick_rows + ([rows[-1]] if rows[-1] not in pick_rows else [])
        table = "\n".join(f"| {r['step']} | {r['train_loss']} | {r['test_loss'] or ''} | {r.get('ema_test_loss') or ''} | "
                          f"{float(r['elapsed_s']) / 60:.1f} |" for r in pick_rows)
        training_md = v2_training(ck, gck, vck, rows, vrows, n_tr, n_te, batch, bundle_meta)
        title_extra = f" (recipe `{args.preset}`)"
        trained_on = "CPU (2 shared cores, 1 torch thread)"
        loss_desc = (f"GPT training loss (blue line, per {int(rows[1]['step']) - int(rows[0]['step']) if len(rows) > 1 else '?'}"
                     f"-step mean), held-out loss of the raw weights (red dots) and of the EMA weights (green dots); "
                     f"y axis {y_lo:.2f} (bottom) to {y_hi:.2f} nats (top), dotted lines at multiples of 0.5 nats; "
                     f"x axis steps 0 to {x_max}")
        heldout_rows = (f"| GPT held-out loss, raw weights (last logged, first {min(512, n_te)} test images, fp32 ckpt) | "
                        f"{last_test:.4f} nats/token |\n| same, EMA weights (the shipped ones, fp32) | "
                        + (f"{ema_tl:.4f} nats/token |" if ema_tl is not None else "n/a |"))
        table_head = "| step | train loss | held-out loss (raw) | held-out loss (EMA) | minutes |\n|---|---|---|---|---|"
        limit_md = (f"Small model, {gck['step'] * batch / n_tr:.2f} epochs of training on CPU: samples are recognisable "
                    "garments but not Fashion-MNIST quality; it exists to exercise the serving stack (and ZipAR parallel "
                    "decoding) with real, non-random\nweights.")
    else:
        training_md = f"""* VQ: {vck['step']} steps, batch 32, Adam (betas 0.9/0.95), peak lr 1e-3 with 100 warm-up steps and a cosine decay
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
  so a step took about 4-6 s instead of the 0.35 s measured on an idle machine)."""
        title_extra = ""
        trained_on = "CPU (2 cores)"
        loss_desc = (f"GPT training loss (blue line, per {int(rows[1]['step']) - int(rows[0]['step']) if len(rows) > 1 else '?'}"
                     f"-step mean) and held-out loss (red dots); y axis {y_lo:.2f} (bottom) to {y_hi:.2f} nats (top), "
                     f"dotted lines at multiples of 0.5 nats; x axis steps 0 to {x_max}")
        heldout_rows = f"| GPT held-out loss (last logged, first 512 test images, fp32 ckpt) | {last_test:.4f} nats/token |"
        table_head = "| step | train loss | held-out loss | minutes |\n|---|---|---|---|"
        limit_md = (f"Tiny model, less than {max(1, int(np.ceil(gck['step'] * batch / 60000)))} epoch(s) of training on CPU: "
                    "samples are recognisable garments but not\nFashion-MNIST quality; it exists to exercise the serving "
                    "stack (and ZipAR parallel decoding) with real, non-random\nweights.")
    card = f"""# fashion-16: class-conditional LlamaGen on Fashion-MNIST (16x16 tokens){title_extra}

A small model with the exact LlamaGen c2i architecture (2-D RoPE with the zeroed class-token prefix, fused
`wqkv`, SwiGLU, RMSNorm, null class row for classifier-free guidance) and LlamaGen's VQ decoder, trained
from scratch on {trained_on} so the Swift service has a real, small model to serve and test against.
Produced by `tools/train_fashion.py`, exported by `tools/export_bundle.py`, this card by `tools/model_card.py`.

## Files

| file | contents | size |
|---|---|---|
| `config.json` | architecture (format read by the Swift side) | |
| `gpt.safetensors` | all GPT weights, F16 | {gsize / 1e6:.2f} MB |
| `vq.safetensors` | VQ decoder side only (`quantize.embedding.weight`, `post_quant_conv.*`, `decoder.*`), F16 | {vsize / 1e6:.2f} MB |
| `samples.png` | one row per class (t-shirt ... ankle-boot), {args.per_class} samples each, CFG {args.pick:g} | |
| `loss.png` | {loss_desc} | |

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

{training_md}

## Results

| metric | value |
|---|---|
| GPT final train loss (last logged mean) | {train[-1]:.4f} nats/token |
{heldout_rows}
| GPT test NLL, shipped F16 weights, first {args.nll_images} test images, true class | {test_nll:.4f} nats/token ({test_nll / np.log(2):.3f} bits) |
| same, null class (unconditional) | {test_nll_null:.4f} nats/token |
| VQ test reconstruction MSE (in [-1,1] units, first {xte.shape[0]} test images, shipped decoder) | {mse:.5f} (L1 {l1:.4f}) |
| VQ test reconstruction PSNR on uint8 pixels vs the padded original | {psnr:.2f} dB |
| codebook usage: distinct codes in the cached train / test token grids | {usage_train} / {usage_test} of {v['codebook_size']} |
| codebook perplexity on the test split | {perplexity:.1f} |
| sampling time, {len(labels)} images, PyTorch {threads} thread{"s" if threads > 1 else ""}, CFG {args.pick:g} (batch {2 * len(labels)} with CFG), KV cache | {t_sample[args.pick]:.1f} s |

Loss curve (`loss.png`) and a few points of the log (`{os.path.relpath(os.path.join(ck, "gpt_log.csv"), ROOT)}`):

![loss](loss.png)

{table_head}
{table}

## Samples

![samples](samples.png)

One row per class (top to bottom: {", ".join(conf["class_names"])}); plain next-token prediction, temperature 1.0,
no top-k/top-p, classifier-free guidance scale {args.pick:g} (logits = uncond + (cond - uncond) * scale), seed
{args.seed}, sampled with `tools/llamagen.py` from the shipped F16 weights. Other scales for comparison can be
regenerated with `python3 tools/model_card.py --preset {args.preset} --samples-only --cfg 1,2,3,4` (written to tools/.cache/).

## Limitations

{limit_md} Pixel convention: decoder output x in [-1, 1] -> uint8 = clamp(127.5 x + 128, 0, 255) truncated.
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
