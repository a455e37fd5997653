#!/usr/bin/env python3
"""Sample images from prompts with plain PyTorch + transformers and save a PNG grid (step 6: the human check).

    python3 -m tools.train.text2img.sample --bundle models/fashion-text-16 --cfg 3 --out tools/.cache/t2i/samples.png
    python3 -m tools.train.text2img.sample --ckpt tools/checkpoints/text2img/last.pt          # during training (EMA)
    python3 -m tools.train.text2img.sample --bundle B --prompt "a dark dress" --prompt "a big bag" --n 10

One row per prompt (default: a fixed set contrasting each attribute within a class, plus the empty prompt =
unconditional), --n samples per row. Decoding is next-token prediction in the layout of layout.py, constrained as
Emu3's sampler constrains it: at image positions only the 512 visual ids may be drawn, and [EOL] is forced after
every 16 of them (the model is not asked), so every sample is a complete 16x16 grid. Classifier-free guidance
(--cfg s != 1): logits = u + s (c - u) over the visual ids, u from the unconditional prefix [BOS] [SOI] 16*16 [IMG]
run as its own batch with its own KV cache (its prefix is shorter, so no padding is needed anywhere).

Prints, per prompt, how often the measured attributes of the samples (captions.measure/label, the same code that
captioned the training set) match the requested ones, and the class accuracy by tools/eval/classifier.pt when it
exists. Chance is 1/3 per attribute (terciles).
"""
from __future__ import annotations

import argparse
import inspect
import json
import os
import time

import numpy as np
import torch

from tools.llamagen import VQConfig, VQModel, to_uint8
from tools.paths import CACHE, MODELS, ROOT, TOOLS
from tools.train.text2img import captions as C
from tools.train.text2img import layout as L

DEFAULT_PROMPTS = ["a dark dress", "a light dress", "a small bag", "a large bag", "a plain t-shirt",
                   "a patterned t-shirt", "a dark patterned pullover", "a large light ankle boot", "sandal",
                   "trousers", ""]


def load(args):
    """-> (model, layout, vq, attribute stats, description)."""
    from tokenizers import Tokenizer
    from transformers import Emu3ForCausalLM, Emu3TextConfig
    if args.bundle:
        model = Emu3ForCausalLM.from_pretrained(args.bundle, dtype=torch.float32)
        lay = L.load(os.path.join(args.bundle, "tokenizer.json"))
        with open(os.path.join(args.bundle, "layout.json")) as f:
            lj = json.load(f)
        vq = VQModel(VQConfig.from_json(lj["vq"]), with_encoder=False)
        from safetensors.torch import load_file
        vq.load_state_dict({k: v.float() for k, v in load_file(os.path.join(args.bundle, "vq.safetensors")).items()})
        stats_path = os.path.join(args.bundle, "attributes.json")
        stats = json.load(open(stats_path)) if os.path.exists(stats_path) else None
        what = f"{args.bundle} (step {lj['source']['step']}, {lj['source']['weights']})"
    else:
        ck = torch.load(args.ckpt, weights_only=False, map_location="cpu")
        model = Emu3ForCausalLM(Emu3TextConfig(**ck["config"]))
        use_ema = args.weights == "ema" or (args.weights == "auto" and ck.get("ema") is not None)
        model.load_state_dict(ck["ema" if use_ema else "model"])
        lay = L.Layout(Tokenizer.from_str(ck["tokenizer_json"]))
        v = torch.load(os.path.join(ROOT, ck["vq"]["path"]), weights_only=False, map_location="cpu")
        assert v.get("step") == ck["vq"]["step"], "VQ checkpoint changed since training"
        vq = VQModel(VQConfig.from_json(v["config"]))
        vq.load_state_dict(v["model"])
        stats = ck.get("attribute_stats")
        what = f"{args.ckpt} (step {ck['step']}, {'EMA' if use_ema else 'raw'})"
    model.eval()
    vq.eval()
    return model, lay, vq, stats, what


class Stream:
    """One batch of identical prefixes with its KV cache; feed(ids [B]) -> logits of the next token [B, V]."""

    def __init__(self, model, prefix, n):
        from transformers import DynamicCache
        self.model = model
        self.cache = DynamicCache()
        # transformers renamed `past_key_values` to `cache` (the old name warns until 5.40); accept either version
        self.key = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
        self.logits = self._run(torch.tensor([prefix] * n))

    def _run(self, ids):
        # positions default to past length + arange: all rows have the same length, so no padding or mask
        out = self.model(input_ids=ids, use_cache=True, **{self.key: self.cache})
        return out.logits[:, -1].float()

    def feed(self, tok):
        self.logits = self._run(tok[:, None])


