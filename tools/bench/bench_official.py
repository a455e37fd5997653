#!/usr/bin/env python3
"""Times the OFFICIAL LlamaGen + ZipAR PyTorch scripts end to end, for `zipar-bench --e2e`.

What a user of the official code runs for one image: `generate` (NTP, LlamaGen's
autoregressive/models/generate.py) or ZipAR's `generate` (autoregressive/models/generate_zipar.py,
window S on its own schedule: row 0 by plain NTP, then rows start at S tokens of the row above),
followed by the VQ model's `decode_code`. Random weights (the modules' own initialisation, except
the output layer, which the official init zeroes: it gets std 0.02 so sampling is not uniform),
fp32, batch 1, on `--threads` threads, CPU.

The official code is read from a checkout or git mirror of the ZipAR repository, folder LlamaGen-ZipAR
(--zipar-repo PATH or the environment variable ZIPAR_REPO; there is no default location): the needed files are
extracted into tools/.cache/official-zipar/ (git-ignored) and imported unchanged. Exits with status 3 and a
message saying what to pass when no repository is given or found; zipar-bench (which sets no flag, so give it
ZIPAR_REPO) then falls back to tools/bench/bench_torch.py.

Prints one JSON line with --json - :
{"source": "official", "torch": version, "threads": n,
 "rows": [{"policy", "cfg", "seconds"}], "vq_seconds": s}
where `seconds` is generate() alone and vq_seconds is one decode_code of the whole grid.

Example: ZIPAR_REPO=PATH python3 -m tools.bench.bench_official --shape GPT-B --grid 16 --policies ntp,zipar:8 --cfg 1,4
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

if __package__ in (None, ""):
    # zipar-bench runs this file by its path (python3 tools/bench/bench_official.py), which puts only tools/bench/ on
    # the import path: add the repository root so the `tools` package imports as it does under `python3 -m`.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from tools import official_ref  # noqa: E402
from tools.paths import CACHE as TOOLS_CACHE  # noqa: E402

CACHE = os.path.join(TOOLS_CACHE, "official-zipar")
PREFIX = "LlamaGen-ZipAR/"
FILES = ["autoregressive/models/gpt.py", "autoregressive/models/generate.py",
         "autoregressive/models/generate_zipar.py", "tokenizer/tokenizer_image/vq_model.py",
         "utils/drop_path.py"]
SHAPES = {"GPT-B": "GPT-B", "GPT-L": "GPT-L", "GPT-XL": "GPT-XL"}


def extract(repo: str | None) -> bool:
    """Copies the official files out of the repository once; False when it is not given or a file is missing."""
    if repo is None:
        return False
    return official_ref.extract_from_mirror(repo, FILES, CACHE,
                               ["autoregressive", "autoregressive/models", "tokenizer", "tokenizer/tokenizer_image", "utils"],
                               prefix=PREFIX)


def write_json(payload: dict, target: str | None) -> None:
    """--json: '-' prints the line, a path writes it, None does nothing."""
    line = json.dumps(payload)
    if target == "-":
        print(line)
    elif target:
        with open(target, "w") as fh:
            fh.write(line + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shape", default="GPT-B", choices=sorted(SHAPES))
    ap.add_argument("--grid", type=int, default=16, help="token grid side (16 = 256 px, 24 = 384 px)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--policies", default="ntp,zipar:8", help="ntp and/or zipar:S (ZipAR's own schedule)")
    ap.add_argument("--cfg", default="1", help="comma-separated CFG scales (1 = off)")
    ap.add_argument("--repeats", type=int, default=1, help="timed runs per cell (the minimum is reported)")
    ap.add_argument("--no-vq", action="store_true", help="skip the VQ decode timing")
    ap.add_argument("--json", default=None, help="write one JSON line to this file (- = stdout)")
    ap.add_argument("--zipar-repo", default=None, metavar="PATH",
                    help="a checkout or git mirror of the ZipAR repository (default: $ZIPAR_REPO)")
    args = ap.parse_args()

    repo = official_ref.repo_path(official_ref.ZIPAR, args.zipar_repo)
    if not extract(repo):
        print(f"bench_official: {official_ref.missing_repo_message(official_ref.ZIPAR, repo)}", file=sys.stderr)
        return 3
    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    gpt_mod, ntp_mod, zipar_mod, vq_mod = official_ref.import_from(
        CACHE, "autoregressive.models.gpt", "autoregressive.models.generate", "autoregressive.models.generate_zipar",
        "tokenizer.tokenizer_image.vq_model")
    ntp_gen, zipar_gen = ntp_mod.generate, zipar_mod.generate

    model = gpt_mod.GPT_models[SHAPES[args.shape]](vocab_size=16384, block_size=args.grid ** 2, num_classes=1000,
                                                    cls_token_num=1, model_type="c2i").eval()
    with torch.no_grad():
        model.output.weight.normal_(0.0, 0.02)   # the official init zeroes it: uniform logits would be unrealistic
    cond = torch.tensor([207])
    rows = []
    for cfg in [float(c) for c in args.cfg.split(",")]:
        for policy in args.policies.split(","):
            best = float("inf")
            for _ in range(args.repeats):
                model.reset_zipar()
                t0 = time.perf_counter()
                with torch.inference_mode():
                    if policy == "ntp":
                        ntp_gen(model, cond, args.grid ** 2, cfg_scale=cfg, temperature=1.0, top_k=0, top_p=1.0,
                                sample_logits=True)
                    elif policy.startswith("zipar:"):
                        model.zipar_window_size = int(policy.split(":")[1])
                        zipar_gen(model, cond, args.grid ** 2, cfg_scale=cfg, temperature=1.0, top_k=0, top_p=1.0,
                                  sample_logits=True)
                    else:
                        raise SystemExit(f"bench_official: unknown policy {policy!r} (ntp or zipar:S)")
                best = min(best, time.perf_counter() - t0)
            rows.append({"policy": policy, "cfg": cfg, "seconds": best})
            print(f"official {args.shape} grid {args.grid} {policy} cfg {cfg:g}: {best:.2f} s", file=sys.stderr)

    vq_seconds = None
    if not args.no_vq:
        vq = vq_mod.VQ_models["VQ-16"](codebook_size=16384, codebook_embed_dim=8).eval()
        codes = torch.randint(0, 16384, (1, args.grid ** 2))
        with torch.inference_mode():
            vq.decode_code(codes, [1, 8, args.grid, args.grid])   # warm-up (allocator, oneDNN primitives)
            t0 = time.perf_counter()
            vq.decode_code(codes, [1, 8, args.grid, args.grid])
            vq_seconds = time.perf_counter() - t0
        print(f"official VQ-16 decode_code grid {args.grid}: {vq_seconds:.2f} s", file=sys.stderr)

    write_json({"source": "official", "torch": torch.__version__, "threads": args.threads, "rows": rows,
                "vq_seconds": vq_seconds}, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
