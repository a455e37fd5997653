#!/usr/bin/env bash
# Runs every test: installs missing packages, starts a private PostgreSQL for the job-store tests,
# runs `swift test`, and stops the database again. Usage: scripts/test.sh [swift test args...]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
if [ -z "${DATABASE_URL:-}" ] && [ -z "${PGHOST:-}" ]; then
    eval "$(scripts/pg-start.sh)"
    trap 'scripts/pg-stop.sh >/dev/null 2>&1 || true' EXIT
fi
swift build --build-tests "$@"
swift test --skip-build "$@"
