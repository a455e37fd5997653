#!/usr/bin/env python3
"""Captions for Fashion-MNIST from the class plus attributes MEASURED on each image (step 1 of tools/train/text2img).

    python3 -m tools.train.text2img.captions                      # -> tools/checkpoints/text2img/captions.json
    python3 -m tools.train.text2img.captions --recon-check 2000   # + how well labels survive the v2 VQ (slow-ish)

Three attributes, each measured on the 32x32 uint8 image (the 28x28 original padded by 2 px of background,
or a generated image decoded by the VQ: `measure()` is the one code path for both):

  brightness  mean intensity of the garment pixels (value > MASK_T)          -> dark | (medium) | light
  size        number of garment pixels (the silhouette area)                  -> small | (medium) | large
  texture     mean |3x3 Laplacian| over the garment's interior (mask eroded
              by one pixel, so the silhouette edge does not count)            -> plain | (medium) | patterned

Labels come from PER-CLASS terciles over the training set: the bottom third is "dark" / "small" / "plain", the
top third "light" / "large" / "patterned", and the middle third is not mentioned in the caption. Per class,
because brightness and area depend mostly on the class (a sandal is never as large as a coat); the attribute
words then mean "for this kind of garment" and every (class, attribute) pair has data. Leaving the middle third
unnamed keeps images near a threshold out of the named groups, so a word is a clear signal to learn and
to check.

Outputs (in --out, default tools/checkpoints/text2img/):
  captions.json    {"stats": <attribute thresholds, see attribute_stats()>,
                    "train"/"test": {"labels": [...], "values": [[brightness, size, texture], ...],
                                      "attrs": [[b, s, t] label strings or null, ...], "captions": [...]}}
                   (test: the first 2000 test images = those tools/checkpoints/v2/tokens.pt holds)
  attributes.json  only the thresholds and the vocabulary (small; export.py copies it into the bundle)

Evaluation of generated images: `parse_prompt(text)` -> class id and requested attributes, `measure()` +
`label()` -> measured attributes, `agreement()` -> per-attribute match.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re

import numpy as np

from tools.paths import CHECKPOINTS

DEFAULT_OUT = os.path.join(CHECKPOINTS, "text2img")

# Garment mask threshold on uint8 pixels: Fashion-MNIST backgrounds are 0 and the v2 VQ's decoded background
# stays below ~10 (99.9th percentile of the top rows of 500 decoded test grids), while dark garments still have
# most pixels above ~30; 24 keeps both sides (mask sizes of originals and reconstructions agree within 1%).
MASK_T = 24
ATTRS = ("brightness", "size", "texture")
LOW = {"brightness": "dark", "size": "small", "texture": "plain"}
HIGH = {"brightness": "light", "size": "large", "texture": "patterned"}

CLASS_NAMES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"]
# Phrasings of each class: (noun phrase, takes an article). Longer phrases first within a class does not matter
# here; parse_prompt() matches the longest phrase over all classes (so "t-shirt" never reads as "shirt").
CLASS_WORDS = {
    0: [("t-shirt", True), ("top", True), ("tee", True)],
    1: [("pair of trousers", True), ("trousers", False), ("pants", False)],
    2: [("pullover", True), ("sweater", True)],
    3: [("dress", True)],
    4: [("coat", True), ("jacket", True)],
    5: [("sandal", True)],
    6: [("shirt", True)],
    7: [("sneaker", True), ("running shoe", True)],
    8: [("bag", True), ("handbag", True)],
    9: [("ankle boot", True), ("boot", True)],
}
WORDS = {
    "dark": ["dark", "dark-colored", "dark-toned"],
    "light": ["light", "light-colored", "bright"],
    "small": ["small", "little", "compact"],
    "large": ["large", "big", "oversized"],
    "plain": ["plain", "simple"],
    "patterned": ["patterned", "textured"],
}
# texture can also be said after the noun
SUFFIX = {"plain": [" without a pattern", " with no pattern"], "patterned": [" with a pattern", " with a print"]}
PREFIXES = ["", "", "", "a photo of ", "an image of ", "a picture of "]
# adjective orders (indices into (size, brightness, texture)); the first is the usual English order
ORDERS = [(0, 1, 2), (1, 0, 2), (2, 1, 0), (1, 2, 0), (0, 2, 1)]


# ---------------------------------------------------------------------------------------------- measuring
def to_u8_32(x28: np.ndarray) -> np.ndarray:
    """Fashion-MNIST uint8 [N, 28, 28] -> [N, 32, 32] padded with background 0, as the VQ sees it."""
    return np.pad(x28, ((0, 0), (2, 2), (2, 2)))


def measure(img: np.ndarray) -> np.ndarray:
    """uint8 images [N, H, W] (or one [H, W]) -> float [N, 3]: brightness, size, texture (see the docstring).

    The same function measures training images (for the captions) and generated images (for the evaluation)."""
    x = np.asarray(img)
    if x.ndim == 2:
        x = x[None]
    x = x.astype(np.float32)
    mask = x > MASK_T
    n = mask.sum((1, 2))
    bright = (x * mask).sum((1, 2)) / np.maximum(n, 1) / 255.0
    size = n.astype(np.float32)
    # interior = mask pixels whose 8 neighbours are garment too (erosion by a 3x3 square)
    m = np.pad(mask, ((0, 0), (1, 1), (1, 1)))
    H, W = x.shape[1:]
    inner = np.ones_like(mask)
    for dy in range(3):
        for dx in range(3):
            inner &= m[:, dy:dy + H, dx:dx + W]
    p = np.pad(x, ((0, 0), (1, 1), (1, 1)), mode="edge")
    lap = 4 * x - p[:, :-2, 1:-1] - p[:, 2:, 1:-1] - p[:, 1:-1, :-2] - p[:, 1:-1, 2:]
    ni = inner.sum((1, 2))
    # absolute (not divided by the brightness): of the variants tried (|lap|, |lap| / brightness, intensity std,
    # std / mean) it is the least tied to brightness (within-class correlation -0.25; dividing gave -0.64)
    tex = (np.abs(lap) * inner).sum((1, 2)) / np.maximum(ni, 1) / 255.0
    return np.stack([bright, size, tex], 1).astype(np.float32)


def attribute_stats(values: np.ndarray, labels: np.ndarray) -> dict:
    """Per-class tercile cut points of each measure over the training set (the thresholds of label())."""
    per_class = {}
    for c in range(len(CLASS_NAMES)):
        v = values[labels == c]
        per_class[str(c)] = {a: [float(q) for q in np.quantile(v[:, i], [1 / 3, 2 / 3])] for i, a in enumerate(ATTRS)}
    return {"mask_threshold": MASK_T, "measures": list(ATTRS), "low": LOW, "high": HIGH,
            "tercile_cuts": per_class, "class_names": CLASS_NAMES,
            "note": "label = low word if value < cut[0], high word if value >= cut[1], else unnamed (None)"}


def label(values: np.ndarray, classes, stats: dict) -> list:
    """[N, 3] measures + class ids -> [[brightness, size, texture] label or None, ...]."""
    values = np.atleast_2d(values)
    classes = np.broadcast_to(np.asarray(classes), (values.shape[0],))
    out = []
    for v, c in zip(values, classes):
        cuts = stats["tercile_cuts"][str(int(c))]
        row = []
        for i, a in enumerate(ATTRS):
            lo, hi = cuts[a]
            row.append(LOW[a] if v[i] < lo else HIGH[a] if v[i] >= hi else None)
        out.append(row)
    return out


# ---------------------------------------------------------------------------------------------- captions
def caption(cls: int, attrs, rng: random.Random, drop: float = 0.0) -> str:
    """One caption for class `cls` with attribute labels `attrs` ([b, s, t], None = not mentioned).

    `drop` > 0 leaves each named attribute out with that probability (training-time rephrasing, so that a
    prompt naming fewer attributes is in-distribution too). Deterministic given the rng state."""
    b, s, t = attrs
    noun, countable = rng.choice(CLASS_WORDS[cls])
    keep = [a is not None and rng.random() >= drop for a in (s, b, t)]
    words = [rng.choice(WORDS[a]) if k else None for a, k in zip((s, b, t), keep)]
    suffix = ""
    if words[2] is not None and rng.random() < 0.4:
        suffix = rng.choice(SUFFIX[t])
        words[2] = None
    order = rng.choice(ORDERS)
    phrase = " ".join([words[i] for i in order if words[i] is not None] + [noun]) + suffix
    prefix = rng.choice(PREFIXES)
    if countable and (prefix or rng.random() < 0.6):
        phrase = ("an " if phrase[0] in "aeiou" else "a ") + phrase
    return prefix + phrase


def all_phrasings() -> list:
    """Every word the captions can use, for the tokenizer's training corpus (besides the captions)."""
    out = [w for ws in CLASS_WORDS.values() for w, _ in ws] + CLASS_NAMES
    out += [w for ws in WORDS.values() for w in ws] + [s.strip() for ss in SUFFIX.values() for s in ss]
    out += [p.strip() for p in PREFIXES if p] + ["a", "an", "16*16"]
    return out


