#!/usr/bin/env python3
"""Regenerate every test fixture under Tests/Fixtures/ (deterministic, float32, CPU).

  python3 tools/make_fixtures.py [--only tiny|fashion|converted]

  tiny       Tests/Fixtures/tiny-gqa24/{config.json,gpt.safetensors,gpt-f16.safetensors,gpt-bf16.safetensors,vq.safetensors}
             Tests/Fixtures/tiny-gqa24-gpt.safetensors, Tests/Fixtures/tiny-gqa24-vq.safetensors
  fashion    Tests/Fixtures/fashion16-gpt.safetensors, Tests/Fixtures/fashion16-vq.safetensors
             (from the committed bundle models/fashion-16, weights upcast to f32)
  converted  Tests/Fixtures/converted-tiny/ (tools/write_official_pt.py -> tools/convert_llamagen.py)
  vq16small  Tests/Fixtures/vq16-small-vq.safetensors (VQ-16 layout at ch 32, 64 px; weights from tools/vq_random.py)

See tools/README.md for the tensor names, shapes and layouts.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llamagen import (GPTConfig, Transformer, VQConfig, VQModel, load_bundle, to_uint8,  # noqa: E402
                      VQ_DECODER_PREFIXES)
from export_bundle import write_config, FASHION_CLASSES  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIX = os.path.join(ROOT, "Tests", "Fixtures")

TINY_GPT = GPTConfig(dim=128, n_layer=2, n_head=2, n_kv_head=1, vocab_size=256, num_classes=10, grid=24,
                     cls_token_num=1, multiple_of=64, ffn_dim_multiplier=0.5656, norm_eps=1e-5, rope_base=10000)
# head_dim 64 like every official LlamaGen model, GQA 2:1, a 24x24 grid (LlamaGen-L/XL's 384px case).
# ffn_dim_multiplier 0.5656 is chosen so the official formula find_multiple(int(m * int(2*4*dim/3)), 64) = 192
# differs from the tempting find_multiple(int(m * 2*4*dim/3), 64) = 256.
TINY_VQ = VQConfig(codebook_size=256, codebook_embed_dim=8, codebook_l2_norm=True, z_channels=32, ch=32,
                   ch_mult=[1, 1, 2], num_res_blocks=1, out_channels=3, image_size=96)
TINY_CLASSES = [f"class-{i}" for i in range(10)]


def randomize_gpt(model: Transformer, seed: int):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif "embedding" in name or "tok_embeddings" in name:
                p.copy_(torch.randn(p.shape, generator=g))
            elif name == "output.weight":
                p.copy_(0.12 * torch.randn(p.shape, generator=g))
            elif "wqkv" in name:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.06 * torch.randn(p.shape, generator=g))


def randomize_vq(model: VQModel, seed: int):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
            elif name == "quantize.embedding.weight":
                p.copy_(torch.randn(p.shape, generator=g))  # not normalised: lookup must l2-normalise
            elif p.dim() == 4:
                fan_in = p.shape[1] * p.shape[2] * p.shape[3]
                p.copy_(torch.randn(p.shape, generator=g) / fan_in ** 0.5)
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))


def rounded(sd: dict, dtype) -> dict:
    return {k: v.to(dtype).to(torch.float32) for k, v in sd.items()}


@torch.no_grad()
def teacher_logits(model: Transformer, sd: dict, tokens: torch.Tensor, label: int) -> torch.Tensor:
    model.load_state_dict(sd)
    model.eval()
    return model(tokens[None].long(), torch.tensor([label]))[0].contiguous()


def save(path: str, tensors: dict, meta: dict):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, path, metadata={k: str(v) for k, v in meta.items()})
    print(f"wrote {os.path.relpath(path, ROOT)} ({os.path.getsize(path) / 1024:.0f} KiB)")


def gen_tiny():
    d = os.path.join(FIX, "tiny-gqa24")
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(0)
    gpt = Transformer(TINY_GPT)
    randomize_gpt(gpt, 1234)
    sd = {k: v.detach().clone().contiguous() for k, v in gpt.state_dict().items()}
    assert TINY_GPT.ffn_hidden == 192, TINY_GPT.ffn_hidden
    save_file(sd, os.path.join(d, "gpt.safetensors"), metadata={"format": "pt"})
    save_file({k: v.to(torch.float16) for k, v in sd.items()}, os.path.join(d, "gpt-f16.safetensors"),
              metadata={"format": "pt"})
    save_file({k: v.to(torch.bfloat16) for k, v in sd.items()}, os.path.join(d, "gpt-bf16.safetensors"),
              metadata={"format": "pt"})
    vq = VQModel(TINY_VQ, with_encoder=False)
    randomize_vq(vq, 4321)
    vsd = {k: v.detach().clone().contiguous() for k, v in vq.state_dict().items() if k.startswith(VQ_DECODER_PREFIXES)}
    save_file(vsd, os.path.join(d, "vq.safetensors"), metadata={"format": "pt"})
    write_config(os.path.join(d, "config.json"), "tiny-gqa24", TINY_GPT, TINY_VQ, TINY_CLASSES)

    n = TINY_GPT.grid ** 2
    g = torch.Generator().manual_seed(99)
    tokens = torch.randint(0, TINY_GPT.vocab_size, (n,), generator=g).to(torch.int32)
    label = 3
    logits = teacher_logits(gpt, sd, tokens, label)
    lowp_pos = torch.cat([torch.arange(0, 64), torch.arange(n - 16, n)]).to(torch.int32)
    l16 = teacher_logits(gpt, rounded(sd, torch.float16), tokens, label)[lowp_pos.long()]
    lbf = teacher_logits(gpt, rounded(sd, torch.bfloat16), tokens, label)[lowp_pos.long()]
    lnull = teacher_logits(gpt, sd, tokens, TINY_GPT.num_classes)[lowp_pos.long()]
    print(f"tiny logits std {logits.std():.3f}, max |f16 - f32| {(l16 - logits[lowp_pos.long()]).abs().max():.4f}, "
          f"max |bf16 - f32| {(lbf - logits[lowp_pos.long()]).abs().max():.4f}")
    save(os.path.join(FIX, "tiny-gqa24-gpt.safetensors"), {
        "class": torch.tensor([label], dtype=torch.int32),
        "tokens": tokens,
        "positions": torch.arange(n, dtype=torch.int32),
        "logits": logits,
        "positions_lowp": lowp_pos,
        "logits_f16": l16.contiguous(),
        "logits_bf16": lbf.contiguous(),
        "logits_null": lnull.contiguous(),
        "rope": gpt.freqs_cis.contiguous(),
    }, {"config": "tiny-gqa24", "logits": "f32 weights, all 576 positions",
        "logits_f16": "weights rounded to f16, rows = positions_lowp",
        "logits_bf16": "weights rounded to bf16, rows = positions_lowp",
        "logits_null": "null class (10), f32 weights, rows = positions_lowp",
        "rope": "[cls+576, head_dim/2, 2] (cos, sin); row 0 (class token) is zeros"})

    vq.eval()
    with torch.no_grad():
        vtok = torch.randint(0, TINY_VQ.codebook_size, (1, n), generator=g)
        pix = vq.decode_code(vtok)  # [1, 3, 96, 96]
    u8 = to_uint8(pix)  # NCHW
    print(f"tiny vq pixels mean {pix.mean():.3f} std {pix.std():.3f}, u8 saturated "
          f"{((u8 == 0) | (u8 == 255)).float().mean():.3f}")
    save(os.path.join(FIX, "tiny-gqa24-vq.safetensors"), {
        "tokens": vtok.to(torch.int32), "pixels": pix.contiguous(), "u8": u8.contiguous()},
        {"config": "tiny-gqa24", "pixels": "raw decoder output, NCHW [1,3,96,96]",
         "u8": "NCHW [1,3,96,96]: clamp(127.5*x+128,0,255) truncated toward zero"})


def fashion_tokens(n_images: int = 2):
    """Real test-split token grids of the bundle's VQ: from its training cache (tools/checkpoints/v2, the shipped
    model's recipe) if present, else from the existing fixture."""
    cache = os.path.join(HERE, "checkpoints", "v2", "tokens.pt")
    if os.path.exists(cache):
        data = torch.load(cache, weights_only=False)
        t = data["test"]["tokens"][:n_images].to(torch.int32)
        y = data["test"]["labels"][:n_images].to(torch.int32)
        return t, y
    old = os.path.join(FIX, "fashion16-vq.safetensors")
    if os.path.exists(old):
        f = load_file(old)
        return f["tokens"], f["labels"]
    raise SystemExit("need tools/checkpoints/tokens.pt (run train_fashion.py encode) or an existing fixture")


