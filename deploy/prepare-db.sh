#!/bin/bash
# One-time preparation of the database server for a kiva instance, run as root on that
# server (or as any account for which the --psql command connects as a superuser).
# Idempotent: it creates what is missing, re-applies privileges and limits, keeps passwords.
#
# Usage: deploy/prepare-db.sh --instance NAME --app-host ADDRESS... [options]
#   --instance NAME           database NAME (- as _), roles NAME and NAME_owner (- as _)
#   --app-host ADDRESS        an application server, as pg_hba sees it (10.0.0.5 or 10.0.0.5/32);
#                             repeat for several: with --pg-hba, the hosts already admitted
#                             in the instance's block are kept (added to, never dropped)
#   --drop-app-host ADDRESS   remove this host from the instance's block (repeatable); the
#                             only way a host leaves it
#   --pg-hba FILE             put the instance's rules at the top of this pg_hba.conf (a block
#                             between BEGIN/END markers, rewritten when run again; a backup is
#                             kept) and reload; without it, the lines to add are printed
#   --secrets-dir DIR         where generated passwords are kept (/root/kiva-secrets, 0700)
#   --runtime-password-file F use this password for the runtime role (else generated once)
#   --owner-password-file F   use this password for the owner role (else generated once)
#   --runtime-connections N   the runtime role's connection limit (30)
#   --fcgid-site FILE         an instance's rendered apache-fcgid.conf (render-site.sh): its pool
#                             (FcgidMaxProcessesPerClass, one connection per process) must fit
#                             in N; render-site.sh --runtime-connections N checks the same
#   --pg-socket-dir DIR --pg-port PORT   where the cluster listens (Debian's defaults)
#   --psql-user USER          the superuser account that runs psql (postgres), via runuser
# Afterwards: give SECRETS/NAME.runtime.password to deploy/prepare-target.sh on the app server
# (--db-password-file) and SECRETS/NAME.owner.password to the deployers (DB_OWNER_PASSWORD_FILE).
set -euo pipefail
KIVA_TOOL=prepare-db
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$here/lib/common.sh"

usage() { print_header "$0"; exit "${1:-0}"; }
instance="" pg_hba=""
app_hosts=() drop_hosts=()
hosts_before=() secrets=/root/kiva-secrets runtime_pw_file="" owner_pw_file=""
connections=30 socket_dir="" port="" psql_user=postgres fcgid_site=""
while [ $# -gt 0 ]; do
  case $1 in
    -h|--help) usage 0 ;;
    --*) [ $# -ge 2 ] || die "$1 needs a value" ;;
    *) die "unexpected argument '$1' (see --help)" ;;
  esac
  case $1 in
    --instance) instance=$2 ;;
    --app-host) app_hosts+=("$2") ;;
    --drop-app-host) drop_hosts+=("$2") ;;
    --pg-hba) pg_hba=$2 ;;
    --secrets-dir) secrets=$2 ;;
    --runtime-password-file) runtime_pw_file=$2 ;;
    --owner-password-file) owner_pw_file=$2 ;;
    --runtime-connections) connections=$2 ;;
    --fcgid-site) fcgid_site=$2 ;;
    --pg-socket-dir) socket_dir=$2 ;;
    --pg-port) port=$2 ;;
    --psql-user) psql_user=$2 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift 2
