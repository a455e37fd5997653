#!/usr/bin/env python3
"""Regenerate the tokenizer parity fixtures under Tests/Fixtures/tokenizer/ (deterministic).

  pip install tokenizers        # tools only: never needed to build, test or run the Swift code
  python3 tools/make_tokenizer_fixtures.py

Hub downloads are impossible where this project is built, so the reference tokenizers are trained here
with the Hugging Face `tokenizers` package itself, each configured like one family the service will serve:

  emu3-like.json       Emu3 (Qwen tokenizer): NFC normalizer, Split(Qwen regex, isolated) then
                       ByteLevel(add_prefix_space=false, use_regex=false), ByteLevel decoder and post-processor;
                       special tokens <|endoftext|>, <|extra_0|>..<|extra_204|> (BOS <|extra_203|>, EOS
                       <|extra_204|>, end-of-row <|extra_200|>, end-of-frame <|extra_201|>), [BOS], [EOS],
                       <|image start|>, <|image end|>, <|image token|>, <|visual token 000000|>..000511
                       (Emu3 has 32768); one non-special added token <|grid|> (normalized=true).
  chameleon-like.json  Chameleon / Lumina-mGPT: no normalizer, a Sequence of isolated Splits (sentinels,
                       IMGIMG..Z image tokens, tab/newline/double-space, single digits, punctuation), then
                       ByteLevel(add_prefix_space=false, use_regex=true: the GPT-2 regex); ByteLevel decoder;
                       TemplateProcessing "<s> $A" (Chameleon's tokenizer adds BOS). Special tokens <s> <pad> </s>
                       <unk>, IMGIMG{code}Z for codes 0..255 (digits as letters A..J), <eoss>, <racm3:break>,
                       <reserved08706> (end of turn), <reserved08796>..<reserved08799> (Lumina-mGPT separators,
                       08799 = new line), <reserved08800>..<reserved08831> (grid-size tokens), <sentinel:0>..<sentinel:15>.
                       The pre-tokenizer regexes are those of facebook/chameleon-7b's tokenizer.json as llama.cpp
                       quotes them (its LLAMA_VOCAB_PRE_TYPE_CHAMELEON); the exact behaviours are assumed "Isolated".
  plain-unk.json       Not a target family: exercises the components the other two do not — a char-level BPE
                       with <unk> (fuse_unk, limited alphabet), NFD + Replace(regex) + Lowercase normalizers,
                       a literal-string Split (merged_with_next), Digits, no decoder (tokens joined by " ").

Outputs (all in Tests/Fixtures/tokenizer/):
  <name>.json          the tokenizer.json as `tokenizers` saves it
  lines.json           {"lines": [test text, ...]} — generated with a different seed than the training corpus
  <name>-ids.json      {"ids": [[id, ...] per line] (add_special_tokens=False),
                        "with_special": [[id, ...] for the first 50 lines] (add_special_tokens=True),
                        "decode": [{"ids": [...], "text": ..., "skip_special_text": ...}, ...]}
"""
from __future__ import annotations

import json
import os
import random

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "tokenizer")

QWEN_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
              r"|\s*[\r\n]+|\s+(?!\S)|\s+")
CHAMELEON_SPLITS = [
    r"<sentinel:[0-9]+>",
    r"(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z",
    "([\\t\\n]|    |  )",
    r"\p{N}",
    r"[\p{P}!-/:-@\[-`{-~]",
]

# ---------------------------------------------------------------------------------------------- text

WORDS_EN = ("the a an image of cat dog red blue green photo painting portrait landscape city night sky "
            "mountain river forest beautiful small large old young man woman child tree house car street "
            "light dark shadow sunset morning winter summer flower garden ocean wave cloud rain snow").split()
CONTRACTIONS = ["don't", "I'm", "it's", "they'll", "we've", "you're", "she'd", "DON'T", "IT'S", "They'LL",
                "We'VE", "o'clock", "rock'n'roll", "'s", "'t", "'re", "'ſ", "ma'am", "y'all"]
