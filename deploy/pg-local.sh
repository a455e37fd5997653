#!/usr/bin/env bash
# Operators' entry to the local single-host PostgreSQL cluster (Debian's postgresql package, own data
# directory, Unix socket only, no password): the same script the tests use.
#   eval "$(deploy/pg-local.sh)"          # start (idempotent) and export PGHOST PGPORT PGUSER PGDATABASE
#   ZIPAR_PGDATA=/var/lib/zipar/pg deploy/pg-local.sh   # elsewhere than <repo>/.pgdata
#   scripts/pg-stop.sh                    # stop
# For several hosts use a real PostgreSQL server reachable over TLS instead (docs/deploy.md).
exec "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/scripts/pg-start.sh" "$@"
