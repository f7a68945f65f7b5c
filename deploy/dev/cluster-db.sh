# shellcheck shell=bash
# The database of `make cluster` (sourced by deploy/dev/cluster.sh): one PostgreSQL 15 in its
# own network namespace. This file is the one replaceable piece: another provider (the HA
# cluster of Patroni + etcd) defines the same three functions and the cluster does not change.
#
#   db_start NETNS ADDRESS PORT DIR CERT KEY   start "the database at ADDRESS:PORT" (TLS with
#             CERT/KEY, SCRAM), its unix socket in DIR; returns once it accepts connections
#   db_admin_args                              psql/prepare-db.sh options that reach it as the
#             superuser (prints: --pg-socket-dir DIR --pg-port PORT)
#   db_pg_hba                                  the pg_hba.conf file prepare-db.sh writes to
# It records its processes with cluster_started NAME PID (stopped by the cluster's cleanup).

db_dir="" db_port=""

db_start() {
  local netns=$1 address=$2 port=$3 dir=$4 cert=$5 key=$6 pgbin
  pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  db_dir=$dir db_port=$port
  install -d -o postgres -g postgres -m 0700 "$dir"
  (cd / && runuser -u postgres -- "$pgbin/initdb" -D "$dir/data" -U postgres --auth-local=peer \
    --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log") || die "initdb failed ($dir/initdb.log)"
  install -o postgres -g postgres -m 0600 "$cert" "$dir/server.crt"
  install -o postgres -g postgres -m 0600 "$key" "$dir/server.key"
  cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '$address'
port = $port
unix_socket_directories = '$dir'
ssl = on
ssl_cert_file = '$dir/server.crt'
ssl_key_file = '$dir/server.key'
ssl_min_protocol_version = 'TLSv1.2'
password_encryption = 'scram-sha-256'
max_connections = 100
EOF
  # A direct child (in the namespace), stopped by its pid.
  (cd / && exec ip netns exec "$netns" runuser -u postgres -- "$pgbin/postgres" -D "$dir/data") >"$dir/postgres.log" 2>&1 &
  cluster_started postgres $!
  local _
  for _ in $(seq 1 100); do
    (cd / && runuser -u postgres -- psql -X -q -h "$dir" -p "$port" -d postgres -Atc 'SELECT 1') >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  die "PostgreSQL did not start ($dir/postgres.log)"
}

db_admin_args() { printf -- '--pg-socket-dir %s --pg-port %s' "$db_dir" "$db_port"; }
db_pg_hba() { printf '%s' "$db_dir/data/pg_hba.conf"; }
