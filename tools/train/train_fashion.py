#!/usr/bin/env python3
"""Train the fashion-16 model (VQ tokenizer + class-conditional LlamaGen GPT) on Fashion-MNIST, on CPU.

Stages (run in order; each resumes from the checkpoint folder when --resume is given):
  vq      train the VQ tokenizer (32x32 gray -> 16x16 tokens)            -> <ckpt>/vq_last.pt
  encode  encode train+test splits to token grids once                   -> <ckpt>/tokens.pt
  gpt     train the GPT on the cached token grids                         -> <ckpt>/gpt_last.pt
  distill optional: bake classifier-free guidance into the conditional branch (teacher = gpt_last.pt)
                                                                          -> <ckpt>/gpt_distill.pt

Presets (--preset): `v1` (default) is the shipped models/fashion-16 recipe, checkpoints in tools/checkpoints/;
`v2` is the stronger models/fashion-16-v2 recipe (bigger GPT, EMA weights, all 60k training images, longer
schedules), checkpoints in tools/checkpoints/v2/ so the two never overwrite each other (make_fixtures.py reads
tools/checkpoints/tokens.pt for the v1 fixtures). Explicit flags override a preset's defaults.

Data: gzip IDX files from the Debian package dataset-fashion-mnist (/usr/share/datasets/fashion-mnist/).
Images are scaled to [-1, 1] and padded 2 px each side (background -1) to 32x32.
"""
from __future__ import annotations

import argparse
import csv
import gzip
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from tools.llamagen import GPTConfig, Transformer, VQConfig, VQModel
from tools.paths import CHECKPOINTS

CKPT = CHECKPOINTS
DATA = "/usr/share/datasets/fashion-mnist"
STOP = os.path.join(CKPT, "STOP")  # touch to make the GPT stage checkpoint and exit

VQ_CFG = VQConfig(codebook_size=512, codebook_embed_dim=8, codebook_l2_norm=True, z_channels=64, ch=32,
                  ch_mult=[1, 2], num_res_blocks=1, out_channels=1, image_size=32)
GPT_CFG = GPTConfig(dim=192, n_layer=4, n_head=6, n_kv_head=6, vocab_size=512, num_classes=10, grid=16,
                    cls_token_num=1, multiple_of=64, ffn_dim_multiplier=None, norm_eps=1e-5, rope_base=10000)

# Per-preset architecture, checkpoint folder and flag defaults (None in argparse = "take the preset's").
# v2: the VQ keeps v1's shape (same decoder cost on the Swift side, vocab 512) but trains longer (an 18-minute
# budget instead of v1's ~8); the GPT is wider and deeper (dim 256, 5 layers, head_dim 32 as in v1: 4.28M params =
# 8.6 MB F16, 9.6 MB with the VQ decoder; 6 layers would be 11 MB) and sees all 60k training grids. v1's GPT was far
# from converged (0.57 epochs, loss still falling), so most of the gain is expected from training longer; the EMA
# weights make a mid-schedule checkpoint usable (they lag ~1/(1-decay) steps: compare --weights raw early on).
PRESETS = {
    "v1": {"vq": VQ_CFG, "gpt": GPT_CFG, "ckpt": CKPT,
           "vq_args": {"steps": 3000, "batch": 64, "lr": 1e-3, "minutes": None},
           "gpt_args": {"steps": 4000, "batch": 32, "lr": 1e-3, "minutes": None, "ema": 0.0},
           "encode_args": {"limit_train": None, "limit_test": None}},
    "v2": {"vq": VQ_CFG,
           "gpt": GPTConfig(dim=256, n_layer=5, n_head=8, n_kv_head=8, vocab_size=512, num_classes=10, grid=16,
                            cls_token_num=1, multiple_of=64, ffn_dim_multiplier=None, norm_eps=1e-5,
                            rope_base=10000),
           "ckpt": os.path.join(CKPT, "v2"),
           "vq_args": {"steps": 1600, "batch": 32, "lr": 1e-3, "minutes": 18},
           "gpt_args": {"steps": 40000, "batch": 32, "lr": 1e-3, "minutes": 420, "ema": 0.999},
           # all training images (v1 cached 30k); 2000 test grids are plenty for the held-out loss
           "encode_args": {"limit_train": None, "limit_test": 2000}},
}


def use_preset(name: str, ckpt_dir=None):
    """Points the module-level configs / checkpoint folder at a preset (model_card.py etc. read them)."""
    global VQ_CFG, GPT_CFG, CKPT, STOP
    pr = PRESETS[name]
    VQ_CFG, GPT_CFG = pr["vq"], pr["gpt"]
    CKPT = ckpt_dir or pr["ckpt"]
    STOP = os.path.join(CKPT, "STOP")


