#!/usr/bin/env python3
"""Regenerate the text-to-image transformer parity fixtures (deterministic, f32, CPU).

  python3 tools/make_text_model_fixtures.py        # needs torch, transformers (>= 5), safetensors

Builds tiny random models with the reference Hugging Face classes and writes, per family, a checkpoint
in the layout `save_pretrained` writes plus the reference logits the Swift tests compare against:

  Tests/Fixtures/emu3-tiny/       Emu3ForCausalLM (the text part of Emu3: the layout of the original Emu3
                                  checkpoints, a flat config.json), F32, SHARDED into two files with
                                  model.safetensors.index.json.
  Tests/Fixtures/chameleon-tiny/  ChameleonForConditionalGeneration with its per-head query/key LayerNorms
                                  (and a tiny VQ model whose `model.vqmodel.*` tensors the transformer loader
                                  must ignore), BF16 in one model.safetensors. The reference runs the BF16
                                  weights cast to f32, so the expected logits are exactly what the stored
                                  values give in f32.

Shapes: hidden 64, 2 layers, 4 heads, 2 key/value heads (GQA), head_dim 16. Every parameter is drawn at
random (norm weights around 1, LayerNorm biases around 0) so that no weight is a no-op.

expected.safetensors (per family): `tokens` I64 [20] (the fixed input sequence) and `logits` F32 [20, vocab]
(every position, attention "eager", f32). The logits are the raw `lm_head` output: Chameleon's
`forward` additionally sets the columns of the image tokens (vocabulary_map names starting with "IMGIMG")
to the f32 minimum so that text generation never picks them; image generation needs the raw values, so we
compare against those. The script checks that masking relation and stores the masked ids as
`image_token_ids` I64 in chameleon-tiny/expected.safetensors.
"""
from __future__ import annotations

import json
import os
import shutil

import torch
from safetensors.torch import save_file
from transformers import ChameleonConfig, ChameleonForConditionalGeneration, Emu3ForCausalLM, Emu3TextConfig

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures")
SEQUENCE_LENGTH = 20


def randomize(model: torch.nn.Module, seed: int) -> None:
    """Every parameter random: matrices ~N(0, 0.08^2), 1-D weights ~1 + N(0, 0.1^2), biases ~N(0, 0.1^2)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            noise = torch.randn(p.shape, generator=g)
            if name.endswith("bias"):
                p.copy_(0.1 * noise)
            elif "norm" in name:
                p.copy_(1 + 0.1 * noise)
            else:
                p.copy_(0.08 * noise)


def fixed_tokens(vocab: int, seed: int) -> torch.Tensor:
    return torch.randint(0, vocab, (SEQUENCE_LENGTH,), generator=torch.Generator().manual_seed(seed))


def raw_logits(model, backbone, tokens: torch.Tensor) -> torch.Tensor:
    """lm_head(final norm(hidden)) for every position, without any logit masking."""
    with torch.no_grad():
        hidden = backbone(input_ids=tokens[None]).last_hidden_state
        return model.lm_head(hidden)[0].float()


def fresh(folder: str) -> str:
    path = os.path.join(ROOT, folder)
    for name in os.listdir(path) if os.path.isdir(path) else []:
        if name != "README.md":
            os.remove(os.path.join(path, name))
    os.makedirs(path, exist_ok=True)
    return path


def emu3() -> None:
    config = Emu3TextConfig(
        vocab_size=384, hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-5, pad_token_id=0, bos_token_id=1,
        eos_token_id=2, attention_dropout=0.0, tie_word_embeddings=False,
        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
    )
    config._attn_implementation = "eager"
    torch.manual_seed(0)
    model = Emu3ForCausalLM(config).eval()
    randomize(model, seed=1)
    tokens = fixed_tokens(config.vocab_size, seed=2)
    logits = raw_logits(model, model.model, tokens)
    with torch.no_grad():
        assert torch.equal(model(input_ids=tokens[None]).logits[0], logits)   # Emu3 does not mask
    path = fresh("emu3-tiny")
    model.save_pretrained(path, max_shard_size="300KB")   # two shards + model.safetensors.index.json
    assert os.path.exists(os.path.join(path, "model.safetensors.index.json")), "expected a sharded checkpoint"
    save_file({"tokens": tokens.to(torch.int64), "logits": logits.contiguous()}, os.path.join(path, "expected.safetensors"))
    print("emu3-tiny:", sorted(os.listdir(path)), "logits", tuple(logits.shape), "max |logit|", logits.abs().max().item())


def chameleon() -> None:
    image_codes = range(64)
    letters = lambda n: "".join(chr(ord("A") + int(d)) for d in str(n))
    vocabulary_map = {"<s>": 0, "<pad>": 1, "</s>": 2, "<image>": 3}
    vocabulary_map.update({f"IMGIMG{letters(c)}Z": 200 + c for c in image_codes})   # image tokens 200..263
    vq_config = dict(embed_dim=4, num_embeddings=len(image_codes), latent_channels=4, resolution=16, in_channels=3,
                     base_channels=32, channel_multiplier=[1], num_res_blocks=1, attn_resolutions=[])
    config = ChameleonConfig(
        vocab_size=320, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-5, pad_token_id=1, bos_token_id=0,
        eos_token_id=2, tie_word_embeddings=False, rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        model_parallel_size=1, swin_norm=False, vq_config=vq_config, vocabulary_map=vocabulary_map,
    )
    config._attn_implementation = "eager"
    torch.manual_seed(0)
    model = ChameleonForConditionalGeneration(config).eval()
    randomize(model, seed=3)
    # Store BF16, compute the reference from exactly those values in f32. Only the parameters are rounded:
    # `model.to(bfloat16)` would also round the rotary inverse-frequency buffer, which a BF16 checkpoint
    # loaded for f32 inference does not have rounded.
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(torch.bfloat16).to(torch.float32))
    tokens = fixed_tokens(config.vocab_size, seed=4)
    logits = raw_logits(model, model.model, tokens)
    image_ids = torch.tensor(model.model.vocabulary_mapping.image_tokens, dtype=torch.int64)
    with torch.no_grad():
        masked = model(input_ids=tokens[None]).logits[0]
    keep = torch.ones(config.vocab_size, dtype=torch.bool)
    keep[image_ids] = False
    assert torch.equal(masked[:, keep], logits[:, keep])
    assert bool((masked[:, image_ids] == torch.finfo(torch.float32).min).all())
    path = fresh("chameleon-tiny")
    model.to(torch.bfloat16).save_pretrained(path)
    assert os.path.exists(os.path.join(path, "model.safetensors")), "expected a single-file checkpoint"
    save_file({"tokens": tokens.to(torch.int64), "logits": logits.contiguous(), "image_token_ids": image_ids},
              os.path.join(path, "expected.safetensors"))
    print("chameleon-tiny:", sorted(os.listdir(path)), "logits", tuple(logits.shape), "max |logit|", logits.abs().max().item())


if __name__ == "__main__":
    torch.set_num_threads(1)
    emu3()
    chameleon()
