#!/usr/bin/env bash
# Browser test of the dashboard and the /metrics endpoints (tools/test_dashboard.py): real PostgreSQL,
# real worker, `zipar-admin serve`, headless Chromium through selenium, Prometheus' own text parser.
# Installs what it needs: Debian's chromium and chromium-driver, and selenium, prometheus_client and
# pytest from PyPI. Needs PG* (scripts/pg-env.sh) and built executables (ZIPAR_BIN, default .build/debug).
#   scripts/browser-test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
for p in chromium chromium-driver; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "==> installing: ${missing[*]}"
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
python3 -c "import selenium, prometheus_client, pytest" 2>/dev/null \
    || python3 -m pip install -q --disable-pip-version-check selenium prometheus_client pytest
exec python3 -m pytest -q tools/test_dashboard.py "$@"
