"""pytest checks for the Python tools (skipped when torch / safetensors are missing).

  python3 -m pytest -q tools/test_tools.py
"""
import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")
from safetensors.torch import load_file  # noqa: E402

from tools import llamagen, official_ref  # noqa: E402
from tools.paths import CHECKPOINTS, FIXTURES as FIX, MODELS, ROOT  # noqa: E402


def run_module(module, *args, **kw):
    """`python3 -m module args` from the repository root (how the tools are run)."""
    subprocess.check_call([sys.executable, "-m", module, *map(str, args)], cwd=ROOT, **kw)


def official_rope(grid_size, n_elem, base=10000, cls_token_num=1):
    """precompute_freqs_cis_2d as written in LlamaGen autoregressive/models/gpt.py (recomputed inline)."""
    half_dim = n_elem // 2
    freqs = 1.0 / (base ** (torch.arange(0, half_dim, 2)[: (half_dim // 2)].float() / half_dim))
    t = torch.arange(grid_size, device=freqs.device)
    freqs = torch.outer(t, freqs)
    freqs_grid = torch.concat([
        freqs[:, None, :].expand(-1, grid_size, -1),
        freqs[None, :, :].expand(grid_size, -1, -1),
    ], dim=-1)
    cache_grid = torch.stack([torch.cos(freqs_grid), torch.sin(freqs_grid)], dim=-1)
    cache = cache_grid.flatten(0, 1)
    return torch.cat([torch.zeros(cls_token_num, n_elem // 2, 2), cache])


def official_apply_rotary(x, freqs_cis):
    xshaped = x.float().reshape(*x.shape[:-1], -1, 2)
    freqs_cis = freqs_cis.view(1, xshaped.size(1), 1, xshaped.size(3), 2)
    x_out2 = torch.stack([
        xshaped[..., 0] * freqs_cis[..., 0] - xshaped[..., 1] * freqs_cis[..., 1],
        xshaped[..., 1] * freqs_cis[..., 0] + xshaped[..., 0] * freqs_cis[..., 1],
    ], dim=-1)
    return x_out2.flatten(3).type_as(x)


@pytest.mark.parametrize("grid,head_dim", [(16, 64), (24, 64), (16, 32), (8, 32), (32, 128)])
def test_rope_matches_official(grid, head_dim):
    ours = llamagen.precompute_freqs_cis_2d(grid, head_dim, 10000, 1)
    ref = official_rope(grid, head_dim, 10000, 1)
    assert ours.shape == ref.shape == (1 + grid * grid, head_dim // 2, 2)
    assert torch.equal(ours, ref)
    assert torch.all(ours[0] == 0)  # class-token prefix: cos = sin = 0
    x = torch.randn(2, 1 + grid * grid, 3, head_dim)
    assert torch.allclose(llamagen.apply_rotary_emb(x, ours), official_apply_rotary(x, ref), atol=0, rtol=0)
    assert torch.all(llamagen.apply_rotary_emb(x, ours)[:, 0] == 0)


def test_ffn_hidden_formula():
    c = llamagen.GPTConfig(dim=256, multiple_of=64, ffn_dim_multiplier=0.5644)
    assert c.ffn_hidden == 384  # int(0.5644 * int(682.67)) = 384, not int(0.5644 * 682.67) = 385 -> 448
    assert llamagen.GPTConfig(dim=768, multiple_of=256).ffn_hidden == 2048
    assert llamagen.GPTConfig(dim=1024, multiple_of=256).ffn_hidden == 2816


def test_kv_cache_step_matches_teacher_forcing():
    torch.manual_seed(0)
    cfg = llamagen.GPTConfig(dim=64, n_layer=2, n_head=4, n_kv_head=2, vocab_size=32, num_classes=3, grid=4,
                             multiple_of=16)
    m = llamagen.Transformer(cfg)
    m.init_weights(std=0.2, zero_output=False)
    m.eval()
    tokens = torch.randint(0, 32, (2, 16))
    labels = torch.tensor([1, 3])
    with torch.no_grad():
        full = m(tokens, labels)
        caches = m.new_cache(2)
        h = m.cls_embedding(labels)
        outs = [m.step(h, torch.tensor([0]), caches)[:, -1]]
        for i in range(15):
            outs.append(m.step(m.tok_embeddings(tokens[:, i:i + 1]), torch.tensor([1 + i]), caches)[:, -1])
    assert torch.allclose(torch.stack(outs, 1), full, atol=1e-5)


def test_converter_round_trip(tmp_path):
    work = tmp_path / "pt"
    out = tmp_path / "bundle"
    # the official classes are the oracle when $LLAMAGEN_REPO names a LlamaGen checkout, else tools/llamagen.py
    oracle = [] if official_ref.repo_path(official_ref.LLAMAGEN) else ["--no-official"]
    run_module("tools.fixtures.write_official_pt", "--out", work, *oracle)
    run_module("tools.convert.convert_llamagen", "--gpt", work / "c2i_tiny.pt", "--vq", work / "vq_tiny.pt",
               "--gpt-model", "tiny", "--image-size", "16", "--out", out)
    names = set(load_file(str(out / "gpt.safetensors")).keys())
    assert not any("freqs_cis" in n or "cache" in n for n in names)
    vnames = set(load_file(str(out / "vq.safetensors")).keys())
    assert not any(n.startswith(("encoder.", "quant_conv.")) or "codebook_used" in n for n in vnames)
    conf, gpt, vq = llamagen.load_bundle(str(out))
    ref = torch.load(str(work / "reference.pt"), weights_only=False)["tensors"]
    with torch.no_grad():
        lg = gpt(ref["tokens"][None].long(), ref["class"].long())[0]
        ln = gpt(ref["tokens"][None].long(), torch.tensor([conf["gpt"]["num_classes"]]))[0]
        px = vq.decode_code(ref["vq_tokens"].long())
    assert torch.allclose(lg, ref["logits"], atol=1e-4)
    assert torch.allclose(ln, ref["logits_null"], atol=1e-4)
    assert torch.allclose(px, ref["pixels"], atol=1e-4)


def test_matches_official_gpt_when_available():
    off = official_ref.load()
    if off is None:
        pytest.skip("official LlamaGen code not available: " + official_ref.missing_repo_message(official_ref.LLAMAGEN))
    og, _ = off
    torch.manual_seed(1)
    ref = og.Transformer(og.ModelArgs(dim=256, n_layer=2, n_head=4, n_kv_head=2, multiple_of=64,
                                      ffn_dim_multiplier=1.3, vocab_size=100, num_classes=5, block_size=36))
    for p in ref.parameters():
        torch.nn.init.normal_(p, 0, 0.1)
    ref.eval()
    ours = llamagen.Transformer(llamagen.GPTConfig(dim=256, n_layer=2, n_head=4, n_kv_head=2, multiple_of=64,
                                                   ffn_dim_multiplier=1.3, vocab_size=100, num_classes=5, grid=6))
    ours.load_state_dict(ref.state_dict(), strict=True)
    ours.eval()
    tokens = torch.randint(0, 100, (2, 36))
    labels = torch.tensor([0, 5])
    with torch.no_grad():
        a = ref(tokens[:, :-1], labels, input_pos=torch.arange(36))[0]
        b = ours(tokens, labels)
    assert torch.allclose(a, b, atol=1e-5)


@pytest.mark.skipif(not os.path.exists(os.path.join(FIX, "tiny-gqa24-gpt.safetensors")), reason="no fixtures")
def test_tiny_fixture_consistent():
    conf, gpt, vq = llamagen.load_bundle(os.path.join(FIX, "tiny-gqa24"))
    f = load_file(os.path.join(FIX, "tiny-gqa24-gpt.safetensors"))
    with torch.no_grad():
        lg = gpt(f["tokens"][None].long(), f["class"].long())[0]
    assert torch.allclose(lg, f["logits"], atol=1e-4)
    v = load_file(os.path.join(FIX, "tiny-gqa24-vq.safetensors"))
    with torch.no_grad():
        px = vq.decode_code(v["tokens"].long())
    assert torch.allclose(px, v["pixels"], atol=1e-4)
    assert torch.equal(llamagen.to_uint8(v["pixels"]), v["u8"])


@pytest.mark.skipif(not os.path.exists(os.path.join(FIX, "fashion16-gpt.safetensors")), reason="no fixtures")
def test_fashion_fixture_matches_bundle():
    conf, gpt, vq = llamagen.load_bundle(os.path.join(MODELS, "fashion-16"))
    f = load_file(os.path.join(FIX, "fashion16-gpt.safetensors"))
    with torch.no_grad():
        lg = gpt(f["tokens"][None].long(), f["class"].long())[0]
    assert torch.allclose(lg, f["logits"], atol=1e-4), "fixture is stale: rerun python3 -m tools.fixtures.make_fixtures"


def test_train_presets():
    """v1 must stay the shipped fashion-16 recipe; v2 must keep the bundle at a few MB of F16."""
    from tools.train import train_fashion as tf
    v1 = tf.PRESETS["v1"]
    assert v1["gpt"].to_json() == {"dim": 192, "n_layer": 4, "n_head": 6, "n_kv_head": 6, "vocab_size": 512,
                                   "num_classes": 10, "grid": 16, "cls_token_num": 1, "multiple_of": 64,
                                   "ffn_dim_multiplier": None, "norm_eps": 1e-5, "rope_base": 10000}
    assert v1["vq"].to_json()["codebook_size"] == 512 and v1["vq"].ch == 32
    assert v1["ckpt"] == CHECKPOINTS and v1["gpt_args"]["ema"] == 0.0
    v2 = tf.PRESETS["v2"]
    assert v2["ckpt"] != v1["ckpt"]
    g = sum(p.numel() for p in llamagen.Transformer(v2["gpt"]).parameters())
    v = sum(p.numel() for p in llamagen.VQModel(v2["vq"], with_encoder=False).parameters())
    assert 2 * (g + v) <= 10_000_000, (g, v)


def test_gpt_stage_ema_stop_resume_export(tmp_path):
    """Tiny end-to-end run of the gpt stage with EMA: STOP checkpoints, --resume continues, export picks EMA."""
    from tools.train import train_fashion as tf
    ck = tmp_path / "ck"
    ck.mkdir()
    g = torch.Generator().manual_seed(0)
    tok = torch.randint(0, 512, (8, 256), generator=g).to(torch.int16)
    lab = torch.arange(8) % 10
    torch.save({"train": {"tokens": tok, "labels": lab}, "test": {"tokens": tok[:2], "labels": lab[:2]}},
               str(ck / "tokens.pt"))
    vq = llamagen.VQModel(tf.PRESETS["v1"]["vq"])
    torch.save({"model": vq.state_dict(), "step": 0, "config": vq.cfg.to_json()}, str(ck / "vq_last.pt"))
    base = [sys.executable, "-m", "tools.train.train_fashion", "gpt", "--ckpt-dir", str(ck), "--batch", "2", "--steps", "4", "--warmup", "1",
            "--log-every", "1", "--ema", "0.5", "--threads", "1"]
    (ck / "STOP").touch()
    subprocess.check_call(base, stdout=subprocess.DEVNULL, cwd=ROOT)
    first = torch.load(str(ck / "gpt_last.pt"), weights_only=False)
    assert first["step"] == 1 and "ema" in first
    (ck / "STOP").unlink()
    subprocess.check_call(base + ["--resume"], stdout=subprocess.DEVNULL, cwd=ROOT)
    last = torch.load(str(ck / "gpt_last.pt"), weights_only=False)
    assert last["step"] == 4
    assert not torch.equal(last["ema"]["output.weight"], last["model"]["output.weight"])
    header = open(str(ck / "gpt_log.csv")).readline().strip().split(",")
    assert header[-1] == "ema_test_loss"
    for weights, key in (("auto", "ema"), ("raw", "model")):
        out = tmp_path / f"bundle-{weights}"
        run_module("tools.convert.export_bundle", "--gpt-ckpt", ck / "gpt_last.pt", "--vq-ckpt", ck / "vq_last.pt",
                   "--out", out, "--name", "t", "--weights", weights, stdout=subprocess.DEVNULL)
        w = load_file(str(out / "gpt.safetensors"))["output.weight"]
        assert torch.equal(w, last[key]["output.weight"].to(torch.float16))
    # guidance distillation starts from the teacher's EMA weights and writes its own checkpoint + log
    run_module("tools.train.train_fashion", "distill", "--ckpt-dir", ck, "--batch", "2", "--steps", "2",
               "--log-every", "1", "--guidance", "3", "--threads", "1", stdout=subprocess.DEVNULL)
    d = torch.load(str(ck / "gpt_distill.pt"), weights_only=False)
    assert d["step"] == 2 and d["distill"]["guidance"] == 3.0 and "ema" in d
    assert os.path.exists(str(ck / "gpt_distill_log.csv"))
    assert torch.equal(torch.load(str(ck / "gpt_last.pt"), weights_only=False)["model"]["output.weight"],
                       last["model"]["output.weight"])  # the teacher checkpoint is left alone
