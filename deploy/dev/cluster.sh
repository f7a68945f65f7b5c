#!/bin/bash
# `make cluster`: the scaled-out topology of deploy/README.md ("Several application hosts") on
# this machine, in network namespaces it creates, deployed with the shipped scripts, served at
# http://127.0.0.1:$CLUSTER_PORT/api in the foreground until Ctrl-C or SIGTERM, which removes
# every namespace, process, user and file it made (a start removes the leftovers of a crash).
#
#   deploy/dev/cluster.sh up            build, deploy and serve (as root)
#   deploy/dev/cluster.sh status        each host's workers (HTTP and jobs) and its balancer state
#   deploy/dev/cluster.sh fault NAME    into the running cluster: app1, app1-back (any appN),
#                                       redis, redis-back, db-primary, db-primary-back (the
#                                       HA database; fault_NAME functions below)
#   deploy/dev/cluster.sh down          remove what a crashed run left
#
# Environment: CLUSTER_DB (ha: three PostgreSQL nodes under Patroni + etcd, deploy/ha/db-cluster.sh;
# single: one PostgreSQL, deploy/dev/cluster-db.sh), CLUSTER_PORT (8081), CLUSTER_APPS (2), CLUSTER_TOKEN_KEYS (a key set file to use,
# else one key made here), KIVA_CLUSTER_CONF (extra lines for the
# deploy configuration, e.g. CONF_auth_max_failures=1000000: the tests), CLUSTER_ENV (NAME=VALUE
# words in the environment of every host's workers, as `systemctl set-environment`: e.g.
# COURSE_TALLY_SECONDS=3, the demo's periodic tally the test counts), ALLOW_DIRTY (1 here:
# a working tree with changes is deployed as -dirty), KIVA_SKIP_UNIT_TESTS.
# Each application host runs the HTTP worker (kiva@.service, socket-activated) and the jobs
# worker (kiva-jobs@.service, `kiva --jobs`), both started and restarted by make deploy.
# Everything is named kc-* (namespaces, veths, bridge), addressed in 10.77.0.0/16 only, and
# nothing has a route elsewhere. One topology at a time on a machine: the flock below.
set -euo pipefail
KIVA_TOOL=cluster
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/deploy/lib/common.sh"
. "$root/deploy/dev/cluster-db.sh"
# A command that stops the script (set -e) names itself: a CI run once saw only a silent exit.
set -E
trap 'rc=$?; ((BASH_SUBSHELL)) || say "error: line $LINENO exited $rc: $BASH_COMMAND"' ERR

ns=kc                                   # prefix of every namespace and link
state=/var/tmp/kiva-cluster-$ns         # below no private directory: every account reads it
instance=kiva-kc
db=$(sql_name "$instance")
port=${CLUSTER_PORT:-8081}
apps=${CLUSTER_APPS:-2}
bridge_ip=10.77.0.1 db_ip=10.77.2.1 redis_ip=10.77.3.1
cluster_db=${CLUSTER_DB:-ha}
[ "$cluster_db" = ha ] || [ "$cluster_db" = single ] || die "CLUSTER_DB is ha or single"
ha_net=10.77.4 ha_nodes="10.77.4.11,10.77.4.12,10.77.4.13"
# ha ARGS: deploy/ha/db-cluster.sh on this cluster's bridge, for this instance.
ha() {
  "$root/deploy/ha/db-cluster.sh" --prefix "$ns-h" --net "$ha_net" --bridge "$ns-br0" \
    --state "$state/ha" --instance "$instance" --app-net 10.77.1.0/24 "$@"
}
db_hosts() { if [ "$cluster_db" = ha ]; then echo "$ha_nodes"; else echo "$db_ip"; fi; }
app_ip() { printf '10.77.1.%s' "$1"; }
lock=/run/lock/kiva-topology.lock

[ "$(id -u)" = 0 ] || die "run as root (namespaces, users, sshd)"
[[ "$apps" =~ ^[2-9]$ ]] || die "CLUSTER_APPS is 2 to 9"