def read_idx(path: str) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    ndim = magic & 0xFF
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_split(split: str):
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(os.path.join(DATA, f"{prefix}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(DATA, f"{prefix}-labels-idx1-ubyte.gz"))
    return x, y.astype(np.int64)


def to_tensor(x_u8: np.ndarray) -> torch.Tensor:
    """uint8 [N, 28, 28] -> float [N, 1, 32, 32] in [-1, 1], background padding -1."""
    x = torch.from_numpy(x_u8.astype(np.float32) / 127.5 - 1.0)[:, None]
    return F.pad(x, (2, 2, 2, 2), value=-1.0)


def log(msg: str):
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())}] {msg}", flush=True)


def cosine_lr(step: int, total: int, peak: float, warmup: int, floor_frac: float = 0.1) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (floor_frac + (1 - floor_frac) * 0.5 * (1 + math.cos(math.pi * t)))


def progress(step: int, steps: int, elapsed: float, budget_s: float) -> float:
    """Schedule position in [0, 1]: whichever of the step budget and the wall-clock budget is used up more."""
    return max(step / steps, elapsed / budget_s)


def atomic_save(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


# ----------------------------------------------------------------------------------------------
def train_vq(args):
    torch.manual_seed(args.seed)
    xtr, _ = load_split("train")
    xte, _ = load_split("test")
    X = to_tensor(xtr)
    Xte = to_tensor(xte[:1000])
    model = VQModel(VQ_CFG)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.95))
    path = os.path.join(CKPT, "vq_last.pt")
    step = 0
    elapsed0 = 0.0
    if args.resume and os.path.exists(path):
        ck = torch.load(path, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step = ck["step"]
        elapsed0 = ck.get("elapsed", 0.0)
        log(f"resumed vq at step {step}")
    nparams = sum(p.numel() for p in model.parameters())
    log(f"VQ params {nparams}  config {VQ_CFG.to_json()}")
    csv_path = os.path.join(CKPT, "vq_log.csv")
    new_csv = not (args.resume and os.path.exists(csv_path))
    fcsv = open(csv_path, "w" if new_csv else "a", newline="")
    wr = csv.writer(fcsv)
    if new_csv:
        wr.writerow(["step", "recon_l1", "recon_mse", "cb_loss", "commit", "usage", "lr", "elapsed_s"])
    K = VQ_CFG.codebook_size
    counts = torch.zeros(K)
    t0 = time.time()
    last_ck = t0
    g = torch.Generator().manual_seed(args.seed + step)
    model.train()
    budget = args.minutes * 60 if args.minutes else float("inf")
    while progress(step, args.steps, elapsed0 + time.time() - t0, budget) < 1.0:
        idxb = torch.randint(0, X.shape[0], (args.batch,), generator=g)
        x = X[idxb]
        prog = progress(step, args.steps, elapsed0 + time.time() - t0, budget)
        lr = cosine_lr(int(prog * 100000), 100000, args.lr, int(100000 * 100 / args.steps))
        for pg in opt.param_groups:
            pg["lr"] = lr
        z = model.quant_conv(model.encoder(x))
        zq, cb, commit, idx = model.quantize(z)
        rec = model.decode(zq)
        l1 = (rec - x).abs().mean()
        mse = ((rec - x) ** 2).mean()
        loss = l1 + mse + cb + commit
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        counts *= 0.99
        counts += torch.bincount(idx.flatten(), minlength=K).float()
        step += 1
        # dead-code re-initialisation: codes unused for a while get an encoder output from this batch
        done = progress(step, args.steps, elapsed0 + time.time() - t0, budget) >= 1.0
        if step % 100 == 0 and prog < 0.8:
            dead = (counts < 1e-2).nonzero().flatten()
            if len(dead) > 0:
                with torch.no_grad():
                    zf = F.normalize(z.detach().permute(0, 2, 3, 1).reshape(-1, VQ_CFG.codebook_embed_dim), dim=-1)
                    pick = zf[torch.randint(0, zf.shape[0], (len(dead),), generator=g)]
                    pick = F.normalize(pick + 0.01 * torch.randn(pick.shape, generator=g), dim=-1)
                    model.quantize.embedding.weight.data[dead] = pick
                    counts[dead] = 1.0
                log(f"step {step}: re-initialised {len(dead)} dead codes")
        if step % args.log_every == 0 or done:
            usage = float((counts > 1e-2).float().mean())
            el = elapsed0 + time.time() - t0
            wr.writerow([step, f"{l1.item():.5f}", f"{mse.item():.5f}", f"{cb.item():.5f}", f"{commit.item():.5f}",
                         f"{usage:.4f}", f"{lr:.6f}", f"{el:.1f}"])
            fcsv.flush()
            log(f"vq step {step}/{args.steps} l1 {l1.item():.4f} mse {mse.item():.5f} cb {cb.item():.5f} "
                f"usage {usage:.3f} lr {lr:.2e} {el / max(1, step):.3f}s/step")
        if time.time() - last_ck > args.ckpt_minutes * 60 or done or os.path.exists(STOP):
            atomic_save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                         "elapsed": elapsed0 + time.time() - t0, "config": VQ_CFG.to_json()}, path)
            last_ck = time.time()
            if os.path.exists(STOP):
                log("STOP file found; checkpointed, stopping early")
                break
    # quick test-split evaluation
    model.eval()
    with torch.no_grad():
        rec, _, _, idx = model(Xte)
        log(f"vq test mse {((rec - Xte) ** 2).mean().item():.5f} l1 {(rec - Xte).abs().mean().item():.4f}")
    fcsv.close()


