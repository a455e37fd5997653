#!/usr/bin/env python3
"""Write a bundle's MODEL_CARD.md and loss.png (and, for the class model, samples.png): one tool, two kinds of model.

  python3 -m tools.eval.model_card [--preset v2] [--cfg 1,2,3,4] [--pick 3.0] [--seed 0] [--samples-only]
  python3 -m tools.eval.model_card --preset text [--nll-images 256]

--preset picks the model and with it the defaults of --bundle and --ckpt-dir:
  v1, v2   the class-conditional models/fashion-16 (tools.train.train_fashion's recipe of that name; the shipped
           bundle is v2). Evaluates the bundle's weights (f16 upcast to f32): samples, test NLL, and the VQ
           reconstruction error with the checkpoint's encoder (<ckpt-dir>/vq_last.pt; the encoder is not shipped).
           Sample grids: one row per class, plain next-token sampling, temperature 1, no top-k/top-p,
           classifier-free guidance scale --cfg; samples_cfg<S>.png for every scale go to tools/.cache/, the
           picked one to <bundle>/samples.png.
  text     the text-to-image models/fashion-text-16 (tools.train.text2img). Everything comes from the bundle
           (config.json, layout.json, tokenizer.json, safetensors metadata) and the training logs (log.csv,
           train.log); --nll-images N > 0 also measures the held-out image-token NLL of the shipped weights on the
           first N test captions + grids with train.py's own loss code. The quality table lives in
           docs/quality-text.md.
Both read the training logs the same way: rows an interrupted session logged past its last checkpoint are
dropped, and the log's `resumed ...` lines split the run into the sessions the card lists.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import time

import numpy as np

from tools.images import plot_curve, tile, write_png
from tools.paths import CACHE, CHECKPOINTS, MODELS, ROOT, TOOLS

PRESETS = ("v1", "v2", "text")
DEFAULT_BUNDLE = {"v1": "fashion-16", "v2": "fashion-16", "text": "fashion-text-16"}
# the progress lines of the two training logs: `gpt step a/T ... lr X ... elapsed Es` and `[...] step a/T ...`
CLASS_STEP = r"gpt step (?P<step>\d+)/(?P<budget>\d+) .*?lr (?P<lr>[0-9.e+-]+) .*?elapsed (?P<elapsed>[0-9.]+)s"
TEXT_STEP = r"\] step (?P<step>\d+)/(?P<budget>\d+) "
TEXT_FIRST = r"Emu3ForCausalLM"  # the model summary that opens a fresh text run


# ------------------------------------------------------------------------------------ shared: logs and sources

def argparse_default(src: str, flag: str):
    """Default of `flag` in a tools script's argparse block (the card states what the code does)."""
    m = re.search(r'add_argument\("' + re.escape(flag) + r'"[^)]*?default=([^,)]+)', src)
    return eval(m.group(1), {}) if m else None  # noqa: S307 (a literal of our own source)


def lr_progress(lr: float, peak: float, floor: float = 0.1) -> float:
    """Inverse of train_fashion.cosine_lr after warm-up: schedule position in [0, 1] for a logged lr."""
    c = min(1.0, max(-1.0, (lr / peak - floor) / ((1 - floor) * 0.5) - 1))
    return math.acos(c) / math.pi


def read_log_rows(csv_path: str) -> list[dict]:
    """The CSV log without the rows an interrupted session logged past its last checkpoint (a resume restarts
    from the checkpoint and logs those steps again)."""
    rows = []
    for r in csv.DictReader(open(csv_path)):
        while rows and int(rows[-1]["step"]) >= int(r["step"]):
            rows.pop()
        rows.append(r)
    return rows


def training_sessions(log_path: str, step_re: str, first_re: str | None = None, peak: float | None = None,
                      warmup: int = 0) -> list[dict]:
    """Sessions of a resumed run from its text log, each {start, budget, last, note, wall_min}.

    A session starts at a `resumed at step N` line (also `resumed gpt at step N`), the first one at the first line
    matching `first_re` (default: the first progress line). `step_re` matches the progress lines, with named groups
    step and budget (the `a/T` of the line): budget = the session's first T, last = its last a. note = the text of
    a `resumed with ...` line before the session. With `peak` (and groups lr, elapsed): whether the cosine was
    driven by the wall clock (the logged lr further along than step/T), wall_min = the wall-clock budget implied by
    it in minutes, 0.0 when the step budget drove it."""
    sessions, note = [], None
    step_pat = re.compile(step_re)
    first_pat = re.compile(first_re) if first_re else step_pat
    for line in open(log_path):
        m = re.search(r"resumed with (.*)$", line)
        if m:
            note = m.group(1).strip()
            continue
        m = re.search(r"resumed (?:gpt )?at step (\d+)", line)
        if m or not sessions and first_pat.search(line):
            sessions.append({"start": int(m.group(1)) if m else 0, "budget": None, "note": note, "wall_min": None,
                             "last": None})
            note = None
        m = step_pat.search(line)
        if m and sessions:
            a, T = int(m["step"]), int(m["budget"])
            se = sessions[-1]
            se["budget"] = se["budget"] or T
            se["last"] = a
            if peak is not None and a > warmup + 25:  # the last row of the session: the least relative timing error
                p = lr_progress(float(m["lr"]), peak)
                se["wall_min"] = float(m["elapsed"]) / p / 60 if p > a / T + 0.02 else 0.0
    return sessions


