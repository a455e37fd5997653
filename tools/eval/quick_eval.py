"""PyTorch-only quality check of a Fashion-MNIST model (no Swift build needed): plain next-token sampling with
tools/llamagen.py, judged like tools.eval.evaluate (accuracy against the requested class by classifier.pt, and
the Frechet distance of its features against the 10,000 test images). Meant for checkpoints while training runs;
the numbers in docs/quality.md come from evaluate.py (the Swift sampler, other seeds), so compare models with this
script at the same --per-class only: at few images per class the FD is biased upward (calibrate by running it on
models/fashion-16 too).

    python3 -m tools.eval.quick_eval --bundle models/fashion-16 --per-class 50
    python3 -m tools.eval.quick_eval --ckpt-dir tools/checkpoints/v2 --per-class 50 --recon 1000
"""
import argparse
import os
import time

import numpy as np
import torch

from tools.eval import fashion_classifier as fc
from tools.eval.evaluate import frechet
from tools.llamagen import GPTConfig, Transformer, VQConfig, VQModel, load_bundle, to_uint8


def load_ckpts(ckpt_dir, weights, gpt_name="gpt_last.pt", need_gpt=True):
    v = torch.load(os.path.join(ckpt_dir, "vq_last.pt"), weights_only=False, map_location="cpu")
    vq = VQModel(VQConfig.from_json(v["config"]))
    vq.load_state_dict(v["model"])
    vq.eval()
    if not need_gpt:
        return None, vq, f"{ckpt_dir} VQ step {v.get('step')}"
    g = torch.load(os.path.join(ckpt_dir, gpt_name), weights_only=False, map_location="cpu")
    gpt = Transformer(GPTConfig.from_json(g["config"]))
    use_ema = weights == "ema" or (weights == "auto" and "ema" in g)
    gpt.load_state_dict(g["ema" if use_ema else "model"])
    gpt.eval()
    return gpt, vq, f"{ckpt_dir}/{gpt_name} step {g.get('step')} ({'EMA' if use_ema else 'raw'} weights)"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", default=None, help="an exported bundle (F16 weights upcast to f32)")
    ap.add_argument("--ckpt-dir", default=None, help="or a training checkpoint folder (gpt_last.pt, vq_last.pt)")
    ap.add_argument("--weights", default="auto", choices=["auto", "ema", "raw"], help="--ckpt-dir: GPT weights")
    ap.add_argument("--gpt-name", default="gpt_last.pt", help="--ckpt-dir: GPT checkpoint file (e.g. gpt_distill.pt)")
    ap.add_argument("--classifier", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "classifier.pt"))
    ap.add_argument("--per-class", type=int, default=20, help="samples per class (0: only --recon)")
    ap.add_argument("--batch", type=int, default=100, help="sequences sampled together")
    ap.add_argument("--cfg", type=float, default=1.0)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--recon", type=int, default=0,
                    help="also judge VQ reconstructions of the first N test images (needs --ckpt-dir: the encoder)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--npy", default=None, help="save the generated uint8 images [N, 32, 32] here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.bundle:
        _, gpt, vq = load_bundle(args.bundle, torch.float32)
        what = args.bundle
    else:
        gpt, vq, what = load_ckpts(args.ckpt_dir, args.weights, args.gpt_name, need_gpt=args.per_class > 0)

    net = fc.load(args.classifier)
    xt, yt = fc.load_idx("t10k")
    _, test_feats = fc.predict(net, fc.pad32(xt))

    if args.recon:
        with torch.no_grad():
            x = fc.to_input(fc.pad32(xt[:args.recon]))
            rec = torch.cat([vq(x[i:i + 250])[0] for i in range(0, len(x), 250)])
        u8 = to_uint8(rec)[:, 0].numpy()
        logits, feats = fc.predict(net, u8)
        mse = float(((rec.clamp(-1, 1) - x) ** 2).mean())
        acc = (logits.argmax(1) == yt[:args.recon]).mean()
        print(f"VQ reconstruction of {args.recon} test images: mse {mse:.5f}  acc {acc:.3f}  "
              f"FD {frechet(feats, test_feats):.3f}", flush=True)

    if args.per_class <= 0:
        return
    labels = torch.arange(10).repeat_interleave(args.per_class)
    g = torch.Generator().manual_seed(args.seed)
    t0 = time.time()
    images = []
    for i in range(0, len(labels), args.batch):
        toks = gpt.generate(labels[i:i + args.batch], cfg_scale=args.cfg, temperature=args.temperature, generator=g)
        with torch.no_grad():
            images.append(to_uint8(vq.decode_code(toks))[:, 0].numpy())
    images = np.concatenate(images)
    wall = time.time() - t0
    if args.npy:
        np.save(args.npy, images)
    logits, feats = fc.predict(net, images)
    pred = logits.argmax(1)
    lab = labels.numpy()
    acc = (pred == lab).mean()
    per = " ".join(f"{(pred[lab == c] == c).mean():.2f}" for c in range(10))
    print(f"{what}: {len(images)} samples (cfg {args.cfg:g}, temperature {args.temperature:g}, seed {args.seed}) "
          f"acc {acc:.3f}  FD {frechet(feats, test_feats):.3f}  ({wall:.0f} s sampling)", flush=True)
    print(f"  per-class acc: {per}")
    # the FD floor at this sample size: as many real training images against the test set
    xs, _ = fc.load_idx("train")
    pick = np.random.default_rng(0).choice(len(xs), len(images), replace=False)
    _, real_feats = fc.predict(net, fc.pad32(xs[pick]))
    print(f"  noise floor ({len(images)} real training images vs test): FD {frechet(real_feats, test_feats):.3f}")


if __name__ == "__main__":
    main()
