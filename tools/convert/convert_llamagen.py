#!/usr/bin/env python3
"""Convert official LlamaGen c2i checkpoints (.pt) to our bundle: gpt.safetensors, vq.safetensors, config.json.

  python3 -m tools.convert.convert_llamagen --gpt c2i_L_384.pt --vq vq_ds16_c2i.pt --gpt-model GPT-L --image-size 384 \
      --out models/llamagen-l-384 [--dtype f16|bf16|f32] [--keep-encoder] [--name NAME] [--n-head N] [--grid G]

Dimensions are derived from tensor shapes where possible (dim, vocab, classes, layers, n_kv_head,
FFN hidden, VQ channels / levels / res blocks / codebook); --gpt-model supplies n_head (shapes alone
cannot tell it) and --image-size the token grid (image_size / VQ downsample factor).
Dropped: freqs_cis, causal_mask, kv-cache buffers, quantize.codebook_used, and (unless --keep-encoder)
encoder.* / quant_conv.*. Either --gpt or --vq may be omitted; config.json then holds only the given part.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from functools import reduce

import torch
from safetensors.torch import save_file

from tools.llamagen import GPTConfig, VQConfig, find_multiple

# n_layer, n_head, dim of the official configs (autoregressive/models/gpt.py)
GPT_MODELS = {
    "GPT-B": (12, 12, 768), "GPT-L": (24, 16, 1024), "GPT-XL": (36, 20, 1280), "GPT-XXL": (48, 24, 1536),
    "GPT-XXXL": (48, 40, 2560), "GPT-1B": (22, 32, 2048), "GPT-3B": (24, 32, 3200), "GPT-7B": (32, 32, 4096),
    "tiny": (2, 2, 64),   # tools/fixtures/write_official_pt.py
}
DTYPES = {"f16": torch.float16, "bf16": torch.bfloat16, "f32": torch.float32}
DROP_GPT = re.compile(r"(^|\.)(freqs_cis|causal_mask|kv_cache\.[kv]_cache|k_cache|v_cache)$")


def load_state_dict(path: str) -> dict:
    ck = torch.load(path, map_location="cpu", weights_only=False)
    if isinstance(ck, dict):
        for key in ("model", "module", "state_dict", "ema"):
            if key in ck and isinstance(ck[key], dict):
                ck = ck[key]
                break
    sd = {}
    for k, v in ck.items():
        if not torch.is_tensor(v):
            continue
        for pre in ("module.", "_orig_mod.", "_fsdp_wrapped_module."):
            while k.startswith(pre):
                k = k[len(pre):]
        k = k.replace("._orig_mod.", ".").replace("._fsdp_wrapped_module.", ".")
        sd[k] = v
    return sd


def ffn_params(dim: int, hidden: int):
    """(multiple_of, ffn_dim_multiplier) reproducing `hidden` with the official formula."""
    base = int(2 * 4 * dim / 3)
    for mo in (256, 128, 64, 32, 16, 8, 4, 2, 1):
        if find_multiple(base, mo) == hidden:
            return mo, None
    for mo in (256, 128, 64, 32, 16, 8, 4, 2, 1):
        m = round(hidden / base, 6)
        if find_multiple(int(m * base), mo) == hidden:
            return mo, m
    raise ValueError(f"cannot express FFN hidden {hidden} for dim {dim}")


def convert_gpt(sd: dict, args):
    sd = {k: v for k, v in sd.items() if not DROP_GPT.search(k)}
    if "cls_embedding.embedding_table.weight" not in sd:
        raise SystemExit("not a c2i GPT checkpoint (no cls_embedding.embedding_table.weight)")
    vocab, dim = sd["tok_embeddings.weight"].shape
    n_rows = sd["cls_embedding.embedding_table.weight"].shape[0]
    n_layer = 1 + max(int(m.group(1)) for k in sd if (m := re.match(r"layers\.(\d+)\.", k)))
    if args.n_head:
        n_head = args.n_head
    elif args.gpt_model:
        L, n_head, d = GPT_MODELS[args.gpt_model]
        if d != dim or L != n_layer:
            print(f"warning: {args.gpt_model} is dim {d} / {L} layers, checkpoint has {dim} / {n_layer}", file=sys.stderr)
    else:
        raise SystemExit("need --gpt-model or --n-head (n_head cannot be derived from shapes)")
    head_dim = dim // n_head
    qkv_rows = sd["layers.0.attention.wqkv.weight"].shape[0]
    n_kv_head = (qkv_rows // head_dim - n_head) // 2
    hidden = sd["layers.0.feed_forward.w1.weight"].shape[0]
    multiple_of, mult = ffn_params(dim, hidden)
    if args.grid:
        grid = args.grid
    else:
        grid = args.image_size // args.downsample
    cfg = GPTConfig(dim=dim, n_layer=n_layer, n_head=n_head, n_kv_head=n_kv_head, vocab_size=vocab,
                    num_classes=n_rows - 1, grid=grid, cls_token_num=1, multiple_of=multiple_of,
                    ffn_dim_multiplier=mult, norm_eps=1e-5, rope_base=10000)
    assert cfg.ffn_hidden == hidden
    return sd, cfg


def convert_vq(sd: dict, args):
    sd = {k: v for k, v in sd.items() if k != "quantize.codebook_used"}
    if not args.keep_encoder:
        sd = {k: v for k, v in sd.items() if not (k.startswith("encoder.") or k.startswith("quant_conv."))}
    cb_size, embed = sd["quantize.embedding.weight"].shape
    z = sd["post_quant_conv.weight"].shape[0]
    out_ch = sd["decoder.conv_out.weight"].shape[0]
    levels = 1 + max(int(m.group(1)) for k in sd if (m := re.match(r"decoder\.conv_blocks\.(\d+)\.", k)))
    # decoder.conv_blocks[i] is resolution level (levels-1-i); its width is the res blocks' output channels
    widths = [sd[f"decoder.conv_blocks.{levels - 1 - lvl}.res.0.conv1.weight"].shape[0] for lvl in range(levels)]
    ch = reduce(math.gcd, widths)
    ch_mult = [w // ch for w in widths]
    nres = 1 + max(int(m.group(1)) for k in sd if (m := re.match(r"decoder\.conv_blocks\.0\.res\.(\d+)\.", k)))
    cfg = VQConfig(codebook_size=cb_size, codebook_embed_dim=embed, codebook_l2_norm=not args.no_l2_norm,
                   z_channels=z, ch=ch, ch_mult=ch_mult, num_res_blocks=nres - 1, out_channels=out_ch,
                   image_size=args.image_size)
    return sd, cfg


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gpt", help="official c2i GPT checkpoint (.pt)")
    ap.add_argument("--vq", help="official VQ checkpoint (.pt)")
    ap.add_argument("--gpt-model", choices=sorted(GPT_MODELS))
    ap.add_argument("--n-head", type=int, help="override n_head")
    ap.add_argument("--image-size", type=int, default=256, help="256 -> 16x16 grid, 384 -> 24x24 (VQ-16)")
    ap.add_argument("--grid", type=int, help="override the token grid side")
    ap.add_argument("--downsample", type=int, default=None, help="VQ downsample factor (default: from the VQ, else 16)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", default=None)
    ap.add_argument("--dtype", default="f32", choices=sorted(DTYPES))
    ap.add_argument("--keep-encoder", action="store_true")
    ap.add_argument("--no-l2-norm", action="store_true", help="codebook is not l2-normalised (official: it is)")
    args = ap.parse_args()
    if not args.gpt and not args.vq:
        raise SystemExit("give --gpt and/or --vq")
    dtype = DTYPES[args.dtype]
    os.makedirs(args.out, exist_ok=True)
    conf = {"name": args.name or os.path.basename(os.path.normpath(args.out))}
    vcfg = None
    vsd = None
    if args.vq:
        vsd, vcfg = convert_vq(load_state_dict(args.vq), args)
    if args.downsample is None:
        args.downsample = vcfg.downsample if vcfg else 16
    if args.gpt:
        gsd, gcfg = convert_gpt(load_state_dict(args.gpt), args)
        if vcfg is not None and gcfg.vocab_size != vcfg.codebook_size:
            print(f"warning: GPT vocab {gcfg.vocab_size} != VQ codebook {vcfg.codebook_size}", file=sys.stderr)
        save_file({k: v.to(dtype).contiguous() for k, v in gsd.items()}, os.path.join(args.out, "gpt.safetensors"),
                  metadata={"format": "pt", "source": os.path.basename(args.gpt)})
        conf["gpt"] = gcfg.to_json()
    if vcfg is not None:
        save_file({k: v.to(dtype).contiguous() for k, v in vsd.items()}, os.path.join(args.out, "vq.safetensors"),
                  metadata={"format": "pt", "source": os.path.basename(args.vq)})
        conf["vq"] = vcfg.to_json()
    n_classes = conf.get("gpt", {}).get("num_classes", 0)
    conf["class_names"] = [f"class-{i}" for i in range(n_classes)]
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(conf, f, indent=2)
        f.write("\n")
    print(f"converted to {args.out}: " + json.dumps({k: conf[k] for k in conf if k in ("gpt", "vq")}))


if __name__ == "__main__":
    main()
