"""Optional access to the official LlamaGen PyTorch code, used only as a test oracle.

Looks for a git mirror of FoundationVision/LlamaGen (env LLAMAGEN_REPO, default
/work/.mirror/FoundationVision+LlamaGen/repo), extracts the three needed files into
tools/.cache/official/ (git-ignored) and imports them. Returns None when the mirror is absent,
so callers fall back to tools/llamagen.py.
"""
from __future__ import annotations

import importlib
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.path.join(HERE, ".cache", "official")
FILES = ["autoregressive/models/gpt.py", "tokenizer/tokenizer_image/vq_model.py", "utils/drop_path.py"]


def extract_from_mirror(repo: str, files: list[str], cache: str, packages: list[str], prefix: str = "") -> bool:
    """Copies `files` (paths under `prefix` in the repository) out of a git mirror or a plain checkout into
    `cache` once, and makes `packages` importable there. False when the mirror or a file is missing."""
    if all(os.path.exists(os.path.join(cache, f)) for f in files):
        return True
    if not os.path.isdir(repo):
        return False
    for f in files:
        try:
            src = subprocess.check_output(["git", "-C", repo, "show", f"HEAD:{prefix}{f}"], stderr=subprocess.DEVNULL)
        except (subprocess.CalledProcessError, FileNotFoundError):
            p = os.path.join(repo, prefix, f)  # maybe a plain checkout
            if not os.path.exists(p):
                return False
            src = open(p, "rb").read()
        dst = os.path.join(cache, f)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(dst, "wb") as fh:
            fh.write(src)
    for d in packages:
        open(os.path.join(cache, d, "__init__.py"), "a").close()
    return True


def _extract() -> bool:
    repo = os.environ.get("LLAMAGEN_REPO", "/work/.mirror/FoundationVision+LlamaGen/repo")
    return extract_from_mirror(repo, FILES, CACHE,
                               ["autoregressive", "autoregressive/models", "tokenizer", "tokenizer/tokenizer_image", "utils"])


def load():
    """Returns (gpt_module, vq_module) of the official code, or None."""
    try:
        if not _extract():
            return None
        if CACHE not in sys.path:
            sys.path.insert(0, CACHE)
        gpt = importlib.import_module("autoregressive.models.gpt")
        vq = importlib.import_module("tokenizer.tokenizer_image.vq_model")
        return gpt, vq
    except Exception as e:  # pragma: no cover - oracle is optional
        print(f"official LlamaGen code unavailable: {e}", file=sys.stderr)
        return None
