#!/usr/bin/env bash
# The release tarball on a machine without Swift: unpacks it, checks every systemd unit in it with
# `systemd-analyze verify`, then runs migrate -> submit -> worker -> export with the packaged binaries and
# the bundled model in a mount namespace where the Swift toolchain's usr directory (found from `swift` on
# PATH) is covered by an empty tmpfs, so any library the binaries still took from the toolchain fails to
# load. Checks that the exported images are PNGs.
#
#   scripts/test-package.sh [--tarball dist/zipar-VERSION-linux-ARCH.tar.xz]
#
# Without --tarball it builds one (scripts/package.sh). PostgreSQL: DATABASE_URL/PGHOST when set, else the
# private cluster (scripts/pg-env.sh). As a superuser it also checks deploy/roles.sql: a fresh database,
# migrated by zipar_owner, jobs submitted and exported by zipar_admin, run by zipar_worker. The namespace
# needs root (CI) or unprivileged user namespaces; where neither is allowed the namespace part is skipped
# with a message (the library checks of package.sh still ran).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
tarball=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --tarball) tarball="$2"; shift 2;;
        -h|--help) sed -n '2,15p' "$0"; exit 0;;
        *) echo "test-package: unknown argument $1" >&2; exit 2;;
    esac
done
scripts/install-deps.sh systemd util-linux
if [[ -z "$tarball" ]]; then tarball="$(scripts/package.sh)"; fi
[[ -f "$tarball" ]] || { echo "test-package: no tarball at $tarball" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/zipar-pkgtest.XXXXXX")"
trap 'rm -rf "$work"' EXIT
tar -xf "$tarball" -C "$work"
pkg="$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'zipar-*')"
[[ -n "$pkg" && -x "$pkg/bin/zipar-worker" ]] || { echo "test-package: $tarball has no bin/zipar-worker" >&2; exit 1; }
echo "test-package: $(basename "$pkg") ($(du -h "$tarball" | cut -f1))"

echo "==> systemd-analyze verify on every unit in the package"
# --root: a tree with the packaged binaries where the units expect them (verify checks that ExecStart
# exists) and the system's own units (targets the units name); nothing on this machine is touched.
# verify reports bad keys and values as warnings with exit code 0, so any output at all fails the test.
if command -v systemd-analyze >/dev/null; then
    sysroot="$work/sysroot"
    mkdir -p "$sysroot/usr/local/bin" "$sysroot/etc/systemd/system" "$sysroot/usr/lib/systemd"
    cp -R "$(readlink -f /usr/lib/systemd/system)" "$sysroot/usr/lib/systemd/system"
    cp "$pkg"/bin/* "$sysroot/usr/local/bin/"
    cp "$pkg"/deploy/*.service "$sysroot/etc/systemd/system/"
    units=()
    for f in "$pkg"/deploy/*.service; do
        u="$(basename "$f")"
        [[ "$u" == *@.service ]] && u="${u%@.service}@9090.service"   # a template: verify one instance
        units+=("$u")
    done
    verify_out="$(systemd-analyze --root="$sysroot" verify "${units[@]}" 2>&1)" \
        || { echo "$verify_out" >&2; echo "test-package: systemd-analyze verify failed" >&2; exit 1; }
    if [[ -n "$verify_out" ]]; then
        echo "$verify_out" >&2; echo "test-package: systemd-analyze verify warned (above)" >&2; exit 1
    fi
    echo "verified: ${units[*]}"
else
    echo "SKIP: systemd-analyze is not installed (apt package systemd)"
fi

echo "==> submit -> worker -> export with the packaged binaries, the Swift toolchain hidden"
toolchain_usr=""
if command -v swift >/dev/null; then
    # .../usr/bin/swift (a link to swift-driver): the usr directory holds the runtime libraries too.
    toolchain_usr="$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")"
    [[ -d "$toolchain_usr/lib/swift" ]] || { echo "test-package: $toolchain_usr does not look like a Swift toolchain's usr" >&2; exit 1; }
fi
if [[ -z "$toolchain_usr" ]]; then
    ns=()   # no toolchain on this machine: nothing to hide
    echo "test-package: no swift on PATH: running the binaries as they are"
elif [[ "$(id -u)" == 0 ]]; then
    ns=(unshare --mount --propagation private)
else
    ns=(unshare --user --map-root-user --mount --propagation private)
fi
if ((${#ns[@]})) && ! "${ns[@]}" true 2>/dev/null; then
    echo "SKIP: '${ns[*]}' is not permitted here (run as root, as CI does): the packaged binaries were not run with the toolchain hidden"
    exit 0
fi

(
    source scripts/pg-env.sh
    zipar_pg_up
    psql=(psql -X -q -v ON_ERROR_STOP=1)
    owner_role="" worker_role="" admin_role="" queue=pkgtest
    # The roles are switched with PGUSER, which a DATABASE_URL's user would override.
    if [[ -z "${DATABASE_URL:-}" && "$("${psql[@]}" -tAc 'SELECT rolsuper FROM pg_roles WHERE rolname = current_user')" == t ]]; then
        # A fresh database with the roles of deploy/roles.sql: checks that those grants are all each
        # program needs (the worker deletes nothing, the owner migrates).
        db=zipar_pkgtest
        "${psql[@]}" -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
        "${psql[@]}" -d "$db" -f "$pkg/deploy/roles.sql" >/dev/null
        export PGDATABASE="$db"
        owner_role=zipar_owner worker_role=zipar_worker admin_role=zipar_admin
    else
        echo "test-package: DATABASE_URL set or not a superuser: the roles of deploy/roles.sql are not checked; queue $queue in the configured database"
        queue="pkgtest-$$"
    fi
    printf '%s\n' \
        "sneaker policy=zipar:4 seed=1 label=pkg-sneaker" \
        "bag policy=ntp seed=2 label=pkg-bag" > "$work/prompts.txt"
    mkdir -p "$work/cache" "$work/out"

    # Everything below runs with the toolchain's usr directory replaced by an empty read-only tmpfs.
    export PKG="$pkg" WORK="$work" QUEUE="$queue" TOOLCHAIN_USR="$toolchain_usr"
    export OWNER_ROLE="$owner_role" WORKER_ROLE="$worker_role" ADMIN_ROLE="$admin_role"
    "${ns[@]}" env -u LD_LIBRARY_PATH bash -euo pipefail -c '
        if [[ -n "$TOOLCHAIN_USR" ]]; then
            mount -t tmpfs -o ro,size=64k zipar-toolchain-hidden "$TOOLCHAIN_USR"
            if [[ -e "$TOOLCHAIN_USR/lib/swift" ]]; then echo "test-package: the toolchain is still visible" >&2; exit 1; fi
            echo "hidden: $TOOLCHAIN_USR"
        fi
        bin="$PKG/bin"; model="$PKG/models/fashion-16"
        as() { local role="$1"; shift; if [[ -n "$role" ]]; then PGUSER="$role" "$@"; else "$@"; fi; }
        for p in zipar zipar-submit zipar-worker zipar-admin zipar-bench; do
            v="$("$bin/$p" --version)" || { echo "test-package: $p --version failed" >&2; exit 1; }
            echo "$p $v"
        done
        as "$OWNER_ROLE" "$bin/zipar-admin" migrate
        as "$ADMIN_ROLE" "$bin/zipar-submit" --model "$model" --queue "$QUEUE" --create-queue "$WORK/prompts.txt" >/dev/null
        ZIPAR_CACHE_DIR="$WORK/cache" as "$WORKER_ROLE" "$bin/zipar-worker" --model "$model" --queue "$QUEUE" \
            --drain --batch 2 --http 127.0.0.1:0 --log-level warning
        as "$ADMIN_ROLE" "$bin/zipar-admin" export --out "$WORK/out" --queue "$QUEUE"
        # The console as zipar-admin.service runs it: /readyz answers 200 once the database does.
        port=$((20000 + RANDOM % 20000))
        # exec: $! is then the server itself, which the kill below stops (without it $! was the subshell
        # running `as`, and the server outlived the test).
        ( as "$ADMIN_ROLE" exec "$bin/zipar-admin" serve --bind "127.0.0.1:$port" --log-level warning ) & serve=$!
        status=""
        for _ in $(seq 1 50); do
            status="$( (exec 3<>"/dev/tcp/127.0.0.1/$port" && printf "GET /readyz HTTP/1.0\r\n\r\n" >&3 && head -1 <&3) 2>/dev/null || true)"
            [[ -n "$status" ]] && break
            sleep 0.2
        done
        kill "$serve"; wait "$serve" || true
        [[ "$status" == *" 200"* ]] || { echo "test-package: zipar-admin serve /readyz answered \"$status\"" >&2; exit 1; }
        echo "zipar-admin serve /readyz: $(printf "%s" "$status" | tr -d "\r")"
    '
    for label in pkg-sneaker pkg-bag; do
        png="$work/out/$label.png"
        [[ -s "$png" ]] || { echo "test-package: $png was not exported" >&2; ls -la "$work/out" >&2; exit 1; }
        magic="$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')"
        [[ "$magic" == 89504e470d0a1a0a ]] || { echo "test-package: $png is not a PNG (starts $magic)" >&2; exit 1; }
    done
    echo "exported PNGs: pkg-sneaker.png pkg-bag.png ($(du -ch "$work"/out/*.png | tail -1 | cut -f1))"
    if [[ -n "$owner_role" ]]; then "${psql[@]}" -d postgres -c "DROP DATABASE IF EXISTS $PGDATABASE WITH (FORCE)"; fi
)
echo "test-package: ok"
