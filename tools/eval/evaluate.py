"""Quality of each decoding policy on the bundled Fashion-MNIST model, measured with a separately trained
classifier: accuracy against the requested class, and the Frechet distance between classifier features of
generated and test images (an FID with a Fashion-MNIST feature extractor). Writes a Markdown table.

    swift build -c release --product zipar
    python3 -m tools.eval.fashion_classifier --out tools/eval/classifier.pt
    python3 -m tools.eval.evaluate --per-class 100 --out docs/quality.md
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

from tools.eval import fashion_classifier as fc


def frechet(f1, f2):
    """Frechet distance between Gaussians fitted to two feature sets [N, D]."""
    m1, m2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    # tr(sqrt(s1 s2)) = sum sqrt(eig(sqrt(s1) s2 sqrt(s1))), all symmetric PSD.
    w, v = np.linalg.eigh(s1)
    r1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    e = np.linalg.eigvalsh(r1 @ s2 @ r1)
    return float(((m1 - m2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.clip(e, 0, None)).sum())


def judge(classifier, n):
    """The classifier, its features of the 10,000 test images, its test accuracy, and the FD noise floor:
    n real training images against the test set (what a perfect generator would score at this sample size)."""
    net = fc.load(classifier)
    xt, yt = fc.load_idx("t10k")
    test_logits, test_feats = fc.predict(net, fc.pad32(xt))
    test_acc = (test_logits.argmax(1) == yt).mean()
    xs, _ = fc.load_idx("train")
    pick = np.random.default_rng(0).choice(len(xs), n, replace=False)
    _, real_feats = fc.predict(net, fc.pad32(xs[pick]))
    return net, test_feats, test_acc, frechet(real_feats, test_feats)


def snapshot(model, workdir, files=None):
    """Copies the model folder (or `files` of it) to workdir/model-snapshot and returns that path: a model still
    being trained may be re-exported into its folder mid-run, and a table must come from one set of weights."""
    import shutil
    snap = os.path.join(workdir, "model-snapshot")
    if os.path.abspath(model) == os.path.abspath(snap):
        return snap
    shutil.rmtree(snap, ignore_errors=True)
    os.makedirs(snap)
    for name in files or os.listdir(model):
        shutil.copy2(os.path.join(model, name), snap)
    return snap


def add_sampling_args(ap):
    """The generate settings every quality table states (a row's `#seed=` / `#cfg=` overrides them)."""
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--cfg", type=float, default=1.0)
    ap.add_argument("--top-k", type=int, default=0)


def footer(build, module, command):
    """The Markdown tail of a quality table: how to regenerate it (`python3 -m module ...`), and one generate
    command."""
    return ["", "Regenerate:", "", "```", build, " ".join(["python3", "-m", module] + sys.argv[1:]), "```", "",
            "One generate command, for reference:", "", "```", command, "```", ""]


def write_markdown(path, lines):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(lines))
    print(f"wrote {path}")


