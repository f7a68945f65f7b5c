#!/bin/bash
# A private PostgreSQL cluster, the kiva worker and nginx, in the foreground: what `make run`,
# the integration tests and `make bench` start. Ctrl-C or SIGTERM stops all three cleanly;
# the data stays in the state directory for the next run.
#
# Environment (all optional):
#   STATE        state directory (var)            PORT     nginx port (8080)
#   PREFIX       API mount point (/api)           PGPORT   PostgreSQL port (5439)
#   KIVA         worker binary (build/kiva)       THREADS  worker threads (4)
#   PROCESSES    worker processes (1)             BODY_LIMIT  worker body limit (1M)
#   NGINX_BODY_LIMIT  nginx's limit (BODY_LIMIT)  NGINX_WORKERS  nginx worker processes (1)
#   KIVA_EXTRA   extra configuration lines for the worker   ACCESS_LOG  nginx access log (file)
#   STUFF_ROWS   extra Stuff rows to create on first start (0)
#   METRICS_ALLOW  addresses or networks allowed to GET /metrics besides loopback (none)
#   KIVA_APP_DIR the application's directory (sql/ in it; default: the course demo)
#   APP_NAME     the worker's app_name (kiva)
#   NGINX_EXTRA  lines inside nginx's server block   NGINX_EXTRA_HTTP  lines in its http block
#   NGINX_FASTCGI_KEEPALIVE  kept nginx-to-worker connections (none: one per request)
#   PASSWORD_MIN_LENGTH  the worker's password_min_length (its default, 8; make run: 4, the
#                course's rule, so that its walkthrough registers moe/secret)
#   DATABASE     a libpq conninfo of a database made elsewhere (the HA cluster of
#                deploy/ha/db-cluster.sh): no PostgreSQL is started, no schema loaded
#   JOBS         1: a jobs worker (kiva --jobs) beside the HTTP worker (the default); 0: none
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
# The application (KIVA_APP_DIR: a project made by kiva-new passes its own directory; in this
# repository, the course demo) and the framework's SQL (in an installed framework: sql/).
app_root=${KIVA_APP_DIR:-$root/examples/course}
fw_sql=$root/framework/sql
[ -d "$fw_sql" ] || fw_sql=$root/sql
state=$(mkdir -p "${STATE:-$root/var}" && cd "${STATE:-$root/var}" && pwd)
port=${PORT:-8080}
prefix=${PREFIX:-/api}
pgport=${PGPORT:-5439}
kiva=${KIVA:-$root/build/kiva}
threads=${THREADS:-4}
processes=${PROCESSES:-1}
body_limit=${BODY_LIMIT:-1M}
nginx_body_limit=${NGINX_BODY_LIMIT:-$body_limit}

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$pgbin/pg_ctl" ] || { echo "stack: PostgreSQL server binaries not found (install postgresql)" >&2; exit 1; }
[ -x "$kiva" ] || { echo "stack: worker binary $kiva not found (build first)" >&2; exit 1; }

pg=$state/pg        # cluster, its unix socket and log: owned by the account running postgres
run=$state/run      # worker socket and configuration, nginx configuration and pid
log=$state/log
mkdir -p "$pg" "$run" "$log" "$state/nginx/tmp"

# PostgreSQL refuses to run as root: as root, run it as the postgres account.
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || { echo "stack: no postgres account (install postgresql)" >&2; exit 1; }
  as_pg() { (cd / && runuser -u postgres -- "$@"); }
  chown postgres: "$pg"
  if ! as_pg test -w "$pg"; then
    # The state directory is below a private one (a clone in /root...): keep the cluster in
    # a directory of its own under /var/tmp, named after the state directory.
    pg=/var/tmp/kiva-pg-$(printf '%s' "$state" | sha1sum | cut -c1-12)
    mkdir -p "$pg" && chown postgres: "$pg" && chmod 700 "$pg"
    echo "stack: $state is not reachable by the postgres account: the cluster lives in $pg" >&2
  fi
else
  as_pg() { "$@"; }
fi
say() { echo "stack: $*" >&2; }