# ------------------------------------------------------------------------------------ the class model (v1, v2)

def v2_training(tf, ck, gck, vck, rows, vrows, n_tr, n_te, batch, bundle_meta) -> str:
    """Training section for the v2 recipe, from its logs/checkpoints and train_fashion.py's own defaults."""
    src = open(tf.__file__).read()
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
    sess = training_sessions(os.path.join(ck, "train.log"), CLASS_STEP, peak=peak, warmup=warmup)
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



def class_card(args):
    import torch
    import torch.nn.functional as F

    from tools.llamagen import load_bundle, to_uint8
    from tools.train import train_fashion as tf
    threads = args.threads or (2 if args.preset == "v1" else 1)
    torch.set_num_threads(threads)
    tf.use_preset(args.preset, args.ckpt_dir)
    ck = tf.CKPT
    conf, gpt, vq = load_bundle(args.bundle, torch.float32)
    cache_dir = CACHE
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
    rows = read_log_rows(os.path.join(ck, "gpt_log.csv"))
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
        training_md = v2_training(tf, ck, gck, vck, rows, vrows, n_tr, n_te, batch, bundle_meta)
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
Produced by `tools/train/train_fashion.py`, exported by `tools/convert/export_bundle.py`, this card by
`python3 -m tools.eval.model_card --preset {args.preset}`.

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
regenerated with `python3 -m tools.eval.model_card --preset {args.preset} --samples-only --cfg 1,2,3,4` (written to
tools/.cache/).

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


# ------------------------------------------------------------------------------------ the text-to-image model

def heldout_nll(bundle, ckpt_dir, n):
    import torch
    from tokenizers import Tokenizer
    from transformers import Emu3ForCausalLM
    from tools.train.text2img import layout as L
    from tools.train.text2img import train as T
    model = Emu3ForCausalLM.from_pretrained(bundle, dtype=torch.float32).eval()
    lay = L.Layout(Tokenizer.from_file(os.path.join(bundle, "tokenizer.json")))
    caps = json.load(open(os.path.join(ckpt_dir, "captions.json")))["test"]["captions"][:n]
    grids = torch.load(T.DEFAULT_TOKENS, weights_only=False)["test"]["tokens"][:n].long()
    return T.heldout(model, lay, caps, grids), len(caps)


