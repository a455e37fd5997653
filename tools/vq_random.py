"""Deterministic "random" VQ decoder weights and token grids, bit-identical to Swift's
`VQDecoder(randomFor:seed:)` / `VQDecoder.randomTokens` (Sources/Model/VQRandom.swift).

Value i of tensor `name`: z = splitmix64(fnv1a64(name) ^ seed * 0x9E3779B97F4A7C15 + i),
r = (z >> 40) / 2^24 * 2 - 1 in float32 (exact), then by name: conv weights r * sqrt(3 / fan_in) (variance
1 / fan_in), norm weights 1 + 0.2 r, biases 0.05 r, the codebook r (not unit length: lookup normalises).
Tokens: splitmix64(fnv1a64("tokens") ^ seed * golden + i) % codebook_size.
"""
from __future__ import annotations

import math

import numpy as np

GOLDEN = 0x9E3779B97F4A7C15
M64 = (1 << 64) - 1


def fnv1a64(s: str) -> int:
    h = 0xCBF29CE484222325
    for b in s.encode():
        h = ((h ^ b) * 0x100000001B3) & M64
    return h


def splitmix(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = x + np.uint64(GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def stream(name: str, seed: int, n: int) -> np.ndarray:
    key = (fnv1a64(name) ^ (seed * GOLDEN)) & M64
    with np.errstate(over="ignore"):
        return splitmix(np.uint64(key) + np.arange(n, dtype=np.uint64))


def uniform(name: str, seed: int, n: int) -> np.ndarray:
    z = stream(name, seed, n)
    return (z >> np.uint64(40)).astype(np.float32) / np.float32(16777216) * np.float32(2) - np.float32(1)


def tensor(name: str, shape, seed: int) -> np.ndarray:
    n = int(np.prod(shape))
    r = uniform(name, seed, n)
    if name == "quantize.embedding.weight":
        v = r
    elif len(shape) == 4:
        fan_in = shape[1] * shape[2] * shape[3]
        v = r * np.float32(math.sqrt(3.0 / fan_in))
    elif name.endswith(".bias"):
        v = np.float32(0.05) * r
    else:  # norm weights
        v = np.float32(0.2) * r + np.float32(1)
    return v.reshape(shape)


def tokens(codebook: int, n: int, seed: int) -> np.ndarray:
    return (stream("tokens", seed, n) % np.uint64(codebook)).astype(np.int64)


def fill_vq(model, seed: int, prefixes) -> None:
    """Overwrites the decoder-side parameters of a tools/llamagen.py VQModel in place."""
    import torch
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith(prefixes):
                p.copy_(torch.from_numpy(tensor(name, tuple(p.shape), seed)))
