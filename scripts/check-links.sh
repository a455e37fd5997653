#!/usr/bin/env bash
# Checks that the executables which only handle jobs (zipar-submit, zipar-admin) link no inference code:
# no OpenBLAS or libpng among their shared libraries (ldd), and no object file of CKernels, Kernels, Model,
# TextModel, Tokenizer or Decoding on their link line (SwiftPM's Objects.LinkFileList). CKernels' library
# constructor may re-exec a process to set OpenBLAS's core type; it must never run in `zipar-admin migrate`.
# Usage: scripts/check-links.sh [BIN_DIR]   (default: the debug build's, `swift build --show-bin-path`)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-$(swift build --show-bin-path)}"
status=0
for product in zipar-submit zipar-admin; do
    exe="$bin/$product"
    if [ ! -x "$exe" ]; then
        echo "check-links: $exe is missing; build it first (swift build --product $product)" >&2
        exit 1
    fi
    libs="$(ldd "$exe" | grep -Ei 'openblas|libpng|libgfortran' || true)"
    if [ -n "$libs" ]; then
        echo "check-links: $product links inference libraries:" >&2
        echo "$libs" >&2
        status=1
    fi
    list="$bin/$product.product/Objects.LinkFileList"
    if [ -f "$list" ]; then
        objects="$(grep -E '/(CKernels|Kernels|Model|TextModel|Tokenizer|Decoding|Runner)\.build/' "$list" || true)"
        if [ -n "$objects" ]; then
            echo "check-links: $product links inference targets' objects:" >&2
            echo "$objects" | sed 's|.*/\([A-Za-z]*\.build/[^/]*\)$|  \1|' >&2
            status=1
        fi
    else
        echo "check-links: no $list (a SwiftPM without link file lists?); checked ldd only" >&2
    fi
done
[ "$status" = 0 ] && echo "check-links: zipar-submit and zipar-admin link no inference code"
exit "$status"
