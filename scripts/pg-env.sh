# Source this file, then call `zipar_pg_up` to get a PostgreSQL for tests and demos:
#
#   source scripts/pg-env.sh
#   zipar_pg_up            # DATABASE_URL or PGHOST already set: use that server, start nothing.
#                          # Otherwise: start the private cluster (scripts/pg-start.sh), export PG*,
#                          # and stop it again when the calling shell exits (if this call started it).
#
# Installs nothing: needs Debian's postgresql package (/usr/lib/postgresql/*/bin).
# ZIPAR_PG_KEEP=1 leaves the cluster running at exit.
zipar_pg_up() {
    if [[ -n "${DATABASE_URL:-}" || -n "${PGHOST:-}" ]]; then
        echo "pg: using the configured server (${DATABASE_URL:+DATABASE_URL}${PGHOST:+PGHOST=$PGHOST})" >&2
        return 0
    fi
    local root exports
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    exports="$("$root/scripts/pg-start.sh")" || return 1
    eval "$exports"
    if [[ "${ZIPAR_PG_STARTED:-0}" == "1" && "${ZIPAR_PG_KEEP:-0}" != "1" ]]; then
        # shellcheck disable=SC2064
        trap "'$root/scripts/pg-stop.sh'" EXIT
    fi
}