done
[ -n "$instance" ] && [ $((${#app_hosts[@]} + ${#drop_hosts[@]})) -gt 0 ] ||
  die "--instance and --app-host (or --drop-app-host) are required (see --help)"
check_instance "$instance"
# host_cidr ADDRESS: the address as pg_hba writes it (/32, /128 added when missing).
host_cidr() {
  local h=$1
  [[ "$h" =~ ^[0-9a-fA-F.:]+(/[0-9]+)?$ ]] || die "bad app host '$h' (an IP address, optionally /mask)"
  [[ "$h" == */* ]] || { [[ "$h" == *:* ]] && h="$h/128" || h="$h/32"; }
  printf '%s' "$h"
}
for i in "${!app_hosts[@]}"; do app_hosts[i]=$(host_cidr "${app_hosts[i]}"); done
for i in "${!drop_hosts[@]}"; do drop_hosts[i]=$(host_cidr "${drop_hosts[i]}"); done
[[ "$connections" =~ ^[0-9]+$ ]] || die "bad --runtime-connections '$connections'"
# Under mod_fcgid every process of the pool holds a connection, all the time (the pool is kept
# full), and a deploy runs two pools for a few seconds (the new one is filled before the old one
# stops): the limit must cover twice the pool, or the last processes fail to start.
if [ -n "$fcgid_site" ]; then
  [ -r "$fcgid_site" ] || die "cannot read $fcgid_site"
  pool=$(awk '$1 == "FcgidMaxProcessesPerClass" {print $2; exit}' "$fcgid_site")
  [[ "$pool" =~ ^[0-9]+$ ]] || die "$fcgid_site has no FcgidMaxProcessesPerClass (not a rendered apache-fcgid.conf?)"
  [ $((2 * pool)) -le "$connections" ] ||
    die "the mod_fcgid pool of $fcgid_site is $pool processes, $((2 * pool)) during a deploy, over --runtime-connections $connections: raise it to $((2 * pool)) or more (or lower the pool: render-site.sh --fcgid-max-processes)"
  say "the mod_fcgid pool ($pool processes, twice that during a deploy, $fcgid_site) fits in the runtime role's $connections connections"
else
  say "under Apache mod_fcgid, --runtime-connections must cover the pool (render-site.sh --runtime-connections $connections checks it; --fcgid-site FILE checks it here)"
fi

db=$(sql_name "$instance")
runtime=$db
owner=${db}_owner

# psql as the superuser account, from / (that account may not enter the directory this runs
# from, e.g. a clone in /root: psql would warn "could not change directory" on every call).
psql_admin() {
  local args=(psql -X -q -v ON_ERROR_STOP=1 ${socket_dir:+-h "$socket_dir"} ${port:+-p "$port"} "$@")
  if [ "$(id -un)" = "$psql_user" ]; then "${args[@]}"; else (cd / && runuser -u "$psql_user" -- "${args[@]}"); fi
}
psql_admin -d postgres -Atc "SELECT 1" >/dev/null ||
  die "cannot connect to PostgreSQL as $psql_user (is the server running? --pg-socket-dir/--pg-port?)"

# ------------------------------------------------------------------ passwords
install -d -m 0700 "$secrets"
# password_for ROLE GIVEN_FILE: the password file to use (given, kept from before, or new).
password_for() {
  local kind=$1 given=$2 file=$secrets/$instance.$1.password
  if [ -n "$given" ]; then
    [ -r "$given" ] || die "cannot read $given"
    [ -s "$given" ] || die "$given is empty"
    if [ "$(realpath "$given")" != "$(realpath -m "$file")" ]; then
      (umask 077 && head -n 1 "$given" >"$file")
    fi
  elif [ -s "$file" ]; then
    say "$kind password: kept from $file" >&2
  else
    say "$kind password: generated into $file" >&2
    (umask 077 && openssl rand -base64 33 | tr -d '/+=\n' | head -c 32 >"$file" && echo >>"$file")
  fi
  chmod 0600 "$file"
  printf '%s' "$file"
}
runtime_pw=$(password_for runtime "$runtime_pw_file")
owner_pw=$(password_for owner "$owner_pw_file")
# A psql \set argument in single quotes: ' doubled, \ escaped.
psql_quote() { local v; v=$(head -n 1 "$1"); v=${v//\\/\\\\}; v=${v//\'/\'\'}; printf "'%s'" "$v"; }

# ------------------------------------------------------------------ roles and database
say "roles $owner (owner) and $runtime (runtime, $connections connections), database $db"
# The passwords go to psql on its standard input, never on a command line.
{
  printf '\\set owner_password %s\n' "$(psql_quote "$owner_pw")"
  printf '\\set runtime_password %s\n' "$(psql_quote "$runtime_pw")"
  cat "$here/postgres/roles.sql"
} | psql_admin -d postgres -v database="$db" -v owner="$owner" -v runtime="$runtime" \
      -v runtime_connections="$connections" -f - >/dev/null ||
  die "deploy/postgres/roles.sql failed (above)"

ssl=$(psql_admin -d postgres -Atc "SHOW ssl")
[ "$ssl" = on ] || warn "ssl is off on this server: the app roles are only allowed over TLS (hostssl); set ssl = on"
enc=$(psql_admin -d postgres -Atc "SHOW password_encryption")
[ "$enc" = scram-sha-256 ] || warn "password_encryption is $enc: scram-sha-256 is expected"

# Every instance's roles on this server together, against what it accepts: a connection
# over max_connections is refused however the limits are set (reserved ones are superusers').
read -r max_conn reserved limits roles_list < <(psql_admin -d postgres -At -F ' ' -c "SELECT
  current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int,
  coalesce(sum(rolconnlimit), 0), coalesce(string_agg(rolname || '=' || rolconnlimit, ',' ORDER BY rolname), '-')
  FROM pg_roles WHERE rolcanlogin AND NOT rolsuper AND rolconnlimit > 0")
if [ "$limits" -gt $((max_conn - reserved)) ]; then
  warn "the connection limits of the roles add up to $limits ($roles_list), over max_connections = $max_conn minus $reserved reserved: raise max_connections (postgresql.conf, restart) or lower --runtime-connections"
else
  say "connection limits: $limits of max_connections = $max_conn ($reserved reserved for superusers)"
fi
listen=$(psql_admin -d postgres -Atc "SHOW listen_addresses")
for app_host in "${app_hosts[@]}"; do
case "$app_host,$listen" in
  127.*,*|::1*,*|*,\*|*,0.0.0.0*) ;;
  *,|*,localhost|*,127.0.0.1|*,::1) warn "listen_addresses = '$listen': the application server $app_host cannot connect (set it to this host's address on the app network, restart)" ;;
esac
done

# ------------------------------------------------------------------ pg_hba
begin="# BEGIN kiva instance $instance "
end="# END kiva instance $instance"
# The hosts the instance's block admits now (a rerun for one more host keeps the others).
if [ -n "$pg_hba" ] && [ -f "$pg_hba" ]; then
  mapfile -t hosts_before < <(awk -v b="$begin" -v e="$end" -v db="$db" \
    'index($0, b) == 1 {inside = 1} inside && $1 == "hostssl" && $2 == db {print $4} $0 == e {inside = 0}' "$pg_hba")
fi
hosts=()
for h in "${hosts_before[@]}" "${app_hosts[@]}"; do
  [[ " ${hosts[*]} " == *" $h "* ]] && continue
  [[ " ${drop_hosts[*]} " == *" $h "* ]] && continue
  hosts+=("$h")
done
for h in "${drop_hosts[@]}"; do
  [[ " ${hosts_before[*]} " == *" $h "* ]] && say "dropping the application server $h from the rules of $instance" ||
    warn "--drop-app-host $h: not among the hosts of $instance (${hosts_before[*]:-none})"
done
[ ${#hosts[@]} -gt 0 ] || die "no application server would be left in the rules of $instance (drop the instance's block by hand if that is meant)"
say "application servers admitted: ${hosts[*]}"
# One hostssl line per application server, from the template's @APP_HOST@ line.
template=$(mktemp)
awk -v hosts="${hosts[*]}" '/@APP_HOST@/ {n = split(hosts, h, " "); for (i = 1; i <= n; i++) {line = $0; gsub(/@APP_HOST@/, h[i], line); print line}; next} {print}' \
  "$here/postgres/pg_hba.conf.in" >"$template"
block=$(render "$template" "INSTANCE=$instance" "DATABASE=$db" "RUNTIME=$runtime" \
  "OWNER=$owner" "APP_HOSTS=${hosts[*]}")
rm -f "$template"
if [ -z "$pg_hba" ]; then
  say "add these lines at the top of pg_hba.conf (before any other rule), then reload PostgreSQL:"
  printf '%s\n' "$block"
else
  [ -f "$pg_hba" ] || die "no file $pg_hba"
  new=$(mktemp)
  {
    printf '%s\n' "$block"
    awk -v b="$begin" -v e="$end" 'index($0, b) == 1 {skip = 1} !skip {print} $0 == e {skip = 0}' "$pg_hba"
  } >"$new"
  if cmp -s "$new" "$pg_hba"; then
    say "$pg_hba already has the rules of $instance"
    rm -f "$new"
  else
    backup="$pg_hba.kiva-$(date +%Y%m%d%H%M%S)"
    cp -p "$pg_hba" "$backup"
    cat "$new" >"$pg_hba"   # keeps the file's owner and mode
    rm -f "$new"
    say "rules of $instance written at the top of $pg_hba (backup: $backup)"
    errors=$(psql_admin -d postgres -Atc "SELECT line_number || ': ' || error FROM pg_hba_file_rules WHERE error IS NOT NULL")
    if [ -n "$errors" ]; then
      cp -p "$backup" "$pg_hba"
      die "PostgreSQL rejects the new pg_hba.conf ($errors): the previous file was put back"
    fi
    psql_admin -d postgres -Atc "SELECT pg_reload_conf()" >/dev/null
    say "PostgreSQL reloaded"
  fi
fi

cat >&2 <<EOF
$KIVA_TOOL: instance $instance is ready in PostgreSQL.
  - the runtime role's password: $runtime_pw
      -> to the application server: deploy/prepare-target.sh --db-password-file FILE
  - the owner role's password:   $owner_pw
      -> to the deployers, as DB_OWNER_PASSWORD_FILE in their deploy configuration
  Copy them over ssh (scp), never by mail or in the repository.
EOF