stop_all() {
  [ -n "${stopped:-}" ] && return 0
  stopped=1
  trap '' INT TERM
  [ -n "${nginx_pid:-}" ] && kill -QUIT "$nginx_pid" 2>/dev/null || true
  [ -n "${worker_pid:-}" ] && kill -TERM "$worker_pid" 2>/dev/null || true
  [ -n "${jobs_pid:-}" ] && kill -TERM "$jobs_pid" 2>/dev/null || true
  [ -n "${nginx_pid:-}" ] && wait "$nginx_pid" 2>/dev/null || true
  [ -n "${worker_pid:-}" ] && wait "$worker_pid" 2>/dev/null || true
  [ -n "${jobs_pid:-}" ] && wait "$jobs_pid" 2>/dev/null || true
  if [ -n "${pg_running:-}" ]; then
    as_pg "$pgbin/pg_ctl" -D "$pg/data" -m fast -w stop >/dev/null || true
  fi
  say "stopped"
}
trap 'stop_all; exit 0' INT TERM
trap 'stop_all' EXIT

# --- PostgreSQL -------------------------------------------------------------------------
if [ -n "${DATABASE:-}" ]; then
  say "using the database $DATABASE"
else
if [ ! -f "$pg/data/PG_VERSION" ]; then
  say "creating the PostgreSQL cluster in $pg/data"
  as_pg "$pgbin/initdb" -D "$pg/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$log/initdb.log"
fi
# Where the server listens is in its configuration, so that a plain pg_ctl restart keeps it.
grep -q "^include_if_exists = 'kiva-stack.conf'" "$pg/data/postgresql.conf" ||
  echo "include_if_exists = 'kiva-stack.conf'" | as_pg tee -a "$pg/data/postgresql.conf" >/dev/null
printf '%s\n' "port = $pgport" "listen_addresses = '127.0.0.1'" "unix_socket_directories = '$pg'" \
  ${PG_SETTINGS:+"$PG_SETTINGS"} | as_pg tee "$pg/data/kiva-stack.conf" >/dev/null
as_pg "$pgbin/pg_ctl" -D "$pg/data" -l "$pg/postgres.log" -w -t 60 start >/dev/null \
  || { say "PostgreSQL did not start, see $pg/postgres.log"; tail -n 20 "$pg/postgres.log" >&2; exit 1; }
pg_running=1
psql_admin() { psql -X -q -v ON_ERROR_STOP=1 -h "$pg" -p "$pgport" -U postgres "$@"; }
psql_app() { psql -X -q -v ON_ERROR_STOP=1 -h "$pg" -p "$pgport" -U kiva -d kiva "$@"; }

if [ "$(psql_admin -d postgres -Atc "SELECT count(*) FROM pg_roles WHERE rolname = 'kiva'")" = 0 ]; then
  say "creating role and database kiva"
  psql_admin -d postgres -c "CREATE ROLE kiva LOGIN" -c "CREATE DATABASE kiva OWNER kiva"
