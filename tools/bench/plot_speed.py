#!/usr/bin/env python3
"""Draw docs/images/speed.png from a `zipar-bench --json` report (numpy only, no matplotlib).

  python3 -m tools.bench.plot_speed bench.json [--out docs/images/speed.png] [--model GPT-B]

One chart: milliseconds per forward pass (y) against query tokens in the pass (x, 1 ... 64 on a log
scale), for f32 (blue) and f16 (orange) weights. Solid lines: all queries in one image (ZipAR's case);
thin lines: queries spread over 16 images (a batch). Dotted horizontals: each storage's memory floor
(weight bytes / bandwidth). Grey line: the compute floor (the pass's FLOPs at the kernel's in-cache
rate). Tick labels: queries along x, milliseconds along y (a 3x5 pixel digit font).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys

import numpy as np

from tools.images import write_png

DIGITS = {  # 3x5 glyphs, rows top to bottom
    "0": ["111", "101", "101", "101", "111"], "1": ["010", "110", "010", "010", "111"],
    "2": ["111", "001", "111", "100", "111"], "3": ["111", "001", "111", "001", "111"],
    "4": ["101", "101", "111", "001", "001"], "5": ["111", "100", "111", "001", "111"],
    "6": ["111", "100", "111", "101", "111"], "7": ["111", "001", "001", "001", "001"],
    "8": ["111", "101", "111", "101", "111"], "9": ["111", "101", "111", "001", "111"],
}
BLUE, ORANGE, GREY = (30, 90, 200), (230, 120, 20), (120, 120, 120)


def text(img, x, y, s, scale=2, color=(0, 0, 0)):
    for ch in s:
        g = DIGITS.get(ch)
        if g:
            for r, row in enumerate(g):
                for c, bit in enumerate(row):
                    if bit == "1":
                        img[y + r * scale:y + (r + 1) * scale, x + c * scale:x + (c + 1) * scale] = color
        x += 4 * scale


def line(img, p, q, color, width=1, dash=0):
    n = max(abs(q[0] - p[0]), abs(q[1] - p[1]), 1)
    for i, t in enumerate(np.linspace(0, 1, n + 1)):
        if dash and (i // dash) % 2:
            continue
        x = int(round(p[0] + t * (q[0] - p[0])))
        y = int(round(p[1] + t * (q[1] - p[1])))
        img[max(0, y - width // 2):y + (width + 1) // 2, max(0, x - width // 2):x + (width + 1) // 2] = color


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("report")
    ap.add_argument("--out", default="docs/images/speed.png")
    ap.add_argument("--model", default="GPT-B", help="prefix of the model name in the report")
    args = ap.parse_args()
    rep = json.load(open(args.report))
    models = [m for m in rep["models"] if m["name"].startswith(args.model) and m["sweep"]]
    if not models:
        sys.exit(f"no sweep for a model named {args.model}* in {args.report}")

    W, H, ml, mb, mt, mr = 720, 400, 50, 40, 20, 20
    img = np.full((H, W, 3), 255, np.uint8)
    queries = sorted({p["queries"] for m in models for p in m["sweep"]})
    ymax = max(max(p["spreadMsPerPass"], p["msPerPass"], p["computeFloorMs"]) for m in models for p in m["sweep"])
    step = 10 if ymax <= 120 else 20
    ymax = math.ceil(ymax / step) * step
    lx0, lx1 = math.log2(queries[0]), math.log2(queries[-1])

    def xy(q, ms):
        x = ml + int((W - ml - mr) * (math.log2(q) - lx0) / max(lx1 - lx0, 1e-9))
        y = H - mb - int((H - mb - mt) * min(ms, ymax) / ymax)
        return x, y

    # axes, grid, ticks
    img[H - mb, ml:W - mr] = 0
    img[mt:H - mb, ml] = 0
    for v in range(0, int(ymax) + 1, step):
        _, y = xy(queries[0], v)
        img[y, ml:W - mr:4] = 200
        text(img, 4, y - 5, str(v))
    for q in queries:
        x, _ = xy(q, 0)
        img[H - mb:H - mb + 5, x] = 0
        text(img, x - 4 * len(str(q)), H - mb + 10, str(q))

    for m in models:
        color = BLUE if m["storage"] == "f32" else ORANGE
        pts = [(p["queries"], p["msPerPass"]) for p in m["sweep"]]
        spread = [(p["queries"], p["spreadMsPerPass"]) for p in m["sweep"]]
        for a, b in zip(spread, spread[1:]):
            line(img, xy(*a), xy(*b), color, 1)
        for a, b in zip(pts, pts[1:]):
            line(img, xy(*a), xy(*b), color, 3)
        for q, ms in pts:
            x, y = xy(q, ms)
            img[y - 3:y + 4, x - 3:x + 4] = color
        _, y = xy(queries[0], m["floorMs"])
        line(img, (ml, y), (W - mr, y), color, 1, dash=3)
    comp = [(p["queries"], p["computeFloorMs"]) for p in models[0]["sweep"]]
    for a, b in zip(comp, comp[1:]):
        line(img, xy(*a), xy(*b), GREY, 2)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    write_png(args.out, img)
    print(f"wrote {args.out} ({', '.join(m['storage'] for m in models)}; y up to {ymax} ms)")


if __name__ == "__main__":
    main()
