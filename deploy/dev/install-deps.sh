#!/bin/sh
# Installs the Debian packages a make target needs, and only those that are missing.
# Usage: install-deps.sh GROUP...   (groups: build run test fuzz deploy cluster ha bench bench_short docs package)
# Idempotent: apt-get update runs only when something must be installed. The build needs the
# PostgreSQL server: it checks sql/queries.sql against the schema in a throwaway cluster.
set -eu

pkgs_build="g++ make cmake pkg-config libfcgi-dev libpq-dev rapidjson-dev libssl-dev libcrypt-dev libargon2-dev libhiredis-dev libboost-test-dev postgresql"
pkgs_run="postgresql nginx curl"
pkgs_test="python3 clang libclang-rt-14-dev prometheus chromium sqlmap redis-server"  # chromium: the /docs page test; redis-server: the shared cache tests
pkgs_fuzz="clang libclang-rt-14-dev"
pkgs_deploy="apache2 libapache2-mod-fcgid apache2-suexec-custom openssh-server openssh-client rsync openssl logrotate"
# make cluster (deploy/dev/cluster.sh): the balancer, the shared cache, namespaces, the admin socket
pkgs_cluster="haproxy redis-server socat python3 iproute2 util-linux nginx postgresql openssh-server openssh-client rsync openssl curl"
# The HA database (deploy/ha/db-cluster.sh, tests/ha): Patroni with its etcd client library
# (Debian's patroni accepts any of several DCS libraries; python3-etcd is the one for etcd,
# v2 and v3 API), the etcd server, ip (namespaces), openssl (the private CA).
pkgs_ha="postgresql patroni python3-etcd etcd-server etcd-client iproute2 openssl curl"
# make package: the framework's .deb (dpkg-deb) and its check (lintian)
pkgs_package="dpkg-dev lintian fakeroot"
# make bench without its peers: also make test's short run of the bench scripts
pkgs_bench_short="wrk python3 apache2 libapache2-mod-fcgid libapache2-mod-wsgi-py3 python3-flask python3-psycopg"
pkgs_bench="$pkgs_bench_short"
# make bench's peers (bench/peers/): Go + pgx built offline from Debian's sources, FastAPI +
# asyncpg under uvicorn; Node's fastify and pg come from npm (bench/peers/build.sh), node from docs.
pkgs_bench="$pkgs_bench golang-go golang-github-jackc-pgx-v4-dev python3-fastapi python3-uvicorn python3-uvloop python3-httptools python3-asyncpg"
# node and npm (the OpenAPI validator, Swagger UI); a machine with node from elsewhere
# (nodesource ships npm inside its nodejs) keeps it.
pkgs_docs="nodejs"
command -v npm >/dev/null 2>&1 || pkgs_docs="$pkgs_docs npm"

wanted=""
for group in "$@"; do
  eval "list=\${pkgs_$group:?unknown package group: $group}"
  wanted="$wanted $list"
done

missing=""
for p in $wanted; do
  case " $missing " in *" $p "*) continue ;; esac
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing$missing"
sudo=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install:$missing" >&2; exit 1; }
  sudo="sudo"
fi
# Packages must not start services on install: the project runs its own instances.
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends $missing
