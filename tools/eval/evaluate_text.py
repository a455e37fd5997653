"""Quality of each decoding policy on the bundled text-to-image model (models/fashion-text-16): does the image
show the garment the prompt names (classifier accuracy), does it have the attributes the prompt asks for
(attribute agreement, measured on the pixels by tools/train/text2img/captions.py), and how close are the images to
real ones (Frechet distance of classifier features against the 10,000 test images). Writes a Markdown table.

    swift build -c release --product zipar
    python3 -m tools.eval.fashion_classifier --out tools/eval/classifier.pt   # once (committed)
    python3 -m tools.eval.evaluate_text --out docs/quality-text.md

The prompt set is fixed: for each of the 10 classes, 10 prompts (the class alone, each attribute word alone,
three combinations), each drawn with --per-prompt seeds, so 100 images per class and 1000 per policy.
A policy spec may carry overrides: `ntp#seed=5000`, `zipar:4#cfg=3`.

Attribute agreement: of the images whose prompt asked for an attribute (say "dark"), the fraction measured as
that attribute's label. The measure splits each class's training images into terciles (low / unnamed / high),
so an image that ignores the word lands in the asked tercile about a third of the time; the table's "baseline"
column is that rate measured on the class-only prompts' images of the same run.
"""
import argparse
import csv
import hashlib
import os
import subprocess
import tempfile
import time

import numpy as np
import torch

from tools.eval import fashion_classifier as fc
from tools.eval.evaluate import add_sampling_args, footer, frechet, judge, snapshot, write_markdown
from tools.train.text2img import captions as C

# (brightness, size, texture) requests per class, in prompt order; None = not mentioned
REQUESTS = [(None, None, None), ("dark", None, None), ("light", None, None), (None, "small", None),
            (None, "large", None), (None, None, "plain"), (None, None, "patterned"), ("dark", "large", None),
            ("light", "small", "plain"), ("dark", None, "patterned")]


def prompt_text(cls, req):
    """Canonical wording: '[a] <size> <brightness> <texture> <noun>', the usual English adjective order."""
    noun, countable = C.CLASS_WORDS[cls][0]
    b, s, t = req
    phrase = " ".join([w for w in (s, b, t) if w] + [noun])
    return (("an " if phrase[0] in "aeiou" else "a ") if countable else "") + phrase


def prompt_set():
    rows = [(c, req, prompt_text(c, req)) for c in range(10) for req in REQUESTS]
    for c, req, text in rows:  # the evaluation reads the prompt back exactly as the captions tool would
        assert C.parse_prompt(text) == (c, list(req)), (text, C.parse_prompt(text))
    return rows


