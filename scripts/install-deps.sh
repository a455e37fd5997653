#!/usr/bin/env bash
# Installs the Debian packages ZipAR-serve needs, and any named as arguments (scripts/install-deps.sh
# systemd), skipping what is already there.
# Swift 6 itself is expected on PATH (https://www.swift.org/install/linux/).
set -euo pipefail
need=(libopenblas-dev libpng-dev pkg-config postgresql "$@")
missing=()
for p in "${need[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "==> installing: ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "error: swift not found on PATH; install Swift 6 first" >&2; exit 1; }
