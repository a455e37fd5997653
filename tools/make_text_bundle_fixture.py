#!/usr/bin/env python3
"""Write Tests/Fixtures/text-bundle-tiny/: a tiny text-to-image bundle in tools/text2img's format, for the
end-of-row decoding tests (Tests/DecodingTests/TextDecodingTests.swift).

    python3 tools/make_text_bundle_fixture.py [--out DIR] [--grid 6]

Same files as tools/text2img/export.py writes, at toy size and with random weights (nothing is trained, so the
images are noise; the tests check layout, schedules and seeds, not pictures):
  config.json + model.safetensors   transformers' Emu3ForCausalLM, hidden 32, 2 layers, 4 heads / 2 KV heads,
                                    FFN 64, random init (torch seed 0), F16, untied lm_head
  tokenizer.json                    tools/checkpoints/text2img/tokenizer.json when it exists (the real caption
                                    tokenizer: 460 text ids + 512 visual tokens); otherwise a tiny byte-level BPE
                                    trained here with the same special and visual tokens
  layout.json                       layout.py's fields for a --grid x --grid image (meta text "G*G")
  vq.safetensors                    a random LlamaGen-architecture VQ decoder (tools/llamagen.py VQModel, one
                                    level of 32 channels: codes -> grid x grid grey pixels), F16

Deterministic for a given tokenizer. Needs torch, transformers, tokenizers, safetensors (tools only).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "text2img"))
import layout as L  # noqa: E402
from export_bundle import vq_decoder_tensors  # noqa: E402
from llamagen import VQConfig, VQModel  # noqa: E402

REAL_TOKENIZER = os.path.join(HERE, "checkpoints", "text2img", "tokenizer.json")
DEFAULT_OUT = os.path.join(ROOT, "Tests", "Fixtures", "text-bundle-tiny")


def tiny_tokenizer():
    """A byte-level BPE over a few captions with layout.py's special tokens first and the visual tokens last."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = list(L.SPECIALS.values())
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(["a dark ankle boot", "a light dress", "a small patterned bag", "16*16"], trainer)
    tok.add_special_tokens([L.visual_token(v) for v in range(L.CODEBOOK)])
    return tok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--grid", type=int, default=6)
    args = ap.parse_args()
    from safetensors.torch import save_file
    from tokenizers import Tokenizer
    from transformers import Emu3ForCausalLM, Emu3TextConfig

    tok = Tokenizer.from_file(REAL_TOKENIZER) if os.path.exists(REAL_TOKENIZER) else tiny_tokenizer()
    lay = L.Layout(tok)
    g = args.grid
    meta = f"{g}*{g}"
    meta_ids = tok.encode(meta, add_special_tokens=False).ids
    os.makedirs(args.out, exist_ok=True)

    torch.manual_seed(0)
    cfg = Emu3TextConfig(vocab_size=lay.vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         rope_theta=10000.0, tie_word_embeddings=False, bos_token_id=lay.bos, eos_token_id=lay.eos,
                         pad_token_id=lay.pad)
    model = Emu3ForCausalLM(cfg)
    with torch.no_grad():   # larger than the 0.02 init so the random logits are not all alike
        for p in model.parameters():
            if p.dim() == 2:
                p.normal_(0, 0.2)
    model.to(torch.float16).save_pretrained(args.out)
    tok.save(os.path.join(args.out, "tokenizer.json"))

    vq_cfg = VQConfig(codebook_size=L.CODEBOOK, codebook_embed_dim=4, codebook_l2_norm=True, z_channels=32, ch=32,
                      ch_mult=[1], num_res_blocks=1, out_channels=1, image_size=g)
    vq = VQModel(vq_cfg, with_encoder=False)
    save_file(vq_decoder_tensors(vq.state_dict(), torch.float16), os.path.join(args.out, "vq.safetensors"),
              metadata={"format": "pt", "source": "random (tools/make_text_bundle_fixture.py)"})

    layout = lay.to_json()
    layout.update({
        "layout": f"[BOS] caption [SOI] meta [IMG] ({g} x ({g} image tokens, [EOL])) [EOF] [EOI] [EOS]",
        "meta_text": meta, "meta_ids": meta_ids, "grid": {"rows": g, "cols": g},
        "image_tokens_per_row_with_eol": g + 1, "image_part_length": g * (g + 1) + 3,
        "name": "text-bundle-tiny", "vq": vq_cfg.to_json(),
        "source": "random weights, tools/make_text_bundle_fixture.py",
    })
    with open(os.path.join(args.out, "layout.json"), "w") as f:
        json.dump(layout, f, indent=2)
        f.write("\n")
    for name in ("generation_config.json",):
        path = os.path.join(args.out, name)
        if os.path.exists(path):
            os.remove(path)   # not read by the runtime
    for name in os.listdir(args.out):
        os.chmod(os.path.join(args.out, name), 0o644)
    sizes = {n: os.path.getsize(os.path.join(args.out, n)) for n in sorted(os.listdir(args.out))}
    print(f"wrote {args.out}: " + ", ".join(f"{n} {s} B" for n, s in sizes.items()) + f"; total {sum(sizes.values())} B")


if __name__ == "__main__":
    main()