def text_card(args):
    import torch
    torch.set_num_threads(args.threads or 1)
    b, ck = args.bundle, args.ckpt_dir
    conf = json.load(open(os.path.join(b, "config.json")))
    lay = json.load(open(os.path.join(b, "layout.json")))
    tok = json.load(open(os.path.join(b, "tokenizer.json")))
    src = open(os.path.join(TOOLS, "train", "text2img", "train.py")).read()
    d = {f: argparse_default(src, f) for f in ("--batch", "--lr", "--warmup", "--wd", "--ema", "--cond-dropout",
                                               "--rephrase", "--attr-drop", "--eval-n")}
    from safetensors import safe_open
    with safe_open(os.path.join(b, "model.safetensors"), "pt") as fh:
        meta = fh.metadata() or {}
        nparams = sum(fh.get_slice(k).get_shape().numel() if hasattr(fh.get_slice(k).get_shape(), "numel")
                      else int(torch.tensor(fh.get_slice(k).get_shape()).prod()) for k in fh.keys())
    with safe_open(os.path.join(b, "vq.safetensors"), "pt") as fh:
        vq_meta = fh.metadata() or {}
    src_txt = "".join(f", {k} {v}" for k, v in meta.items() if k in ("step", "weights"))
    rows = read_log_rows(os.path.join(ck, "log.csv"))
    last = rows[-1]
    tr = [r for r in rows if r["test_image_loss"]]
    plot_curve(os.path.join(b, "loss.png"), [int(r["step"]) for r in rows], [float(r["image_loss"]) for r in rows],
               [int(r["step"]) for r in tr], [float(r["test_image_loss"]) for r in tr],
               ema_steps=[int(r["step"]) for r in tr if r["ema_test_image_loss"]],
               ema=[float(r["ema_test_image_loss"]) for r in tr if r["ema_test_image_loss"]])
    step, el = int(last["step"]), float(last["elapsed_s"])
    sess = training_sessions(os.path.join(ck, "train.log"), TEXT_STEP, first_re=TEXT_FIRST)
    final_budget = sess[-1]["budget"] if sess else None
    batch = d["--batch"]
    nll = heldout_nll(b, ck, args.nll_images) if args.nll_images > 0 else None
    specials = ", ".join(f"{k.upper()} `{v['token']}` = {v['id']}" for k, v in lay["special_tokens"].items())
    n_text = lay["image_offset"]
    files = "\n".join(f"| `{f}` | {os.path.getsize(os.path.join(b, f)):,} bytes |" for f in sorted(os.listdir(b))
                      if f not in ("MODEL_CARD.md",))
    srows = "\n".join(f"| {i + 1} | {se['start']} | {se['budget'] or ''} | {se['note'] or ''} |"
                      for i, se in enumerate(sess))
    rel = lambda p: os.path.relpath(p, ROOT)  # noqa: E731
    last_t = tr[-1] if tr else None
    card = f"""# fashion-text-16: text-to-image on Fashion-MNIST (Emu3 architecture, 16x16 tokens)

A small text-to-image model in the Emu3 layout: Emu3's text transformer (`Emu3ForCausalLM`, a Llama-style decoder)
over one vocabulary of caption tokens and VQ codes, trained from scratch on CPU so the Swift service has a real
text-conditioned model to serve. Produced by `tools/train/text2img/train.py`, exported by
`tools/train/text2img/export.py`, this card by `python3 -m tools.eval.model_card --preset text` (see
`tools/train/text2img/README.md`).

## Files

| file | size |
|---|---|
{files}
| `MODEL_CARD.md` | this card |

`config.json` + `model.safetensors` (F16, {nparams:,} parameters{src_txt}) are `Emu3ForCausalLM.save_pretrained` output; `generation_config.json` comes with
them; `tokenizer.json` is the caption tokenizer; `vq.safetensors` the VQ decoder side (VQ step {vq_meta.get('step', '?')});
`layout.json` the token layout; `attributes.json` the per-class attribute thresholds; `loss.png` the loss curve.

## Data

Fashion-MNIST (Debian package `dataset-fashion-mnist`, `/usr/share/datasets/fashion-mnist/`): all 60,000 training
images, the first 2,000 test images held out; 28x28 padded to 32x32, encoded once by the VQ to 16x16 code grids.
Captions (`tools/train/text2img/captions.py`): the class plus three attributes measured on each image over the garment
mask (pixels > 24): brightness (mean intensity), size (pixel count), texture (mean |3x3 Laplacian|). Per class,
the bottom tercile of the training set is `dark` / `small` / `plain`, the top tercile `light` / `large` /
`patterned`, the middle is not named. Phrasings use synonyms, several word orders and optional prefixes ("a photo
of ..."). During training each image gets its own caption, or with probability {d['--rephrase']} (of the
non-dropped ones) a fresh phrasing of the same labels with each named attribute dropped with probability
{d['--attr-drop']}, or with probability {d['--cond-dropout']} the empty caption: the unconditional sequence used for
classifier-free guidance (`[BOS] [SOI] meta [IMG] ...`).

## Tokenizer

Byte-level BPE like Emu3's (Qwen split regex, NFC), trained with `tokenizers` on the captions
(`tools/train/text2img/train_tokenizer.py`): {len(tok['model']['vocab'])} ids in the BPE model ({len(tok['model'].get('merges', []))}
merges), {n_text} text ids in all (specials + bytes + merges), then {lay['codebook_size']} visual tokens
`{lay['image_token_format']}` as added tokens at ids {n_text}..{n_text + lay['codebook_size'] - 1}. Special
tokens: {specials}.

## Architecture

`Emu3ForCausalLM` (`config.json`): {conf['num_hidden_layers']} layers, hidden {conf['hidden_size']},
{conf['num_attention_heads']} heads / {conf['num_key_value_heads']} KV heads (head_dim
{conf['hidden_size'] // conf['num_attention_heads']}), SwiGLU FFN {conf['intermediate_size']}, RMSNorm eps
{conf['rms_norm_eps']}, 1-D RoPE theta {conf['rope_parameters']['rope_theta']:g}, vocab {conf['vocab_size']}
({n_text} text + {lay['codebook_size']} visual), untied `lm_head`, max positions {conf['max_position_embeddings']}.
**{nparams:,} parameters.**

Layout (`layout.json`): `{lay['layout']}`, meta text "{lay['meta_text']}" (ids {lay['meta_ids']}), image token
id = {lay['image_offset']} + VQ code, an [EOL] after each row of {lay['grid']['cols']}. Positions are 1-D from 0 at
[BOS]. The loss covers every target after [SOI]; the caption and [SOI] are the condition.

## VQ

The VQ tokenizer of `tools/train/train_fashion.py --preset v2` (LlamaGen `VQModel` layout, 512 x 8 l2-normalised
codebook, 32x32 gray image <-> 16x16 codes; the same VQ as models/fashion-16, see its card). Only the decoder side
ships (`vq.safetensors`).

## Training

* {step} steps x batch {batch} ({step * batch:,} sequences = {step * batch / 60000:.2f} epochs of the 60,000 images).
* AdamW (betas 0.9/0.95, weight decay {d['--wd']} on the weight matrices), gradient-norm clipping at 1.0, fp32,
  no dropout; EMA of the weights with decay {d['--ema']} (ramped), **the shipped weights are the EMA weights**.
* LR: linear warm-up over {d['--warmup']} steps to {d['--lr']:g}, then a cosine decay to 10 % of the peak driven by
  whichever of the step budget (`--steps`) and the wall-clock budget (`--minutes`, resumed time included) is used
  up more. The run was stopped and resumed, with a shortened step budget on resume; each session's cosine follows
  the budget it was given. Final step budget: **{final_budget}**. Sessions from `{rel(os.path.join(ck, 'train.log'))}`:

| run | started at step | step budget | note in the log |
|---|---|---|---|
{srows}

* **{el / 60:.0f} min ({el / 3600:.1f} h) of training wall time** (elapsed_s of the last log row, training time only),
  on 2 CPU cores shared with another training and with Swift builds, torch 1 thread.

## Results

| metric | value |
|---|---|
| final train loss (all targets after [SOI], last logged mean, step {step}) | {float(last['loss']):.4f} nats/token |
| final train image-token loss | {float(last['image_loss']):.4f} nats/token |
| held-out image-token loss, raw weights (step {last_t['step'] if last_t else '?'}, first {d['--eval-n']} test images) | {last_t['test_image_loss'] + ' nats/token' if last_t else 'n/a'} |
| same, EMA weights | {(last_t['ema_test_image_loss'] + ' nats/token' if last_t['ema_test_image_loss'] else 'n/a') if last_t else 'n/a'} |
""" + (f"| held-out image-token NLL of the shipped F16 weights, first {nll[1]} test captions + grids | {nll[0]:.4f} nats/token |\n"
       if nll else "") + f"""
![loss](loss.png)

`loss.png`: train image-token loss (blue line), held-out image-token loss of the raw (red dots) and EMA (green
dots) weights; x axis steps. Sample quality (class accuracy, attribute agreement) is in `docs/quality-text.md`.

## Regenerate

```sh
python3 -m tools.train.text2img.export          # tools/checkpoints/text2img/last.pt -> models/fashion-text-16
python3 -m tools.eval.model_card --preset text   # this card + loss.png
python3 -m tools.train.text2img.sample --cfg 3   # samples + agreement numbers
```
"""
    with open(os.path.join(b, "MODEL_CARD.md"), "w") as f:
        f.write(card)
    print(f"wrote {os.path.join(b, 'MODEL_CARD.md')}" + (f"; held-out NLL {nll[0]:.4f}" if nll else ""))


