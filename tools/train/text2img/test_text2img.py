"""Fast checks of the text2img pipeline (no dataset, no checkpoints: a tiny random model and VQ).

    python3 -m pytest -q tools/train/text2img/test_text2img.py
"""
from __future__ import annotations

import os
import random
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

from tools.train.text2img import captions as C  # noqa: E402
from tools.train.text2img import layout as L  # noqa: E402


def corpus(n=3000, seed=0):
    rng = random.Random(seed)
    opts = [[None, C.LOW[a], C.HIGH[a]] for a in C.ATTRS]
    rows = [(rng.randrange(10), [rng.choice(o) for o in opts]) for _ in range(n)]
    return rows, [C.caption(c, a, rng) for c, a in rows]


@pytest.fixture(scope="module")
def lay():
    from tools.train.text2img import train_tokenizer
    _, caps = corpus()
    return L.Layout(train_tokenizer.build(caps + C.all_phrasings(), 1000))


def test_measure_on_synthetic_images():
    img = np.zeros((4, 32, 32), np.uint8)
    img[0, 8:24, 8:24] = 100                      # flat square
    img[1, 8:24, 8:24] = 200                      # brighter, same size
    img[2, 4:28, 4:28] = 100                      # larger
    img[3, 8:24, 8:24] = 100
    img[3, 8:24:2, 8:24] = 200                    # stripes inside
    v = C.measure(img)
    assert v[0, 1] == 256 and v[2, 1] == 24 * 24
    assert abs(v[0, 0] - 100 / 255) < 1e-6 and v[1, 0] > v[0, 0]
    assert v[0, 2] == 0 and v[3, 2] > 0.1         # flat interior has no Laplacian energy, stripes do
    assert np.allclose(C.measure(img[0]), v[:1])  # one image or a batch: same code path


def test_label_uses_per_class_terciles():
    vals = np.array([[i, i, i] for i in range(30)], np.float32)
    per_class = [vals * 10 if c == 1 else vals for c in range(10)]
    stats = C.attribute_stats(np.concatenate(per_class), np.repeat(np.arange(10), 30))
    assert C.label(vals[0], 0, stats)[0] == ["dark", "small", "plain"]
    assert C.label(vals[29], 0, stats)[0] == ["light", "large", "patterned"]
    assert C.label(vals[15], 0, stats)[0] == [None, None, None]
    assert C.label(vals[29], 1, stats)[0] == ["dark", "small", "plain"]  # 29 is small for class 1


def test_caption_parse_round_trip():
    rows, caps = corpus(5000, seed=1)
    for (c, a), cap in zip(rows, caps):
        assert C.parse_prompt(cap) == (c, a), cap
    rng = random.Random(2)
    for c, a in rows[:2000]:  # dropped attributes read back as unrequested
        cap = C.caption(c, a, rng, drop=0.5)
        pc, pa = C.parse_prompt(cap)
        assert pc == c and all(p is None or p == q for p, q in zip(pa, a)), cap
    assert C.parse_prompt("a dark t-shirt")[0] == 0 and C.parse_prompt("a dark shirt")[0] == 6
    assert C.parse_prompt("") == (None, [None, None, None])


def test_layout_ids_and_sequence(lay):
    assert lay.image_offset + L.CODEBOOK == lay.vocab_size
    assert sorted(lay.ids.values()) == list(range(len(L.SPECIALS)))  # specials first
    assert lay.tok.decode(lay.meta_ids) == L.META
    grid = list(range(256))
    cap = lay.encode_caption("a dark dress")
    seq, soi = lay.sequence(cap, grid)
    assert seq[0] == lay.bos and seq[soi] == lay.soi and seq[1:soi] == cap
    start = soi + 1 + len(lay.meta_ids) + 1
    assert seq[start - 1] == lay.img
    for r in range(16):
        row = seq[start + r * 17: start + r * 17 + 17]
        assert row[:16] == [lay.image_offset + v for v in grid[r * 16:(r + 1) * 16]] and row[16] == lay.eol
    assert seq[-3:] == [lay.eof, lay.eoi, lay.eos] and len(seq) == start + lay.image_len - 0
    seq0, soi0 = lay.sequence([], grid)  # unconditional: empty caption
    assert soi0 == 1 and seq0[:2] == [lay.bos, lay.soi]


