#!/usr/bin/env bash
# The main job, end to end, on the bundled model:
#   install missing packages -> release build -> PostgreSQL (a private one unless DATABASE_URL/PGHOST
#   is set) -> migrate -> submit examples/prompts.txt (class names, models/fashion-16) and
#   examples/prompts-text.txt (free text, models/fashion-text-16) -> one worker serving both models until
#   the queue drains -> export PNGs (+ JSON stats) to out/images/ -> stats.
# Usage: scripts/demo.sh   (env: MODEL=models/fashion-16 OUT=out/images PROMPTS=examples/prompts.txt
#                                TEXT_MODEL=models/fashion-text-16 TEXT_PROMPTS=examples/prompts-text.txt;
#                                TEXT_MODEL= leaves the text model out)
# The private cluster keeps running afterwards; scripts/pg-stop.sh stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
echo "==> building (release; the first build takes a few minutes)"
swift build -c release
text_model="${TEXT_MODEL-models/fashion-text-16}"
text_args=()
if [[ -n "$text_model" ]]; then
    text_args=(--text-model "$text_model" --text-prompts "${TEXT_PROMPTS:-examples/prompts-text.txt}")
fi
exec scripts/service-demo.sh --bin "$(swift build -c release --show-bin-path)" \
    --model "${MODEL:-models/fashion-16}" --out "${OUT:-out/images}" --prompts "${PROMPTS:-examples/prompts.txt}" \
    "${text_args[@]}"
