#!/usr/bin/env bash
# The main job, end to end, on the bundled model:
#   install missing packages -> release build -> PostgreSQL (a private one unless DATABASE_URL/PGHOST
#   is set) -> migrate -> submit examples/prompts.txt -> one worker until the queue drains ->
#   export PNGs (+ JSON stats) to out/images/ -> stats.
# Usage: scripts/demo.sh   (env: MODEL=models/fashion-16 OUT=out/images PROMPTS=examples/prompts.txt)
# The private cluster keeps running afterwards; scripts/pg-stop.sh stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
echo "==> building (release; the first build takes a few minutes)"
swift build -c release
exec scripts/service-demo.sh --bin "$(swift build -c release --show-bin-path)" \
    --model "${MODEL:-models/fashion-16}" --out "${OUT:-out/images}" --prompts "${PROMPTS:-examples/prompts.txt}"