# ------------------------------------------------------------------------------------ command line

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", choices=PRESETS, default="v2",
                    help="v1 / v2: the class model trained with train_fashion.py's recipe of that name (checkpoint "
                         "folder, logs, Training text); text: the text-to-image bundle")
    ap.add_argument("--bundle", default=None, help="default: models/fashion-16 (v1, v2), models/fashion-text-16 (text)")
    ap.add_argument("--ckpt-dir", default=None,
                    help="training checkpoints and logs (default: the preset's, tools/checkpoints[/v2|/text2img])")
    ap.add_argument("--nll-images", type=int, default=None,
                    help="test images for the held-out NLL of the shipped weights (default: 500; text: 256, 0 = skip)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: 2 for v1, else 1)")
    g = ap.add_argument_group("class model only (v1, v2)")
    g.add_argument("--cfg", default="1,2,3,4")
    g.add_argument("--pick", type=float, default=3.0)
    g.add_argument("--per-class", type=int, default=10)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--samples-only", action="store_true")
    g.add_argument("--recon-images", type=int, default=2000, help="test images for the VQ reconstruction error")
    args = ap.parse_args()
    args.bundle = args.bundle or os.path.join(MODELS, DEFAULT_BUNDLE[args.preset])
    if args.preset == "text":
        args.ckpt_dir = args.ckpt_dir or os.path.join(CHECKPOINTS, "text2img")
        args.nll_images = 256 if args.nll_images is None else args.nll_images
        text_card(args)
    else:
        args.nll_images = 500 if args.nll_images is None else args.nll_images
        class_card(args)


if __name__ == "__main__":
    main()
