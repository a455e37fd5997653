#!/usr/bin/env bash
# Builds the release tarball operators install from: dist/zipar-VERSION-linux-ARCH.tar.xz (+ .sha256).
#
#   scripts/package.sh [--out dist] [--build-path .build-static] [--skip-build]
#
# The binaries are built with --static-swift-stdlib in their own build path (the normal .build/release
# is left alone), so they need no file of the Swift toolchain: only Debian's libopenblas0, libpng16-16,
# libc and libstdc++/libgcc (checked below, with readelf and ldd; a binary that needs anything else
# fails the script). Contents: bin/ (zipar, zipar-submit, zipar-worker, zipar-admin, zipar-bench),
# models/ (the bundled models), deploy/ (systemd units, environment file examples, roles.sql),
# docs/ (service.md, deploy.md) and README.md (deploy/README.md: install steps for operators).
# Prints the tarball's path on stdout; progress goes to stderr. scripts/test-package.sh runs the result
# with the toolchain hidden.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
out=dist; build_path=.build-static; skip_build=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --out) out="$2"; shift 2;;
        --build-path) build_path="$2"; shift 2;;
        --skip-build) skip_build=1; shift;;
        -h|--help) sed -n '2,13p' "$0"; exit 0;;
        *) echo "package: unknown argument $1" >&2; exit 2;;
    esac
done
scripts/install-deps.sh binutils xz-utils >&2   # readelf, strip, xz; and the build's own libraries (stdout: the tarball only)
products=(zipar zipar-submit zipar-worker zipar-admin zipar-bench)
build=(swift build -c release --static-swift-stdlib --build-path "$build_path")

if [[ "$skip_build" != 1 ]]; then
    for p in "${products[@]}"; do
        echo "package: building $p (release, static Swift runtime, $build_path)" >&2
        "${build[@]}" --product "$p" >&2
    done
fi
bin="$("${build[@]}" --show-bin-path)"

# What a binary may load: the C and C++ runtime, OpenBLAS (with its Fortran runtime) and libpng (with zlib),
# all from Debian packages an operator installs (deploy/README.md). Anything else, the Swift runtime
# above all, must be linked in.
allowed='^(linux-vdso\.so\.1|ld-linux-x86-64\.so\.2|ld-linux-aarch64\.so\.1|libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|libutil\.so\.1|libstdc\+\+\.so\.6|libgcc_s\.so\.1|libopenblas\.so\.0|libgfortran\.so\.5|libquadmath\.so\.0|libgomp\.so\.1|libpng16\.so\.16|libz\.so\.1)$'
for p in "${products[@]}"; do
    f="$bin/$p"
    [[ -x "$f" ]] || { echo "package: $f is missing (build it, or drop --skip-build)" >&2; exit 1; }
    # A run path into a toolchain would pick up its libraries on a machine that happens to have one;
    # SwiftPM's $ORIGIN (the binary's own folder) is the only one allowed.
    runpath="$(readelf -d "$f" | sed -n 's/.*(\(RUNPATH\|RPATH\)).*\[\(.*\)\]/\2/p')"
    if [[ -n "$runpath" && "$runpath" != '$ORIGIN' ]]; then
        echo "package: $p has the run path '$runpath' (only \$ORIGIN is allowed)" >&2; exit 1
    fi
    bad="$(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | grep -Ev "$allowed" || true)"
    if [[ -n "$bad" ]]; then
        echo "package: $p needs shared libraries outside the allowed set: $(echo $bad)" >&2; exit 1
    fi
    bad="$(ldd "$f" | awk '{print $1}' | sed 's,.*/,,' | grep -Ev "$allowed" || true)"
    if [[ -n "$bad" ]]; then
        echo "package: $p loads shared libraries outside the allowed set: $(echo $bad)" >&2; exit 1
    fi
    if ldd "$f" | grep -q 'not found'; then
        echo "package: $p: $(ldd "$f" | grep 'not found')" >&2; exit 1
    fi
done

version="$("$bin/zipar-admin" --version 2>/dev/null)"
[[ "$version" =~ ^[0-9A-Za-z.+_-]+$ ]] || { echo "package: zipar-admin --version printed '$version'" >&2; exit 1; }
name="zipar-$version-linux-$(uname -m)"
stage="$(mktemp -d "${TMPDIR:-/tmp}/zipar-package.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
root="$stage/$name"
mkdir -p "$root/bin" "$root/deploy" "$root/docs" "$root/models"
for p in "${products[@]}"; do
    # Debug sections only: the symbol table stays, so crash backtraces keep function names.
    strip --strip-debug -o "$root/bin/$p" "$bin/$p"
done
cp -R models/. "$root/models/"
cp deploy/*.service deploy/*.env.example deploy/roles.sql "$root/deploy/"
cp deploy/README.md "$root/README.md"
cp docs/service.md docs/deploy.md "$root/docs/"

mkdir -p "$out"
tarball="$out/$name.tar.xz"
# Owner, group and times fixed, files in name order: the same inputs give the same tarball.
# xz with a 256 MiB window: each binary carries its own copy of the Swift runtime, Foundation's ICU data
# and NIO, and a window longer than one binary finds the copies: 62 MB, where gzip's 32 KiB window
# gives 181 MB (0.4.0). Preset 1 keeps it to about 40 s; unpacking needs 260 MB of memory.
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='2020-01-01 00:00Z' -C "$stage" -cf - "$name" \
    | xz -q --lzma2=preset=1,dict=256MiB > "$tarball.tmp"
mv "$tarball.tmp" "$tarball"
(cd "$out" && sha256sum "$name.tar.xz" > "$name.tar.xz.sha256")
echo "package: $tarball ($(du -h "$tarball" | cut -f1); $(du -sh "$root/bin" | cut -f1) of binaries unpacked)" >&2
echo "$tarball"
