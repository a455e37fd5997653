"""Access to the authors' own code (official LlamaGen, ZipAR), used as test oracles and benchmark references.

The reference repositories are never looked for in a fixed place: the caller names a checkout or a git mirror
(a command-line flag, or an environment variable), and a missing one is an error that says what to pass
(`require_repo`). The needed files are extracted byte for byte into tools/.cache/ (git-ignored) and imported
from there unchanged.

  LlamaGen   --llamagen-repo PATH or LLAMAGEN_REPO   a checkout or git mirror of the LlamaGen repository
  ZipAR      --zipar-repo PATH or ZIPAR_REPO         a checkout or git mirror of the ZipAR repository

`load(repo)` returns the official LlamaGen modules (gpt, vq_model) from the first; callers without a repository
fall back to tools/llamagen.py (our re-implementation with the official parameter names).
"""
from __future__ import annotations

import importlib
import os
import subprocess
import sys

from tools.paths import CACHE as TOOLS_CACHE

CACHE = os.path.join(TOOLS_CACHE, "official")
FILES = ["autoregressive/models/gpt.py", "tokenizer/tokenizer_image/vq_model.py", "utils/drop_path.py"]
PACKAGES = ["autoregressive", "autoregressive/models", "tokenizer", "tokenizer/tokenizer_image", "utils"]

LLAMAGEN = ("--llamagen-repo", "LLAMAGEN_REPO", "the LlamaGen repository")
ZIPAR = ("--zipar-repo", "ZIPAR_REPO", "the ZipAR repository")


def missing_repo_message(which: tuple[str, str, str], path: str | None = None) -> str:
    """What to pass when a reference repository is not given (path None) or not found (path given)."""
    flag, env, what = which
    head = f"no checkout of {what} at {path}" if path else f"no checkout of {what} given"
    return f"{head}: pass {flag} PATH (a checkout or git mirror of {what}) or set {env}=PATH"


def repo_path(which: tuple[str, str, str], given: str | None = None) -> str | None:
    """The repository folder from the flag's value, else the environment variable; None when neither is set."""
    return given or os.environ.get(which[1]) or None


def require_repo(which: tuple[str, str, str], given: str | None = None) -> str:
    """Like repo_path, but exits with the message of missing_repo_message when the folder is not given or absent."""
    path = repo_path(which, given)
    if not path or not os.path.isdir(path):
        raise SystemExit(missing_repo_message(which, path))
    return path


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


def import_from(cache: str, *modules: str):
    """Imports the extracted reference modules. The folder goes on sys.path because the authors' files import
    each other by their own top-level names (e.g. `from utils.drop_path import DropPath`); only their code is
    imported this way, never ours."""
    if cache not in sys.path:
        sys.path.insert(0, cache)
    return tuple(importlib.import_module(m) for m in modules)


def load(repo: str | None = None):
    """(gpt_module, vq_module) of the official LlamaGen code from `repo` (default: $LLAMAGEN_REPO), or None when
    no repository is given or the code cannot be imported (the reason is printed)."""
    path = repo_path(LLAMAGEN, repo)
    if path is None:
        return None
    try:
        if not extract_from_mirror(path, FILES, CACHE, PACKAGES):
            print(missing_repo_message(LLAMAGEN, path), file=sys.stderr)
            return None
        return import_from(CACHE, "autoregressive.models.gpt", "tokenizer.tokenizer_image.vq_model")
    except Exception as e:  # pragma: no cover - the oracle is optional
        print(f"official LlamaGen code unavailable: {e}", file=sys.stderr)
        return None
