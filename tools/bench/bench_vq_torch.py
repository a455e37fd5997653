#!/usr/bin/env python3
"""PyTorch VQ decode time for zipar-bench's side-by-side (tools/llamagen.py's VQModel, fp32).

The weights and the token grid come from tools/vq_random.py, bit-identical to what zipar-bench's
Swift decoder uses (`VQDecoder(randomFor:seed:)`), so both decode the same image.

  python3 -m tools.bench.bench_vq_torch --threads 2 --grid 16 [--ch 128 --ch-mult 1,1,2,2,4 ...] [--json -]

Prints seconds per image (fastest of --repeats after a warm-up), the peak RSS of the process, and with
--json one JSON line {"torch", "threads", "grid", "seconds", "all", "peak_rss", "pixels_sum", "capability"}.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

import torch

if __package__ in (None, ""):
    # zipar-bench runs this file by its path (python3 tools/bench/bench_vq_torch.py), which puts only tools/bench/ on
    # the import path: add the repository root so the `tools` package imports as it does under `python3 -m`.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from tools import vq_random  # noqa: E402
from tools.llamagen import VQConfig, VQModel, VQ_DECODER_PREFIXES  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--grid", type=int, default=16)
    ap.add_argument("--codebook", type=int, default=16384)
    ap.add_argument("--z", type=int, default=256)
    ap.add_argument("--ch", type=int, default=128)
    ap.add_argument("--ch-mult", default="1,1,2,2,4")
    ap.add_argument("--res-blocks", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    mult = [int(x) for x in a.ch_mult.split(",")]
    cfg = VQConfig(codebook_size=a.codebook, z_channels=a.z, ch=a.ch, ch_mult=mult, num_res_blocks=a.res_blocks,
                   image_size=a.grid * 2 ** (len(mult) - 1))
    vq = VQModel(cfg, with_encoder=False).eval()
    vq_random.fill_vq(vq, a.seed, VQ_DECODER_PREFIXES)
    toks = torch.from_numpy(vq_random.tokens(a.codebook, a.grid * a.grid, a.seed)).view(1, a.grid, a.grid)
    times = []
    with torch.inference_mode():
        pix = vq.decode_code(toks)            # warm-up
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            pix = vq.decode_code(toks)
            times.append(time.perf_counter() - t0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out = {"torch": torch.__version__, "threads": a.threads, "grid": a.grid, "seconds": min(times), "all": times,
           "peak_rss": rss, "pixels_sum": float(pix.double().sum()), "pixels_absmax": float(pix.abs().max()),
           # The ISA torch's own kernels dispatch to (ATEN_CPU_CAPABILITY caps it), for the benchmark's table.
           "capability": torch.backends.cpu.get_cpu_capability()}
    print(f"torch {torch.__version__}, {a.threads} threads, VQ ch {a.ch} x {mult}, grid {a.grid}: "
          f"{min(times):.3f} s / image (runs {', '.join(f'{t:.3f}' for t in times)}), peak RSS {rss / 1e6:.0f} MB",
          file=sys.stderr)
    if a.json == "-":
        print(json.dumps(out))
    elif a.json:
        with open(a.json, "w") as f:
            json.dump(out, f)


if __name__ == "__main__":
    main()