fi
if [ "$(psql_app -Atc "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" = 0 ]; then
  say "loading schema and data"
  # The framework's schema, the application's, then its demo rows and accounts if it has them.
  schema=(-f "$fw_sql/create.sql" -f "$app_root/sql/create.sql")
  [ -f "$app_root/sql/data.sql" ] && schema+=(-f "$app_root/sql/data.sql")
  if [ -f "$app_root/sql/users.in" ] && [ -f "$app_root/sql/load-demo.sql" ]; then
    pass2csv=$(dirname "$kiva")/kiva-pass2csv
    [ -x "$pass2csv" ] || pass2csv=$root/../../bin/kiva-pass2csv  # an installed framework
    "$pass2csv" "$app_root/sql/users.in" >"$state/users.csv"
    schema+=(-v users_csv="$state/users.csv" -f "$app_root/sql/load-demo.sql")
  fi
  psql_app -1 "${schema[@]}"
  if [ "${STUFF_ROWS:-0}" -gt 0 ]; then
    psql_app -c "INSERT INTO Stuff(stuff) SELECT 'stuff ' || i FROM generate_series(1, ${STUFF_ROWS}) AS i"
  fi
fi
fi  # DATABASE

# --- the worker -------------------------------------------------------------------------
secret=$state/token.secret
if [ ! -s "$secret" ]; then
  (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$secret")
fi
cat >"$run/kiva.conf" <<CONF
# Generated by deploy/dev/stack.sh for this state directory; edits are overwritten.
app_name = ${APP_NAME:-kiva}
database = ${DATABASE:-host=$pg port=$pgport dbname=kiva user=kiva}
queries = $app_root/sql/queries.sql
listen = unix:$run/kiva.sock
threads = $threads
processes = $processes
body_limit = $body_limit
token_secret_file = $secret
log_level = info
# Shared with the jobs worker (kiva --jobs), whose runs /metrics shows too.
metrics_file = $run/metrics
$([ -n "${PASSWORD_MIN_LENGTH:-}" ] && echo "password_min_length = $PASSWORD_MIN_LENGTH")
$([ -f "$root/build-node/node_modules/swagger-ui-dist/swagger-ui-bundle.js" ] && echo "docs_dir = $root/build-node/node_modules/swagger-ui-dist")
${KIVA_EXTRA:-}
CONF
rm -f "$run/kiva.sock"
"$kiva" --config "$run/kiva.conf" &
worker_pid=$!
for _ in $(seq 100); do [ -S "$run/kiva.sock" ] && break; kill -0 "$worker_pid" 2>/dev/null || break; sleep 0.05; done
[ -S "$run/kiva.sock" ] || { say "the worker did not start"; exit 1; }
# The jobs worker: the same binary and configuration (docs/jobs.md). Not watched below: a
# jobs worker that dies leaves its jobs to the next one, after their lease.
if [ "${JOBS:-1}" != 0 ]; then
  "$kiva" --config "$run/kiva.conf" --jobs &
  jobs_pid=$!
  say "jobs worker started (pid $jobs_pid)"
fi

# --- nginx ------------------------------------------------------------------------------
access_log=${ACCESS_LOG:-$log/nginx-access.log}
[ "$access_log" = off ] || access_log="$access_log kiva"
# NGINX_FASTCGI_KEEPALIVE=N (make bench's experiment): persistent nginx-to-worker connections,
# N kept per nginx process; the worker then needs more threads than nginx can pin (bench/README.md).
fastcgi_keepalive="" fastcgi_keep_conn=""
if [ -n "${NGINX_FASTCGI_KEEPALIVE:-}" ]; then
  fastcgi_keepalive="        keepalive ${NGINX_FASTCGI_KEEPALIVE};" fastcgi_keep_conn="    fastcgi_keep_conn on;"
fi
metrics_allow=""
for net in ${METRICS_ALLOW:-}; do metrics_allow+="        allow $net;"; done
render() {
  sed -e "s|@PREFIX@|$prefix|g" -e "s|@UPSTREAM@|kiva_workers|g" -e "s|@BODY_LIMIT@|$nginx_body_limit|g" \
      -e "s|@RUN@|$run|g" -e "s|@LOG@|$log|g" -e "s|@SOCKET@|$run/kiva.sock|g" -e "s|@PORT@|$port|g" \
      -e "s|@NGINX_TMP@|$state/nginx/tmp|g" -e "s|@NGINX_WORKERS@|${NGINX_WORKERS:-1}|g" \
      -e "s|@ACCESS_LOG@|$access_log|g" \
      -e "s|@USER_LINE@|$([ "$(id -u)" = 0 ] && echo 'user root root;')|g" \
      -e "s|@METRICS_ALLOW@|$metrics_allow|g" -e "s|@EXTRA_LOCATIONS@|${NGINX_EXTRA:-}|g" \
      -e "s|@EXTRA_HTTP@|${NGINX_EXTRA_HTTP:-}|g" -e "s|@FASTCGI_KEEPALIVE@|$fastcgi_keepalive|g" \
      -e "s|@FASTCGI_KEEP_CONN@|$fastcgi_keep_conn|g" "$1"
}
render "$root/nginx/kiva-api.conf.in" >"$run/kiva-api.conf"
render "$root/nginx/kiva-dev.conf.in" >"$run/nginx.conf"
nginx -t -q -p "$state/nginx" -c "$run/nginx.conf" -g 'daemon off;' || { say "bad nginx configuration"; exit 1; }
nginx -p "$state/nginx" -c "$run/nginx.conf" -g 'daemon off;' &
nginx_pid=$!

url="http://127.0.0.1:$port$prefix"
# /health is every application's (the framework's operations routes).
for _ in $(seq 100); do curl -fs -o /dev/null "$url/health" && break; sleep 0.05; done
curl -fs -o /dev/null "$url/health" || { say "no answer from $url/health"; exit 1; }
say "kiva serving $url (Ctrl-C stops)"

# Serve until a signal, or until the worker or nginx dies.
set +e
wait -n "$worker_pid" "$nginx_pid"
say "the worker or nginx exited unexpectedly"
exit 1
