#!/usr/bin/env python3
"""Write <bundle>/MODEL_CARD.md + <bundle>/loss.png for the text-to-image bundle (models/fashion-text-16).

    python3 tools/text2img/model_card.py [--bundle models/fashion-text-16] [--ckpt-dir tools/checkpoints/text2img]
                                         [--nll-images 256]

Everything comes from the bundle (config.json, layout.json, tokenizer.json, safetensors metadata) and the training
logs (log.csv, train.log); --nll-images N > 0 also measures the held-out image-token NLL of the shipped weights
(F16 upcast to f32) on the first N test captions + grids with train.py's own loss code. The quality table lives in
docs/quality-text.md.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.dirname(HERE)
ROOT = os.path.dirname(TOOLS)
sys.path.insert(0, HERE)
sys.path.insert(0, TOOLS)
from model_card import argparse_default, plot_curve  # noqa: E402


def clean(rows):
    """Drop rows an interrupted session logged past its last checkpoint (the resumed run redid those steps)."""
    out = []
    for r in rows:
        while out and int(out[-1]["step"]) >= int(r["step"]):
            out.pop()
        out.append(r)
    return out


def sessions(log_path):
    """[(start step, step budget of its `step a/T` lines, `resumed with` note)] from train.log."""
    out, note = [], None
    for line in open(log_path):
        m = re.search(r"resumed with (.*)$", line)
        if m:
            note = m.group(1).strip()
            continue
        m = re.search(r"resumed at step (\d+)", line)
        if m or (not out and "Emu3ForCausalLM" in line):
            out.append([int(m.group(1)) if m else 0, None, note])
            note = None
        m = re.search(r"\] step (\d+)/(\d+) ", line)
        if m and out and out[-1][1] is None:
            out[-1][1] = int(m.group(2))
    return out


def heldout_nll(bundle, ckpt_dir, n):
    import torch
    from tokenizers import Tokenizer
    from transformers import Emu3ForCausalLM
    import layout as L
    import train as T
    model = Emu3ForCausalLM.from_pretrained(bundle, dtype=torch.float32).eval()
    lay = L.Layout(Tokenizer.from_file(os.path.join(bundle, "tokenizer.json")))
    caps = json.load(open(os.path.join(ckpt_dir, "captions.json")))["test"]["captions"][:n]
    grids = torch.load(T.DEFAULT_TOKENS, weights_only=False)["test"]["tokens"][:n].long()
    return T.heldout(model, lay, caps, grids), len(caps)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", default=os.path.join(ROOT, "models", "fashion-text-16"))
    ap.add_argument("--ckpt-dir", default=os.path.join(TOOLS, "checkpoints", "text2img"))
    ap.add_argument("--nll-images", type=int, default=256, help="0 = skip the held-out NLL of the shipped weights")
    args = ap.parse_args()
    import torch
    torch.set_num_threads(1)
    b, ck = args.bundle, args.ckpt_dir
    conf = json.load(open(os.path.join(b, "config.json")))
    lay = json.load(open(os.path.join(b, "layout.json")))
    tok = json.load(open(os.path.join(b, "tokenizer.json")))
    src = open(os.path.join(HERE, "train.py")).read()
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
    rows = clean(list(csv.DictReader(open(os.path.join(ck, "log.csv")))))
    last = rows[-1]
    tr = [r for r in rows if r["test_image_loss"]]
    plot_curve(os.path.join(b, "loss.png"), [int(r["step"]) for r in rows], [float(r["image_loss"]) for r in rows],
               [int(r["step"]) for r in tr], [float(r["test_image_loss"]) for r in tr],
               ema_steps=[int(r["step"]) for r in tr if r["ema_test_image_loss"]],
               ema=[float(r["ema_test_image_loss"]) for r in tr if r["ema_test_image_loss"]])
    step, el = int(last["step"]), float(last["elapsed_s"])
    sess = sessions(os.path.join(ck, "train.log"))
    final_budget = sess[-1][1] if sess else None
    batch = d["--batch"]
    nll = heldout_nll(b, ck, args.nll_images) if args.nll_images > 0 else None
    specials = ", ".join(f"{k.upper()} `{v['token']}` = {v['id']}" for k, v in lay["special_tokens"].items())
    n_text = lay["image_offset"]
    files = "\n".join(f"| `{f}` | {os.path.getsize(os.path.join(b, f)):,} bytes |" for f in sorted(os.listdir(b))
                      if f not in ("MODEL_CARD.md",))
    srows = "\n".join(f"| {i + 1} | {s} | {t or ''} | {n or ''} |" for i, (s, t, n) in enumerate(sess))
    rel = lambda p: os.path.relpath(p, ROOT)  # noqa: E731
    last_t = tr[-1] if tr else None
    card = f"""# fashion-text-16: text-to-image on Fashion-MNIST (Emu3 architecture, 16x16 tokens)

A small text-to-image model in the Emu3 layout: Emu3's text transformer (`Emu3ForCausalLM`, a Llama-style decoder)
over one vocabulary of caption tokens and VQ codes, trained from scratch on CPU so the Swift service has a real
text-conditioned model to serve. Produced by `tools/text2img/train.py`, exported by `tools/text2img/export.py`,
this card by `tools/text2img/model_card.py` (see `tools/text2img/README.md`).

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
Captions (`tools/text2img/captions.py`): the class plus three attributes measured on each image over the garment
mask (pixels > 24): brightness (mean intensity), size (pixel count), texture (mean |3x3 Laplacian|). Per class,
the bottom tercile of the training set is `dark` / `small` / `plain`, the top tercile `light` / `large` /
`patterned`, the middle is not named. Phrasings use synonyms, several word orders and optional prefixes ("a photo
of ..."). During training each image gets its own caption, or with probability {d['--rephrase']} (of the
non-dropped ones) a fresh phrasing of the same labels with each named attribute dropped with probability
{d['--attr-drop']}, or with probability {d['--cond-dropout']} the empty caption: the unconditional sequence used for
classifier-free guidance (`[BOS] [SOI] meta [IMG] ...`).

## Tokenizer

Byte-level BPE like Emu3's (Qwen split regex, NFC), trained with `tokenizers` on the captions
(`tools/text2img/train_tokenizer.py`): {len(tok['model']['vocab'])} ids in the BPE model ({len(tok['model'].get('merges', []))}
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

The VQ tokenizer of `tools/train_fashion.py --preset v2` (LlamaGen `VQModel` layout, 512 x 8 l2-normalised
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
python3 tools/text2img/export.py                 # tools/checkpoints/text2img/last.pt -> models/fashion-text-16
python3 tools/text2img/model_card.py             # this card + loss.png
python3 tools/text2img/sample.py --cfg 3         # samples + agreement numbers
```
"""
    with open(os.path.join(b, "MODEL_CARD.md"), "w") as f:
        f.write(card)
    print(f"wrote {os.path.join(b, 'MODEL_CARD.md')}" + (f"; held-out NLL {nll[0]:.4f}" if nll else ""))


if __name__ == "__main__":
    main()
