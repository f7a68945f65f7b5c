#!/bin/bash
# A highly available PostgreSQL on this machine: three etcd members and three PostgreSQL 15
# nodes managed by Patroni (synchronous_mode), each node in a network namespace of its own,
# TLS (a private CA made at `up`) and scram-sha-256 everywhere, the kiva roles and schema made
# by the project's own scripts (prepare-db.sh, the migrations' init script) on the leader.
# What the failover test (tests/ha) and the scale-out `make cluster` use as "the database".
#
# Usage: deploy/ha/db-cluster.sh [options] COMMAND
#   up                 clean up what a crashed run left, build the cluster, wait for a leader
#                      with a synchronous standby, create roles and schema; returns (daemons
#                      keep running, their pids in the state directory)
#   down               stop every process and remove the namespaces, veths, bridge, state
#   status             patronictl list
#   leader             the leader's node name (db1...), waits up to 60 s for one
#   leader-address     the leader's address
#   conninfo [runtime|owner]   the libpq conninfo for the app side (multi-host, read-write)
#   fault db-primary   SIGKILL the leader's Patroni and PostgreSQL (prints the node's name)
#   fault db-primary-back      start the node killed last again: it rejoins as a replica
#   wait-replica NODE  waits until NODE streams from the leader (up to 90 s)
#   wait-sync          waits until the leader has a synchronous standby (up to 90 s)
#   psql NODE [ARGS]   psql as postgres on NODE's unix socket (e.g. psql db2 -d kiva_ha -c ...)
#   rest NODE PATH [--member] [--auth] [CURL ARGS]   Patroni's REST API on NODE over HTTPS
#                      (the CA checked); --member presents NODE's client certificate, --auth
#                      the REST password (from stdin to curl, never in argv): both are needed
#                      by the unsafe endpoints (e.g. rest db1 /reload --member --auth -X POST)
# Options (or the environment variables in brackets):
#   --prefix P         namespace and interface prefix [HA_PREFIX] (kh-): namespaces Pdb1..Pdb3,
#                      host-side veths Pdb1h.., bridge Pbr (unless --bridge)
#   --net A.B.C        the nodes' /24 [HA_NET] (10.78.1): nodes .11 .12 .13, bridge .1
#   --bridge NAME      attach the nodes to this existing bridge instead of making one
#                      (then nothing gets the .1 address; the caller routes to the /24)
#   --state DIR        state directory [HA_STATE] (/var/tmp/kiva-ha-P): data, certificates,
#                      passwords, logs; removed by down
#   --instance NAME    the kiva instance [HA_INSTANCE] (kiva-ha): database and roles
#   --app-net CIDR     where the app hosts connect from [HA_APP_NET] (the bridge address /32)
#   HA_SCHEMA=false    roles only: the caller makes the schema (make cluster: make deploy-init)
#   HA_SYNCHRONOUS=false   asynchronous replication instead (only to see the failover test
#                      fail: an acknowledged commit may be lost when the primary dies)
# Everything runs as the postgres and etcd accounts (never PostgreSQL as root); the commands
# that change namespaces need root. Ports: etcd 2379/2380, Patroni REST 8008, PostgreSQL 5432,
# on the node addresses only.
set -euo pipefail
KIVA_TOOL=db-cluster
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$root/deploy/lib/common.sh"
. "$root/deploy/lib/migrations.sh"

prefix=${HA_PREFIX:-kh-} net=${HA_NET:-10.78.1} bridge="" state=${HA_STATE:-} instance=${HA_INSTANCE:-kiva-ha}
app_net=${HA_APP_NET:-}
usage() { sed -n '2,35p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
  case $1 in
    -h|--help) usage 0 ;;
    --prefix|--net|--bridge|--state|--instance|--app-net)
      [ $# -ge 2 ] || die "$1 needs a value"
      case $1 in
        --prefix) prefix=$2 ;; --net) net=$2 ;; --bridge) bridge=$2 ;; --state) state=$2 ;;
        --instance) instance=$2 ;; --app-net) app_net=$2 ;;
      esac
      shift 2 ;;
    --*) die "unknown option $1 (see --help)" ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || usage 1
