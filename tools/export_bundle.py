#!/usr/bin/env python3
"""Export trained checkpoints to the runtime bundle read by the Swift service.

  python3 tools/export_bundle.py [--gpt-ckpt tools/checkpoints/gpt_last.pt] [--vq-ckpt tools/checkpoints/vq_last.pt]
                                 [--out models/fashion-16] [--dtype f16|bf16|f32] [--name fashion-16]

Writes <out>/gpt.safetensors (all GPT weights), <out>/vq.safetensors (decoder side only:
quantize.embedding.weight, post_quant_conv.*, decoder.*) and <out>/config.json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llamagen import GPTConfig, VQConfig, VQ_DECODER_PREFIXES  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

FASHION_CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                   "ankle-boot"]
DTYPES = {"f16": torch.float16, "bf16": torch.bfloat16, "f32": torch.float32}


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
    ap.add_argument("--gpt-ckpt", default=os.path.join(HERE, "checkpoints", "gpt_last.pt"))
    ap.add_argument("--vq-ckpt", default=os.path.join(HERE, "checkpoints", "vq_last.pt"))
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "fashion-16"))
    ap.add_argument("--name", default="fashion-16")
    ap.add_argument("--dtype", default="f16", choices=sorted(DTYPES))
    args = ap.parse_args()
    dtype = DTYPES[args.dtype]
    os.makedirs(args.out, exist_ok=True)

    g = torch.load(args.gpt_ckpt, weights_only=False, map_location="cpu")
    v = torch.load(args.vq_ckpt, weights_only=False, map_location="cpu")
    gcfg = GPTConfig.from_json(g["config"])
    vcfg = VQConfig.from_json(v["config"])
    gt = gpt_tensors(g["model"], dtype)
    vt = vq_decoder_tensors(v["model"], dtype)
    meta_g = {"format": "pt", "step": str(g.get("step", "")), "source": os.path.basename(args.gpt_ckpt)}
    meta_v = {"format": "pt", "step": str(v.get("step", "")), "source": os.path.basename(args.vq_ckpt)}
    save_file(gt, os.path.join(args.out, "gpt.safetensors"), metadata=meta_g)
    save_file(vt, os.path.join(args.out, "vq.safetensors"), metadata=meta_v)
    write_config(os.path.join(args.out, "config.json"), args.name, gcfg, vcfg, FASHION_CLASSES)
    for f in ("gpt.safetensors", "vq.safetensors", "config.json"):
        os.chmod(os.path.join(args.out, f), 0o644)
    ng = sum(t.numel() for t in gt.values())
    nv = sum(t.numel() for t in vt.values())
    print(f"exported GPT step {g.get('step')} ({ng} params) and VQ decoder ({nv} params) as {args.dtype} to {args.out}")


if __name__ == "__main__":
    main()