ACCENTED = ["café", "naïve", "Ångström", "façade", "jalapeño", "crème brûlée", "Zürich", "São Paulo",
            "e\u0301te\u0301", "A\u030a", "Ελλάδα", "Москва", "straße", "ǅemal", "İstanbul", "ﬁne", "Ⅻ"]
CJK = ["猫が好きです", "一只红色的猫", "中文测试", "日本語のテキスト", "ひらがな", "カタカナ", "한국어 문장",
       "山水画", "東京タワー", "北京", "（全角）", "「引用」", "。", "、"]
RTL = ["مرحبا بالعالم", "שלום עולם", "قطة حمراء", "עברית", "السلام عليكم", "\u200fRTL\u200e"]
EMOJI = ["😀", "🐱", "👍🏽", "👨‍👩‍👧", "🇫🇷", "❤️", "🎨", "🌅", "✨", "🤖", "1️⃣", "🏳️‍🌈"]
NUMBERS = ["0", "7", "42", "1234567890", "3.14159", "1,000,000", "-273.15", "½", "²", "٣٤٥", "१२३", "Ⅷ",
           "①", "2024-06-01", "10:30", "1e-5", "0x1F", "99%", "$5", "€12,50", "256*256", "16x16"]
PUNCT = [".", ",", "!", "?", "...", "—", "–", "\"", "'", "(", ")", "[", "]", "{", "}", "<", ">", "/", "\\",
         "#", "@", "&", "*", "~", "`", "^", "|", "+", "=", "_", ":", ";", "«", "»", "“", "”", "¿", "¡", "…"]
SPACES = [" ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\r\n", " \n", "\n ", " \t ", "\u00a0", "\u3000",
          "\u2003", "\u000b", "\u000c", "\u0085", "\u2028", "    ", "     "]
SPECIAL_SNIPPETS = ["<|extra_0|>", "<|extra_203|>", "<|extra_204|>", "<|extra_200|>", "<|image start|>",
                    "<|image end|>", "<|image token|>", "[BOS]", "[EOS]", "<|visual token 000017|>", "<|grid|>",
                    "<|endoftext|>", "<s>", "</s>", "<racm3:break>", "<eoss>", "<reserved08799>",
                    "<reserved08803>", "IMGIMGBZ", "IMGIMGACZ", "<sentinel:3>", "<sentinel:99>",
                    "<|extra_", "<|extra_999|>", "[BOS", "<|image", "IMGIMG", "<unk>", "<pad>"]
