#!/usr/bin/env bash
# Generates the JSON API's Swift code from docs/openapi.yaml: Sources/HTTPAPI/Generated/{Types,Server}.swift
# (swift-openapi-generator, configured by Sources/HTTPAPI/openapi-generator-config.yaml), and records the
# spec's SHA-256 in Sources/HTTPAPI/Generated/openapi.sha256. Commit all three. A test fails while the
# recorded hash differs from the spec's (Tests/DashboardTests/OpenAPIGeneratedTests.swift), so the spec and
# the server cannot drift.
#
#   scripts/gen-openapi.sh          # after changing docs/openapi.yaml
#
# The generator is not a package dependency (it would be compiled in every build): it is built once, from
# the same package URL SwiftPM resolves, into ${ZIPAR_OPENAPI_GENERATOR_DIR:-${TMPDIR:-/tmp}/zipar-openapi-generator},
# or taken from $OPENAPI_GENERATOR (the path of a swift-openapi-generator executable).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version=1.14.3
spec="$root/docs/openapi.yaml"
config="$root/Sources/HTTPAPI/openapi-generator-config.yaml"
out="$root/Sources/HTTPAPI/Generated"

sha256() {
    if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
    else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

generator="${OPENAPI_GENERATOR:-}"
if [[ -z "$generator" ]]; then
    dir="${ZIPAR_OPENAPI_GENERATOR_DIR:-${TMPDIR:-/tmp}/zipar-openapi-generator}"
    if [[ ! -d "$dir/.git" ]]; then
        git clone --quiet --branch "$version" https://github.com/apple/swift-openapi-generator "$dir"
    fi
    (cd "$dir" && swift build --product swift-openapi-generator >&2)
    generator="$(cd "$dir" && swift build --show-bin-path)/swift-openapi-generator"
fi

mkdir -p "$out"
rm -f "$out"/*.swift   # the generator splits Types into several files: none may outlive a regeneration
"$generator" generate "$spec" --config "$config" --output-directory "$out"
sha256 "$spec" > "$out/openapi.sha256"
echo "gen-openapi: wrote $out/{Types,Server}.swift and openapi.sha256" >&2
