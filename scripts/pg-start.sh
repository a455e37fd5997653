#!/usr/bin/env bash
# Starts (or finds running) a private PostgreSQL cluster for tests and the local demo.
#
#   eval "$(scripts/pg-start.sh)"     # starts it if needed and exports PGHOST PGPORT PGUSER PGDATABASE
#   source scripts/pg-env.sh && zipar_pg_up    # the same for scripts, stopped again at exit
#
# Uses Debian's postgresql server binaries (/usr/lib/postgresql/*/bin); installs nothing.
# Data directory: $ZIPAR_PGDATA (default <repo>/.pgdata, git-ignored). The server listens on a Unix
# socket in <data>/run only (no TCP), with trust authentication for the local superuser `postgres`.
# Run as root, the server runs as the `postgres` system user (PostgreSQL refuses to run as root).
# Idempotent: a second call only prints the export lines. Progress goes to stderr, exports to stdout.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="${ZIPAR_PGDATA:-$here/.pgdata}"
port="${ZIPAR_PGPORT:-5432}"
dbname="${ZIPAR_PGDATABASE:-zipar}"
pgdata="$data/cluster"
sock="$data/run"
log="$data/server.log"

bindir="${ZIPAR_PGBIN:-}"
if [[ -z "$bindir" ]]; then
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [[ -x "$d/initdb" && -x "$d/pg_ctl" ]]; then bindir="$d"; break; fi
    done
fi
if [[ -z "$bindir" ]]; then
    echo "pg-start: no PostgreSQL server found in /usr/lib/postgresql/*/bin; install it with: apt-get install -y postgresql" >&2
    exit 1
fi

# Who runs the server: the current user, or `postgres` when we are root.
if [[ "$(id -u)" == "0" ]]; then
    owner=postgres
    id "$owner" >/dev/null 2>&1 || { echo "pg-start: running as root but there is no 'postgres' user" >&2; exit 1; }
    as_owner() { runuser -u "$owner" -- "$@"; }
else
    owner="$(id -un)"
    as_owner() { "$@"; }
fi

# The server user must reach the data directory: a repository under a private home (/root) is not
# reachable by `postgres`, so fall back to a directory under /tmp named after the repository.
if [[ "$(id -u)" == "0" && -z "${ZIPAR_PGDATA:-}" ]] && ! runuser -u "$owner" -- test -x "$here"; then
    data="/tmp/zipar-pgdata-$(printf '%s' "$here" | cksum | cut -d' ' -f1)"   # fixed-temp-path: pg-stop.sh finds it; postgres reaches it
    pgdata="$data/cluster"; sock="$data/run"; log="$data/server.log"
    echo "pg-start: $here is not reachable by $owner; using $data" >&2
fi
mkdir -p "$data" "$sock"
if [[ "$(id -u)" == "0" ]]; then chown "$owner" "$data" "$sock"; fi
chmod 700 "$data"

if [[ ! -f "$pgdata/PG_VERSION" ]]; then
    echo "pg-start: creating cluster in $pgdata ($bindir)" >&2
    as_owner "$bindir/initdb" -D "$pgdata" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$data/initdb.log" 2>&1 \
        || as_owner "$bindir/initdb" -D "$pgdata" -U postgres --auth=trust --encoding=UTF8 --no-locale >"$data/initdb.log" 2>&1 \
        || { cat "$data/initdb.log" >&2; exit 1; }
fi

started=0
if as_owner "$bindir/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
    echo "pg-start: already running ($pgdata)" >&2
else
    started=1
    echo "pg-start: starting server, socket $sock, log $log" >&2
    touch "$log"; if [[ "$(id -u)" == "0" ]]; then chown "$owner" "$log"; fi
    as_owner "$bindir/pg_ctl" -D "$pgdata" -l "$log" -w -t 60 \
        -o "-c listen_addresses='' -k $sock -p $port -c max_connections=300 -c fsync=${ZIPAR_PG_FSYNC:-on}" start >&2 \
        || { tail -20 "$log" >&2; exit 1; }
fi

psql=("$bindir/psql" -h "$sock" -p "$port" -U postgres -X -q -v ON_ERROR_STOP=1)
if [[ "$("${psql[@]}" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$dbname'")" != "1" ]]; then
    "${psql[@]}" -d postgres -c "CREATE DATABASE \"$dbname\"" >&2
fi

echo "export PGHOST='$sock'"
echo "export PGPORT='$port'"
echo "export PGUSER='postgres'"
echo "export PGDATABASE='$dbname'"
echo "export ZIPAR_PG_STARTED='$started'"   # 1 when this call started the server
