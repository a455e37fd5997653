#!/usr/bin/env bash
# Stops the private cluster started by scripts/pg-start.sh (same ZIPAR_PGDATA). Idempotent.
#   scripts/pg-stop.sh            # fast shutdown, keeps the data
#   scripts/pg-stop.sh --wipe     # and deletes the data directory
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="${ZIPAR_PGDATA:-$here/.pgdata}"
if [[ "$(id -u)" == "0" && -z "${ZIPAR_PGDATA:-}" ]] && ! runuser -u postgres -- test -x "$here"; then
    data="/tmp/zipar-pgdata-$(printf '%s' "$here" | cksum | cut -d' ' -f1)"   # fixed-temp-path: as pg-start.sh
fi
pgdata="$data/cluster"
bindir="${ZIPAR_PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r | head -1)}"
if [[ -f "$pgdata/postmaster.pid" ]]; then
    if [[ "$(id -u)" == "0" ]]; then
        runuser -u postgres -- "$bindir/pg_ctl" -D "$pgdata" -m fast -w stop >&2 || true
    else
        "$bindir/pg_ctl" -D "$pgdata" -m fast -w stop >&2 || true
    fi
else
    echo "pg-stop: not running ($pgdata)" >&2
fi
if [[ "${1:-}" == "--wipe" ]]; then rm -rf "$data"; echo "pg-stop: removed $data" >&2; fi