def load_vq(path=None) -> VQModel:
    ck = torch.load(path or os.path.join(CKPT, "vq_last.pt"), weights_only=False)
    m = VQModel(VQConfig.from_json(ck["config"]))
    m.load_state_dict(ck["model"])
    m.eval()
    return m


@torch.no_grad()
def encode(args):
    out_path = os.path.join(CKPT, "tokens.pt")
    vq_path = os.path.join(CKPT, "vq_last.pt")
    if args.resume and os.path.exists(out_path) and os.path.getmtime(out_path) > os.path.getmtime(vq_path):
        # lets one `vq --resume && encode --resume && gpt --resume` chain restart without re-encoding 60k images
        log(f"{out_path} is newer than {vq_path}; keeping it (--resume)")
        return
    vq = load_vq()
    out = {}
    for split in ("train", "test"):
        x, y = load_split(split)
        lim = args.limit_train if split == "train" else args.limit_test
        if lim:
            x, y = x[:lim], y[:lim]
        toks = []
        for i in range(0, x.shape[0], 500):
            xb = to_tensor(x[i:i + 500])
            _, _, _, idx = vq.encode(xb)
            toks.append(idx.reshape(idx.shape[0], -1).to(torch.int16))
        t = torch.cat(toks)
        out[split] = {"tokens": t, "labels": torch.from_numpy(y)}
        used = len(torch.unique(t.long()))
        log(f"encoded {split}: {tuple(t.shape)}, distinct codes used {used}/{vq.cfg.codebook_size}")
    atomic_save(out, out_path)


# ----------------------------------------------------------------------------------------------
def gpt_state(model, opt, ema_model, step, elapsed, args) -> dict:
    st = {"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "elapsed": elapsed,
          "config": GPT_CFG.to_json(), "batch": args.batch}
    if getattr(args, "distill_from", None) and args.stage == "distill":
        st["distill"] = {"from": args.distill_from, "guidance": args.guidance}
    if ema_model is not None:
        st["ema"] = ema_model.state_dict()
        st["ema_decay"] = args.ema
    return st


def load_teacher(path: str):
    """Frozen GPT (EMA weights when present) from a gpt checkpoint, for the distill stage."""
    ck = torch.load(path, weights_only=False)
    m = Transformer(GPTConfig.from_json(ck["config"]))
    m.load_state_dict(ck["ema"] if "ema" in ck else ck["model"])
    m.eval()
    m.requires_grad_(False)
    return m, ck.get("step")


