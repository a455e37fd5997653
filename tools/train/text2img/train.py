#!/usr/bin/env python3
"""Train the text-to-image model (step 4 of tools/train/text2img): Emu3's text transformer (transformers'
`Emu3ForCausalLM`) over caption + image tokens in the Emu3 layout of layout.py, on CPU.

    python3 -m tools.train.text2img.train --steps 3 --batch 4 --ckpt-dir tools/.cache/t2i/ckpt        # smoke run
    nohup nice -n 19 python3 -m tools.train.text2img.train --minutes 300 \\
        > tools/checkpoints/text2img/train.log 2>&1 &                                      # real run
    touch tools/checkpoints/text2img/STOP                                                  # checkpoint + exit
    python3 -m tools.train.text2img.train --resume --minutes 360                                 # go on (rm STOP first)

Inputs: the VQ token grids cached by `train_fashion.py encode --preset v2` (--tokens, default
tools/checkpoints/v2/tokens.pt: 60,000 train + 2,000 test grids, read-only here) and, in --data, captions.json
(captions.py) and tokenizer.json (train_tokenizer.py). The checkpoint keeps a copy of tokenizer.json and the
attribute thresholds, so export.py and sample.py need nothing else from --data.

Each step draws --batch training images. The caption is the image's own caption from captions.json, or (with
probability --rephrase) a fresh phrasing of the same attribute labels with each named attribute dropped with
probability --attr-drop (so shorter prompts are in-distribution), or (with probability --cond-dropout) empty:
the unconditional sequence for classifier-free guidance. Sequences are right-padded with [PAD] to the longest
in the batch: attention is causal, so no real token ever sees a pad, and pads are never targets. The loss is
the mean cross-entropy over the targets after [SOI] (meta text, [IMG], image tokens, [EOL], [EOF] [EOI] [EOS]);
the log also shows it over the image tokens alone (nats/token, comparable to fashion-16's GPT loss).

Schedule as train_fashion.py: linear warm-up, then a cosine to 10 % of --lr driven by whichever of --steps and
--minutes (wall clock, including resumed time) is used up more; AdamW (0.9, 0.95), weight decay on matrices,
grad-clip 1.0, EMA of the weights (--ema, exported by export.py). Checkpoint every --ckpt-minutes to
<ckpt>/last.pt (atomic), at the end, and when <ckpt>/STOP exists. Log: <ckpt>/log.csv (step, loss, image-token
loss, held-out image-token loss of the raw and EMA weights every 10 logs, lr, elapsed s, s/step).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import time

import torch
import torch.nn.functional as F

from tools.paths import CHECKPOINTS, ROOT
from tools.train.text2img import captions as C
from tools.train.text2img import layout as L
from tools.train.train_fashion import atomic_save, cosine_lr, log, progress

DEFAULT_CKPT = os.path.join(CHECKPOINTS, "text2img")
DEFAULT_TOKENS = os.path.join(CHECKPOINTS, "v2", "tokens.pt")


def model_config(args, lay: L.Layout) -> dict:
    """Emu3TextConfig fields. Emu3 itself: hidden 4096, 32 layers, 32 heads / 8 KV heads, rope_theta 1e6,
    attention dropout 0.1. Here a few million parameters; rope_theta 10,000 (sequences are ~300 tokens, 1e6 would
    leave most rotary pairs nearly still over that length); no dropout (far below one pass over the data per
    hour on CPU, so nothing to regularise)."""
    return dict(vocab_size=lay.vocab_size, hidden_size=args.dim, intermediate_size=args.ffn,
                num_hidden_layers=args.layers, num_attention_heads=args.heads, num_key_value_heads=args.kv_heads,
                max_position_embeddings=512, rms_norm_eps=1e-5, hidden_act="silu",
                rope_parameters={"rope_type": "default", "rope_theta": 10000.0}, attention_dropout=0.0,
                pad_token_id=lay.pad, bos_token_id=lay.bos, eos_token_id=lay.eos, tie_word_embeddings=False,
                initializer_range=0.02)


def build_model(conf: dict):
    from transformers import Emu3ForCausalLM, Emu3TextConfig
    return Emu3ForCausalLM(Emu3TextConfig(**conf))


def make_batch(lay: L.Layout, caps, grids):
    """caption strings + [B, 256] VQ codes -> input ids [B, T], targets [B, T] (next token; -100 = no loss)."""
    enc = lay.tok.encode_batch(caps, add_special_tokens=False) if caps else []
    seqs, starts = [], []
    for text, e, g in zip(caps, enc, grids.tolist()):
        s, soi = lay.sequence(e.ids if text else [], g)
        seqs.append(s)
        starts.append(soi)
    T = max(map(len, seqs))
    ids = torch.full((len(seqs), T), lay.pad, dtype=torch.long)
    tgt = torch.full((len(seqs), T), -100, dtype=torch.long)
    for i, (s, soi) in enumerate(zip(seqs, starts)):
        ids[i, :len(s)] = torch.tensor(s)
        # targets[p] = ids[p + 1] for p >= soi: the first trained target is the token right after [SOI]
        tgt[i, soi:len(s) - 1] = ids[i, soi + 1:len(s)]
    return ids, tgt


def losses(model, ids, tgt, image_offset):
    """(mean CE over all targets, mean CE over image-token targets, number of image targets)."""
    dev = next(model.parameters()).device
    ids, tgt = ids.to(dev), tgt.to(dev)
    logits = model(input_ids=ids).logits.float()
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1), ignore_index=-100, reduction="none")
    ce = ce.view(tgt.shape)
    valid = tgt >= 0
    img = tgt >= image_offset
    return ce[valid].mean(), ce[img].mean(), int(img.sum())


@torch.no_grad()
def heldout(model, lay, caps, grids, batch=32):
    """Image-token CE on held-out (test) images with their fixed captions, in nats/token."""
    model.eval()
    tot, n = 0.0, 0
    for i in range(0, len(caps), batch):
        ids, tgt = make_batch(lay, caps[i:i + batch], grids[i:i + batch])
        _, li, k = losses(model, ids, tgt, lay.image_offset)
        tot += li.item() * k
        n += k
    model.train()
    return tot / n


def state(model, ema, opt, step, elapsed, args, conf, tok_json, stats, vq_info) -> dict:
    return {"model": model.state_dict(), "ema": ema.state_dict() if ema is not None else None,
            "ema_decay": args.ema, "opt": opt.state_dict(), "step": step, "elapsed": elapsed, "config": conf,
            "tokenizer_json": tok_json, "attribute_stats": stats, "vq": vq_info,
            "args": {k: v for k, v in vars(args).items()}}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=C.DEFAULT_OUT, help="captions.json + tokenizer.json")
    ap.add_argument("--tokens", default=DEFAULT_TOKENS, help="VQ token cache (train_fashion.py encode --preset v2)")
    ap.add_argument("--vq-ckpt", default=os.path.join(CHECKPOINTS, "v2", "vq_last.pt"),
                    help="the VQ that made --tokens (only its step is recorded; export.py copies its decoder)")
    ap.add_argument("--ckpt-dir", default=DEFAULT_CKPT)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--layers", type=int, default=5)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=4, help="GQA: key/value heads (Emu3: 8 for 32 query heads)")
    ap.add_argument("--ffn", type=int, default=704, help="SwiGLU hidden size (fashion-16-v2's 704 for dim 256)")
    ap.add_argument("--steps", type=int, default=40000, help="step budget (schedule length)")
    ap.add_argument("--minutes", type=float, default=300, help="wall-clock budget incl. resumed time")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--wd", type=float, default=0.05)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--ema", type=float, default=0.999, help="EMA decay of the weights (0 = off)")
    ap.add_argument("--cond-dropout", type=float, default=0.1, help="probability of the empty caption (CFG)")
    ap.add_argument("--rephrase", type=float, default=0.5, help="probability of a fresh phrasing of the caption")
    ap.add_argument("--attr-drop", type=float, default=0.3, help="rephrasing: drop each named attribute w.p.")
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--eval-n", type=int, default=256, help="held-out test images (every 10 logs; 0 = never)")
    ap.add_argument("--ckpt-minutes", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu", help="torch device (cpu; cuda works too, fp32)")
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.ckpt_dir, exist_ok=True)
    path = os.path.join(args.ckpt_dir, "last.pt")
    stop = os.path.join(args.ckpt_dir, "STOP")

    ck = torch.load(path, weights_only=False, map_location="cpu") if args.resume and os.path.exists(path) else None
    if ck is not None:
        # the tokenizer travels with the checkpoint: a re-trained tokenizer.json must not silently remap ids
        tok_json = ck["tokenizer_json"]
    else:
        with open(os.path.join(args.data, "tokenizer.json")) as f:
            tok_json = f.read()
    from tokenizers import Tokenizer
    lay = L.Layout(Tokenizer.from_str(tok_json))
    with open(os.path.join(args.data, "captions.json")) as f:
        capdata = json.load(f)
    toks = torch.load(args.tokens, weights_only=False)
    Ttr, Tte = toks["train"]["tokens"].long(), toks["test"]["tokens"].long()
    tr, te = capdata["train"], capdata["test"]
    assert toks["train"]["labels"].tolist() == tr["labels"], "tokens.pt and captions.json disagree on the images"
    n_te = min(len(Tte), len(te["labels"]))
    assert toks["test"]["labels"][:n_te].tolist() == te["labels"][:n_te]
    Tte = Tte[:n_te]
    vq = torch.load(args.vq_ckpt, weights_only=False, map_location="cpu")
    vq_info = {"path": os.path.relpath(args.vq_ckpt, ROOT), "step": vq.get("step"),
               "config": vq["config"]}
    del vq

    conf = ck["config"] if ck is not None else model_config(args, lay)
    model = build_model(conf).to(args.device)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.wd}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95))
    ema = None
    if args.ema > 0:
        ema = build_model(conf).to(args.device)
        ema.load_state_dict(model.state_dict())
        ema.requires_grad_(False)
        ema.eval()
    step, elapsed0 = 0, 0.0
    if ck is not None:
        if ck["vq"]["step"] != vq_info["step"]:
            log(f"WARNING: checkpoint trained on VQ step {ck['vq']['step']}, --vq-ckpt is step {vq_info['step']}")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        if ema is not None:
            ema.load_state_dict(ck["ema"] if ck.get("ema") is not None else ck["model"])
        step, elapsed0 = ck["step"], ck["elapsed"]
        log(f"resumed at step {step} ({elapsed0 / 60:.1f} min)")
        del ck
    nparams = sum(p.numel() for p in model.parameters())
    log(f"Emu3ForCausalLM {nparams} params; vocab {lay.vocab_size} (text {lay.image_offset} + {L.CODEBOOK} visual); "
        f"{conf['num_hidden_layers']} layers, hidden {conf['hidden_size']}, heads {conf['num_attention_heads']}/"
        f"{conf['num_key_value_heads']} kv, ffn {conf['intermediate_size']}; VQ step {vq_info['step']}")

    csv_path = os.path.join(args.ckpt_dir, "log.csv")
    new_csv = not (args.resume and os.path.exists(csv_path))
    fcsv = open(csv_path, "w" if new_csv else "a", newline="")
    wr = csv.writer(fcsv)
    if new_csv:
        wr.writerow(["step", "loss", "image_loss", "test_image_loss", "ema_test_image_loss", "lr", "elapsed_s",
                     "s_per_step"])
    n_eval = min(args.eval_n, len(Tte))
    te_caps, te_grids = te["captions"][:n_eval], Tte[:n_eval]
    # the step goes into the seeds so that a resumed run does not replay the same batches
    g = torch.Generator().manual_seed(args.seed * 1000003 + step)
    rng = random.Random(f"{args.seed}-{step}")
    budget = args.minutes * 60 if args.minutes else float("inf")
    t0 = last_ck = t_log = time.time()
    run, run_img, run_n = 0.0, 0.0, 0
    model.train()
    while progress(step, args.steps, elapsed0 + time.time() - t0, budget) < 1.0:
        bi = torch.randint(0, Ttr.shape[0], (args.batch,), generator=g).tolist()
        caps = []
        for i in bi:
            r = rng.random()
            if r < args.cond_dropout:
                caps.append("")
            elif r < args.cond_dropout + args.rephrase * (1 - args.cond_dropout):
                caps.append(C.caption(tr["labels"][i], tr["attrs"][i], rng, drop=args.attr_drop))
            else:
                caps.append(tr["captions"][i])
        ids, tgt = make_batch(lay, caps, Ttr[bi])
        prog = progress(step, args.steps, elapsed0 + time.time() - t0, budget)
        lr = cosine_lr(step, 10 ** 9, args.lr, args.warmup) if step < args.warmup else \
            cosine_lr(args.warmup + int(prog * 10 ** 6), args.warmup + 10 ** 6, args.lr, args.warmup)
        for pg in opt.param_groups:
            pg["lr"] = lr
        loss, limg, _ = losses(model, ids, tgt, lay.image_offset)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if ema is not None:
            d = min(args.ema, (1 + step) / (10 + step))  # ramped, so the random init fades out quickly
            with torch.no_grad():
                for pe, p in zip(ema.parameters(), model.parameters()):
                    pe.lerp_(p, 1.0 - d)
        run += loss.item()
        run_img += limg.item()
        run_n += 1
        el = elapsed0 + time.time() - t0
        done = progress(step, args.steps, el, budget) >= 1.0
        if step % args.log_every == 0 or done:
            sps = (time.time() - t_log) / run_n
            test, ema_test = "", ""
            if n_eval and (step % (args.log_every * 10) == 0 or done):
                test = f"{heldout(model, lay, te_caps, te_grids):.4f}"
                if ema is not None:
                    ema_test = f"{heldout(ema, lay, te_caps, te_grids):.4f}"
            wr.writerow([step, f"{run / run_n:.4f}", f"{run_img / run_n:.4f}", test, ema_test, f"{lr:.6f}",
                         f"{el:.1f}", f"{sps:.3f}"])
            fcsv.flush()
            log(f"step {step}/{args.steps} loss {run / run_n:.4f} image {run_img / run_n:.4f} "
                + (f"test {test} ema {ema_test} " if test else "")
                + f"lr {lr:.2e} {sps:.2f}s/step (batch {args.batch}) elapsed {el / 60:.1f} min")
            run, run_img, run_n = 0.0, 0.0, 0
            t_log = time.time()
        if time.time() - last_ck > args.ckpt_minutes * 60 or done or os.path.exists(stop):
            atomic_save(state(model, ema, opt, step, el, args, conf, tok_json, capdata["stats"], vq_info), path)
            last_ck = time.time()
            log(f"checkpoint at step {step} -> {path}")
            if os.path.exists(stop):
                log("STOP file found; exiting after checkpoint")
                break
    fcsv.close()


if __name__ == "__main__":
    main()