def generate(args, spec, workdir):
    """spec: a policy, optionally with '#key=value' overrides: seed (first seed), cfg, attention or storage."""
    policy, *opts = spec.split("#")
    opts = dict(o.split("=", 1) for o in opts)
    seed = opts.get("seed", str(args.seed))
    attention = opts.get("attention", args.attention)
    storage = opts.get("storage", args.storage)
    cfg = opts.get("cfg", str(args.cfg))
    flags = []
    if policy.startswith("official:"):
        flags = ["--policy", "zipar:" + policy.split(":")[1], "--official-schedule"]
    else:
        flags = ["--policy", policy]
    out = os.path.join(workdir, spec.replace(":", "-").replace("#", "-").replace("=", "-").replace("/", "-"))
    npy = out + ".npy"
    cmd = [args.zipar, "generate", "--model", args.model, "--class", "all", "--count", str(args.per_class),
           "--seed", seed, "--tokens-only", "--npy", npy, "--out", out, "--batch", str(args.batch),
           "--max-queries", "1024", "--temperature", str(args.temperature), "--cfg", cfg,
           "--top-k", str(args.top_k), "--attention", attention, "--storage", storage] + flags
    t0 = time.time()
    # Kernel worker threads that spin while idle lose badly on a busy 2-core machine: let them sleep.
    env = dict(os.environ, ZK_SPIN_US=os.environ.get("ZK_SPIN_US", "0"))
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    wall = time.time() - t0
    with open(os.path.join(out, "manifest.tsv")) as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    passes = np.array([int(r["passes"]) for r in rows])
    queries = np.array([int(r["queries"]) for r in rows])
    drafts = sum(int(r["drafts"]) for r in rows)
    accepted = sum(int(r["accepted"]) for r in rows)
    images = np.load(npy)
    return images, passes, queries, wall, drafts, accepted, " ".join(cmd)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="models/fashion-16")
    ap.add_argument("--zipar", default=".build/release/zipar")
    ap.add_argument("--classifier", default="tools/eval/classifier.pt")
    ap.add_argument("--policies", default="ntp,ntp#seed=5000,zipar:8,zipar:4,official:8,official:4,adaptive:4,sjd:4,"
                    "sjd:8,sjd:16,zipar-sjd:8/4,zipar-sjd:8/16,"
                    "ntp#cfg=2,ntp#seed=5000#cfg=2,official:8#cfg=2,official:4#cfg=2,zipar-sjd:8/4#cfg=2,"
                    "ntp#cfg=4,official:8#cfg=4,zipar-sjd:8/4#cfg=4",
                    help="comma list of ntp, zipar:S, official:S, adaptive:SMIN, sjd:K, zipar-sjd:S/K, each optionally "
                         "with #seed=N, #cfg=X, #attention=reference or #storage=f16|int8 (default: docs/quality.md's rows)")
    ap.add_argument("--per-class", type=int, default=100)
    add_sampling_args(ap)
    ap.add_argument("--attention", default="masked")
    ap.add_argument("--storage", default="f32", help="weights and KV cache in memory: f32 (exact), f16, int8 or auto")
    ap.add_argument("--workdir", default=None,
                    help="scratch folder for the model snapshot and the samples (default: a new temporary folder)")
    ap.add_argument("--out", default="docs/quality.md")
    args = ap.parse_args()
    torch.set_num_threads(2)
    args.workdir = args.workdir or tempfile.mkdtemp(prefix="zipar-eval-")
    os.makedirs(args.workdir, exist_ok=True)
    print(f"workdir {args.workdir}", flush=True)
    model_name = args.model
    args.model = snapshot(args.model, args.workdir, ("config.json", "gpt.safetensors", "vq.safetensors"))

    n = 10 * args.per_class
    net, test_feats, test_acc, real_fd = judge(args.classifier, n)

    labels = np.repeat(np.arange(10), args.per_class)
    rows, commands = [], []
    base = {}  # cfg -> (passes, FD) of the first ntp row at that cfg: what the other rows at that cfg compare with
    for policy in args.policies.split(","):
        images, passes, queries, wall, drafts, accepted, cmd = generate(args, policy, args.workdir)
        logits, feats = fc.predict(net, images)
        acc = (logits.argmax(1) == labels).mean()
        fd = frechet(feats, test_feats)
        opts = dict(o.split("=", 1) for o in policy.split("#")[1:])
        cfg = f"{float(opts.get('cfg', args.cfg)):g}"
        if policy.split("#")[0] == "ntp" and cfg not in base and "seed" not in opts:
            base[cfg] = (passes.mean(), fd)
        rows.append((policy, cfg, passes.mean(), queries.mean(), acc, fd, wall / len(images), drafts, accepted))
        commands.append(cmd)
        print(f"{policy:16s} passes {passes.mean():6.1f}  queries {queries.mean():6.1f}  acc {acc:.3f}  FD {fd:7.3f}  "
              f"{wall / len(images) * 1000:.1f} ms/image" + (f"  drafts {drafts} accepted {accepted}" if drafts else ""),
              flush=True)

    import hashlib
    with open(os.path.join(args.model, "gpt.safetensors"), "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:12]
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(os.path.getmtime(os.path.join(args.model, "gpt.safetensors"))))
    lines = [
        "# Quality of the decoding policies",
        "",
        f"Weights: `{model_name}/gpt.safetensors` sha256 `{digest}...` (written {stamp}; evaluated from a snapshot copy).",
        "",
        f"Model `{model_name}` (16x16 tokens, 32x32 Fashion-MNIST images), {n} images per policy "
        f"({args.per_class} per class, seeds {args.seed}..{args.seed + args.per_class - 1} for every class), "
        f"temperature {args.temperature}, cfg {args.cfg}, top-k {args.top_k}, attention `{args.attention}`, "
        f"storage `{args.storage}`.",
        f"Judge: a small CNN trained on the Fashion-MNIST training split (`tools/eval/fashion_classifier.py`), "
        f"test accuracy {test_acc:.3f}. FD: Frechet distance between its 128-d penultimate features of the generated "
        f"images and of the 10,000 test images. Noise floor (FD of {n} real training images vs test): {real_fd:.3f}.",
        "",
        "| policy | cfg | passes / image | passes vs ntp | queries / image | accuracy | FD | FD vs ntp "
        "| ms / image (2 cores) | drafts accepted |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    best = {}  # cfg -> the row with the fewest passes within +10% FD of ntp at that cfg
    for policy, cfg, p, q, acc, fd, sec, drafts, accepted in rows:
        bp, bfd = base.get(cfg, (None, None))
        dp = f"{(p / bp - 1) * 100:+.0f}%" if bp else ""
        dfd = f"{(fd / bfd - 1) * 100:+.0f}%" if bfd else ""
        da = f"{accepted}/{drafts}" if drafts else ""
        lines.append(f"| `{policy.split('#cfg=')[0]}` | {cfg} | {p:.1f} | {dp} | {q:.0f} | {acc:.3f} | {fd:.3f} | {dfd} "
                     f"| {sec * 1000:.1f} | {da} |")
        if bfd and fd <= 1.1 * bfd and (cfg not in best or p < best[cfg][2]):
            best[cfg] = (policy, cfg, p, fd, bp, bfd)
    lines += ["", "Fewest passes within +10% FD of ntp at the same cfg:", ""]
    for cfg, (policy, _, p, fd, bp, bfd) in sorted(best.items(), key=lambda kv: float(kv[0])):
        lines.append(f"- cfg {cfg}: `{policy.split('#cfg=')[0]}`, {p:.1f} passes ({(p / bp - 1) * 100:+.0f}% vs ntp's "
                     f"{bp:.0f}), FD {fd:.3f} vs {bfd:.3f} ({(fd / bfd - 1) * 100:+.1f}%)")
    lines += [
        "",
        "Each row's passes and FD are compared with the `ntp` row of the same cfg. `sjd:K` and `zipar-sjd:S/K` "
        "(= `zipar-sjd:S,K`) guess K tokens ahead in a row and verify them in the same pass (speculative Jacobi "
        "decoding; docs/decoding.md); their drafts column counts guessed tokens checked and accepted. ",
        "`official:S` is `zipar:S --official-schedule` (first row by plain NTP, as the official code does). "
        "`#seed=N`: the same policy with other seeds (the spread between the two ntp rows is the sampling noise of "
        "the FD at this sample size). `#attention=reference`: attend unfilled cache slots as zero K/V like the "
        "official code, instead of masking them. "
        "Wall time is for the whole run (continuous batching, batch "
        f"{args.batch}, release build) divided by the number of images, including VQ decoding.",
    ]
    lines += footer("swift build -c release --product zipar && "
                    "python3 -m tools.eval.fashion_classifier --out tools/eval/classifier.pt",
                    "tools.eval.evaluate", commands[0])
    write_markdown(args.out, lines)


if __name__ == "__main__":
    main()
