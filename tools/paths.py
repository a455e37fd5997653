"""Where the tools read and write, relative to this checkout (never an absolute path of one machine)."""
from __future__ import annotations

import os

TOOLS = os.path.dirname(os.path.abspath(__file__))   # the tools/ package folder
ROOT = os.path.dirname(TOOLS)                          # the repository root
CHECKPOINTS = os.path.join(TOOLS, "checkpoints")     # training state, logs, token caches (git-ignored)
CACHE = os.path.join(TOOLS, ".cache")                 # scratch: extracted reference code, sample PNGs (git-ignored)
FIXTURES = os.path.join(ROOT, "Tests", "Fixtures")
MODELS = os.path.join(ROOT, "models")