cluster_started() { echo "$2" >"$state/pids/$1"; disown "$2" 2>/dev/null || true; }
pid_of() { cat "$state/pids/$1" 2>/dev/null || true; }
stop_pid() {  # stop_pid NAME [SIGNAL]: one of ours, by its recorded pid
  local pid; pid=$(pid_of "$1")
  [ -n "$pid" ] || return 0
  kill -"${2:-TERM}" "$pid" 2>/dev/null || true
  local _; for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$state/pids/$1"
}
# on HOST CMD...: runs CMD on a simulated application host (its network and mount namespace).
on() { local h=$1; shift; nsenter -t "$(pid_of "host-$h")" -m -n -- "$@"; }

# ------------------------------------------------------------------ teardown
down() {
  local n pid f pids=()
  # The HA database's own teardown first (its daemons, namespaces, links and state).
  if [ -d "$state/ha" ]; then ha down >/dev/null 2>&1 || true; fi
  # Every recorded process at once (PostgreSQL: SIGINT, its fast shutdown), then what is left.
  if [ -d "$state/pids" ]; then
    for f in "$state"/pids/*; do
      [ -e "$f" ] || continue
      pid=$(cat "$f"); pids+=("$pid")
      case $(basename "$f") in postgres) kill -INT "$pid" 2>/dev/null || true ;; *) kill -TERM "$pid" 2>/dev/null || true ;; esac
    done
    for _ in $(seq 1 50); do
      n=0; for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && n=1; done
      [ $n = 0 ] && break; sleep 0.1
    done
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  fi
  # Whatever still runs in our namespaces was started by us (workers, ssh sessions).
  for n in $(ip netns list | awk '{print $1}' | grep "^$ns-" || true); do
    for pid in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
  done
  sleep 0.2
  for n in $(ip netns list | awk '{print $1}' | grep "^$ns-" || true); do ip netns del "$n" 2>/dev/null || true; done
  for n in $(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep "^$ns-" || true); do
    ip link del "$n" 2>/dev/null || true
  done
  for u in "$instance" "$instance-deploy"; do
    if id "$u" >/dev/null 2>&1; then
      for pid in $(pgrep -u "$u" 2>/dev/null || true); do kill -KILL "$pid" 2>/dev/null || true; done
      userdel "$u" 2>/dev/null || true
    fi
    getent group "$u" >/dev/null && groupdel "$u" 2>/dev/null || true
    rmdir "/home/$u" 2>/dev/null || true     # the mount point (each host's own is in $state)
  done
  rm -f "/etc/logrotate.d/kiva-$instance"
  rm -rf "$state"
}

# ------------------------------------------------------------------ faults
# fault_NAME: one function per fault.
fault_app() {  # fault_app N: SIGKILL the host's workers (HTTP and jobs), stop its nginx
  local h=app$1 pid
  say "fault $h: SIGKILL its workers, stop its nginx"
  stop_pid "nginx-$h" TERM
  for pid in $(ip netns pids "$ns-$h"); do
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = kiva ] && kill -KILL "$pid" 2>/dev/null || true
  done
  return 0
}
running() { local pid; pid=$(pid_of "$1"); [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }
fault_app_back() {
  if running "nginx-app$1"; then say "app$1's nginx runs already"; return 0; fi
  say "fault app$1-back: nginx started again (the supervisor restarted the workers: the jobs worker after 1 s, the HTTP one at the next connection)"; start_nginx "app$1"
}
# The HA database (CLUSTER_DB=ha): deploy/ha/db-cluster.sh does the killing and the rejoining.
fault_db_primary() { ha fault db-primary >/dev/null; say "fault db-primary: the primary's Patroni and PostgreSQL killed (SIGKILL); Patroni promotes the synchronous standby"; }
fault_db_primary_back() { ha fault db-primary-back; say "fault db-primary-back: the old primary rejoins as a replica"; }
fault_redis() { say "fault redis: Redis stopped"; stop_pid redis TERM; }
fault_redis_back() {
  if running redis; then say "Redis runs already"; return 0; fi
  say "fault redis-back: Redis started again"; start_redis
}

fault() {
  local name=${1:-}
  [ -e "$state/serving" ] || die "no cluster is running (make cluster)"
  case $name in
    app[1-9]) fault_app "${name#app}" ;;
    app[1-9]-back) fault_app_back "$(tr -dc 0-9 <<<"$name")" ;;
    *) local f="fault_${name//-/_}"
       [[ "$name" =~ ^[a-z0-9-]+$ ]] && declare -F "$f" >/dev/null ||
         die "unknown fault '$name' (app1, app1-back, ..., redis, redis-back)"
       "$f" ;;
  esac
}

# ------------------------------------------------------------------ pieces
netns_host() {  # netns_host NAME ADDRESS: a namespace on the bridge, no default route
  local n=$ns-$1
  ip netns add "$n"
  ip link add "$n-h" type veth peer name eth0 netns "$n"
  ip link set "$n-h" master "$ns-br0" up
  ip netns exec "$n" ip addr add "$2/16" dev eth0
  ip netns exec "$n" ip link set eth0 up
  ip netns exec "$n" ip link set lo up
}

certificates() {
  local d=$state/tls sans="IP:$db_ip,IP:$redis_ip,DNS:localhost,IP:127.0.0.1" i
  for i in $(seq 1 "$apps"); do sans+=",IP:$(app_ip "$i")"; done
  install -d -m 0755 "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=kiva cluster CA" \
    -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=kiva cluster" \
    -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$sans" >"$d/ext.cnf"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
    -extfile "$d/ext.cnf" -out "$d/server.crt" 2>/dev/null
  chmod 0600 "$d/ca.key" "$d/server.key"; chmod 0644 "$d/ca.crt" "$d/server.crt"
}

start_redis() {
  local d=$state/redis
  (cd / && exec ip netns exec "$ns-redis" runuser -u redis -- redis-server "$d/redis.conf") >>"$d/redis.log" 2>&1 &
  cluster_started redis $!
  local _; for _ in $(seq 1 50); do
    ip netns exec "$ns-redis" bash -c "exec 3<>/dev/tcp/$redis_ip/6379" 2>/dev/null && return 0; sleep 0.1
  done
  die "Redis did not start ($d/redis.log)"
}

redis() {  # Debian's redis-server, its own configuration, the password from a file
  local d=$state/redis
  install -d -o redis -g redis -m 0750 "$d"
  (umask 077 && openssl rand -hex 24 >"$state/secrets/redis.password")
  (umask 077 && printf 'requirepass %s\n' "$(cat "$state/secrets/redis.password")" >"$d/password.conf")
  chown redis: "$d/password.conf"
  cat >"$d/redis.conf" <<EOF
bind $redis_ip
port 6379
protected-mode yes
daemonize no
supervised no
dir $d
save ""
appendonly no
maxmemory 64mb
maxmemory-policy volatile-ttl
include $d/password.conf
EOF
  start_redis
}

start_host() {  # start_host appN: the host's own mount namespace, kept by a holder process
  local h=$1 d=$state/$1
  install -d -m 0755 "$d" "$d/home" "$d/deploy-home" "$d/run-kiva"
  (cd / && exec ip netns exec "$ns-$h" unshare -m --propagation private sh -c "
mount --bind '$d/home' /home/$instance && mount --bind '$d/deploy-home' /home/$instance-deploy &&
mount --bind '$d/run-kiva' /run/kiva && exec sleep infinity") &
  cluster_started "host-$h" $!
  local _; for _ in $(seq 1 50); do
    on "$h" mountpoint -q /run/kiva 2>/dev/null && return 0; sleep 0.1
  done
  die "the mount namespace of $h is not ready"
}

prepare_host() {  # prepare-target.sh, sshd, the supervisor of the shipped units
  local h=$1 d=$state/$1 ip=$2
  on "$h" "$root/deploy/prepare-target.sh" --instance "$instance" --db-host "$(db_hosts)" --db-port 5432 \
    --db-password-file "$state/secrets/$instance.runtime.password" \
    --authorized-key "$state/deployer/id_ed25519.pub" --cache-password-file "$state/secrets/redis.password" \
    --no-packages >"$d/prepare-target.log" 2>&1 || { cat "$d/prepare-target.log" >&2; die "prepare-target.sh failed on $h"; }
  install -d -m 0700 "$d/sshd"
  ssh-keygen -q -t ed25519 -N "" -f "$d/sshd/host_key"
  cat >"$d/sshd/sshd_config" <<EOF
ListenAddress $ip
Port 22
HostKey $d/sshd/host_key
PidFile none
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
AllowUsers $instance-deploy
UsePAM no
X11Forwarding no
AllowTcpForwarding no
PermitTTY no
EOF
  install -d -m 0755 /run/sshd
  nsenter -t "$(pid_of "host-$h")" -m -n -- /usr/sbin/sshd -D -f "$d/sshd/sshd_config" -E "$d/sshd/sshd.log" &
  cluster_started "sshd-$h" $!
  # Both units, kiva@ and kiva-jobs@ (started by the deploy's JOBS_RESTART_COMMAND); their
  # lines go to worker.log, the jobs worker's prefixed "job NAME#ID:".
  local setenv=() v
  for v in ${CLUSTER_ENV:-}; do
    [[ "$v" =~ ^[A-Z_][A-Z0-9_]*=[^[:space:]]*$ ]] || die "CLUSTER_ENV: '$v' is not NAME=VALUE"
    setenv+=(--setenv "$v")
  done
  nsenter -t "$(pid_of "host-$h")" -m -n -- python3 "$state/fake_systemd.py" run --units "$root/deploy/systemd" \
    --instance "$instance" --control "/run/kiva/$instance.control" --control-group "$instance-deploy" \
    --log "$d/worker.log" "${setenv[@]}" >"$d/supervisor.log" 2>&1 &
  cluster_started "supervisor-$h" $!
}

start_nginx() {
  local h=$1 d=$state/$1/nginx
  nsenter -t "$(pid_of "host-$h")" -m -n -- nginx -p "$d" -c "$d/nginx.conf" -g 'daemon off;' >>"$d/stdout.log" 2>&1 &
  cluster_started "nginx-$h" $!
}

web_server() {  # the shipped nginx site, rendered for the host's address
  local h=$1 ip=$2 d=$state/$1/nginx
  install -d -m 0755 "$d" "$d/log" "$d/tmp"
  "$root/deploy/render-site.sh" --instance "$instance" --server-name "$ip" --cert "$state/tls/server.crt" \
    --key "$state/tls/server.key" --out "$d/render" --listen-address "$ip" --body-limit 1M \
    --nginx-api-conf "$d/nginx-api.conf" --nginx-log-dir "$d/log" --metrics-allow "$bridge_ip/32" >/dev/null 2>&1
  cp "$d/render/nginx-site.conf" "$d/nginx-site.conf"; cp "$d/render/nginx-api.conf" "$d/nginx-api.conf"
  cat >"$d/nginx.conf" <<EOF
user www-data www-data;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/log/error.log warn;
events { worker_connections 512; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    client_body_temp_path $d/tmp/body;
    fastcgi_temp_path $d/tmp/fastcgi;
    proxy_temp_path $d/tmp/proxy;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    include $d/nginx-site.conf;
}
EOF
  on "$h" nginx -t -q -p "$d" -c "$d/nginx.conf" || die "nginx -t failed on $h"
  start_nginx "$h"
}

balancer() {  # HAProxy on the root namespace: the edge, the only published port
  local d=$state/haproxy i
  install -d -m 0755 "$d"
  local servers=""
  for i in $(seq 1 "$apps"); do
    servers+=$(printf '    server app%s %s:443 ssl verify required ca-file %s check inter 1s fall 2 rise 2' "$i" "$(app_ip "$i")" "$state/tls/ca.crt")$'\n'
  done
  sed -e "s|@PORT@|$port|g" -e "s|@DIR@|$d|g" -e "s|@CA@|$state/tls/ca.crt|g" "$root/deploy/haproxy/kiva.cfg.in" |
    SERVERS=$servers awk '$0 == "    # @SERVERS@" { printf "%s", ENVIRON["SERVERS"]; next } { print }' >"$d/haproxy.cfg"
  haproxy -c -q -f "$d/haproxy.cfg" || die "haproxy -c failed ($d/haproxy.cfg)"
  haproxy -W -db -f "$d/haproxy.cfg" >"$d/haproxy.log" 2>&1 &
  cluster_started haproxy $!
}

deploy_conf() {
  local targets="" i extra
  for i in $(seq 1 "$apps"); do targets+=" app$i=$(app_ip "$i")"; done
  # The worker's Redis client (cache, cache_password_file), and a rate limit far above what the
  # load steps send: the cluster test checks that both hosts count one client together (in
  # Redis). No probe of the binary here: make deploy builds it after this file is written.
  extra="CONF_cache=redis://$redis_ip:6379/0"$'\n'"CONF_rate_limit=1000000/1d"
  local database="host=$db_ip port=5432 dbname=$db user=$db sslmode=verify-full sslrootcert=$state/tls/ca.crt"
  # The HA database: every node, the read-write one wins (libpq), each tried for 2 s at most.
  [ "$cluster_db" = single ] || database="host=$ha_nodes port=5432 dbname=$db user=$db sslmode=verify-full sslrootcert=$state/ha/tls/ca.crt target_session_attrs=read-write connect_timeout=2"
  # ... and the queries marked `-- kiva: replica` on a standby of the same nodes.
  [ "$cluster_db" = single ] || extra+=$'\n'"CONF_db_replica=${database/read-write/prefer-standby}"
  cat >"$state/deployer/deploy.conf" <<EOF
# The deploy configuration of make cluster (deploy/dev/cluster.sh writes it).
INSTANCE=$instance
TARGETS=${targets# }
SSH_OPTIONS=-i $state/deployer/id_ed25519 -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=$state/deployer/known_hosts
DATABASE=$database
DB_OWNER_PASSWORD_FILE=$state/secrets/$instance.owner.password
TOKEN_KEYS_FILE=$state/deployer/token.keys
RESTART_COMMAND=python3 $state/fake_systemd.py restart --control /run/kiva/$instance.control
# The jobs worker (kiva-jobs@.service): SIGTERM, its running jobs finish, the new binary starts.
JOBS_RESTART_COMMAND=python3 $state/fake_systemd.py restart-jobs --control /run/kiva/$instance.control
HEALTH_URL=https://{host}/api/health
HEALTH_CA=$state/tls/ca.crt
DRAIN_COMMAND=$root/deploy/haproxy-server.sh $state/haproxy/admin.sock kiva,kiva-degraded/{name} drain
UNDRAIN_COMMAND=$root/deploy/haproxy-server.sh $state/haproxy/admin.sock kiva,kiva-degraded/{name} ready
DRAIN_SECONDS=2
THREADS=4
CONF_password_cost=4
CONF_token_delay=10m
$extra
${KIVA_CLUSTER_CONF:-}
EOF
}

deploy() {  # deploy/deploy.sh ARGS: the real script, from the root namespace (the deployer)
  ALLOW_DIRTY=${ALLOW_DIRTY:-1} DEPLOY_CONF=$state/deployer/deploy.conf "$root/deploy/deploy.sh" "$@"
}

# ------------------------------------------------------------------ up
up() {
  exec {lock_fd}>"$lock"
  if ! flock -n "$lock_fd"; then
    say "waiting for another topology on this machine ($lock)"
    flock -w 900 "$lock_fd" || die "$lock stayed taken for 15 minutes"
  fi
  down   # a crashed run's leftovers
  trap 'say "stopping: removing every namespace, process and file of the cluster"; rm -f "$state/serving"; down; exit 0' INT TERM
  trap 'rc=$?; [ -e "$state/pids" ] && down; exit $rc' EXIT
  install -d -m 0755 "$state" "$state/pids"
  install -d -m 0700 "$state/secrets" "$state/deployer"
  cp "$root/tests/deploy/fake_systemd.py" "$state/fake_systemd.py"; chmod 0755 "$state/fake_systemd.py"
  for u in "$instance" "$instance-deploy"; do install -d -m 0755 "/home/$u"; done
  install -d -m 0755 /run/kiva

  say "network: bridge $ns-br0 ($bridge_ip/16), namespaces $ns-db, $ns-redis, $ns-app1..$apps"
  ip link add "$ns-br0" type bridge
  ip addr add "$bridge_ip/16" dev "$ns-br0"
  ip link set "$ns-br0" up
  netns_host db "$db_ip"; netns_host redis "$redis_ip"
  for i in $(seq 1 "$apps"); do netns_host "app$i" "$(app_ip "$i")"; done
  certificates

  if [ "$cluster_db" = ha ]; then
    say "database: three PostgreSQL nodes under Patroni + etcd at $ha_nodes (deploy/ha/db-cluster.sh; roles by prepare-db.sh)"
    HA_SCHEMA=false ha up >"$state/ha-up.log" 2>&1 || { tail -n 30 "$state/ha-up.log" >&2; die "the HA database did not start"; }
    # The nodes are a /24 on our /16 bridge: the app hosts' /16 is on the same link.
    local n
    for n in db1 db2 db3; do ip -n "$ns-h$n" route add 10.77.0.0/16 dev eth0; done
    install -m 0600 "$state/ha/secrets/kiva/$instance.runtime.password" "$state/ha/secrets/kiva/$instance.owner.password" "$state/secrets/"
  else
    say "database: PostgreSQL at $db_ip:5432 (TLS), prepared by deploy/prepare-db.sh"
    db_start "$ns-db" "$db_ip" 5432 "$state/pg" "$state/tls/server.crt" "$state/tls/server.key"
    local hosts=() i
    for i in $(seq 1 "$apps"); do hosts+=(--app-host "$(app_ip "$i")"); done
    # shellcheck disable=SC2046
    "$root/deploy/prepare-db.sh" --instance "$instance" "${hosts[@]}" --pg-hba "$(db_pg_hba)" \
      --secrets-dir "$state/secrets" $(db_admin_args) --runtime-connections 40 >"$state/prepare-db.log" 2>&1 ||
      { cat "$state/prepare-db.log" >&2; die "prepare-db.sh failed"; }
  fi

  say "cache: Redis at $redis_ip:6379 (password from a file)"
  redis

  say "the deployer's key, the token key set (one file here, uploaded to every host by make deploy)"
  ssh-keygen -q -t ed25519 -N "" -C "kiva cluster deployer" -f "$state/deployer/id_ed25519"
  if [ -n "${CLUSTER_TOKEN_KEYS:-}" ]; then install -m 0600 "$CLUSTER_TOKEN_KEYS" "$state/deployer/token.keys"
  else (umask 077 && echo "k1 $(openssl rand -hex 32)" >"$state/deployer/token.keys"); fi

  for i in $(seq 1 "$apps"); do
    say "app$i at $(app_ip "$i"): prepare-target.sh, sshd, the worker's supervisor, nginx"
    start_host "app$i"
    prepare_host "app$i" "$(app_ip "$i")"
    web_server "app$i" "$(app_ip "$i")"
  done

  say "balancer: HAProxy on 127.0.0.1:$port"
  balancer
  deploy_conf
  say "deploy-init (demo data) and a rolling deploy with deploy/deploy.sh (log: $state/deploy.log)"
  { DEMO_DATA=1 deploy init && deploy deploy; } >"$state/deploy.log" 2>&1 ||
    { tail -n 40 "$state/deploy.log" >&2; die "the deploy failed ($state/deploy.log)"; }
  local _
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/api/health" && break; sleep 0.2
  done
  curl -fsS "http://127.0.0.1:$port/api/version" >/dev/null || die "the balancer does not answer"
  touch "$state/serving"
  say "serving http://127.0.0.1:$port/api ($apps application hosts behind HAProxy; state $state; deploy configuration $state/deployer/deploy.conf); Ctrl-C stops"
  while :; do sleep 1 & wait $! || true; done
}

# ------------------------------------------------------------------ status
status() {  # per host: nginx, the HTTP worker and the jobs worker (the supervisor's status), the balancer
  [ -e "$state/serving" ] || die "no cluster is running (make cluster)"
  local d h stat
  stat=$(socat -t 5 stdio "UNIX-CONNECT:$state/haproxy/admin.sock" <<<"show stat" 2>/dev/null || true)
  for d in "$state"/app[1-9]; do
    h=$(basename "$d")
    python3 - "$h" "$d/run-kiva/$instance.control/status.json" "$(running "nginx-$h" && echo up || echo down)" \
      "$(awk -F, -v h="$h" '$1 == "kiva" && $2 == h {print $18}' <<<"$stat")" <<'EOF'
import json, os, sys
host, path, nginx, balancer = sys.argv[1:]
try:
    s = json.load(open(path))
except (OSError, ValueError):
    s = {}
def proc(pid, starts):
    alive = pid and os.path.exists(f"/proc/{pid}")
    return (f"pid {pid}" if alive else "not running") + f" ({starts or 0} starts)"
print(f"{host}: nginx {nginx}; kiva (HTTP) {proc(s.get('pid'), s.get('starts'))}; "
      f"kiva --jobs {proc(s.get('jobs_pid'), s.get('jobs_starts'))}; balancer {balancer or '?'}")
EOF
  done
}

case ${1:-} in
  up) up ;;
  status) status ;;
  fault) shift; fault "$@" ;;
  down) down ;;
  *) die "usage: deploy/dev/cluster.sh up|status|fault NAME|down" ;;
esac
