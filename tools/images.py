"""PNG output without an imaging library: write_png, a sample grid (tile) and a loss-curve rasteriser (plot_curve).
numpy only; used by the model cards, tools.bench.plot_speed and tools.train.text2img.sample."""
from __future__ import annotations

import struct
import zlib

import numpy as np


def write_png(path: str, img: np.ndarray):
    """img uint8 [H, W] (gray) or [H, W, 3] (RGB)."""
    img = np.ascontiguousarray(img, dtype=np.uint8)
    h, w = img.shape[:2]
    color = 0 if img.ndim == 2 else 2
    raw = b"".join(b"\x00" + img[y].tobytes() for y in range(h))

    def chunk(t, d):
        c = struct.pack(">I", len(d)) + t + d
        return c + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0))
    data += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


def tile(u8: np.ndarray, rows: int, cols: int, pad: int = 2, scale: int = 2) -> np.ndarray:
    """u8 [rows*cols, H, W] -> one gray image with padding, upscaled by `scale` (nearest)."""
    n, h, w = u8.shape
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad), 255, np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = u8[i]
    return out.repeat(scale, 0).repeat(scale, 1)


def plot_curve(path: str, steps, train, test_steps, test, width=640, height=320, ema_steps=(), ema=()):
    """Tiny rasteriser: train loss (dark) and test loss (red dots), optionally the EMA weights' test loss (green
    dots); y axis from min to max of the data."""
    img = np.full((height, width, 3), 255, np.uint8)
    m = 30
    ys = np.array(list(train) + list(test) + list(ema), dtype=np.float64)
    lo, hi = float(ys.min()), float(ys.max())
    if hi - lo < 1e-9:
        hi = lo + 1
    smax = max(steps)

    def xy(s, v):
        x = m + int((width - 2 * m) * s / smax)
        y = height - m - int((height - 2 * m) * (v - lo) / (hi - lo))
        return x, y

    img[height - m, m:width - m] = 0
    img[m:height - m, m] = 0
    # horizontal grid lines at round loss values
    for gv in np.arange(np.ceil(lo * 2) / 2, hi, 0.5):
        _, y = xy(0, gv)
        img[y, m:width - m:4] = 180
    prev = None
    for s, v in zip(steps, train):
        p = xy(s, v)
        if prev is not None:
            n = max(abs(p[0] - prev[0]), abs(p[1] - prev[1]), 1)
            for t in np.linspace(0, 1, n + 1):
                x = int(round(prev[0] + t * (p[0] - prev[0])))
                y = int(round(prev[1] + t * (p[1] - prev[1])))
                img[y, x] = (20, 20, 120)
        prev = p
    for s, v in zip(test_steps, test):
        x, y = xy(s, v)
        img[max(0, y - 2):y + 3, max(0, x - 2):x + 3] = (220, 30, 30)
    for s, v in zip(ema_steps, ema):
        x, y = xy(s, v)
        img[max(0, y - 2):y + 3, max(0, x - 2):x + 3] = (20, 160, 40)
    write_png(path, img)
    return lo, hi, smax
