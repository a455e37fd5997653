#!/usr/bin/env python3
"""Write tiny random LlamaGen checkpoints in the official .pt layout, plus reference outputs.

  python3 tools/write_official_pt.py --out DIR [--seed 7] [--no-official]

Writes
  DIR/c2i_tiny.pt    {"model": GPT state dict, "optimizer": None, "steps": 0, "args": None}
                     (includes kv-cache buffers from setup_caches() and a stray `freqs_cis`, which
                     the converter must drop)
  DIR/vq_tiny.pt     {"model": VQ state dict incl. encoder, quant_conv and quantize.codebook_used}
  DIR/reference.pt   {"tensors": {...}, "meta": {...}}: teacher-forced logits and decoded pixels
                     computed by the model object that produced the checkpoint.
The model objects are the official LlamaGen classes when tools/official_ref.py finds the code
(recorded in meta["oracle"]), otherwise tools/llamagen.py.

Tiny config: GPT dim 64, 2 layers, 2 heads (head_dim 32, no GQA), vocab 64, 10 classes, 8x8 grid,
multiple_of 256 (official default); VQ ch 32, ch_mult [1,1] (downsample 2), 1 res block,
z_channels 32, codebook 64 x 8, RGB, image 16.
"""
from __future__ import annotations

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llamagen  # noqa: E402
import official_ref  # noqa: E402

GPT_KW = dict(dim=64, n_layer=2, n_head=2, vocab_size=64, num_classes=10, cls_token_num=1, multiple_of=256)
GRID = 8
VQ_KW = dict(ch=32, ch_mult=[1, 1], num_res_blocks=1, z_channels=32, codebook_size=64, codebook_embed_dim=8)


def randomize(module: torch.nn.Module, g: torch.Generator):
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
            elif "embedding" in name or "tok_embeddings" in name:
                p.copy_(torch.randn(p.shape, generator=g))
            elif p.dim() == 4:
                fan_in = p.shape[1] * p.shape[2] * p.shape[3]
                p.copy_(torch.randn(p.shape, generator=g) / fan_in ** 0.5)
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))


def build_official(og, ov):
    gpt = og.Transformer(og.ModelArgs(**GPT_KW, block_size=GRID * GRID, class_dropout_prob=0.1))
    vq = ov.VQModel(ov.ModelArgs(codebook_size=VQ_KW["codebook_size"], codebook_embed_dim=VQ_KW["codebook_embed_dim"],
                                 encoder_ch_mult=VQ_KW["ch_mult"], decoder_ch_mult=VQ_KW["ch_mult"],
                                 z_channels=VQ_KW["z_channels"]))
    # the official VQModel hard-codes ch=128 / num_res_blocks=2; rebuild the towers at the tiny size
    vq.encoder = ov.Encoder(in_channels=3, ch=VQ_KW["ch"], ch_mult=VQ_KW["ch_mult"],
                            num_res_blocks=VQ_KW["num_res_blocks"], z_channels=VQ_KW["z_channels"])
    vq.decoder = ov.Decoder(z_channels=VQ_KW["z_channels"], ch=VQ_KW["ch"], ch_mult=VQ_KW["ch_mult"],
                            num_res_blocks=VQ_KW["num_res_blocks"], out_channels=3)
    return gpt, vq


def build_ours():
    gpt = llamagen.Transformer(llamagen.GPTConfig(**GPT_KW, grid=GRID))
    vq = llamagen.VQModel(llamagen.VQConfig(**VQ_KW, out_channels=3, image_size=16))
    return gpt, vq


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-official", action="store_true", help="use tools/llamagen.py even if the official code is found")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(args.seed)
    off = None if args.no_official else official_ref.load()
    if off is not None:
        gpt, vq = build_official(*off)
        oracle = "official LlamaGen code"
    else:
        gpt, vq = build_ours()
        oracle = "tools/llamagen.py"
    g = torch.Generator().manual_seed(args.seed)
    randomize(gpt, g)
    randomize(vq, g)
    gpt.eval()
    vq.eval()

    n = GRID * GRID
    tokens = torch.randint(0, GPT_KW["vocab_size"], (n,), generator=g)
    label = 7
    with torch.no_grad():
        if off is not None:
            pos = torch.arange(n)
            lc = gpt(tokens[None, :-1], torch.tensor([label]), input_pos=pos)[0][0]
            ln = gpt(tokens[None, :-1], torch.tensor([GPT_KW["num_classes"]]), input_pos=pos)[0][0]
            vtok = torch.randint(0, VQ_KW["codebook_size"], (2, n), generator=g)
            zq = vq.quantize.get_codebook_entry(vtok.flatten(), shape=(2, VQ_KW["codebook_embed_dim"], GRID, GRID))
            pix = vq.decode(zq)
        else:
            lc = gpt(tokens[None], torch.tensor([label]))[0]
            ln = gpt(tokens[None], torch.tensor([GPT_KW["num_classes"]]))[0]
            vtok = torch.randint(0, VQ_KW["codebook_size"], (2, n), generator=g)
            pix = vq.decode_code(vtok)

    gsd = {k: v for k, v in gpt.state_dict().items()}
    if off is not None:
        gpt.setup_caches(max_batch_size=2, max_seq_length=n + 1, dtype=torch.float32)
        gsd = {k: v for k, v in gpt.state_dict().items()}  # now with layers.*.attention.kv_cache.{k,v}_cache
        gsd["freqs_cis"] = gpt.freqs_cis.clone()
    else:
        gsd["freqs_cis"] = gpt.freqs_cis.clone()
    torch.save({"model": gsd, "optimizer": None, "steps": 0, "args": None}, os.path.join(args.out, "c2i_tiny.pt"))
    vsd = vq.state_dict()
    if "quantize.codebook_used" not in vsd:
        vsd["quantize.codebook_used"] = torch.zeros(65536)
    torch.save({"model": vsd, "optimizer": None, "steps": 0}, os.path.join(args.out, "vq_tiny.pt"))
    tensors = {
        "class": torch.tensor([label], dtype=torch.int32),
        "tokens": tokens.to(torch.int32),
        "positions": torch.arange(n, dtype=torch.int32),
        "logits": lc.float().contiguous(),
        "logits_null": ln.float().contiguous(),
        "vq_tokens": vtok.to(torch.int32),
        "pixels": pix.float().contiguous(),
        "u8": llamagen.to_uint8(pix).contiguous(),
    }
    meta = {"oracle": oracle, "config": "converted-tiny",
            "logits": "teacher-forced, row p predicts tokens[p] (f32)",
            "pixels": "raw decoder output NCHW [2,3,16,16]", "u8": "NCHW [2,3,16,16]"}
    torch.save({"tensors": tensors, "meta": meta}, os.path.join(args.out, "reference.pt"))
    print(f"wrote tiny official-layout checkpoints to {args.out} (oracle: {oracle})")


if __name__ == "__main__":
    main()
