#!/usr/bin/env python3
"""Regenerate the VQ image-decoder fixtures of the text-to-image families (deterministic, float32, CPU).

  python3 tools/make_text_vq_fixtures.py [--only emu3|chameleon]

  emu3       Tests/Fixtures/emu3-vq-tiny/      transformers' Emu3VQVAE (its `decode`) with a tiny random config
  chameleon  Tests/Fixtures/chameleon-vq-tiny/ tools/chameleon_vqgan_reference.py with a tiny random config

Each folder gets
  config.json              Emu3: the Emu3VQVAEConfig as transformers writes it (every field);
                           Chameleon: {"model_type": "chameleon", "vq_config": {...}} as in a Chameleon config.json
  model.safetensors        the decode-side weights (codebook, post_quant_conv, decoder.*) under the reference's
                           names, stored F16 to keep the file small; the reference ran on exactly these values
                           upcast to f32
  reference.safetensors    for each grid g in (a: 4 rows x 6 columns, b: 6 x 4):
                             tokens_g  I64 [rows, cols]   codebook indices, raster order
                             pixels_g  F32 [3, 2 rows, 2 cols]  decoder output (2 levels: 2x upsampling)
                             u8_g      U8  [height, width, 3] the family's own post-processing of pixels_g
                           Emu3 also u8clip_g: the image processor's post-processing with CLIP mean/std
  README.md                what is here and this command

Weights are random but scaled so every activation stays O(1) and the pixels spread over about [-1, 1]
(a few clamp), so both the f32 parity and the uint8 conversion are exercised.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIX = os.path.join(ROOT, "Tests", "Fixtures")
sys.path.insert(0, HERE)

GRIDS = {"a": (4, 6), "b": (6, 4)}      # (rows, columns): both orientations of a non-square grid
DECODE_PREFIXES = ("quantize.", "post_quant_conv.", "decoder.")


def randomize(model: torch.nn.Module, seed: int):
    """O(1) random weights: conv/linear ~ N(0, 1/fan_in), norms near identity, BatchNorm statistics spread."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in list(model.named_parameters()) + list(model.named_buffers()):
            if not t.is_floating_point():
                continue
            randn = torch.randn(t.shape, generator=g)
            if name.endswith("running_mean"):
                t.copy_(0.2 * randn)
            elif name.endswith("running_var"):
                t.copy_(0.5 + torch.rand(t.shape, generator=g))
            elif name.endswith("embedding.weight"):
                t.copy_(randn)
            elif t.dim() == 1 and name.endswith("weight"):          # GroupNorm / BatchNorm scale
                t.copy_(1.0 + 0.2 * randn)
            elif name.endswith("conv_y.bias"):                     # spatial-norm scale: around 1
                t.copy_(1.0 + 0.1 * randn)
            elif t.dim() == 1:                                      # biases
                t.copy_(0.05 * randn)
            else:
                fan_in = t[0].numel()
                t.copy_(randn / fan_in ** 0.5)


def scale_output(conv: torch.nn.Module, out: torch.Tensor, target_std: float = 0.45):
    """Rescales the last conv so the pixels spread over about [-1, 1]; returns the factor."""
    with torch.no_grad():
        k = target_std / out.std().item()
        conv.weight.mul_(k)
        conv.bias.mul_(k)
    return k


def to_f16_and_back(model: torch.nn.Module):
    """Rounds the weights to f16 (what the fixture stores) so the reference runs on exactly those values."""
    with torch.no_grad():
        for _, t in list(model.named_parameters()) + list(model.named_buffers()):
            if t.is_floating_point():
                t.copy_(t.to(torch.float16).to(torch.float32))


def decode_weights(model: torch.nn.Module) -> dict:
    return {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()
            if k.startswith(DECODE_PREFIXES) and v.is_floating_point()}


