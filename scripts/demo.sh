#!/usr/bin/env bash
# The main job, end to end, on the bundled model:
#   install missing packages -> release build -> PostgreSQL (a private one unless DATABASE_URL/PGHOST
#   is set) -> migrate -> submit examples/prompts.txt -> one worker until the queue drains ->
#   export PNGs to out/images/ -> stats.
# Usage: scripts/demo.sh [PROMPTS_FILE]   (env: MODEL=models/fashion-16 OUT=out/images)
set -euo pipefail
cd "$(dirname "$0")/.."
prompts="${1:-examples/prompts.txt}"
model="${MODEL:-models/fashion-16}"
out="${OUT:-out/images}"

scripts/install-deps.sh
echo "==> building (release)"
swift build -c release 2>&1 | grep -E "error|warning: unre|Compiling|Build" | grep -vE "^\[[0-9]+/[0-9]+\] Compiling" || true
bin="$(swift build -c release --show-bin-path)"

if [ -z "${DATABASE_URL:-}" ] && [ -z "${PGHOST:-}" ]; then
    echo "==> starting a private PostgreSQL (scripts/pg-start.sh; stop it with scripts/pg-stop.sh)"
    eval "$(scripts/pg-start.sh)"
fi

echo "==> migrating"
"$bin/zipar-admin" migrate
echo "==> submitting $prompts"
"$bin/zipar-submit" --model "$model" "$prompts"
echo "==> running a worker until the queue drains"
"$bin/zipar-worker" --model "$model" --drain
echo "==> exporting PNGs to $out"
mkdir -p "$out"
"$bin/zipar-admin" export --out "$out"
echo "==> stats"
"$bin/zipar-admin" stats