def train_gpt(args, distill: bool = False):
    """distill: guidance distillation. The student starts from the teacher (a finished gpt checkpoint) and learns,
    on the real token grids, the teacher's classifier-free-guided next-token distribution
    softmax(u + s (c - u)) for its conditional branch (null-class rows keep learning the teacher's unconditional
    one, so CFG on top still works). Plain sampling (CFG off) then behaves like the teacher at CFG s, at no
    sampling cost: the served sampler and file format are unchanged."""
    global GPT_CFG
    torch.manual_seed(args.seed)
    teacher = None
    if distill:
        teacher, teacher_step = load_teacher(args.distill_from)
        GPT_CFG = teacher.cfg
        log(f"distilling CFG {args.guidance:g} from {args.distill_from} (step {teacher_step})")
    data = torch.load(os.path.join(CKPT, "tokens.pt"), weights_only=False)
    T = data["train"]["tokens"].long()
    Y = data["train"]["labels"].long()
    Tte = data["test"]["tokens"][:512].long()
    Yte = data["test"]["labels"][:512].long()
    model = Transformer(GPT_CFG)
    model.init_weights()
    if teacher is not None:
        model.load_state_dict(teacher.state_dict())
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (decay if p.dim() >= 2 else no_decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.wd}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95))
    path = os.path.join(CKPT, "gpt_distill.pt" if distill else "gpt_last.pt")
    step = 0
    elapsed0 = 0.0
    # EMA copy of the weights: with a long wall-clock cosine the raw weights at any intermediate checkpoint still
    # carry high-LR noise; the average over the last ~1/(1-decay) steps samples better and is what gets exported.
    ema_model = None
    if args.ema > 0:
        ema_model = Transformer(GPT_CFG)
        ema_model.load_state_dict(model.state_dict())
        ema_model.requires_grad_(False)
    if args.resume and os.path.exists(path):
        ck = torch.load(path, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step = ck["step"]
        elapsed0 = ck.get("elapsed", 0.0)
        if ema_model is not None:
            ema_model.load_state_dict(ck["ema"] if "ema" in ck else ck["model"])
        log(f"resumed gpt at step {step}" + (" (with EMA)" if ema_model is not None and "ema" in ck else ""))
    nparams = sum(p.numel() for p in model.parameters())
    log(f"GPT params {nparams}  config {GPT_CFG.to_json()}  ffn_hidden {GPT_CFG.ffn_hidden}")
    csv_path = os.path.join(CKPT, "gpt_distill_log.csv" if distill else "gpt_log.csv")
    new_csv = not (args.resume and os.path.exists(csv_path))
    fcsv = open(csv_path, "w" if new_csv else "a", newline="")
    wr = csv.writer(fcsv)
    if new_csv:
        wr.writerow(["step", "train_loss", "test_loss", "lr", "elapsed_s"]
                    + (["ema_test_loss"] if ema_model is not None else []))
    g = torch.Generator().manual_seed(args.seed + 1000 + step)
    t0 = time.time()
    last_ck = t0
    run_loss, run_n = 0.0, 0
    t_log = time.time()
    model.train()
    budget = args.minutes * 60 if args.minutes else float("inf")
    while progress(step, args.steps, elapsed0 + time.time() - t0, budget) < 1.0:
        bi = torch.randint(0, T.shape[0], (args.batch,), generator=g)
        tok, lab = T[bi], Y[bi]
        drop = torch.rand(args.batch, generator=g) < args.class_dropout
        lab = torch.where(drop, torch.full_like(lab, GPT_CFG.num_classes), lab)
        prog = progress(step, args.steps, elapsed0 + time.time() - t0, budget)
        lr = cosine_lr(step, 10 ** 9, args.lr, args.warmup) if step < args.warmup else \
            cosine_lr(args.warmup + int(prog * 10 ** 6), args.warmup + 10 ** 6, args.lr, args.warmup)
        for pg in opt.param_groups:
            pg["lr"] = lr
        logits = model(tok, lab)
        if teacher is None:
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tok.reshape(-1))
        else:
            with torch.no_grad():
                null = torch.full_like(lab, GPT_CFG.num_classes)
                c, u = teacher(torch.cat([tok, tok]), torch.cat([lab, null])).chunk(2)
                guided = u + (c - u) * args.guidance
                target = torch.where(drop[:, None, None], u, guided).softmax(-1)
            # soft-target cross-entropy = KL(target || student) + H(target): same gradient as the KL
            loss = -(target * logits.log_softmax(-1)).sum(-1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if ema_model is not None:
            # ramped decay so the average is not dominated by the random init early on
            d = min(args.ema, (1 + step) / (10 + step))
            with torch.no_grad():
                for pe, p in zip(ema_model.parameters(), model.parameters()):
                    pe.lerp_(p, 1.0 - d)
        run_loss += loss.item()
        run_n += 1
        el = elapsed0 + time.time() - t0
        done = progress(step, args.steps, el, budget) >= 1.0
        if step % args.log_every == 0 or done:
            test_loss, ema_loss = "", ""
            if step % (args.log_every * 10) == 0 or done:
                model.eval()
                with torch.no_grad():
                    lt = model(Tte, Yte)
                    test_loss = f"{F.cross_entropy(lt.reshape(-1, lt.shape[-1]), Tte.reshape(-1)).item():.4f}"
                    if ema_model is not None:
                        lt = ema_model(Tte, Yte)
                        ema_loss = f"{F.cross_entropy(lt.reshape(-1, lt.shape[-1]), Tte.reshape(-1)).item():.4f}"
                model.train()
            wr.writerow([step, f"{run_loss / run_n:.4f}", test_loss, f"{lr:.6f}", f"{el:.1f}"]
                        + ([ema_loss] if ema_model is not None else []))
            fcsv.flush()
            log(f"gpt step {step}/{args.steps} loss {run_loss / run_n:.4f} test {test_loss} "
                + (f"ema test {ema_loss} " if ema_model is not None else "") + f"lr {lr:.2e} "
                f"{(time.time() - t_log) / max(1, run_n):.3f}s/step elapsed {el:.0f}s")
            t_log = time.time()
            run_loss, run_n = 0.0, 0
        if time.time() - last_ck > args.ckpt_minutes * 60 or done or os.path.exists(STOP):
            atomic_save(gpt_state(model, opt, ema_model, step, el, args), path)
            last_ck = time.time()
            log(f"checkpoint at step {step}")
            if os.path.exists(STOP):
                log("STOP file found; exiting after checkpoint")
                break
    else:
        # the budget can run out between the periodic checkpoints (e.g. during the held-out eval): save the end state
        atomic_save(gpt_state(model, opt, ema_model, step, elapsed0 + time.time() - t0, args), path)
        log(f"final checkpoint at step {step}")
    fcsv.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stage", choices=["vq", "encode", "gpt", "distill", "bench"])
    ap.add_argument("--preset", choices=sorted(PRESETS), default="v1",
                    help="architecture + checkpoint folder + flag defaults (v1 = the shipped fashion-16 recipe)")
    ap.add_argument("--ckpt-dir", default=None, help="checkpoint folder (default: the preset's)")
    ap.add_argument("--steps", type=int, default=None, help="step budget (schedule length)")
    ap.add_argument("--minutes", type=float, default=None,
                    help="wall-clock budget incl. resumed time; the LR schedule follows whichever budget is used up first")
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--wd", type=float, default=0.05)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--class-dropout", type=float, default=0.1)
    ap.add_argument("--ema", type=float, default=None,
                    help="gpt: EMA decay of the weights kept next to the raw ones (0 = off; v2: 0.999); exported "
                         "by export_bundle.py when present")
    ap.add_argument("--guidance", type=float, default=2.0, help="distill: the teacher's CFG scale to bake in")
    ap.add_argument("--distill-from", default=None, help="distill: teacher checkpoint (default <ckpt>/gpt_last.pt)")
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--ckpt-minutes", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--limit-train", type=int, default=None, help="encode: only the first N training images")
    ap.add_argument("--limit-test", type=int, default=None, help="encode: only the first N test images")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    use_preset(args.preset, args.ckpt_dir)
    pr = PRESETS[args.preset]
    os.makedirs(CKPT, exist_ok=True)

    def fill(defaults):
        for k, v in defaults.items():
            if getattr(args, k, None) is None:
                setattr(args, k, v)
    if args.stage == "vq":
        fill(pr["vq_args"])
        train_vq(args)
    elif args.stage == "encode":
        fill(pr["encode_args"])
        encode(args)
    elif args.stage == "gpt":
        fill(pr["gpt_args"])
        train_gpt(args)
    elif args.stage == "distill":
        # a short fine-tune at a low LR -> <ckpt>/gpt_distill.pt (export with --gpt-ckpt)
        fill({"steps": 1500, "batch": 32, "lr": 2e-4, "minutes": 90, "ema": 0.99})
        args.warmup = min(args.warmup, 50)
        args.distill_from = args.distill_from or os.path.join(CKPT, "gpt_last.pt")
        train_gpt(args, distill=True)
    elif args.stage == "bench":
        # seconds per training step of each stage, for picking --steps
        x = torch.randn(64, 1, 32, 32)
        vq = VQModel(VQ_CFG)
        optv = torch.optim.Adam(vq.parameters())
        for i in range(4):
            t = time.time()
            rec, cb, cm, _ = vq(x)
            ((rec - x) ** 2).mean().add(cb + cm).backward()
            optv.step()
            optv.zero_grad()
            log(f"vq batch 64: {time.time() - t:.3f}s")
        m = Transformer(GPT_CFG)
        m.init_weights()
        o = torch.optim.AdamW(m.parameters())
        log(f"gpt params {sum(p.numel() for p in m.parameters())} ffn_hidden {GPT_CFG.ffn_hidden}")
        for b in (16, 32):
            tok = torch.randint(0, 512, (b, 256))
            lab = torch.randint(0, 10, (b,))
            for i in range(3):
                t = time.time()
                lg = m(tok, lab)
                F.cross_entropy(lg.reshape(-1, 512), tok.reshape(-1)).backward()
                o.step()
                o.zero_grad()
                log(f"gpt batch {b}: {time.time() - t:.3f}s")


if __name__ == "__main__":
    main()