command=$1; shift
[[ "$prefix" =~ ^[a-z][a-z0-9-]{0,6}$ ]] || die "bad --prefix '$prefix' (up to 7 letters, digits, dashes)"
[[ "$net" =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "bad --net '$net' (three octets, e.g. 10.78.1)"
check_instance "$instance"
state=${state:-/var/tmp/kiva-ha-${prefix%-}}
own_bridge=1
[ -n "$bridge" ] && own_bridge=""
bridge=${bridge:-${prefix}br}
app_net=${app_net:-$net.1/32}
nodes=(db1 db2 db3)
address() { echo "$net.$((10 + ${1#db}))"; }   # db1 -> A.B.C.11
pgbin=$(ls -d /usr/lib/postgresql/15/bin 2>/dev/null || true)
db=$(sql_name "$instance")
scope=kiva-${prefix%-}

in_ns() { local node=$1; shift; ip netns exec "$prefix$node" "$@"; }
# as ACCOUNT CMD...: from / (the accounts may not enter a checkout below /root)
as() { local who=$1; shift; (cd / && setpriv --reuid="$who" --regid="$who" --init-groups -- "$@"); }
etcd_hosts() { local n out=""; for n in "${nodes[@]}"; do out+="${out:+,}$(address "$n"):2379"; done; echo "$out"; }
patronictl_() { (cd / && patronictl -c "$state/$1/patroni.yml" "${@:2}"); }

# ------------------------------------------------------------------ down / clean up
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
down() {
  local node pid
  for node in "${nodes[@]}"; do
    for pid in "$state/$node/patroni.pid" "$state/$node/etcd.pid"; do
      pid_alive "$pid" && kill -KILL "$(cat "$pid")" 2>/dev/null || true
    done
    # Whatever still runs inside the node's namespace is this cluster's (PostgreSQL).
    if grep -qx "$prefix$node\( (id: [0-9]*)\)\?" <<<"$(ip netns list)"; then
      for pid in $(ip netns pids "$prefix$node" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
      for _ in $(seq 50); do [ -z "$(ip netns pids "$prefix$node" 2>/dev/null)" ] && break; sleep 0.1; done
      ip netns del "$prefix$node" 2>/dev/null || true
    fi
    ip link del "$prefix${node}h" 2>/dev/null || true
  done
  [ -n "$own_bridge" ] && ip link del "$bridge" 2>/dev/null || true
  case $state in /var/tmp/kiva-ha-*|*/kiva-ha*) rm -rf "$state" ;; *) rm -rf "${state:?}"/{db1,db2,db3,tls,secrets,migrations,kiva,last-fault} ;; esac
}

# ------------------------------------------------------------------ network
network() {
  local node a
  if [ -n "$own_bridge" ]; then
    ip link add "$bridge" type bridge
    ip addr add "$net.1/24" dev "$bridge"
    ip link set "$bridge" up
  fi
  for node in "${nodes[@]}"; do
    a=$(address "$node")
    ip netns add "$prefix$node"
    ip link add "$prefix${node}h" type veth peer name eth0 netns "$prefix$node"
    ip link set "$prefix${node}h" master "$bridge" up
    in_ns "$node" ip link set lo up
    in_ns "$node" ip addr add "$a/24" dev eth0
    in_ns "$node" ip link set eth0 up
  done
}

# ------------------------------------------------------------------ TLS: a private CA
certificates() {
  local tls=$state/tls node a
  install -d -m 0755 "$tls"
  (umask 077
   openssl req -x509 -new -nodes -newkey rsa:2048 -days 30 -subj "/CN=kiva HA test CA $prefix" \
     -keyout "$tls/ca.key" -out "$tls/ca.crt" 2>/dev/null
   for node in "${nodes[@]}"; do
     a=$(address "$node")
     openssl req -new -nodes -newkey rsa:2048 -subj "/CN=$a" -keyout "$tls/$node.key" -out "$tls/$node.csr" 2>/dev/null
     printf 'subjectAltName=IP:%s,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' "$a" >"$tls/$node.ext"
     openssl x509 -req -in "$tls/$node.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial \
       -days 30 -extfile "$tls/$node.ext" -out "$tls/$node.crt" 2>/dev/null
     rm -f "$tls/$node.csr" "$tls/$node.ext"
   done)
  chmod 0644 "$tls/ca.crt" "$tls"/db*.crt
  # Each node's key: one copy for PostgreSQL and Patroni (postgres, 0600, as PostgreSQL
  # demands), one for etcd (etcd, 0600).
  for node in "${nodes[@]}"; do
    install -d -m 0750 -o postgres -g etcd "$state/$node" "$state/$node/tls"
    install -m 0644 -o postgres -g etcd "$tls/ca.crt" "$tls/$node.crt" "$state/$node/tls/"
    install -m 0600 -o postgres -g postgres "$tls/$node.key" "$state/$node/tls/$node.key"
    install -m 0600 -o etcd -g etcd "$tls/$node.key" "$state/$node/tls/etcd.key"
  done
  rm -f "$tls/ca.key"   # nothing more is signed: the CA key never outlives the set-up
}

# ------------------------------------------------------------------ passwords
secret() {  # secret NAME: the password in STATE/secrets/NAME (made once)
  local f=$state/secrets/$1
  [ -s "$f" ] || (umask 077 && openssl rand -hex 24 >"$f")
  cat "$f"
}

# ------------------------------------------------------------------ etcd
start_etcd() {
  local node=$1 a cluster="" n
  a=$(address "$node")
  for n in "${nodes[@]}"; do cluster+="${cluster:+,}$n=https://$(address "$n"):2380"; done
  install -d -m 0700 -o etcd -g etcd "$state/$node/etcd"
  local t=$state/$node/tls
  ip netns exec "$prefix$node" setpriv --reuid=etcd --regid=etcd --init-groups -- \
    etcd --name "$node" --data-dir "$state/$node/etcd" \
      --listen-peer-urls "https://$a:2380" --initial-advertise-peer-urls "https://$a:2380" \
      --listen-client-urls "https://$a:2379" --advertise-client-urls "https://$a:2379" \
      --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token "$scope" \
      --cert-file "$t/$node.crt" --key-file "$t/etcd.key" --trusted-ca-file "$t/ca.crt" --client-cert-auth \
      --peer-cert-file "$t/$node.crt" --peer-key-file "$t/etcd.key" --peer-trusted-ca-file "$t/ca.crt" \
      --peer-client-cert-auth --heartbeat-interval 100 --election-timeout 1000 \
      >"$state/$node/etcd.log" 2>&1 </dev/null &
  echo $! >"$state/$node/etcd.pid"
}

# ------------------------------------------------------------------ Patroni
patroni_config() {  # patroni_config NODE: writes STATE/NODE/patroni.yml
  local node=$1 a t=$state/$1/tls hba
  a=$(address "$node")
  # The app roles' rules come from the project's template (as prepare-db.sh writes them), in
  # every node's pg_hba (Patroni writes it on each node, so a promoted standby has them too).
  hba=$(render "$root/deploy/postgres/pg_hba.conf.in" "INSTANCE=$instance" "DATABASE=$db" \
        "RUNTIME=$db" "OWNER=${db}_owner" "APP_HOST=$app_net" "APP_HOSTS=$app_net" | grep -v '^#' | sed 's/^/    - /')
  cat >"$state/$node/patroni.yml" <<YAML
# Generated by deploy/ha/db-cluster.sh for $node; passwords only in this 0600 file.
scope: $scope
namespace: /kiva/
name: $node
log:
  level: INFO
restapi:
  listen: $a:8008
  connect_address: $a:8008
  # HTTPS with the node's certificate. The safe GETs (/primary, /replica, /patroni: health
  # checks, monitoring) need only TLS; the unsafe endpoints (switchover, restart, reinitialize,
  # config) a client certificate of the cluster's CA and the password. Patroni asks the other
  # members with these too, as patronictl does with this file.
  certfile: $t/$node.crt
  keyfile: $t/$node.key
  cafile: $t/ca.crt
  verify_client: optional
  authentication:
    username: patroni
    password: "$(secret restapi)"
etcd3:
  hosts: $(etcd_hosts)
  protocol: https
  cacert: $t/ca.crt
  cert: $t/$node.crt
  key: $t/$node.key
bootstrap:
  dcs:
    # A dead leader's key expires after ttl: the failover bound (plus loop_wait and promotion).
    ttl: 12
    loop_wait: 2
    retry_timeout: 5
    maximum_lag_on_failover: 1048576
    # A commit returns once a synchronous standby has it; only that standby may be promoted.
    synchronous_mode: ${HA_SYNCHRONOUS:-true}
    synchronous_node_count: 1
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_log_hints: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        hot_standby: "on"
        password_encryption: scram-sha-256
        max_connections: 100
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
    - data-checksums
postgresql:
  listen: $a:5432
  connect_address: $a:5432
  data_dir: $state/$node/data
  bin_dir: $pgbin
  pgpass: $state/$node/pgpass
  # Patroni talks to its own PostgreSQL over the unix socket (peer), never over TCP.
  use_unix_socket: true
  authentication:
    superuser:
      username: postgres
      password: "$(secret postgres)"
    replication:
      username: replicator
      password: "$(secret replicator)"
      sslmode: verify-full
      sslrootcert: $t/ca.crt
    rewind:
      username: rewinder
      password: "$(secret rewinder)"
      sslmode: verify-full
      sslrootcert: $t/ca.crt
  parameters:
    unix_socket_directories: $state/$node
    ssl: "on"
    ssl_cert_file: $t/$node.crt
    ssl_key_file: $t/$node.key
    ssl_ca_file: $t/ca.crt
    password_encryption: scram-sha-256
    lc_messages: C
  pg_hba:
$hba
    - local all postgres peer
    - local replication postgres peer
    - hostssl replication replicator $net.0/24 scram-sha-256
    - hostssl all rewinder $net.0/24 scram-sha-256
    - hostssl all postgres $net.0/24 scram-sha-256
    - host all all 0.0.0.0/0 reject
tags:
  nofailover: false
  noloadbalance: false
YAML
  chown postgres: "$state/$node/patroni.yml"
  chmod 0600 "$state/$node/patroni.yml"
}

start_patroni() {
  local node=$1
  ip netns exec "$prefix$node" setpriv --reuid=postgres --regid=postgres --init-groups -- \
    env -C / HOME="$state/$node" patroni "$state/$node/patroni.yml" >>"$state/$node/patroni.log" 2>&1 </dev/null &
  echo $! >"$state/$node/patroni.pid"
}

# ------------------------------------------------------------------ queries on the cluster
rest() {  # rest NODE PATH [curl args]: Patroni's REST answer (from the node's own namespace)
  local node=$1 path=$2; shift 2
  in_ns "$node" curl -s -m 2 --cacert "$state/tls/ca.crt" "$@" "https://$(address "$node"):8008$path" || true
}
rest_command() {  # rest NODE PATH [--member] [--auth] [CURL ARGS]
  local node=${1:?rest NODE PATH} path=${2:?rest NODE PATH} member=() auth=false
  shift 2
  while [ $# -gt 0 ]; do
    case $1 in
      --member) member=(--cert "$state/$node/tls/$node.crt" --key "$state/$node/tls/$node.key") ;;
      --auth) auth=true ;;
      *) break ;;
    esac
    shift
  done
  if [ "$auth" = true ]; then
    printf 'user = "patroni:%s"\n' "$(cat "$state/secrets/restapi")" | rest "$node" "$path" "${member[@]}" -K - "$@"
  else
    rest "$node" "$path" "${member[@]}" "$@"
  fi
}
leader() {
  local node deadline=$((SECONDS + ${1:-60}))
  while [ $SECONDS -lt $deadline ]; do
    for node in "${nodes[@]}"; do
      pid_alive "$state/$node/patroni.pid" || continue
      # GET /primary answers 200 on the node that holds the leader key and runs as primary.
      [ "$(rest "$node" /primary -o /dev/null -w '%{http_code}')" = 200 ] &&
        { echo "$node"; return 0; }
    done
    sleep 0.5
  done
  return 1
}
psql_node() {  # psql_node NODE ARGS...: as postgres over the node's unix socket
  local node=$1; shift
  as postgres psql -X -q -v ON_ERROR_STOP=1 -h "$state/$node" -p 5432 -U postgres "$@"
}
wait_replica() {  # wait_replica NODE [SECONDS]: NODE streams from the leader
  local node=$1 deadline=$((SECONDS + ${2:-90})) l
  while [ $SECONDS -lt $deadline ]; do
    l=$(leader 5 || true)
    if [ -n "$l" ] && [ "$l" != "$node" ] &&
       [ "$(psql_node "$l" -d postgres -Atc "SELECT count(*) FROM pg_stat_replication WHERE application_name = '$node' AND state = 'streaming'" 2>/dev/null || true)" = 1 ]; then
      return 0
    fi
    sleep 1
  done
  return 1
}
wait_sync() {  # a synchronous standby is chosen: commits are acknowledged only once it has them
  local deadline=$((SECONDS + ${1:-60})) l
  while [ $SECONDS -lt $deadline ]; do
    l=$(leader 5 || true)
    [ -n "$l" ] && [ "$(psql_node "$l" -d postgres -Atc "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'" 2>/dev/null || true)" -ge 1 ] && return 0
    sleep 1
  done
  return 1
}
conninfo() {  # conninfo [runtime|owner]
  local role=$db hosts="" n pass=$state/secrets/app.pgpass
  [ "${1:-runtime}" = owner ] && role=${db}_owner
  for n in "${nodes[@]}"; do hosts+="${hosts:+,}$(address "$n")"; done
  echo "host=$hosts port=5432 dbname=$db user=$role sslmode=verify-full sslrootcert=$state/tls/ca.crt passfile=$pass target_session_attrs=read-write connect_timeout=2"
}

# ------------------------------------------------------------------ up
up() {
  [ "$(id -u)" = 0 ] || die "run as root (network namespaces)"
  [ -x "$pgbin/postgres" ] || die "PostgreSQL 15 server not found (deploy/dev/install-deps.sh ha)"
  command -v patroni >/dev/null && command -v etcd >/dev/null || die "patroni or etcd missing (deploy/dev/install-deps.sh ha)"
  id etcd >/dev/null 2>&1 && id postgres >/dev/null 2>&1 || die "the etcd and postgres accounts are missing"
  # What a crashed run left behind: this prefix's namespaces, links, processes, state.
  down
  install -d -m 0755 "$state"
  install -d -m 0700 "$state/secrets"
  network
  certificates
  local node
  for node in "${nodes[@]}"; do start_etcd "$node"; done
  say "etcd: 3 members on $(etcd_hosts)"
  for node in "${nodes[@]}"; do patroni_config "$node"; done
  # The first node bootstraps; the others join once it leads (they copy it by pg_basebackup).
  start_patroni db1
  local l
  l=$(leader 90) || { tail -n 30 "$state/db1/patroni.log" >&2; die "no leader within 90 s"; }
  start_patroni db2
  start_patroni db3
  wait_replica db2 && wait_replica db3 || { tail -n 20 "$state"/db[23]/patroni.log >&2; die "the replicas did not start streaming"; }
  [ "${HA_SYNCHRONOUS:-true}" = false ] || wait_sync || die "no synchronous standby"
  say "PostgreSQL: leader $l, replicas streaming, a synchronous standby chosen"

  # Roles and database by the project's script, on the leader (its unix socket).
  install -d -m 0700 "$state/secrets/kiva"
  "$root/deploy/prepare-db.sh" --instance "$instance" --app-host "$app_net" \
    --secrets-dir "$state/secrets/kiva" --pg-socket-dir "$state/$l" --pg-port 5432 >"$state/prepare-db.log" 2>&1 ||
    { cat "$state/prepare-db.log" >&2; die "prepare-db.sh failed"; }
  # The app side's password file: every node's address, both roles.
  local rpw opw
  rpw=$(head -n 1 "$state/secrets/kiva/$instance.runtime.password")
  opw=$(head -n 1 "$state/secrets/kiva/$instance.owner.password")
  (umask 077; : >"$state/secrets/app.pgpass"
   for node in "${nodes[@]}"; do
     printf '%s:5432:%s:%s:%s\n' "$(address "$node")" "$db" "$db" "$rpw" "$(address "$node")" "$db" "${db}_owner" "$opw"
   done >"$state/secrets/app.pgpass")
  # HA_SCHEMA=false: roles only, the caller creates the schema (make cluster: make deploy-init
  # through the read-write conninfo, as an operator would).
  if [ "${HA_SCHEMA:-true}" = false ]; then
    say "database $db: roles from prepare-db.sh (no schema: HA_SCHEMA=false); conninfo: $(conninfo)"
    return 0
  fi
  # The schema: the migrations' init script (what make deploy-init runs), as the owner role,
  # over TLS from the app side to the read-write node.
  install -d -m 0755 "$state/migrations"
  cp "$root"/examples/course/sql/migrations/*.sql "$state/migrations/"
  install -d -m 0755 "$state/kiva/migrations"
  cp "$root"/framework/sql/migrations/*.sql "$state/kiva/migrations/"
  init_script "$state/migrations" 0 "" "$state/kiva/migrations" ../kiva/migrations >"$state/migrations/init.psql"
  PGPASSFILE=$state/secrets/app.pgpass psql -X -q "$(conninfo owner)" -v ON_ERROR_STOP=1 \
    -v owner="${db}_owner" -v runtime="$db" -f "$state/migrations/init.psql" >"$state/init.log" 2>&1 ||
    { cat "$state/init.log" >&2; die "the schema's init script failed"; }
  say "database $db: roles and schema from prepare-db.sh and sql/migrations; conninfo: $(conninfo)"
}

fault() {
  case ${1:-} in
    db-primary)
      local l pg
      l=$(leader 60) || die "no leader to kill"
      pg=$(head -n 1 "$state/$l/data/postmaster.pid" 2>/dev/null || true)
      # Patroni first (it would restart PostgreSQL), then the postmaster and its children.
      kill -KILL "$(cat "$state/$l/patroni.pid")" 2>/dev/null || true
      if [ -n "$pg" ]; then
        kill -KILL "$pg" $(pgrep -P "$pg") 2>/dev/null || true
      fi
      echo "$l" >"$state/last-fault"
      echo "$l" ;;
    db-primary-back)
      [ -s "$state/last-fault" ] || die "no node was killed (fault db-primary first)"
      local node
      node=$(cat "$state/last-fault")
      pid_alive "$state/$node/patroni.pid" && die "$node runs already"
      # PostgreSQL processes of the killed node that outlived their postmaster would hold its
      # shared memory: they are in its namespace, and go first.
      local pid
      for pid in $(ip netns pids "$prefix$node"); do
        [ "$pid" = "$(cat "$state/$node/etcd.pid")" ] || kill -KILL "$pid" 2>/dev/null || true
      done
      start_patroni "$node"
      rm -f "$state/last-fault"
      echo "$node" ;;
    *) die "fault db-primary or db-primary-back" ;;
  esac
}

case $command in
  up) up ;;
  down) down ;;
  status) patronictl_ db1 list ;;
  leader) leader 60 ;;
  leader-address) address "$(leader 60)" ;;
  conninfo) conninfo "${1:-runtime}" ;;
  fault) fault "${1:-}" ;;
  wait-replica) wait_replica "${1:?wait-replica NODE}" ;;
  wait-sync) wait_sync 90 || die "no synchronous standby within 90 s" ;;
  psql) n=${1:?psql NODE}; shift; psql_node "$n" "$@" ;;
  rest) rest_command "$@" ;;
  *) die "unknown command $command (see --help)" ;;
esac
