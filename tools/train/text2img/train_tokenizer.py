#!/usr/bin/env python3
"""Train the caption tokenizer (step 2 of tools/train/text2img): an Emu3-style byte-level BPE, saved as tokenizer.json.

    python3 -m tools.train.text2img.train_tokenizer   # reads/writes tools/checkpoints/text2img/{captions.json,tokenizer.json}

Same pipeline as Emu3's (Qwen) tokenizer: NFC normalizer, Split by the Qwen regex (isolated) then ByteLevel
without its own regex, ByteLevel decoder (docs/tokenizer.md describes the same configuration as `emu3-like`).
Special tokens of layout.py come first (ids 0..7), then the 256 byte symbols and the merges (at most
--vocab-size text ids in all), and last the 512 visual tokens `<|visual token 000000|>`.. as added special tokens,
so image ids are one contiguous range at the top (layout.Layout checks it).

Corpus: every training caption, a few rephrasings of each (same attribute labels, other templates, some
attributes dropped, as train.py draws them), and the bare vocabulary (class names, attribute words, "16*16").
The caption language is small (50 distinct words), so the BPE runs out of pairs to merge well before 1000
ids: the vocabulary it stops at is the right size for it.
"""
from __future__ import annotations

import argparse
import json
import os
import random

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

from tools.train.text2img import captions as C
from tools.train.text2img import layout as L

QWEN_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
              r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def build(corpus, vocab_size: int) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(L.SPECIALS.values()),
                                  show_progress=False, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus, trainer)
    tok.add_special_tokens([L.visual_token(v) for v in range(L.CODEBOOK)])
    return tok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=C.DEFAULT_OUT, help="folder with captions.json; tokenizer.json goes here")
    ap.add_argument("--vocab-size", type=int, default=1000, help="text ids at most (specials + bytes + merges)")
    ap.add_argument("--rephrase", type=int, default=3, help="extra rephrasings per training caption")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    with open(os.path.join(args.data, "captions.json")) as f:
        data = json.load(f)
    tr = data["train"]
    rng = random.Random(args.seed)
    corpus = list(tr["captions"])
    for c, a in zip(tr["labels"], tr["attrs"]):
        corpus += [C.caption(c, a, rng, drop=0.3) for _ in range(args.rephrase)]
    corpus += C.all_phrasings()
    tok = build(corpus, args.vocab_size)
    path = os.path.join(args.data, "tokenizer.json")
    tok.save(path)
    lay = L.load(path)  # re-read as every consumer will, and check the layout invariants
    lens = [len(lay.encode_caption(t)) for t in tr["captions"][:5000]]
    print(f"corpus {len(corpus)} lines; text ids {lay.image_offset} (specials {len(L.SPECIALS)} + 256 bytes + "
          f"{lay.image_offset - len(L.SPECIALS) - 256} merges), +{L.CODEBOOK} visual = vocab {lay.vocab_size}")
    print(f"caption length in tokens: mean {sum(lens) / len(lens):.1f}, max {max(lens)}; meta '{L.META}' -> "
          f"{lay.meta_ids}; special ids {lay.ids}; image offset {lay.image_offset}")
    for t in tr["captions"][:3] + ["a large light-colored shirt with a pattern"]:
        ids = lay.encode_caption(t)
        assert lay.tok.decode(ids) == t
        print(f"  {t!r} -> {[lay.tok.id_to_token(i) for i in ids]}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