def test_batch_targets_skip_caption_and_pads(lay):
    from tools.train.text2img import train
    grids = torch.randint(0, 512, (2, 256))
    ids, tgt = train.make_batch(lay, ["a large light-colored shirt with a pattern", ""], grids)
    n0 = len(lay.encode_caption("a large light-colored shirt with a pattern"))
    soi = 1 + n0
    assert ids[0, soi] == lay.soi and (tgt[0, :soi] == -100).all()
    assert tgt[0, soi] == lay.meta_ids[0] and tgt[0, -2] == lay.eos
    # row 1 is shorter by the caption: right-padded, pads never targets
    assert (ids[1, -n0:] == lay.pad).all() and (tgt[1, -n0 - 1:] == -100).all()
    assert tgt[1, 1] == lay.meta_ids[0] and (tgt[1] >= lay.image_offset).sum() == 256


def tiny_model(lay):
    from tools.train.text2img import train

    class A:
        dim, ffn, layers, heads, kv_heads = 32, 64, 2, 4, 2
    torch.manual_seed(0)
    m = train.build_model(train.model_config(A, lay))
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.2)  # away from the near-uniform init, so differences would show
    return m.eval()


def test_kv_cache_sampling_matches_full_forward(lay):
    from tools.train.text2img import sample
    m = tiny_model(lay)
    codes = sample.generate(m, lay, "a small bag", 2, cfg=2.0, generator=torch.Generator().manual_seed(0))
    assert codes.shape == (2, 256) and codes.min() >= 0 and codes.max() < 512
    prefix = lay.prefix(lay.encode_caption("a small bag"))
    seq, _ = lay.sequence(lay.encode_caption("a small bag"), codes[0].tolist())
    with torch.no_grad():
        full = m(input_ids=torch.tensor([seq])).logits[0]
    s = sample.Stream(m, prefix, 1)
    for i in range(40):  # crosses the first [EOL]
        assert torch.allclose(s.logits[0], full[len(prefix) - 1 + i], atol=1e-4)
        s.feed(torch.tensor([seq[len(prefix) + i]]))


def test_export_round_trip(lay, tmp_path):
    from tools.llamagen import VQConfig, VQModel
    from tools.train.text2img import export, train
    from tools.train.train_fashion import VQ_CFG
    m = tiny_model(lay)
    vq = VQModel(VQ_CFG)
    vq_path = tmp_path / "vq_last.pt"
    torch.save({"model": vq.state_dict(), "step": 7, "config": VQ_CFG.to_json()}, vq_path)

    import argparse
    Args = argparse.Namespace(ema=0.999)
    conf = train.model_config(type("A", (), {"dim": 32, "ffn": 64, "layers": 2, "heads": 4, "kv_heads": 2}), lay)
    ck = train.state(m, m, torch.optim.AdamW(m.parameters()), 5, 60.0, Args, conf, lay.tok.to_str(), None,
                     {"path": str(vq_path), "step": 7, "config": VQ_CFG.to_json()})
    torch.save(ck, tmp_path / "last.pt")
    out = tmp_path / "bundle"
    sys.argv = ["export.py", "--ckpt", str(tmp_path / "last.pt"), "--vq-ckpt", str(vq_path), "--out", str(out)]
    export.main()
    assert sorted(os.listdir(out)) == ["config.json", "generation_config.json", "layout.json", "model.safetensors",
                                       "tokenizer.json", "vq.safetensors"]
    from safetensors import safe_open
    with safe_open(str(out / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
        assert f.get_tensor("lm_head.weight").dtype == torch.float16
    assert {"model.embed_tokens.weight", "lm_head.weight", "model.norm.weight",
            "model.layers.1.self_attn.k_proj.weight", "model.layers.0.mlp.gate_proj.weight"} <= keys
    import json
    lj = json.load(open(out / "layout.json"))
    assert lj["image_offset"] == lay.image_offset and lj["special_tokens"]["eol"]["id"] == lay.eol
    assert VQConfig.from_json(lj["vq"]) == VQ_CFG
