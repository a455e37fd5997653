#!/usr/bin/env python3
"""Pass counts of the official Lumina-mGPT ZipAR loop, written as a test fixture.

  tools/.cache/venv-lumina/bin/python tools/lumina_zipar_steps.py [--out Tests/Fixtures/lumina-zipar-steps.json]

Runs the ZipAR authors' own generation loop (ThisisBillhe/ZipAR, folder Lumina-mGPT-ZipAR:
`ChameleonForConditionalGeneration._sample` in lumina_mgpt/model/chameleon/modeling_chameleon.py) UNCHANGED on a
tiny random Chameleon config on CPU, and counts its forward passes for square grids and every window it accepts.
The two source files (configuration_chameleon.py, modeling_chameleon.py) are extracted byte for byte from a git
mirror or checkout of that repository (env LUMINA_ZIPAR_REPO) into tools/.cache/lumina_zipar/ (git-ignored) and
imported as a package. Their requirements say transformers>=4.43.3; their `_sample` override has the signature
of transformers 4.45 and their attention uses `DynamicCache.key_cache` (gone in 5.x, which also lacks
modeling_attn_mask_utils), so run this under transformers 4.45.x, e.g. in a venv that reuses the system torch:

  python3 -m venv --system-site-packages tools/.cache/venv-lumina
  tools/.cache/venv-lumina/bin/pip install transformers==4.45.2

What this script adds around their code (none of it changes the schedule):
  * `torch.tensor(..., device='cuda')` in the model's __init__ (the eol / eoi / end token constants) is mapped
    to the CPU while the model is constructed;
  * its own logits processor stands in for the trained model plus their MultiModalLogitsProcessor_ZIPAR
    (inference_solver.py, which cannot be imported without their tokenizer files): it forces the image-start
    token, then the two resolution tokens, then restricts every further sample to the image-token range 4..8195
    (exactly their processor's mask), so a random model cannot emit a structural token by chance;
  * hooks that count forward passes and record which pass sampled each grid cell;
  * for plain NTP, the same model through transformers' stock `GenerationMixin._sample` (the ZipAR override
    bypassed), with the logits processor forcing the end-of-row token after every W image tokens, the end-of-image
    token after the last row and then the end-of-turn token: this is the Lumina-mGPT decoding without ZipAR (their
    MultiModalLogitsProcessor does the same forcing).

Layout (Lumina-mGPT / Chameleon). The prompt ends with the end-of-turn token 8710 of the human turn; the model
then writes
    boi(8197) res_h res_w | x(0,0) .. x(0,W-1) eol(8803) | x(1,0) .. eol | ... | x(H-1,0) .. x(H-1,W-1) eol
    eoi(8196) end-of-turn(8710)
(res_* = 8804 + grid/2). The loop sees this as H "row segments" of W+1 tokens each: segment r is
[the token before row r, x(r,0..W-1)], where the token before row 0 is res_w and the token before row r>0 is the
eol that ends row r-1. `row_token_num[r]` counts the tokens of segment r that exist; `tokens_per_row` = W+1 and
the number of rows is tied to it (`row_token_num` has tokens_per_row-1 entries and the last row is
tokens_per_row-2), so the loop handles only square grids H = W.

What counts as a pass: one call of the model's forward (with CFG the conditional and unconditional sequences are
one batch of 2, so still one pass). The loop's own pass counter (it prints `Model forward times`) counts every
pass from the prompt prefill on; the first three passes are the prefix (prefill -> boi, feed boi -> res_h,
feed res_h -> res_w) and are the same for every policy. `passes` in the fixture = passes from the one that samples
x(0,0) (it feeds res_w) through the one that samples x(H-1,W-1), i.e. the loop's count minus 3. Image pass p below
is 1-based in that numbering.

The observed schedule (window S = their `zipar_window_size`, default 16, used with 48x48 grids):
  * Row 0 opens before image pass 1 with row_token_num[0] = 1 (res_w); its query in pass 1 is res_w.
  * Every pass has one query per open row, in row order: the newest token of the row's segment, at its true
    layout position (RoPE position = its index in the full layout), and one token is sampled for each.
  * Row r+1 opens as soon as row r's segment holds S tokens, i.e. right after x(r,S-2) is sampled (S-1 image
    tokens; for row 0 the S counts res_w, for later rows the leading eol). Opening writes the eol token of row r
    into row r+1's first slot: it is FORCED (appended, never sampled, no pass of its own), placed in advance at
    its final position while row r is still incomplete, and never rewritten. Its query (predicting x(r+1,0)) goes
    into the NEXT pass, alongside row r's query that samples x(r,S-1).
    Hence x(i,j) is sampled in image pass 1 + i*(S-1) + j, and x(i,j) sees x(i-1, 0..j+S-2) (all of row i-1
    once j+S-2 >= W-1, its last token through the extra query below): the paper's
    Eq. 1 rule with S-1 tokens above (our `zipar:(S-1)`), not S, and row 0 is NOT finished first (unlike the
    official LlamaGen code). Measured passes = (H-1)*(S-1) + W, for every S in 2..W+1 (checked per cell).
  * When a row's last token x(r,W-1) is sampled (segment complete), the row closes; x(r,W-1) has not been fed
    yet, so the next pass carries one extra query for it first (its logits discarded), which writes its K/V at its
    position. Row r+1 is always open by then, so this costs one query, never a pass. Only one row can close per
    pass (one slot for that extra query), which holds because rows are S-1 >= 1 columns apart.
  * K/V cache: compact, in layout order; an undecoded cell has no entry at all (it is inserted when fed), and a
    query attends to every cached entry before it in layout order plus the queries before it in the same pass
    (so row r+1's eol query sees x(r,S-2), fed in the same pass). Missing cells are thus masked, not zero K/V as in
    the official LlamaGen ZipAR code; K/V already written (e.g. the eol's) are never recomputed when the cells above
    arrive.
  * Last row: row H-1 is opened like any other; no row H is ever opened. When x(H-1,W-1) is sampled, the loop
    appends the final eol, eoi and end-of-turn tokens (all forced, no pass) and stops; x(H-1,W-1) is never fed.
  * CFG (their `model.cfg` > 1): the unconditional sequence (the prompt's length, BOS then pad id 1) rides in the
    same passes as batch row 2 with the same queries; guidance is applied to every sample from x(0,0) on. The pass
    counts are the same as without CFG (checked; the fixture has both).
  * Windows the loop rejects: S = 1 (row 1 never opens: the segment count is already 1 before the first check,
    so row 0 closes with no row open and the next pass fails on an empty row list) and S > W+1 (same failure: row
    1 never opens). S = W+1 opens row r+1 in the step that closes row r: one image token per pass, eol tokens
    free, H*W passes.

Plain NTP (`ntp_passes`): the stock loop feeds one token per pass and samples each eol (forced by the logits
processor) in a pass of its own, so the same span (pass sampling x(0,0) through pass sampling x(H-1,W-1)) takes
H*W + H-1 passes; after it the stock loop spends 3 more passes on the final eol, eoi and end-of-turn, which the
ZipAR loop appends without passes (`ntp_total_passes` = 3 + ntp_passes + 3).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import traceback
import types

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CACHE = os.path.join(HERE, ".cache", "lumina_zipar")
PKG = "lz_chameleon"
SUBDIR = "Lumina-mGPT-ZipAR/lumina_mgpt/model/chameleon"
FILES = ["configuration_chameleon.py", "modeling_chameleon.py"]
DEFAULT_OUT = os.path.join(ROOT, "Tests", "Fixtures", "lumina-zipar-steps.json")

BOI, EOI, EOL, END_OF_TURN = 8197, 8196, 8803, 8710
RES_BASE = 8804
IMAGE_LO, IMAGE_HI = 4, 8195  # image-token ids, inclusive (their MultiModalLogitsProcessor_ZIPAR)
VOCAB = 8832  # holds every id above plus the resolution tokens of the grids used here
PREFIX_PASSES = 3  # prefill -> boi, boi -> res_h, res_h -> res_w
PROMPT = [0, 100, 101, 102, 103, 104, 105, END_OF_TURN]  # BOS, "text", end of the human turn


# ---------------------------------------------------------------- their code, unchanged

def _git(repo, *args):
    return subprocess.check_output(["git", "-C", repo, *args], stderr=subprocess.DEVNULL)


def extract(repo):
    """Copies their two files into tools/.cache/lumina_zipar/lz_chameleon/; returns provenance."""
    dst = os.path.join(CACHE, PKG)
    os.makedirs(dst, exist_ok=True)
    prov = {"commit": None, "files": {}}
    try:
        prov["commit"] = _git(repo, "rev-parse", "HEAD").decode().strip()
    except (subprocess.CalledProcessError, FileNotFoundError):
        pass
    for f in FILES:
        path = f"{SUBDIR}/{f}"
        try:
            src = _git(repo, "show", f"HEAD:{path}")
        except (subprocess.CalledProcessError, FileNotFoundError):
            p = os.path.join(repo, path)  # a plain checkout
            if not os.path.exists(p):
                sys.exit(f"cannot read {path} from {repo}: set LUMINA_ZIPAR_REPO to a mirror or checkout of "
                         "ThisisBillhe/ZipAR")
            src = open(p, "rb").read()
        with open(os.path.join(dst, f), "wb") as fh:
            fh.write(src)
        blob = subprocess.run(["git", "hash-object", "--stdin"], input=src, capture_output=True).stdout
        prov["files"][path] = blob.decode().strip() or None
    open(os.path.join(dst, "__init__.py"), "w").close()  # theirs is a lazy-module shim; not needed
    return prov


def load_official():
    if CACHE not in sys.path:
        sys.path.insert(0, CACHE)
    import importlib
    try:
        conf = importlib.import_module(f"{PKG}.configuration_chameleon")
        model = importlib.import_module(f"{PKG}.modeling_chameleon")
    except ImportError as e:
        import transformers
        sys.exit(f"their modeling file does not import under transformers {transformers.__version__} ({e}); "
                 "run under transformers 4.45.x (see this script's docstring)")
    return conf, model


@contextlib.contextmanager
def cuda_constants_on_cpu(torch):
    """Their __init__ builds its token constants with device='cuda'; build them on the CPU instead."""
    real = torch.tensor

    def tensor(*a, **k):
        if str(k.get("device", "")).startswith("cuda"):
            k["device"] = "cpu"
        return real(*a, **k)

    torch.tensor = tensor
    try:
        yield
    finally:
        torch.tensor = real


# ---------------------------------------------------------------- harness

def build_model(torch, conf, mod, seed=0):
    torch.manual_seed(seed)
    cfg = conf.ChameleonConfig(
        vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=4, max_position_embeddings=4096, bos_token_id=0, eos_token_id=END_OF_TURN,
        pad_token_id=None, vocabulary_map={}, mask_image_logits=False, swin_norm=False,
        vq_config=dict(embed_dim=8, num_embeddings=16, latent_channels=8, resolution=16, base_channels=32,
                       channel_multiplier=[1], num_res_blocks=1, attn_resolutions=[]),
        attn_implementation="eager")
    with cuda_constants_on_cpu(torch):
        m = mod.ChameleonForConditionalGeneration(cfg)
    m.eval()
    return m


class Recorder:
    """Counts forward passes; the logits processor tells it which cell each sample fills."""

    def __init__(self, model, prompt_len):
        self.model, self.prompt_len = model, prompt_len
        self.passes = []  # per pass: {"queries": n, "batch": b, "cells": [(row, col)]}
        self.mode = "zipar"
        model.register_forward_pre_hook(self._pre, with_kwargs=True)

    def _pre(self, module, args, kwargs):
        ids = kwargs.get("input_ids")
        if ids is None:
            ids = kwargs.get("inputs_embeds")
        self.passes.append({"queries": int(ids.shape[1]), "batch": int(ids.shape[0]), "cells": [], "calls": 0})


def make_processor(torch, rec, H, W):
    from transformers import LogitsProcessor

    image_mask = torch.ones(VOCAB, dtype=torch.bool)
    image_mask[IMAGE_LO:IMAGE_HI + 1] = False  # True = suppressed

    def forced(scores, tok):
        out = torch.full_like(scores, -float("inf"))
        out[:, tok] = 0
        return out

    class Layout(LogitsProcessor):
        def __call__(self, input_ids, scores):
            seq = input_ids[0].tolist()
            gen = seq[rec.prompt_len:]
            cur = rec.passes[-1]
            call = cur["calls"]
            cur["calls"] += 1
            if BOI not in gen:
                return forced(scores, BOI)
            after = len(gen) - 1 - gen.index(BOI)  # tokens after boi
            if after == 0:
                return forced(scores, RES_BASE + H // 2)
            if after == 1:
                return forced(scores, RES_BASE + W // 2)
            k = after - 2  # index within the image part (rows of W+1 with the eol)
            if rec.mode == "zipar":
                m = rec.model
                row = int(m.ongoing_row_list[call])
                col = int(m.row_token_num[row]) - 1
                cur["cells"].append((row, col))
                return torch.where(image_mask, -float("inf"), scores)
            # stock NTP: the row/col follow from the length
            if k == (W + 1) * H:
                return forced(scores, EOI)
            if k > (W + 1) * H:
                return forced(scores, END_OF_TURN)
            row, col = divmod(k, W + 1)
            cur["cells"].append((row, col))
            if col == W:
                return forced(scores, EOL)
            return torch.where(image_mask, -float("inf"), scores)

    return Layout()


def expected_layout(H, W):
    """The tokens before the image rows, and after them (the last row's eol is checked with the rows)."""
    return [BOI, RES_BASE + H // 2, RES_BASE + W // 2], [EOI, END_OF_TURN]


def run_once(torch, conf, mod, H, W, window, cfg_scale, ntp=False, seed=0):
    from transformers import GenerationConfig, LogitsProcessorList
    from transformers.generation.utils import GenerationMixin

    model = build_model(torch, conf, mod, seed)
    model.prompt_len = len(PROMPT)
    model.tokens_per_row = W + 1
    model.zipar_window_size = window
    model.cfg = cfg_scale
    model.reset_zipar()
    rec = Recorder(model, len(PROMPT))
    rec.mode = "ntp" if ntp else "zipar"
    if ntp:  # the stock transformers loop instead of their override
        model._sample = types.MethodType(GenerationMixin._sample, model)
    gc = GenerationConfig(max_new_tokens=(W + 1) * H + 16, max_length=model.config.max_position_embeddings,
                          temperature=1.0, top_k=None, do_sample=True, eos_token_id=[END_OF_TURN],
                          pad_token_id=END_OF_TURN)
    prompt = torch.tensor([PROMPT], dtype=torch.int64)
    torch.manual_seed(1000 + seed)
    out = io.StringIO()
    with torch.no_grad(), contextlib.redirect_stdout(out):
        seq = model.generate(prompt, gc, logits_processor=LogitsProcessorList([make_processor(torch, rec, H, W)]))
    seq = seq[0].tolist()[len(PROMPT):]
    printed = None
    for line in out.getvalue().splitlines():
        if line.startswith("Model forward times:"):
            printed = int(line.split(":")[1])
    # the sequence must be exactly the Lumina-mGPT image layout
    head, tail = expected_layout(H, W)
    assert seq[:3] == head, seq[:3]
    body = seq[3:3 + (W + 1) * H]
    for r in range(H):
        rowtoks = body[r * (W + 1):(r + 1) * (W + 1)]
        assert all(IMAGE_LO <= t <= IMAGE_HI for t in rowtoks[:W]), (r, rowtoks)
        assert rowtoks[W] == EOL, (r, rowtoks)
    assert seq[3 + (W + 1) * H:] == tail, seq[3 + (W + 1) * H:]
    # which image pass sampled each image cell
    decode = [[None] * W for _ in range(H)]
    eol_passes = []
    for p, info in enumerate(rec.passes):
        for (r, c) in info["cells"]:
            ip = p + 1 - PREFIX_PASSES
            if c == W:
                eol_passes.append(ip)
            else:
                assert decode[r][c] is None
                decode[r][c] = ip
    assert all(v is not None for row in decode for v in row)
    assert decode[0][0] == 1
    last = max(max(row) for row in decode)
    return {
        "total": len(rec.passes),
        "printed": printed,
        "passes": last,
        "after_last": len(rec.passes) - PREFIX_PASSES - last,
        "queries": sum(info["queries"] for info in rec.passes[PREFIX_PASSES:PREFIX_PASSES + last]),
        "batch": rec.passes[-1]["batch"],
        "decode": decode,
        "eol_passes": eol_passes,
    }


def dump(fixture):
    """JSON with one line per row (rows carry the decode_pass grids)."""
    parts = []
    for k, v in fixture.items():
        if k in ("rows", "unsupported"):
            body = ",\n".join("  " + json.dumps(r, separators=(", ", ": ")) for r in v)
            parts.append(f' {json.dumps(k)}: [\n{body}\n ]')
        else:
            parts.append(f" {json.dumps(k)}: " + json.dumps(v, indent=1).replace("\n", "\n "))
    return "{\n" + ",\n".join(parts) + "\n}\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--grids", default="2,3,4,5,6,8", help="square grid sides (the loop needs H = W)")
    ap.add_argument("--anchors", default="48:16", help="extra SIDE:WINDOW runs (default: their 768px setting)")
    ap.add_argument("--cfg", default="1.0,3.0", help="CFG scales (1.0 = off)")
    args = ap.parse_args()

    import torch
    torch.set_num_threads(1)
    import transformers
    if not transformers.__version__.startswith("4.45."):
        print(f"warning: transformers {transformers.__version__}; their code was written for 4.45.x "
              "(see the docstring for a venv)", file=sys.stderr)
    repo = os.environ.get("LUMINA_ZIPAR_REPO", "/work/.mirror/ThisisBillhe+ZipAR/repo")
    prov = extract(repo)
    conf, mod = load_official()
    transformers.logging.set_verbosity_error()

    plan = [(int(x), None) for x in args.grids.split(",") if x]  # every window 1..W+2
    plan += [(int(a), int(b)) for a, b in (x.split(":") for x in args.anchors.split(",") if x)]
    scales = [float(x) for x in args.cfg.split(",")]
    rows, unsupported = [], []
    for n, only in plan:
        H = W = n
        ntp = run_once(torch, conf, mod, H, W, W + 1, 1.0, ntp=True)
        assert ntp["passes"] == H * W + H - 1 and ntp["after_last"] == 3, ntp
        for S in (range(1, W + 3) if only is None else [only]):
            for scale in scales:
                try:
                    res = run_once(torch, conf, mod, H, W, S, scale)
                except Exception as e:  # the loop rejects this window
                    if scale == scales[0]:
                        where = traceback.extract_tb(e.__traceback__)[-1].name
                        msg = str(e).splitlines()[0] if str(e) else ""
                        unsupported.append({"height": H, "width": W, "window": S,
                                            "error": f"{type(e).__name__} in {where}: {msg}"})
                    continue
                # the schedule described in the docstring, cell by cell
                for i in range(H):
                    for j in range(W):
                        assert res["decode"][i][j] == 1 + i * (S - 1) + j, (H, S, i, j, res["decode"])
                assert res["passes"] == (H - 1) * (S - 1) + W
                assert res["after_last"] == 0 and res["printed"] == res["total"] == res["passes"] + PREFIX_PASSES
                assert res["batch"] == (2 if scale > 1.0 else 1)
                # one sampling query per image cell + one logits-less query per closed row (rows 0..H-2)
                assert res["queries"] == H * W + H - 1, res["queries"]
                notes = []
                if only is not None and (H, S) == (48, 16):
                    notes.append("their default: Lumina-mGPT-7B-768 (48x48 tokens), zipar_window_size 16")
                if S == W + 1:
                    notes.append("window W+1: one image token per pass, eol tokens free (= H*W)")
                if scale > 1.0:
                    notes.append(f"CFG {scale:g}: cond+uncond in one batch of 2; same count as CFG off")
                rows.append({
                    "height": H, "width": W, "window": S, "cfg": scale > 1.0, "cfg_scale": scale,
                    "passes": res["passes"], "ntp_passes": ntp["passes"],
                    "total_passes": res["total"], "ntp_total_passes": ntp["total"],
                    "queries": res["queries"],
                    "decode_pass": res["decode"],
                    "notes": "; ".join(notes),
                })
                print(f"{H}x{W} S={S} cfg={scale:g}: passes {res['passes']} (loop's count {res['printed']}), "
                      f"ntp {ntp['passes']}, queries {res['queries']}", file=sys.stderr)
    fixture = {
        "source": ("ThisisBillhe/ZipAR" + (f"@{prov['commit']}" if prov["commit"] else "")
                   + f" {SUBDIR}/modeling_chameleon.py, ChameleonForConditionalGeneration._sample, run unchanged "
                   f"on a tiny random Chameleon config (CPU, transformers {transformers.__version__}, "
                   f"torch {torch.__version__.split('+')[0]}) by tools/lumina_zipar_steps.py"),
        "source_blobs": prov["files"],
        "definitions": {
            "passes": "forward passes of the official ZipAR loop from the one that samples x(0,0) (it feeds the "
                      "width token) through the one that samples x(H-1,W-1); the final eol, eoi and end-of-turn "
                      "tokens are appended without passes. = (H-1)*(window-1) + W",
            "total_passes": "the loop's own count (it prints 'Model forward times'): passes + 3 prefix passes "
                            "(prompt prefill -> boi, boi -> height token, height token -> width token)",
            "ntp_passes": "plain NTP (transformers' stock sampling loop, eol sampled/forced in its own pass) over "
                          "the same span: H*W + H - 1",
            "ntp_total_passes": "plain NTP from the prompt prefill through the pass that samples end-of-turn: "
                                "3 + H*W + H - 1 + 3 (final eol, eoi, end-of-turn)",
            "queries": "query tokens per sequence summed over the counted passes (one per open row per pass, plus "
                       "one logits-less query for x(r,W-1) in the pass after row r closes)",
            "decode_pass": "decode_pass[i][j] = the pass (1-based, same numbering as passes) that sampled x(i,j); "
                           "= 1 + i*(window-1) + j",
            "cfg": "true: their batched CFG (model.cfg = cfg_scale > 1)",
        },
        "rows": rows,
        "unsupported": unsupported,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as fh:
        fh.write(dump(fixture))
    print(f"wrote {args.out}: {len(rows)} rows, {len(unsupported)} unsupported windows", file=sys.stderr)


if __name__ == "__main__":
    main()
