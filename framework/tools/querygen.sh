#!/bin/bash
# The build step that writes the typed queries header: starts a throwaway PostgreSQL cluster,
# loads the schema into it, runs kiva-querygen against it, and removes the cluster.
# Run by CMake from the source directory (so that messages say sql/queries.sql:LINE):
#
#   querygen.sh GENERATOR OUT_HEADER QUERIES_FILE SCHEMA_FILE... [-- GENERATOR_OPTION...]
#
# GENERATOR_OPTIONs go to kiva-querygen as they are (--after, --namespace, --class, --context).
#
# The cluster lives in a fresh directory under /var/tmp (the postgres account cannot enter a
# checkout below /root) and listens on a unix socket there only, so no port can clash.
set -euo pipefail

[ $# -ge 4 ] || { echo "usage: $0 GENERATOR OUT QUERIES SCHEMA... [-- OPTION...]" >&2; exit 2; }
generator=$1 out=$2 queries=$3
shift 3
schema=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do schema+=("$1"); shift; done
[ $# -gt 0 ] && shift  # the --
[ ${#schema[@]} -gt 0 ] || { echo "usage: $0 GENERATOR OUT QUERIES SCHEMA... [-- OPTION...]" >&2; exit 2; }
say() { echo "querygen: $*" >&2; }

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$pgbin/initdb" ] || { say "PostgreSQL server binaries not found (deploy/dev/install-deps.sh build)"; exit 1; }

# KIVA_QUERYGEN_TMP: where the cluster's directory goes (the tests point it at their own).
tmp=$(mktemp -d "${KIVA_QUERYGEN_TMP:-/var/tmp}/kiva-querygen.XXXXXX")
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$tmp"
  as_pg() { (cd / && exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"); }
else
  as_pg() { "$@"; }
fi
pid=""
cleanup() {
  if [ -n "$pid" ]; then
    # $! is the shell that runs postgres as the postgres account: signal the server itself.
    server=$(head -n 1 "$tmp/data/postmaster.pid" 2>/dev/null || true)
    kill -INT "${server:-$pid}" 2>/dev/null || true   # fast shutdown
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

as_pg "$pgbin/initdb" -D "$tmp/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
  >"$tmp/initdb.log" 2>&1 || { cat "$tmp/initdb.log" >&2; say "initdb failed"; exit 1; }
port=5432
as_pg "$pgbin/postgres" -D "$tmp/data" -k "$tmp" -p "$port" -c listen_addresses= \
  -c fsync=off -c full_page_writes=off -c synchronous_commit=off >"$tmp/postgres.log" 2>&1 &
pid=$!
for _ in $(seq 200); do
  [ -S "$tmp/.s.PGSQL.$port" ] && "$pgbin/pg_isready" -q -h "$tmp" -p "$port" && break
  kill -0 "$pid" 2>/dev/null || { cat "$tmp/postgres.log" >&2; say "PostgreSQL did not start"; exit 1; }
  sleep 0.05
done

# The schema as production has it: create.sql (idempotent), then every migration, which
# run with psql variables for the owner and runtime roles (sql/migrations/README.md).
files=()
for f in "${schema[@]}"; do files+=(-f "$f"); done
psql -X -q -v ON_ERROR_STOP=1 -h "$tmp" -p "$port" -U postgres -d postgres \
  -c "CREATE ROLE kiva_runtime" -v owner=postgres -v runtime=kiva_runtime \
  "${files[@]}" >"$tmp/schema.log" 2>&1 || {
  cat "$tmp/schema.log" >&2; say "the schema does not load"; exit 1; }

mkdir -p "$(dirname "$out")"
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} "$generator" \
  --conninfo "host=$tmp port=$port user=postgres dbname=postgres" --queries "$queries" --out "$out" "$@"