def generate(args, spec, prompts_file, workdir):
    policy, *opts = spec.split("#")
    opts = dict(o.split("=", 1) for o in opts)
    out = os.path.join(workdir, spec.replace(":", "-").replace("#", "-").replace("=", "-").replace(",", "-"))
    npy = out + ".npy"
    cmd = [args.zipar, "generate", "--model", args.model, "--prompts", prompts_file, "--count", str(args.per_prompt),
           "--seed", opts.get("seed", str(args.seed)), "--tokens-only", "--npy", npy, "--out", out,
           "--batch", str(args.batch), "--max-queries", "2048", "--temperature", str(args.temperature),
           "--cfg", opts.get("cfg", str(args.cfg)), "--top-k", str(args.top_k), "--storage", args.storage,
           "--policy", policy]
    t0 = time.time()
    env = dict(os.environ, ZK_SPIN_US=os.environ.get("ZK_SPIN_US", "0"))
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    wall = time.time() - t0
    with open(os.path.join(out, "manifest.tsv")) as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    stats = {k: np.array([float(r[k]) for r in rows]) for k in ("passes", "queries", "drafts", "accepted")}
    return np.load(npy), stats, wall, " ".join(cmd)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="models/fashion-text-16")
    ap.add_argument("--zipar", default=".build/release/zipar")
    ap.add_argument("--classifier", default="tools/eval/classifier.pt")
    ap.add_argument("--policies", default="ntp,ntp#seed=5000,zipar:8,zipar:4,official:8,official:4,adaptive:4,"
                                          "ntp#cfg=3,zipar:4#cfg=3")
    ap.add_argument("--per-prompt", type=int, default=10, help="images per prompt (100 prompts)")
    add_sampling_args(ap)
    ap.add_argument("--storage", default="auto")
    ap.add_argument("--workdir", default=None,
                    help="scratch folder for the model snapshot, prompts and samples (default: a new temporary folder)")
    ap.add_argument("--out", default="docs/quality-text.md")
    args = ap.parse_args()
    torch.set_num_threads(2)
    args.workdir = args.workdir or tempfile.mkdtemp(prefix="zipar-eval-text-")
    os.makedirs(args.workdir, exist_ok=True)
    print(f"workdir {args.workdir}", flush=True)

    model_name = args.model
    snap = args.model = snapshot(args.model, args.workdir)

    prompts = prompt_set()
    prompts_file = os.path.join(args.workdir, "prompts.txt")
    with open(prompts_file, "w") as f:
        f.write("".join(text + "\n" for _, _, text in prompts))
    # image order = prompt-major, seed-minor (zipar generate --prompts)
    labels = np.repeat([c for c, _, _ in prompts], args.per_prompt)
    requests = [req for _, req, _ in prompts for _ in range(args.per_prompt)]
    class_only = np.array([all(r is None for r in req) for req in requests])
    stats_json = os.path.join(snap, "attributes.json")
    import json
    with open(stats_json) as f:
        attr_stats = json.load(f)

    n = len(labels)
    net, test_feats, test_acc, real_fd = judge(args.classifier, n)

    rows, commands = [], []
    base = {}
    for spec in args.policies.split(","):
        images, st, wall, cmd = generate(args, spec, prompts_file, args.workdir)
        logits, feats = fc.predict(net, images)
        acc = (logits.argmax(1) == labels).mean()
        fd = frechet(feats, test_feats)
        measured = C.label(C.measure(images), labels, attr_stats)
        agree, chance = [], []
        for i, a in enumerate(C.ATTRS):
            asked = [(k, req[i]) for k, req in enumerate(requests) if req[i] is not None]
            agree.append(np.mean([measured[k][i] == want for k, want in asked]))
            # how often a class-only image of the same class lands on the asked label anyway
            hits = [np.mean([measured[j][i] == want for j in np.flatnonzero(class_only & (labels == labels[k]))])
                    for k, want in asked]
            chance.append(np.mean(hits))
        cfg = f"{float(dict(o.split('=', 1) for o in spec.split('#')[1:]).get('cfg', args.cfg)):g}"
        if spec.split("#")[0] == "ntp" and cfg not in base:
            base[cfg] = (st["passes"].mean(), fd)
        rows.append((spec, cfg, st, acc, agree, chance, fd, wall / n))
        commands.append(cmd)
        print(f"{spec:16s} passes {st['passes'].mean():6.1f}  acc {acc:.3f}  agree "
              + " ".join(f"{a:.2f}/{c:.2f}" for a, c in zip(agree, chance))
              + f"  FD {fd:7.3f}  {wall / n * 1000:.1f} ms/image", flush=True)

    with open(os.path.join(snap, "model.safetensors"), "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:12]
    lines = [
        "# Quality of the decoding policies on the text-to-image model",
        "",
        f"Weights: `{model_name}/model.safetensors` sha256 `{digest}...`, storage `{args.storage}`.",
        "",
        f"100 prompts (10 per class: the class alone, each attribute word alone, three combinations), "
        f"{args.per_prompt} seeds each ({args.seed}..{args.seed + args.per_prompt - 1}), {n} images per row; "
        f"temperature {args.temperature}, top-k {args.top_k}, cfg {args.cfg} unless the row says `#cfg=`.",
        f"Judge: the Fashion-MNIST classifier of `tools/eval/fashion_classifier.py` (test accuracy {test_acc:.3f}); "
        f"FD against the 10,000 test images in its 128-d features, noise floor ({n} real training images vs test) "
        f"{real_fd:.3f}. Attribute agreement: `asked / baseline`, the fraction of images whose prompt asked for the "
        "attribute that show it, and how often the class-only prompt's images of the same class show it anyway "
        "(about 1/3 by construction of the terciles).",
        "",
        "| policy | passes / image | passes vs ntp | queries / image | class accuracy | brightness | size | texture "
        "| FD | FD vs ntp | ms / image (2 cores) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for spec, cfg, st, acc, agree, chance, fd, sec in rows:
        bp, bfd = base.get(cfg, (None, None))
        dp = f"{(st['passes'].mean() / bp - 1) * 100:+.0f}%" if bp else ""
        dfd = f"{(fd / bfd - 1) * 100:+.0f}%" if bfd else ""
        ag = " | ".join(f"{a:.2f} / {c:.2f}" for a, c in zip(agree, chance))
        lines.append(f"| `{spec}` | {st['passes'].mean():.1f} | {dp} | {st['queries'].mean():.0f} | {acc:.3f} | {ag} "
                     f"| {fd:.3f} | {dfd} | {sec * 1000:.1f} |")
    lines += [
        "",
        "Passes and FD are compared with `ntp` at the same cfg. `official:S` is the official Lumina-mGPT ZipAR loop's "
        "schedule on the end-of-row layout. Wall time is the whole run (continuous batching, batch "
        f"{args.batch}, release build) divided by the number of images, VQ decoding included.",
    ]
    lines += footer("swift build -c release --product zipar", "tools.eval.evaluate_text", commands[0])
    write_markdown(args.out, lines)


if __name__ == "__main__":
    main()
