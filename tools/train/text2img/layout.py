"""The token layout of the fashion-text-16 model (Emu3's), shared by train / export / sample.

One sequence (ids from tokenizer.json; every name below is a special token there):

    [BOS] caption... [SOI] "16*16"... [IMG] (v v ... v [EOL]) x 16 [EOF] [EOI] [EOS]
                                            `-- 16 image tokens per row --'

  [BOS] <|extra_203|>    [SOI] <|image start|>   [IMG] <|image token|>   [EOL] <|extra_200|>
  [EOF] <|extra_201|>    [EOI] <|image end|>     [EOS] <|extra_204|>     [PAD] <|endoftext|> (padding, never a target)

These are the strings Emu3's (Qwen-based) tokenizer uses for the same roles. The caption is the tokenizer's
encoding of the prompt text (add_special_tokens=False; no post-processor adds anything); the meta text is the
encoding of "16*16" (rows*cols, Emu3's "H*W"), 5 tokens with the Qwen split regex (digits one by one). Visual
token v (0..511, the VQ code) has id `image_offset + v`: the 512 tokens `<|visual token 000000|>`..`000511|>`
were added last, so they are the top of the id range (id = vocab_size - 512 + v). The unconditional sequence
for classifier-free guidance is the same with an empty caption: [BOS] [SOI] "16*16" [IMG] ...

Positions are plain 1-D (Emu3's RoPE over the whole sequence), starting at 0 on [BOS]. Image token of grid row r,
column c is at sequence index `img_start + r * (grid + 1) + c`, where img_start = index of [IMG] + 1; the [EOL]
of row r at `img_start + r * (grid + 1) + grid`.

Training loss covers every target after [SOI] (the meta text, [IMG], image tokens, [EOL]s, [EOF] [EOI] [EOS]);
the caption and [SOI] are only the condition.
"""
from __future__ import annotations

import json

SPECIALS = {
    "pad": "<|endoftext|>",
    "bos": "<|extra_203|>",
    "eos": "<|extra_204|>",
    "soi": "<|image start|>",
    "img": "<|image token|>",
    "eol": "<|extra_200|>",
    "eof": "<|extra_201|>",
    "eoi": "<|image end|>",
}
GRID = 16
CODEBOOK = 512
META = f"{GRID}*{GRID}"


def visual_token(v: int) -> str:
    return f"<|visual token {v:06d}|>"


class Layout:
    """Ids of the layout, read from a tokenizer (tokenizers.Tokenizer) that train_tokenizer.py wrote."""

    def __init__(self, tok):
        self.tok = tok
        self.ids = {k: tok.token_to_id(s) for k, s in SPECIALS.items()}
        assert all(v is not None for v in self.ids.values()), self.ids
        self.image_offset = tok.token_to_id(visual_token(0))
        self.vocab_size = tok.get_vocab_size(with_added_tokens=True)
        assert self.image_offset == self.vocab_size - CODEBOOK, "visual tokens must be the last ids"
        assert all(tok.token_to_id(visual_token(v)) == self.image_offset + v for v in range(CODEBOOK))
        self.meta_ids = tok.encode(META, add_special_tokens=False).ids
        self.grid = GRID
        for k, v in self.ids.items():
            setattr(self, k, v)

    def encode_caption(self, text: str) -> list:
        return self.tok.encode(text, add_special_tokens=False).ids if text else []

    def prefix(self, caption_ids) -> list:
        """[BOS] caption [SOI] meta [IMG]: the prompt the sampler starts from."""
        return [self.bos] + list(caption_ids) + [self.soi] + self.meta_ids + [self.img]

    def image_part(self, grid_tokens) -> list:
        """16x16 VQ codes (raster order, 256 ints) -> rows with [EOL], then [EOF] [EOI] [EOS]."""
        out = []
        g = self.grid
        for r in range(g):
            out += [self.image_offset + int(v) for v in grid_tokens[r * g:(r + 1) * g]] + [self.eol]
        return out + [self.eof, self.eoi, self.eos]

    def sequence(self, caption_ids, grid_tokens):
        """Full training sequence and the index of [SOI] (targets after it are trained)."""
        pre = self.prefix(caption_ids)
        return pre + self.image_part(grid_tokens), 1 + len(caption_ids)

    @property
    def image_len(self) -> int:
        return self.grid * (self.grid + 1) + 3

    def to_json(self) -> dict:
        return {
            "layout": "[BOS] caption [SOI] meta [IMG] (16 x (16 image tokens, [EOL])) [EOF] [EOI] [EOS]",
            "special_tokens": {k: {"token": SPECIALS[k], "id": v} for k, v in self.ids.items()},
            "meta_text": META, "meta_ids": self.meta_ids,
            "image_offset": self.image_offset, "codebook_size": CODEBOOK,
            "image_token_format": "<|visual token {v:06d}|>",
            "grid": {"rows": self.grid, "cols": self.grid},
            "eol_after_each_row": True,
            "image_tokens_per_row_with_eol": self.grid + 1,
            "image_part_length": self.image_len,
            "vocab_size": self.vocab_size, "text_vocab_size": self.image_offset,
            "uncond_caption": "",
            "positions": "1-D, 0 at [BOS]",
            "loss": "targets after [SOI] only",
        }


def load(path: str) -> Layout:
    from tokenizers import Tokenizer
    return Layout(Tokenizer.from_file(path))


def write_json(layout: Layout, path: str, extra: dict | None = None):
    with open(path, "w") as f:
        json.dump({**layout.to_json(), **(extra or {})}, f, indent=2)
        f.write("\n")