def token_grids(codebook: int, seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {n: torch.randint(0, codebook, shape, generator=g) for n, shape in GRIDS.items()}


def save(folder: str, weights: dict, reference: dict, config: dict, readme: str):
    os.makedirs(folder, exist_ok=True)
    save_file(weights, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    save_file({k: v.contiguous() for k, v in reference.items()}, os.path.join(folder, "reference.safetensors"))
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(folder, "README.md"), "w") as f:
        f.write(readme)
    for name in sorted(os.listdir(folder)):
        print(f"wrote {os.path.relpath(os.path.join(folder, name), ROOT)} "
              f"({os.path.getsize(os.path.join(folder, name)) / 1024:.0f} KiB)")


# ---------------------------------------------------------------- Emu3

def emu3_postprocess(chw: np.ndarray, mean, std) -> np.ndarray:
    """Emu3ImageProcessor.postprocess (do_normalize, do_rescale, PIL output) step for step, with the same
    transformers functions, because the processor module itself needs Pillow, which tools/ does not require:
    unnormalize = normalize by (-mean/std, 1/std) in float32, rescale by 1/(1/255) through float64 back to
    float32, clip to [0, 255], cast to uint8 (truncation), channels last."""
    from transformers.image_transforms import normalize, rescale
    from transformers.image_utils import ChannelDimension
    first = ChannelDimension.FIRST
    x = normalize(chw, mean=tuple(-m / s for m, s in zip(mean, std)), std=tuple(1 / s for s in std),
                  input_data_format=first)
    x = rescale(x, scale=1.0 / (1 / 255), input_data_format=first)
    return np.ascontiguousarray(x.clip(0, 255).astype(np.uint8).transpose(1, 2, 0))


def gen_emu3():
    from transformers import Emu3VQVAE, Emu3VQVAEConfig
    from transformers.utils.constants import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD

    # Two levels (deepest 32 channels, full resolution 64: the up path widens, so nin_shortcut is used),
    # attention at the deepest level with 2 heads, 4 latent frames' worth of temporal layers
    # (temporal_downsample_factor 4: one TemporalResnetBlock, two TemporalUpsample).
    config = Emu3VQVAEConfig(codebook_size=48, embed_dim=4, latent_channels=4, base_channels=32,
                             channel_multiplier=[2, 1], num_res_blocks=1, attn_resolutions=[1],
                             hidden_size=32, num_attention_heads=2, temporal_downsample_factor=4)
    config._attn_implementation = "eager"
    torch.manual_seed(0)
    model = Emu3VQVAE(config).eval()
    randomize(model, 2024)
    grids = token_grids(config.codebook_size, 7)
    with torch.no_grad():
        scale_output(model.decoder.conv_out, model.decode(grids["a"][None])[0])
    to_f16_and_back(model)

    unit = ([0.5] * 3, [0.5] * 3)                                         # [-1, 1] -> [0, 255]
    clip = (OPENAI_CLIP_MEAN, OPENAI_CLIP_STD)                            # the processor's default mean/std
    reference = {}
    with torch.no_grad():
        for n, tokens in grids.items():
            pixels = model.decode(tokens[None])[0].contiguous()           # frame 0 of the decoded clip
            reference[f"tokens_{n}"] = tokens
            reference[f"pixels_{n}"] = pixels
            for key, (mean, std) in (("u8", unit), ("u8clip", clip)):
                reference[f"{key}_{n}"] = torch.from_numpy(emu3_postprocess(pixels.numpy(), mean, std))
            print(f"emu3 grid {n} {tuple(tokens.shape)}: pixels in [{pixels.min():.3f}, {pixels.max():.3f}]")

    readme = f"""# emu3-vq-tiny

Emu3's VQ image decoder (transformers `Emu3VQVAE.decode`) with a tiny random config, and its outputs for two
non-square token grids.
Read by `Tests/TextModelTests/Emu3VQParityTests.swift`.

* `config.json`: every Emu3VQVAEConfig field as transformers writes it.
* `model.safetensors`: decode-side weights (F16; encoder and quant_conv left out).
* `reference.safetensors`: `tokens_{{a,b}}` (4x6 and 6x4), `pixels_{{a,b}}` (f32 `[3, 2 rows, 2 cols]`, frame 0 of the
  decoded clip), `u8_{{a,b}}` (`Emu3ImageProcessor.postprocess`'s steps with mean = std = 0.5: [-1, 1] -> 0..255) and
  `u8clip_{{a,b}}` (the same with the processor's default CLIP mean/std), `[height, width, 3]`.

Regenerate (deterministic, CPU): `python3 tools/make_text_vq_fixtures.py --only emu3`
"""
    save(os.path.join(FIX, "emu3-vq-tiny"), decode_weights(model), reference, config.to_dict(), readme)


# ---------------------------------------------------------------- Chameleon

def gen_chameleon():
    from transformers import ChameleonVQVAEConfig
    from chameleon_vqgan_reference import ChameleonVQConfig, ChameleonVQDecoder, to_uint8

    # Deepest level 32 channels at side 4 with attention (resolution 8 / 2), full level 64 channels
    # (nin_shortcut used), no attention there; latent (z) channels differ from embed_dim.
    hf = ChameleonVQVAEConfig(embed_dim=8, num_embeddings=40, latent_channels=16, resolution=8, base_channels=32,
                              channel_multiplier=[2, 1], num_res_blocks=1, attn_resolutions=[4])
    vq_config = hf.to_dict()
    config = ChameleonVQConfig.from_dict(vq_config)
    torch.manual_seed(0)
    model = ChameleonVQDecoder(config).eval()
    randomize(model, 2025)
    grids = token_grids(config.num_embeddings, 8)
    scale_output(model.decoder.conv_out, model.decode_tokens(grids["a"]))
    to_f16_and_back(model)

    reference = {}
    for n, tokens in grids.items():
        pixels = model.decode_tokens(tokens).contiguous()
        reference[f"tokens_{n}"] = tokens
        reference[f"pixels_{n}"] = pixels
        reference[f"u8_{n}"] = to_uint8(pixels)
        print(f"chameleon grid {n} {tuple(tokens.shape)}: pixels in [{pixels.min():.3f}, {pixels.max():.3f}]")

    readme = """# chameleon-vq-tiny

The VQGAN image decoder of Chameleon / Lumina-mGPT (`tools/chameleon_vqgan_reference.py`, the decoder's original
state-dict names) with a tiny random config, and its outputs for two non-square token grids.
Read by `Tests/TextModelTests/ChameleonVQParityTests.swift`.

* `config.json`: `{"model_type": "chameleon", "vq_config": {...}}`, the vq_config as transformers'
  ChameleonVQVAEConfig writes it (no `out_channels`: RGB, 3).
* `model.safetensors`: `quantize.embedding.weight`, `post_quant_conv.*`, `decoder.*` (F16).
* `reference.safetensors`: `tokens_{a,b}` (4x6 and 6x4), `pixels_{a,b}` (f32 `[3, 2 rows, 2 cols]`) and `u8_{a,b}`
  (Chameleon's post-processing: clamp to [-1, 1], (x + 1) / 2 * 255, truncated; `[height, width, 3]`).

Regenerate (deterministic, CPU): `python3 tools/make_text_vq_fixtures.py --only chameleon`
"""
    save(os.path.join(FIX, "chameleon-vq-tiny"), decode_weights(model), reference,
         {"model_type": "chameleon", "vq_config": vq_config}, readme)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["emu3", "chameleon"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.only in (None, "emu3"):
        gen_emu3()
    if args.only in (None, "chameleon"):
        gen_chameleon()
