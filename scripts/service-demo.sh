#!/usr/bin/env bash
# The service end to end on one machine: PostgreSQL (private cluster unless DATABASE_URL/PGHOST is
# set), migrate, submit examples/prompts.txt (class names) and, with --text-model, examples/prompts-text.txt
# (free-text prompts) too, one worker serving both models with --drain, export PNGs, print stats.
#
#   scripts/service-demo.sh [--bin .build/release] [--model models/fashion-16] [--out out/service]
#                           [--prompts examples/prompts.txt]
#                           [--text-model models/fashion-text-16] [--text-prompts examples/prompts-text.txt]
#
# Expects release binaries (swift build -c release). Re-running is safe: the submission carries an
# idempotency key, so the same jobs are not inserted twice.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
bin=.build/release; model=models/fashion-16; out=out/service; prompts=examples/prompts.txt
text_model=""; text_prompts=examples/prompts-text.txt
while [[ $# -gt 0 ]]; do
    case "$1" in
        --bin) bin="$2"; shift 2;;
        --model) model="$2"; shift 2;;
        --out) out="$2"; shift 2;;
        --prompts) prompts="$2"; shift 2;;
        --text-model) text_model="$2"; shift 2;;
        --text-prompts) text_prompts="$2"; shift 2;;
        -h|--help) sed -n '2,12p' "$0"; exit 0;;
        *) echo "service-demo: unknown argument $1" >&2; exit 1;;
    esac
done
source scripts/pg-env.sh
ZIPAR_PG_KEEP="${ZIPAR_PG_KEEP:-1}" zipar_pg_up

echo "== migrate" >&2
"$bin/zipar-admin" migrate
echo "== submit $prompts" >&2
"$bin/zipar-submit" --model "$model" --queue demo --create-queue --idempotency-key "demo:$(basename "$prompts")" "$prompts" >/dev/null
models=(--model "$model")
if [[ -n "$text_model" ]]; then
    echo "== submit $text_prompts (text-to-image, $text_model)" >&2
    "$bin/zipar-submit" --model "$text_model" --queue demo --idempotency-key "demo:$(basename "$text_prompts")" "$text_prompts" >/dev/null
    models+=(--model "$text_model")
fi
echo "== worker --drain (${models[*]})" >&2
"$bin/zipar-worker" "${models[@]}" --queue demo --drain --log-level warning
echo "== export to $out" >&2
"$bin/zipar-admin" export --out "$out" --queue demo
echo "== stats" >&2
"$bin/zipar-admin" stats