def gen_fashion():
    bundle = os.path.join(ROOT, "models", "fashion-16")
    conf, gpt, vq = load_bundle(bundle, torch.float32)
    toks, labels = fashion_tokens(2)
    tokens = toks[0]
    label = int(labels[0])
    with torch.no_grad():
        logits = gpt(tokens[None].long(), torch.tensor([label]))[0]
        lnull = gpt(tokens[None].long(), torch.tensor([conf["gpt"]["num_classes"]]))[0]
        pix = vq.decode_code(toks.long())  # [2, 1, 32, 32]
    n = tokens.shape[0]
    nll = torch.nn.functional.cross_entropy(logits, tokens.long()).item()
    print(f"fashion16 teacher-forced NLL on the fixture image: {nll:.4f}")
    save(os.path.join(FIX, "fashion16-gpt.safetensors"), {
        "class": torch.tensor([label], dtype=torch.int32),
        "tokens": tokens.contiguous(),
        "positions": torch.arange(n, dtype=torch.int32),
        "logits": logits.contiguous(),
        "logits_null": lnull.contiguous(),
    }, {"model": "models/fashion-16 (f16 weights upcast to f32)", "tokens": "test image 0 token grid, raster order",
        "nll": f"{nll:.6f}"})
    u8 = to_uint8(pix)[:, 0]  # [2, 32, 32]
    save(os.path.join(FIX, "fashion16-vq.safetensors"), {
        "tokens": toks.contiguous(), "labels": labels.contiguous(), "pixels": pix.contiguous(), "u8": u8.contiguous()},
        {"model": "models/fashion-16 (f16 weights upcast to f32)", "pixels": "raw decoder output NCHW [2,1,32,32]",
         "u8": "[2,32,32] (gray, channel dim dropped)", "tokens": "test images 0 and 1"})


