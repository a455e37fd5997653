#!/usr/bin/env python3
"""PyTorch reference for the image decoder of Chameleon / Lumina-mGPT (the VQGAN decoder, tokens -> pixels).

Transformers' ChameleonVQVAE ships only the encoder and quantizer; image generation (Lumina-mGPT) decodes
with the original VQGAN checkpoint, whose decoder is the classic VQGAN one. This is a small
re-implementation written from reading that decoder, keeping its state-dict names so a checkpoint's
decoder tensors load unchanged:

  quantize.embedding.weight            [num_embeddings, embed_dim]  plain lookup (no normalisation)
  post_quant_conv.{weight,bias}        1x1, embed_dim -> latent_channels
  decoder.conv_in                      3x3, latent_channels -> base * mult[-1]
  decoder.mid.block_1 / attn_1 / block_2
  decoder.up.{level}.block.{j}         num_res_blocks + 1 ResnetBlocks per level (norm1, conv1, norm2, conv2,
                                       nin_shortcut when the channel count changes)
  decoder.up.{level}.attn.{j}          AttnBlock (norm, q, k, v, proj_out) where the level's side is in
                                       attn_resolutions (side = resolution / 2^(levels-1) at the deepest level)
  decoder.up.{level}.upsample.conv     nearest 2x then 3x3, for every level but 0
  decoder.norm_out, decoder.conv_out   GroupNorm + swish, 3x3 -> out_channels

Configuration comes from the `vq_config` of a Chameleon config.json (ChameleonVQConfig.from_dict below).
Post-processing as Chameleon's image tokenizer does it: clamp to [-1, 1], (x + 1) / 2, * 255, truncate to
uint8 (`to_uint8`).

Used by tools/make_text_vq_fixtures.py. Command line:

  python3 tools/chameleon_vqgan_reference.py                  smoke test on a tiny random decoder
  python3 tools/chameleon_vqgan_reference.py export --ckpt vqgan.ckpt --yaml vqgan.yaml --out DIR
      the released VQGAN (Lumina-mGPT's ckpts/chameleon/tokenizer/) -> DIR/config.json ({"vq_config": ...}) and
      DIR/model.safetensors (the decode-side tensors, names and dtype unchanged), what ChameleonVQDecoder.load reads
"""
from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class ChameleonVQConfig:
    """The VQ fields of Chameleon's config.json `vq_config` (defaults as transformers writes them)."""
    embed_dim: int = 256
    num_embeddings: int = 8192
    latent_channels: int = 256          # the VQGAN's z_channels
    resolution: int = 512
    base_channels: int = 128
    channel_multiplier: list[int] = field(default_factory=lambda: [1, 1, 2, 2, 4])
    num_res_blocks: int = 2
    attn_resolutions: list[int] = field(default_factory=list)
    out_channels: int = 3               # absent from transformers' config; the VQGAN's out_ch (RGB)
    dropout: float = 0.0                # inference only: dropout is the identity
    attn_type: str = "vanilla"          # "none": no attention anywhere (identity blocks, no weights)

    @classmethod
    def from_dict(cls, d: dict) -> "ChameleonVQConfig":
        keep = {k: d[k] for k in cls.__dataclass_fields__ if k in d and d[k] is not None}
        if "z_channels" in d and "latent_channels" not in d:
            keep["latent_channels"] = d["z_channels"]
        if "out_ch" in d and "out_channels" not in d:
            keep["out_channels"] = d["out_ch"]
        return cls(**keep)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def swish(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(x)


def group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(num_groups=32, num_channels=channels, eps=1e-6, affine=True)


class ResnetBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.norm1 = group_norm(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = group_norm(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        # The 1x1 projection of the skip path exists only when the width changes.
        self.nin_shortcut = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None

    def forward(self, x):
        h = self.conv1(swish(self.norm1(x)))
        h = self.conv2(swish(self.norm2(h)))
        skip = x if self.nin_shortcut is None else self.nin_shortcut(x)
        return skip + h


class AttnBlock(nn.Module):
    """Single-head self-attention over all pixels, 1x1 convs as projections, scale 1/sqrt(channels)."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = group_norm(channels)
        self.q = nn.Conv2d(channels, channels, 1)
        self.k = nn.Conv2d(channels, channels, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x):
        b, c, hh, ww = x.shape
        h = self.norm(x)
        q = self.q(h).reshape(b, c, hh * ww).transpose(1, 2)      # [b, pixels, c]
        k = self.k(h).reshape(b, c, hh * ww)                      # [b, c, pixels]
        v = self.v(h).reshape(b, c, hh * ww)
        weights = F.softmax(torch.bmm(q, k) * c ** -0.5, dim=2)   # [b, query pixel, key pixel]
        out = torch.bmm(v, weights.transpose(1, 2)).reshape(b, c, hh, ww)
        return x + self.proj_out(out)


class Upsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Decoder(nn.Module):
    def __init__(self, c: ChameleonVQConfig):
        super().__init__()
        levels = len(c.channel_multiplier)
        block_in = c.base_channels * c.channel_multiplier[-1]
        side = c.resolution // 2 ** (levels - 1)
        self.conv_in = nn.Conv2d(c.latent_channels, block_in, 3, padding=1)
        self.mid = nn.Module()
        self.mid.block_1 = ResnetBlock(block_in, block_in)
        self.mid.attn_1 = AttnBlock(block_in) if c.attn_type == "vanilla" else nn.Identity()
        self.mid.block_2 = ResnetBlock(block_in, block_in)
        ups = [None] * levels
        for level in reversed(range(levels)):
            up = nn.Module()
            block_out = c.base_channels * c.channel_multiplier[level]
            up.block = nn.ModuleList()
            up.attn = nn.ModuleList()
            for _ in range(c.num_res_blocks + 1):
                up.block.append(ResnetBlock(block_in, block_out))
                block_in = block_out
                if side in c.attn_resolutions:
                    up.attn.append(AttnBlock(block_in) if c.attn_type == "vanilla" else nn.Identity())
            if level != 0:
                up.upsample = Upsample(block_in)
                side *= 2
            ups[level] = up
        self.up = nn.ModuleList(ups)        # indexed by level, 0 = full resolution
        self.norm_out = group_norm(block_in)
        self.conv_out = nn.Conv2d(block_in, c.out_channels, 3, padding=1)

    def forward(self, z):
        h = self.conv_in(z)
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(h)))
        for level in reversed(range(len(self.up))):
            up = self.up[level]
            for j, block in enumerate(up.block):
                h = block(h)
                if len(up.attn) > 0:
                    h = up.attn[j](h)
            if level != 0:
                h = up.upsample(h)
        return self.conv_out(swish(self.norm_out(h)))


class Quantize(nn.Module):
    def __init__(self, c: ChameleonVQConfig):
        super().__init__()
        self.embedding = nn.Embedding(c.num_embeddings, c.embed_dim)


class ChameleonVQDecoder(nn.Module):
    """quantize + post_quant_conv + decoder: the decode half of the VQGAN, with its state-dict names."""

    def __init__(self, c: ChameleonVQConfig):
        super().__init__()
        self.config = c
        self.quantize = Quantize(c)
        self.post_quant_conv = nn.Conv2d(c.embed_dim, c.latent_channels, 1)
        self.decoder = Decoder(c)

    @torch.no_grad()
    def decode_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens [height, width] (raster order) -> pixels [out_channels, 2^k height, 2^k width], about [-1, 1]."""
        z = self.quantize.embedding(tokens.long())               # [height, width, embed_dim]
        z = z.permute(2, 0, 1).unsqueeze(0).contiguous()        # [1, embed_dim, height, width]
        return self.decoder(self.post_quant_conv(z))[0]


def to_uint8(pixels: torch.Tensor) -> torch.Tensor:
    """Chameleon's post-processing of [channels, height, width] in [-1, 1]: -> [height, width, channels] uint8.

    Float32 throughout and truncation (not rounding) on the cast, as the image tokenizer does it.
    """
    x = (torch.clamp(pixels, -1.0, 1.0) + 1.0) / 2.0
    hwc = x.permute(1, 2, 0).numpy()
    return torch.from_numpy((hwc * 255).astype("uint8"))


DECODE_PREFIXES = ("quantize.", "post_quant_conv.", "decoder.")


def export_checkpoint(ckpt_path: str, yaml_path: str, out_dir: str, trust_pickle: bool = False):
    """The VQGAN's Lightning checkpoint + its yaml -> out_dir/{config.json, model.safetensors}."""
    import yaml
    from safetensors.torch import save_file

    with open(yaml_path) as f:
        params = yaml.safe_load(f)["model"]["params"]
    dd = params["ddconfig"]
    vq = {"embed_dim": params["embed_dim"], "num_embeddings": params["n_embed"], "latent_channels": dd["z_channels"],
          "resolution": dd["resolution"], "base_channels": dd["ch"], "channel_multiplier": list(dd["ch_mult"]),
          "num_res_blocks": dd["num_res_blocks"], "attn_resolutions": list(dd.get("attn_resolutions") or []),
          "out_channels": dd["out_ch"], "dropout": dd.get("dropout", 0.0), "attn_type": dd.get("attn_type", "vanilla")}
    # weights_only refuses arbitrary pickled objects; a checkpoint that needs them must be trusted explicitly.
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=not trust_pickle)
    state = ckpt.get("state_dict", ckpt)
    tensors = {k: v.contiguous() for k, v in state.items() if k.startswith(DECODE_PREFIXES)}
    # Fails loudly when a name or shape differs from what the decoder expects.
    ChameleonVQDecoder(ChameleonVQConfig.from_dict(vq)).load_state_dict({k: v.float() for k, v in tensors.items()})
    os.makedirs(out_dir, exist_ok=True)
    save_file(tensors, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump({"model_type": "chameleon", "vq_config": vq}, f, indent=2, sort_keys=True)
        f.write("\n")
    print(f"wrote {out_dir}/model.safetensors ({len(tensors)} tensors) and {out_dir}/config.json")


def smoke_test():
    cfg = ChameleonVQConfig(embed_dim=8, num_embeddings=16, latent_channels=16, resolution=16, base_channels=32,
                            channel_multiplier=[1, 1], num_res_blocks=1, attn_resolutions=[8])
    model = ChameleonVQDecoder(cfg).eval()
    px = model.decode_tokens(torch.randint(0, 16, (3, 5)))
    print("pixels", tuple(px.shape), "uint8", tuple(to_uint8(px).shape))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    export = sub.add_parser("export", help="VQGAN checkpoint + yaml -> config.json + model.safetensors")
    export.add_argument("--ckpt", required=True)
    export.add_argument("--yaml", required=True)
    export.add_argument("--out", required=True)
    export.add_argument("--trust-pickle", action="store_true",
                        help="load a checkpoint that holds more than tensors (runs its pickled code)")
    args = parser.parse_args()
    if args.command == "export":
        export_checkpoint(args.ckpt, args.yaml, args.out, args.trust_pickle)
    else:
        smoke_test()
