#!/usr/bin/env python3
"""Export trained checkpoints to the runtime bundle read by the Swift service.

  python3 -m tools.convert.export_bundle [--gpt-ckpt tools/checkpoints/gpt_last.pt] [--vq-ckpt tools/checkpoints/vq_last.pt]
                                 [--out models/fashion-16] [--dtype f16|bf16|f32] [--name fashion-16]
                                 [--weights auto|ema|raw]
  python3 -m tools.convert.export_bundle --preset v2     # tools/checkpoints/v2/*_last.pt -> models/fashion-16-v2

`--preset` only changes the defaults of --gpt-ckpt/--vq-ckpt/--out/--name (v1: the flags above). The GPT
weights are the checkpoint's EMA copy when it has one (train_fashion.py --ema), unless --weights raw.

Writes <out>/gpt.safetensors (all GPT weights), <out>/vq.safetensors (decoder side only:
quantize.embedding.weight, post_quant_conv.*, decoder.*) and <out>/config.json.
"""
from __future__ import annotations

import argparse
import json
import os

import torch
from safetensors.torch import save_file

from tools.llamagen import GPTConfig, VQConfig, VQ_DECODER_PREFIXES
from tools.paths import CHECKPOINTS, MODELS

FASHION_CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                   "ankle-boot"]
DTYPES = {"f16": torch.float16, "bf16": torch.bfloat16, "f32": torch.float32}
# checkpoint folder and bundle name per train_fashion.py preset (kept here so exporting needs no training imports)
PRESETS = {"v1": (CHECKPOINTS, "fashion-16"),
           "v2": (os.path.join(CHECKPOINTS, "v2"), "fashion-16-v2")}


def write_config(path: str, name: str, gpt: GPTConfig, vq: VQConfig, class_names):
    conf = {"name": name, "gpt": gpt.to_json(), "vq": vq.to_json(), "class_names": list(class_names)}
    with open(path, "w") as f:
        json.dump(conf, f, indent=2)
        f.write("\n")
    return conf


def gpt_tensors(sd: dict, dtype) -> dict:
    skip = ("freqs_cis", "causal_mask", "kv_cache", "k_cache", "v_cache")
    return {k: v.detach().to(dtype).contiguous() for k, v in sd.items() if not any(s in k for s in skip)}


def vq_decoder_tensors(sd: dict, dtype) -> dict:
    return {k: v.detach().to(dtype).contiguous() for k, v in sd.items() if k.startswith(VQ_DECODER_PREFIXES)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", choices=sorted(PRESETS), default="v1")
    ap.add_argument("--gpt-ckpt", default=None, help="default: <preset ckpt dir>/gpt_last.pt")
    ap.add_argument("--vq-ckpt", default=None, help="default: <preset ckpt dir>/vq_last.pt")
    ap.add_argument("--out", default=None, help="default: models/fashion-16 (v1), models/fashion-16-v2 (v2)")
    ap.add_argument("--name", default=None)
    ap.add_argument("--dtype", default="f16", choices=sorted(DTYPES))
    ap.add_argument("--weights", default="auto", choices=["auto", "ema", "raw"],
                    help="GPT weights: the EMA copy (auto: when the checkpoint has one) or the raw ones")
    args = ap.parse_args()
    ckdir, name = PRESETS[args.preset]
    args.gpt_ckpt = args.gpt_ckpt or os.path.join(ckdir, "gpt_last.pt")
    args.vq_ckpt = args.vq_ckpt or os.path.join(ckdir, "vq_last.pt")
    args.name = args.name or name
    args.out = args.out or os.path.join(MODELS, name)
    dtype = DTYPES[args.dtype]
    os.makedirs(args.out, exist_ok=True)

    g = torch.load(args.gpt_ckpt, weights_only=False, map_location="cpu")
    v = torch.load(args.vq_ckpt, weights_only=False, map_location="cpu")
    gcfg = GPTConfig.from_json(g["config"])
    vcfg = VQConfig.from_json(v["config"])
    use_ema = args.weights == "ema" or (args.weights == "auto" and "ema" in g)
    if use_ema and "ema" not in g:
        raise SystemExit(f"{args.gpt_ckpt} has no EMA weights (trained without --ema)")
    gt = gpt_tensors(g["ema" if use_ema else "model"], dtype)
    vt = vq_decoder_tensors(v["model"], dtype)
    meta_g = {"format": "pt", "step": str(g.get("step", "")), "source": os.path.basename(args.gpt_ckpt)}
    if use_ema:
        meta_g["weights"] = f"ema {g.get('ema_decay', '')}"
    meta_v = {"format": "pt", "step": str(v.get("step", "")), "source": os.path.basename(args.vq_ckpt)}
    save_file(gt, os.path.join(args.out, "gpt.safetensors"), metadata=meta_g)
    save_file(vt, os.path.join(args.out, "vq.safetensors"), metadata=meta_v)
    write_config(os.path.join(args.out, "config.json"), args.name, gcfg, vcfg, FASHION_CLASSES)
    for f in ("gpt.safetensors", "vq.safetensors", "config.json"):
        os.chmod(os.path.join(args.out, f), 0o644)
    ng = sum(t.numel() for t in gt.values())
    nv = sum(t.numel() for t in vt.values())
    print(f"exported GPT step {g.get('step')} ({ng} params, {'EMA' if use_ema else 'raw'} weights) and VQ decoder "
          f"({nv} params) as {args.dtype} to {args.out}")


if __name__ == "__main__":
    main()
