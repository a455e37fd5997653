"""A small Fashion-MNIST CNN used to judge generated images (accuracy against the requested class, and
features for a Frechet distance). Trained on the training split, images padded to 32x32 in [-1, 1] like the
generator's output (tools/train/train_fashion.py).

    python3 -m tools.eval.fashion_classifier --out tools/eval/classifier.pt
"""
import argparse
import gzip
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = "/usr/share/datasets/fashion-mnist"


def load_idx(split):
    """uint8 images [N, 28, 28] and int64 labels [N] of 'train' or 't10k'."""
    with gzip.open(os.path.join(DATA, f"{split}-images-idx3-ubyte.gz")) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(os.path.join(DATA, f"{split}-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    return images, labels


def pad32(images_u8):
    """uint8 [N, 28, 28] -> uint8 [N, 32, 32], background 0 (the generator's -1)."""
    return np.pad(images_u8, ((0, 0), (2, 2), (2, 2)))


def to_input(images_u8):
    """uint8 [N, 32, 32] -> float [N, 1, 32, 32] in [-1, 1] (LlamaGen's pixel conversion inverted)."""
    x = torch.from_numpy(images_u8.astype(np.float32))[:, None]
    return x / 127.5 - 1.0


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 32, 3, padding=1)
        self.c2 = nn.Conv2d(32, 64, 3, padding=1)
        self.c3 = nn.Conv2d(64, 128, 3, padding=1)
        self.fc = nn.Linear(128 * 4 * 4, 128)
        self.head = nn.Linear(128, 10)

    def features(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        x = F.max_pool2d(F.relu(self.c3(x)), 2)
        return F.relu(self.fc(x.flatten(1)))

    def forward(self, x):
        return self.head(self.features(x))


@torch.no_grad()
def predict(net, images_u8, batch=1000):
    """Returns (logits [N, 10], features [N, 128]) for uint8 [N, 32, 32] images."""
    net.eval()
    logits, feats = [], []
    for i in range(0, len(images_u8), batch):
        x = to_input(images_u8[i:i + batch])
        f = net.features(x)
        feats.append(f)
        logits.append(net.head(f))
    return torch.cat(logits).numpy(), torch.cat(feats).numpy().astype(np.float64)


def load(path):
    net = Net()
    net.load_state_dict(torch.load(path, map_location="cpu"))
    net.eval()
    return net


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="tools/eval/classifier.pt")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    xs, ys = load_idx("train")
    xt, yt = load_idx("t10k")
    x = to_input(pad32(xs))
    y = torch.from_numpy(ys)
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    t0 = time.time()
    for epoch in range(args.epochs):
        net.train()
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 128):
            idx = perm[i:i + 128]
            loss = F.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        logits, _ = predict(net, pad32(xt))
        acc = (logits.argmax(1) == yt).mean()
        print(f"epoch {epoch + 1}: test accuracy {acc:.4f} ({time.time() - t0:.0f} s)", flush=True)
    torch.save(net.state_dict(), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