def gen_converted():
    d = os.path.join(FIX, "converted-tiny")
    work = os.path.join(HERE, ".cache", "official-tiny")
    os.makedirs(work, exist_ok=True)
    py = sys.executable
    subprocess.check_call([py, os.path.join(HERE, "write_official_pt.py"), "--out", work])
    subprocess.check_call([py, os.path.join(HERE, "convert_llamagen.py"),
                           "--gpt", os.path.join(work, "c2i_tiny.pt"), "--vq", os.path.join(work, "vq_tiny.pt"),
                           "--gpt-model", "tiny", "--image-size", "16", "--name", "converted-tiny", "--out", d])
    # reference outputs computed by the model that wrote the .pt (official classes when available)
    ref = torch.load(os.path.join(work, "reference.pt"), weights_only=False)
    save(os.path.join(FIX, "converted-tiny-ref.safetensors"), ref["tensors"], ref["meta"])


# The official VQ-16 decoder layout (ch_mult [1, 1, 2, 2, 4], 2 res blocks, attention at the deepest level,
# embed dim 8, codebook 16384) at ch 32 / z 64 so a test decodes it in well under a second: 64 px from 4x4.
VQ16_SMALL = VQConfig(codebook_size=16384, codebook_embed_dim=8, codebook_l2_norm=True, z_channels=64, ch=32,
                      ch_mult=[1, 1, 2, 2, 4], num_res_blocks=2, out_channels=3, image_size=64)
VQ16_SMALL_SEED = 7


def gen_vq16small():
    import vq_random
    vq = VQModel(VQ16_SMALL, with_encoder=False).eval()
    vq_random.fill_vq(vq, VQ16_SMALL_SEED, VQ_DECODER_PREFIXES)
    grid = VQ16_SMALL.image_size // VQ16_SMALL.downsample
    toks = torch.from_numpy(vq_random.tokens(VQ16_SMALL.codebook_size, 2 * grid * grid, VQ16_SMALL_SEED)).view(2, grid * grid)
    with torch.no_grad():
        pix = vq.decode_code(toks)  # [2, 3, 64, 64]
    u8 = to_uint8(pix)
    print(f"vq16small pixels mean {pix.mean():.3f} std {pix.std():.3f}")
    save(os.path.join(FIX, "vq16-small-vq.safetensors"), {
        "tokens": toks.to(torch.int32).contiguous(), "pixels": pix.contiguous(), "u8": u8.contiguous()},
        {"config": json.dumps(VQ16_SMALL.to_json()), "seed": VQ16_SMALL_SEED,
         "weights": "tools/vq_random.py (Swift: VQDecoder(randomFor:seed:))",
         "tokens": "vq_random.tokens(16384, 32, seed): two 4x4 grids",
         "pixels": "raw decoder output, NCHW [2,3,64,64]", "u8": "NCHW [2,3,64,64]"})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["tiny", "fashion", "converted", "vq16small"], action="append")
    args = ap.parse_args()
    torch.set_num_threads(2)
    which = args.only or ["tiny", "converted", "fashion", "vq16small"]
    if "tiny" in which:
        gen_tiny()
    if "converted" in which:
        gen_converted()
    if "vq16small" in which:
        gen_vq16small()
    if "fashion" in which:
        if os.path.exists(os.path.join(ROOT, "models", "fashion-16", "gpt.safetensors")):
            gen_fashion()
        else:
            print("models/fashion-16 not exported yet; skipping fashion16 fixtures")
    for dirpath, _, files in os.walk(FIX):  # safetensors writes 0600 files
        for f in files:
            os.chmod(os.path.join(dirpath, f), 0o644)


if __name__ == "__main__":
    main()
