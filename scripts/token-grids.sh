#!/usr/bin/env bash
# Token grids of both bundled models for fixed seeds under every policy, CFG off and on: the check that a
# refactoring of the engine or the decoders changed nothing (docs/architecture.md).
# Usage: scripts/token-grids.sh ZIPAR_BINARY OUT_DIR   (run from the repository root; release builds compare)
# Prints one md5 over every .tokens file; OUT_DIR/<family>-<policy>-<cfg>/ keeps the PNGs for `cmp`.
set -euo pipefail
zipar=${1:?usage: scripts/token-grids.sh ZIPAR_BINARY OUT_DIR}
out=${2:?usage: scripts/token-grids.sh ZIPAR_BINARY OUT_DIR}
mkdir -p "$out"
for policy in ntp zipar:4 adaptive:2 official:4 sjd:4 zipar-sjd:4,4; do
    for cfg in 1 3; do
        "$zipar" generate --model models/fashion-16 --class 0,7 --count 2 --seed 5 --policy "$policy" --cfg "$cfg" \
            --storage f32 --out "$out/c-$policy-$cfg" >/dev/null
        "$zipar" generate --model models/fashion-text-16 --prompt "a dark ankle boot" --count 2 --seed 5 --policy "$policy" \
            --cfg "$cfg" --storage f32 --out "$out/t-$policy-$cfg" >/dev/null
    done
done
cat "$out"/*/*.tokens | md5sum | cut -d' ' -f1
