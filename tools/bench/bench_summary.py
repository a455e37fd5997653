#!/usr/bin/env python3
"""Print the headline tables of docs/speed.md and README.md from a `zipar-bench --json` report.

  python3 -m tools.bench.bench_summary bench.json [--model GPT-B]

Markdown on stdout: the machine line, the per-storage table (floors, pass time against queries, where
the time goes, policies at batch 1 and 8, PyTorch side-by-side, peak RSS). Every figure comes from the
report, so the docs can be refreshed from any run: paste the output over the "Latest figures" tables.
"""
from __future__ import annotations

import argparse
import json
import sys


def pct(x):
    return f"{-100 * x:.0f}%" if x == x else "-"   # a cut of 0.41 prints as -41%


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("report")
    ap.add_argument("--model", default="GPT-B")
    args = ap.parse_args()
    r = json.load(open(args.report))
    models = [m for m in r["models"] if m["name"].startswith(args.model)]
    if not models:
        sys.exit(f"no model named {args.model}* in {args.report}")
    mach = r["machine"]
    kf = r.get("kernelFlops", {})
    print(f"Machine: {mach['cpu']}, {mach['cores']} cores, {mach['kernelThreads']} kernel threads, "
          f"{mach['instructionSet']}, load {mach['loadAverage']}, {mach['date']}. Streaming read "
          f"{r['bandwidthOneThread'] / 1e9:.1f} GB/s (1 thread), {r['bandwidthAllThreads'] / 1e9:.1f} GB/s "
          f"(all); multiply-add rate {r['peakFlops'] / 1e9:.0f} GFLOP/s (FMA loop), the matmul kernel in cache "
          + ", ".join(f"{v / 1e9:.0f} GFLOP/s ({k})" for k, v in sorted(kf.items())) + ".\n")

    def sweep(m, q):
        return next((p for p in m["sweep"] if p["queries"] == q), None)

    def pol(m, name, batch, cfg):
        return next((p for p in m["policies"] if p["policy"] == name and p["batch"] == batch and p["cfg"] == cfg), None)

    cols = [m["storage"] for m in models]
    rows = []
    rows.append(("memory floor (" + " / ".join(f"{m['streamedBytes'] / 1e6:.0f}" for m in models) + " MB per pass)",
                 [f"{m['floorMs']:.2f} ms" for m in models]))
    rows.append(("forward pass, 1 query", [f"{sweep(m, 1)['msPerPass']:.2f} ms ({sweep(m, 1)['overFloor']:.2f}x floor)" for m in models]))
    rows.append(("2 / 4 / 8 queries of one image (x 1 query)",
                 [" / ".join(f"{sweep(m, q)['overOneQuery']:.2f}" for q in (2, 4, 8) if sweep(m, q)) for m in models]))
    rows.append(("8 queries spread over 8 images (x 1 query)", [f"{sweep(m, 8)['spreadOverOneQuery']:.2f}" for m in models]))
    rows.append(("compute floor at 8 queries (kernel's in-cache rate)", [f"{sweep(m, 8)['computeFloorMs']:.2f} ms" for m in models]))
    for q in (1, 8):
        rows.append((f"{q} quer{'y' if q == 1 else 'ies'}: matmuls / attention / head / rest",
                     [" / ".join(f"{sweep(m, q)['stages'][k]:.2f}" for k in ("matmul", "attention", "head", "other")) + " ms"
                      for m in models]))
    for cfg in (False, True):
        base = [pol(m, "ntp", 1, cfg) for m in models]
        if not all(base):
            continue
        tag = "" if not cfg else " (CFG)"
        rows.append((f"ntp batch 1{tag}: s / image ({base[0]['passes']} passes)", [f"{b['secondsPerImage']:.2f}" for b in base]))
        for name in ("zipar:8", "zipar:4", "adaptive:4"):
            ps = [pol(m, name, 1, cfg) for m in models]
            if not all(ps):
                continue
            rows.append((f"{name} batch 1{tag}: s / image, latency cut (x step cut {pct(ps[0]['stepReduction'])})",
                         [f"{p['secondsPerImage']:.2f}, {pct(p['latencyReduction'])} ({p['latencyReduction'] / p['stepReduction']:.2f})"
                          for p in ps]))
    for cfg in (False, True):
        names = [n for n in ("ntp", "zipar:8", "zipar:4") if all(pol(m, n, 8, cfg) for m in models)]
        if not names:
            continue
        tag = "cfg off" if not cfg else "CFG"
        rows.append((f"batch 8, {tag}, images/s: " + " / ".join(names),
                     [" / ".join(f"{pol(m, n, 8, cfg)['imagesPerSecond']:.2f}" for n in names) for m in models]))
        rows.append((f"batch 8 / batch 1 images/s, {tag}: " + " / ".join(names),
                     [" / ".join(f"{pol(m, n, 8, cfg)['imagesPerSecond'] / pol(m, n, 1, cfg)['imagesPerSecond']:.1f}x"
                                 for n in names if pol(m, n, 1, cfg)) for m in models]))
    t = r.get("torch") or {}
    for row in t.get("rows", []):
        ours = {m["storage"]: pol(m, row["policy"], 1, row["cfg"]) for m in models}
        rows.append((f"PyTorch {row['policy']}{' CFG' if row['cfg'] else ''}: {row['secondsPerImage']:.2f} s / image; ours faster by",
                     [f"{row['secondsPerImage'] / ours[c]['secondsPerImage']:.1f}x" if ours.get(c) else "-" for c in cols]))
    for p in r.get("rss", []):
        if p["storage"] in cols:
            i = cols.index(p["storage"])
            vals = ["" for _ in cols]
            vals[i] = f"{p['peakRSS'] / 1e6:.0f} MB = {p['overWeights']:.2f}x weights ({p['weightBytes'] / 1e6:.0f} MB)"
            rows.append((f"peak RSS, {p['jobs']} CFG jobs in flight ({p['storage']})", vals))

    print(f"| {models[0]['name']} | " + " | ".join(cols) + " |")
    print("|---|" + "---:|" * len(cols))
    for label, vals in rows:
        print(f"| {label} | " + " | ".join(vals) + " |")


if __name__ == "__main__":
    main()