_PHRASES = sorted([(w, c) for c, ws in CLASS_WORDS.items() for w, _ in ws] +
                  [(n.replace("-", " "), c) for c, n in enumerate(CLASS_NAMES)], key=lambda p: -len(p[0]))


def parse_prompt(text: str):
    """Prompt -> (class id or None, [brightness, size, texture] requested label or None).

    Longest class phrase wins ("t-shirt" is not "shirt"); negated texture suffixes are read before the plain ones."""
    t = " " + re.sub(r"\s+", " ", text.lower()) + " "
    cls = None
    for w, c in _PHRASES:
        m = re.search(r"(?<![\w-])" + re.escape(w) + r"(?![\w-])", t)
        if m:
            cls = c
            t = t[:m.start()] + " " + t[m.end():]
            break
    req = [None, None, None]
    for i, a in enumerate(ATTRS):
        for lab in (LOW[a], HIGH[a]):
            phr = WORDS[lab] + [s.strip() for s in SUFFIX.get(lab, [])]
            for w in sorted(phr, key=len, reverse=True):
                if re.search(r"(?<![\w-])" + re.escape(w) + r"(?![\w-])", t):
                    req[i] = lab
                    t = t.replace(w, " ")
                    break
            if req[i] is not None:
                break
    return cls, req