ODD = ["\u0000", "\u0007", "\u001b[0m", "\u200b", "\u200d", "\ufeff", "\u0301", "\U0001d400", "\U00010348",
       "\ufffd", "a\u0308\u0301", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢"]


def piece(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.35:
        w = rng.choice(WORDS_EN)
        return w.capitalize() if rng.random() < 0.2 else (w.upper() if rng.random() < 0.05 else w)
    table = [CONTRACTIONS, ACCENTED, CJK, RTL, EMOJI, NUMBERS, PUNCT, SPACES, SPECIAL_SNIPPETS, ODD]
    weights = [8, 8, 8, 5, 6, 10, 10, 10, 5, 2]
    return rng.choice(rng.choices(table, weights)[0])


def line(rng: random.Random) -> str:
    n = rng.randint(1, 24)
    out = []
    for _ in range(n):
        out.append(piece(rng))
        # Usually a separating space; sometimes glue pieces together (specials inside words, digits in words).
        sep = rng.random()
        out.append(" " if sep < 0.6 else ("" if sep < 0.9 else rng.choice(SPACES)))
    return "".join(out).rstrip(" ") if rng.random() < 0.8 else "".join(out)


EDGE_CASES = [
    "", " ", "  ", "\n", "\t", "a", "A photo of a cat.", "hello world", " hello", "hello ", "hello  world",
    "I'm sure it's they'll we've you're she'd", "DON'T STOP", "12345", "1 2 3", "3.14", "x²+y²", "   leading",
    "trailing   ", "tabs\tand\nnewlines\r\nmixed", "line1\n\n\nline2", "  \n  \n", "<|extra_0|>",
    "<|extra_0|><|extra_1|>", "a<|extra_203|>b", "<|image start|>32*32<|image token|>", "[BOS]prompt[EOS]",
    "<|extra_", "<s>hi</s>", "<racm3:break><eoss>", "IMGIMGBCDZ", "IMGIMGAZIMGIMGBZ", "<sentinel:0>x",
    "café e\u0301", "🐱🐶", "👨‍👩‍👧", "مرحبا", "中文", "\u000b\u0085", "a\u0085b", "x\u000by", "!!!???",
    "...", "'s", "''", "a'S", "\u3000\u3000", "hello\u00a0world", "<|grid|>", "ab<|grid|>cd",
]


def corpus(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    return [line(rng) for _ in range(n)]


# ----------------------------------------------------------------------------------------- tokenizers

def image_code_token(code: int) -> str:
    return "IMGIMG" + "".join(chr(ord("A") + int(d)) for d in str(code)) + "Z"


def emu3_like(train: list[str]) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    specials = (["<|endoftext|>"] + [f"<|extra_{i}|>" for i in range(205)] + ["[BOS]", "[EOS]"]
                + ["<|image start|>", "<|image end|>", "<|image token|>"]
                + [f"<|visual token {i:06d}|>" for i in range(512)])
    trainer = trainers.BpeTrainer(vocab_size=3000, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(train, trainer)
    tok.add_tokens([AddedToken("<|grid|>", special=False, normalized=True)])
    return tok


def chameleon_like(train: list[str]) -> Tokenizer:
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(p), behavior="isolated", invert=False) for p in CHAMELEON_SPLITS]
        + [pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    specials = (["<s>", "<pad>", "</s>", "<unk>"] + [image_code_token(c) for c in range(256)]
                + ["<eoss>", "<racm3:break>", "<reserved08706>"]
                + [f"<reserved{n:05d}>" for n in range(8796, 8832)] + [f"<sentinel:{i}>" for i in range(16)])
    trainer = trainers.BpeTrainer(vocab_size=3000, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(train, trainer)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 0)])
    return tok


def plain_unk(train: list[str]) -> Tokenizer:
    tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True))
    tok.normalizer = normalizers.Sequence([
        normalizers.NFD(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(" ", behavior="merged_with_next"),
        pre_tokenizers.Digits(individual_digits=True),
    ])
    trainer = trainers.BpeTrainer(vocab_size=800, special_tokens=["<unk>", "<bos>"], limit_alphabet=120,
                                  show_progress=False)
    tok.train_from_iterator(train, trainer)
    return tok


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    train = corpus(seed=1, n=4000)
    lines = EDGE_CASES + corpus(seed=2, n=2000)
    with open(os.path.join(OUT, "lines.json"), "w", encoding="utf-8") as f:
        json.dump({"lines": lines}, f, ensure_ascii=True)
    rng = random.Random(3)
    for name, build in [("emu3-like", emu3_like), ("chameleon-like", chameleon_like), ("plain-unk", plain_unk)]:
        tok = build(train)
        tok.save(os.path.join(OUT, f"{name}.json"))
        tok = Tokenizer.from_file(os.path.join(OUT, f"{name}.json"))  # what the Swift side will read
        ids = [tok.encode(t, add_special_tokens=False).ids for t in lines]
        with_special = [tok.encode(t, add_special_tokens=True).ids for t in lines[:50]]
        size = tok.get_vocab_size(with_added_tokens=True)
        cases = [ids[i] for i in range(0, len(ids), 37)]
        cases += [[rng.randrange(size) for _ in range(rng.randint(1, 12))] for _ in range(60)]  # any bytes
        decode = [{"ids": c, "text": tok.decode(c, skip_special_tokens=False),
                   "skip_special_text": tok.decode(c, skip_special_tokens=True)} for c in cases]
        with open(os.path.join(OUT, f"{name}-ids.json"), "w", encoding="utf-8") as f:
            json.dump({"ids": ids, "with_special": with_special, "decode": decode}, f, ensure_ascii=True,
                      separators=(",", ":"))
        print(f"{name}: {len(lines)} lines, {sum(map(len, ids))} ids, vocab {size}")


if __name__ == "__main__":
    main()