@torch.no_grad()
def generate(model, lay: L.Layout, prompt: str, n: int, cfg: float = 1.0, temperature: float = 1.0,
             top_k: int = 0, generator=None) -> torch.Tensor:
    """n samples for one prompt -> VQ codes [n, 256] (raster order)."""
    cond = Stream(model, lay.prefix(lay.encode_caption(prompt)), n)
    unc = Stream(model, lay.prefix([]), n) if cfg != 1.0 else None
    g, off = lay.grid, lay.image_offset
    codes = torch.zeros(n, g * g, dtype=torch.long)
    eol = torch.full((n,), lay.eol, dtype=torch.long)
    for r in range(g):
        for c in range(g):
            lg = cond.logits[:, off:off + L.CODEBOOK]  # constrained: visual ids only
            if unc is not None:
                u = unc.logits[:, off:off + L.CODEBOOK]
                lg = u + (lg - u) * cfg
            lg = lg / max(temperature, 1e-5)
            if top_k > 0:
                kth = torch.topk(lg, top_k).values[:, -1:]
                lg = lg.masked_fill(lg < kth, float("-inf"))
            v = torch.multinomial(lg.softmax(-1), 1, generator=generator)[:, 0]
            codes[:, r * g + c] = v
            for s in (cond, unc):
                if s is not None:
                    s.feed(v + off)
        if r + 1 < g:  # the last [EOL] (and [EOF] [EOI] [EOS]) need not be run: nothing follows
            for s in (cond, unc):
                if s is not None:
                    s.feed(eol)
    return codes


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", default=None, help="an exported bundle (export.py)")
    ap.add_argument("--ckpt", default=None, help="or a training checkpoint (train.py's last.pt)")
    ap.add_argument("--weights", default="auto", choices=["auto", "ema", "raw"], help="--ckpt: which weights")
    ap.add_argument("--prompt", action="append", default=None, help="repeatable; default: a fixed contrast set")
    ap.add_argument("--n", type=int, default=8, help="samples per prompt (one grid row)")
    ap.add_argument("--cfg", type=float, default=3.0)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--top-k", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(CACHE, "text2img_samples.png"))
    ap.add_argument("--classifier", default=os.path.join(TOOLS, "eval", "classifier.pt"))
    args = ap.parse_args()
    if not args.bundle and not args.ckpt:
        args.bundle = os.path.join(MODELS, "fashion-text-16")
    torch.set_num_threads(args.threads)
    model, lay, vq, stats, what = load(args)
    prompts = args.prompt or DEFAULT_PROMPTS
    g = torch.Generator().manual_seed(args.seed)
    t0 = time.time()
    images = []
    for p in prompts:
        codes = generate(model, lay, p, args.n, args.cfg, args.temperature, args.top_k, g)
        with torch.no_grad():
            images.append(to_uint8(vq.decode_code(codes))[:, 0].numpy())
    wall = time.time() - t0
    u8 = np.concatenate(images)
    from tools.images import tile, write_png
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    write_png(args.out, tile(u8, len(prompts), args.n))
    print(f"{what}: {len(u8)} samples, cfg {args.cfg:g}, T {args.temperature:g}, seed {args.seed}, "
          f"{wall:.1f} s -> {args.out} (one row per prompt)")

    net = None
    if os.path.exists(args.classifier):
        from tools.eval import fashion_classifier as fc
        net = fc.load(args.classifier)
    for p, im in zip(prompts, images):
        cls, req = C.parse_prompt(p)
        line = f"  {p or '(unconditional)'!r:32s}"
        if net is not None and cls is not None:
            pred = fc.predict(net, im)[0].argmax(1)
            line += f" class acc {(pred == cls).mean():.2f}"
        if stats is not None and cls is not None:
            meas = C.label(C.measure(im), cls, stats)
            for i, a in enumerate(C.ATTRS):
                if req[i] is not None:
                    ok = np.mean([m[i] == req[i] for m in meas])
                    line += f"  {req[i]} {ok:.2f}"
        print(line)


if __name__ == "__main__":
    main()