def agreement(requested, measured) -> list:
    """Per attribute: True / False where the prompt asked for it, None where it did not."""
    return [None if r is None else r == m for r, m in zip(requested, measured)]


# ---------------------------------------------------------------------------------------------- main
def load_fashion(split: str):
    from tools.train.train_fashion import load_split  # (torch import; only needed here)
    return load_split(split)


def describe(name: str, attrs, labels):
    print(f"{name}: {len(attrs)} images")
    for i, a in enumerate(ATTRS):
        col = [r[i] for r in attrs]
        cnt = {k: col.count(k) for k in (LOW[a], None, HIGH[a])}
        print(f"  {a:10s} " + "  ".join(f"{k or '(unnamed)'} {v / len(col):.3f}" for k, v in cnt.items()))
    named = [sum(x is not None for x in r) for r in attrs]
    print("  attributes named per caption: " + "  ".join(f"{k}: {named.count(k) / len(named):.3f}" for k in range(4)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--seed", type=int, default=0, help="phrasing choice per image (deterministic)")
    ap.add_argument("--limit-test", type=int, default=2000, help="test images captioned (tokens.pt holds 2000)")
    ap.add_argument("--recon-check", type=int, default=0,
                    help="also label the v2 VQ reconstructions of the first N test images and report how often "
                         "they keep the original's labels (the ceiling of attribute agreement for generated images)")
    ap.add_argument("--vq-ckpt", default=os.path.join(CHECKPOINTS, "v2", "vq_last.pt"))
    ap.add_argument("--tokens", default=os.path.join(CHECKPOINTS, "v2", "tokens.pt"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    xtr, ytr = load_fashion("train")
    xte, yte = load_fashion("test")
    xte, yte = xte[:args.limit_test], yte[:args.limit_test]
    vtr, vte = measure(to_u8_32(xtr)), measure(to_u8_32(xte))
    stats = attribute_stats(vtr, ytr)
    out = {"stats": stats, "seed": args.seed}
    for split, v, y in (("train", vtr, ytr), ("test", vte, yte)):
        attrs = label(v, y, stats)
        rng = random.Random(f"{args.seed}-{split}")
        caps = [caption(int(c), a, rng) for c, a in zip(y, attrs)]
        out[split] = {"labels": [int(c) for c in y], "values": np.round(v, 5).tolist(), "attrs": attrs,
                      "captions": caps}
        describe(split, attrs, y)
        for i in range(6):
            print(f"    {CLASS_NAMES[y[i]]:10s} {str(attrs[i]):40s} -> {caps[i]!r}")
    # measures should not be redundant: correlation of the three over the training set, within class
    z = np.concatenate([(vtr[ytr == c] - vtr[ytr == c].mean(0)) / (vtr[ytr == c].std(0) + 1e-9) for c in range(10)])
    print("within-class correlation (brightness/size/texture):\n" + str(np.round(np.corrcoef(z.T), 3)))
    # parse_prompt must read back every caption it wrote
    bad = sum(parse_prompt(cp) != (c, a) for cp, c, a in
              zip(out["test"]["captions"], out["test"]["labels"], out["test"]["attrs"]))
    print(f"parse_prompt round trip on test captions: {bad} mismatches")
    with open(os.path.join(args.out, "captions.json"), "w") as f:
        json.dump(out, f)
    with open(os.path.join(args.out, "attributes.json"), "w") as f:
        json.dump({**stats, "words": WORDS, "suffixes": SUFFIX, "class_words": CLASS_WORDS}, f, indent=1)
    print(f"wrote {args.out}/captions.json and attributes.json")

    if args.recon_check:
        recon_check(args, xte[:args.recon_check], yte[:args.recon_check], stats)


def recon_check(args, x28, y, stats):
    """How often the VQ reconstruction of a test image gets the original's (named) labels."""
    import torch
    from tools.llamagen import VQConfig, VQModel, to_uint8
    ck = torch.load(args.vq_ckpt, weights_only=False, map_location="cpu")
    vq = VQModel(VQConfig.from_json(ck["config"]))
    vq.load_state_dict(ck["model"])
    vq.eval()
    tok = torch.load(args.tokens, weights_only=False)["test"]["tokens"][:len(y)].long()
    with torch.no_grad():
        u = np.concatenate([to_uint8(vq.decode_code(tok[i:i + 250]))[:, 0].numpy() for i in range(0, len(y), 250)])
    a0 = label(measure(to_u8_32(x28)), y, stats)
    a1 = label(measure(u), y, stats)
    for i, a in enumerate(ATTRS):
        pairs = [(p[i], q[i]) for p, q in zip(a0, a1) if p[i] is not None]
        print(f"VQ recon keeps {a:10s} label: {sum(p == q for p, q in pairs) / len(pairs):.3f} "
              f"(of {len(pairs)} named; chance 1/3)")


if __name__ == "__main__":
    main()
