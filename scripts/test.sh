#!/usr/bin/env bash
# Runs every test: installs missing packages, checks that no file names a path of one machine
# (tools/test_no_machine_paths.py, no torch needed), starts a private PostgreSQL (unless DATABASE_URL/PGHOST
# is set), checks that zipar-submit and zipar-admin link no inference code (scripts/check-links.sh),
# runs `swift test` (kernels, model parity against PyTorch fixtures, decoding, job store),
# the browser test of the dashboard (headless Chromium), the API contract test (docs/openapi.yaml), the release tarball without the Swift toolchain
# (scripts/test-package.sh), then the bounded soak test (real worker processes, SIGKILLs, a zombie, a
# PostgreSQL outage) on the same release binaries.
# Usage: scripts/test.sh            SKIP_PACKAGE=1 skips the package test, SKIP_SOAK=1 the soak test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

echo "==> no machine paths in the repository"
python3 -c "import pytest" 2>/dev/null || python3 -m pip install -q --disable-pip-version-check pytest
python3 -m pytest -q tools/test_no_machine_paths.py

# The cluster runs as the `postgres` user when we are root, so keep its data where that user can
# reach it even when the checkout lives in a private home directory.
if [ -z "${ZIPAR_PGDATA:-}" ]; then
    ZIPAR_PGDATA="$(mktemp -d /tmp/zipar-test-pg.XXXXXX)"
    export ZIPAR_PGDATA
fi
source scripts/pg-env.sh
zipar_pg_up

# Convolution plans the tests measure go to a private cache, not the user's (~/.cache/zipar).
ZIPAR_CACHE_DIR="$(mktemp -d /tmp/zipar-test-cache.XXXXXX)"
export ZIPAR_CACHE_DIR

echo "==> swift test"
swift build --build-tests

# The job-only executables must link no inference code (no OpenBLAS, libpng or CKernels, whose library
# constructor may re-exec the process): a look at the binaries just built, a second at most.
echo "==> zipar-submit and zipar-admin link no inference code"
scripts/check-links.sh "$(swift build --show-bin-path)"

swift test --skip-build

# The shutdown, wake-up and connect bounds are wall-clock measurements: run alone, so the main run's
# compute-heavy suites (which share the two cooperative threads of a 2-core machine) cannot delay the timers.
# (On a 2-core Zen 3 the main run starved the wake-up and hand-back tests for 60-100 s.)
echo "==> shutdown, wake-up and connect bounds (timing, alone)"
ZIPAR_TIMING_TESTS=1 swift test --skip-build --filter 'ShutdownBoundTests|DatabaseConnectionTests|WakeUpTests|WorkerLoopTests/stopReleasesJobsInFlight'

# The real-model batch-independence tests decode for minutes, the exact-distribution checks of the Jacobi
# policies tens of thousands of times; alone, so their compute does not starve the timing-sensitive tests of
# the main run (ZIPAR_SLOW_TESTS enables them).
echo "==> batch independence on the real model, exact Jacobi distributions on the end-of-row layout (slow, alone)"
ZIPAR_SLOW_TESTS=1 swift test --skip-build --filter 'BatchIndependenceTests|EndOfRowSJDExactnessTests'

# On an AVX-512 machine the kernels and every parity fixture run again capped at AVX2 (ZK_ISA=avx2), so
# both instruction sets' code paths are checked wherever CI runs (an AVX2-only machine ran them above).
if grep -qw avx512f /proc/cpuinfo; then
    echo "==> kernels and parity tests again at ZK_ISA=avx2"
    ZK_ISA=avx2 swift test --skip-build --filter 'KernelsTests|ModelTests|TextModelTests'
fi
# AVX-VNNI's int8 products on the AVX2 level (Zen 5, Intel since Alder Lake); ZK_ISA=avx2 above ran without.
if grep -qw avx_vnni /proc/cpuinfo; then
    echo "==> kernel tests again at ZK_ISA=avx2-vnni"
    ZK_ISA=avx2-vnni swift test --skip-build --filter 'KernelsTests'
fi
# The portable C fallback every kernel has, for CPUs without AVX2 (and a check that no vector path is needed).
echo "==> kernel tests again on the scalar fallback (ZK_ISA=scalar)"
ZK_ISA=scalar swift test --skip-build --filter 'KernelsTests'

echo "==> browser test (dashboard, metrics)"
scripts/browser-test.sh

# docs/openapi.yaml against the server: a valid spec, every registered route described, every operation
# answering a documented status with a body that matches its schema (tools/test_api_contract.py).
echo "==> API contract (docs/openapi.yaml against a live zipar-admin serve)"
python3 -c "import openapi_spec_validator, openapi_schema_validator, yaml" 2>/dev/null \
    || python3 -m pip install -q --disable-pip-version-check openapi-spec-validator pyyaml
python3 -m pytest -q tools/test_api_contract.py
# Every --json output of zipar-admin and zipar-submit against docs/cli-json.yaml.
echo "==> --json outputs against docs/cli-json.yaml"
python3 -m pytest -q tools/test_cli_json.py
# The metrics and alert rules docs/service.md documents, against a live worker's and serve's /metrics.
echo "==> documented metrics and alert rules against live /metrics"
python3 -m pytest -q tools/test_metrics_docs.py

# The release tarball: static Swift runtime, its units verified, a submit -> worker -> export cycle with
# the Swift toolchain hidden in a mount namespace (root, as CI runs; skipped with a message otherwise).
# Its release build (.build-static) is the one the soak test runs too: one release build, not two.
release_bin=""
if [ "${SKIP_PACKAGE:-0}" != "1" ]; then
    echo "==> release package (scripts/package.sh) without the Swift toolchain"
    scripts/test-package.sh
    release_bin="$(swift build -c release --static-swift-stdlib --build-path .build-static --show-bin-path)"
fi

if [ "${SKIP_SOAK:-0}" != "1" ]; then
    echo "==> soak test (release build)"
    if [ -z "$release_bin" ]; then
        for p in zipar-worker zipar-submit zipar-admin zipar; do swift build -c release --product "$p"; done
        release_bin="$(swift build -c release --show-bin-path)"
    fi
    scripts/soak.sh --jobs 200 --bin "$release_bin"
fi
