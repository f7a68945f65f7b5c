#!/bin/bash
# Ships kiva from this machine to the target of a deploy configuration (see
# deploy/deploy.conf.example and deploy/README.md).
#
# Usage: deploy/deploy.sh deploy|init|rollback|status
#   deploy    build a release binary, run the unit tests, upload binary, SQL and configuration
#             to the app user's directory over ssh/rsync, apply the pending migrations (each in
#             its own transaction; on failure nothing is switched), switch files atomically,
#             restart the systemd worker gracefully (mod_fcgid picks the new binary up).
#   init      create the schema and load the initial data (DEMO_DATA=1: the demo users too),
#             in one transaction; refuses a database that already has tables. Switches nothing.
#   rollback  put back the release that the last deploy replaced (files only, not the schema).
#   status    show what runs on the target: release, schema version.
# Environment: DEPLOY_CONF (default deploy/deploy.local.conf), DRY_RUN=1 (print every command,
# run none), DEMO_DATA=1 (init), KIVA_SKIP_UNIT_TESTS=1 (not recommended),
# KIVA_MIGRATIONS_DIR (another migrations directory than sql/migrations: tests).
# Every step says what it does; any failure stops with a message and a non-zero status.
set -euo pipefail
KIVA_TOOL=deploy
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$here/lib/common.sh"
. "$here/lib/migrations.sh"

action=${1:-}
case $action in
  deploy|init|rollback|status) ;;
  -h|--help|help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "usage: deploy/deploy.sh deploy|init|rollback|status (see --help)" ;;
esac
dry_run=${DRY_RUN:-0}
[ "$dry_run" = 0 ] || [ "$dry_run" = 1 ] || die "DRY_RUN must be 0 or 1"

# ------------------------------------------------------------------ configuration
conf_file=${DEPLOY_CONF:-$root/deploy/deploy.local.conf}
[ -f "$conf_file" ] || die "no deploy configuration $conf_file: copy deploy/deploy.conf.example to deploy/deploy.local.conf and edit it (or set DEPLOY_CONF=FILE)"

known_keys=" INSTANCE TARGET_HOST SSH_USER SSH_PORT SSH_OPTIONS APP_DIR DATABASE DB_OWNER"
known_keys+=" DB_OWNER_PASSWORD_FILE RESTART_COMMAND HEALTH_URL HEALTH_CA APP_NAME THREADS"
known_keys+=" PROCESSES BODY_LIMIT LOG_LEVEL BUILD_DIR JOBS MIGRATION_TRANSACTIONS "
declare -A cfg=()
conf_extra=()
lineno=0
while IFS= read -r line || [ -n "$line" ]; do
  lineno=$((lineno + 1))
  line=${line#"${line%%[![:space:]]*}"}; line=${line%"${line##*[![:space:]]}"}
  [ -z "$line" ] || [ "${line:0:1}" = "#" ] && continue
  [[ "$line" =~ ^([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*=[[:space:]]*(.*)$ ]] ||
    die "$conf_file:$lineno: expected KEY=value"
  key=${BASH_REMATCH[1]}; value=${BASH_REMATCH[2]}
  if [[ "$value" =~ ^\"(.*)\"$ ]] || [[ "$value" =~ ^\'(.*)\'$ ]]; then value=${BASH_REMATCH[1]}; fi
  if [[ "$key" == CONF_* ]]; then
    ckey=${key#CONF_}
    case $ckey in
      database|listen|queries|token_secret_file|token_secret_env|test_mode)
        die "$conf_file:$lineno: $key is set by the deployment itself and cannot be overridden" ;;
      app_name|threads|processes|body_limit|log_level)
        die "$conf_file:$lineno: use $(tr a-z A-Z <<<"$ckey")= rather than $key" ;;
    esac
    [[ "$value" != *$'\n'* ]] || die "$conf_file:$lineno: multi-line value"
    conf_extra+=("$ckey = $value")
    continue
  fi
  [[ "$known_keys" == *" $key "* ]] ||
    die "$conf_file:$lineno: unknown key $key (known:${known_keys% }, or CONF_<worker option>)"
  cfg[$key]=$value
done <"$conf_file"

get() { printf '%s' "${cfg[$1]-${2-}}"; }
expand_home() { case $1 in "~/"*) printf '%s' "$HOME/${1#"~/"}" ;; *) printf '%s' "$1" ;; esac; }

instance=$(get INSTANCE)
[ -n "$instance" ] || die "$conf_file: INSTANCE is required"
check_instance "$instance"
target_host=$(get TARGET_HOST)
[ -n "$target_host" ] || die "$conf_file: TARGET_HOST is required"
[[ "$target_host" =~ ^[A-Za-z0-9.:-]+$ ]] || die "$conf_file: bad TARGET_HOST '$target_host'"
ssh_user=$(get SSH_USER "$instance")
[[ "$ssh_user" =~ ^[a-z_][a-z0-9_-]*$ ]] || die "$conf_file: bad SSH_USER '$ssh_user'"
ssh_port=$(get SSH_PORT 22)
[[ "$ssh_port" =~ ^[0-9]+$ ]] || die "$conf_file: bad SSH_PORT '$ssh_port'"
read -r -a ssh_extra <<<"$(get SSH_OPTIONS)"
app_dir=$(get APP_DIR "/home/$instance")
[[ "$app_dir" =~ ^/[A-Za-z0-9._/-]+$ ]] || die "$conf_file: bad APP_DIR '$app_dir' (absolute, no spaces)"
database=$(get DATABASE)
[ -n "$database" ] || die "$conf_file: DATABASE (the worker's libpq conninfo) is required"
[[ "$database" != *password* ]] ||
  die "$conf_file: DATABASE must not contain a password (it belongs in ~/.pgpass on the target)"
db_name=$(sed -n 's/.*\bdbname=\([^ ]*\).*/\1/p' <<<"$database")
db_user=$(sed -n 's/.*\buser=\([^ ]*\).*/\1/p' <<<"$database")
[ -n "$db_name" ] && [ -n "$db_user" ] || die "$conf_file: DATABASE must name dbname= and user="
db_owner=$(get DB_OWNER "${db_name}_owner")
owner_password_file=$(expand_home "$(get DB_OWNER_PASSWORD_FILE)")
restart_command=$(get RESTART_COMMAND "sudo -n systemctl restart kiva@$instance.service")
health_url=$(get HEALTH_URL)
health_ca=$(expand_home "$(get HEALTH_CA)")
build_dir=$(get BUILD_DIR build-release)
case $build_dir in /*) ;; *) build_dir=$root/$build_dir ;; esac
jobs=$(get JOBS "$(nproc)")
body_limit=$(get BODY_LIMIT 1M)
size_bytes "$body_limit" >/dev/null
for k in THREADS PROCESSES JOBS; do
  v=$(get $k 1); [[ "$v" =~ ^[1-9][0-9]*$ ]] || die "$conf_file: $k must be a positive number"
done
if [ -n "$owner_password_file" ] && [ "$action" != status ] && [ "$action" != rollback ] && [ "$dry_run" = 0 ]; then
  [ -r "$owner_password_file" ] || die "DB_OWNER_PASSWORD_FILE $owner_password_file cannot be read"
  mode=$(stat -c %a "$owner_password_file")
  [[ "$mode" =~ ^[0-7]00$ ]] || die "DB_OWNER_PASSWORD_FILE $owner_password_file is readable by others (mode $mode): chmod 600 it"
fi
demo_data=${DEMO_DATA:-0}
migration_transactions=$(get MIGRATION_TRANSACTIONS each)
[[ "$migration_transactions" =~ ^(each|single)$ ]] || die "$conf_file: MIGRATION_TRANSACTIONS is each or single"
migrations_dir=${KIVA_MIGRATIONS_DIR:-$root/sql/migrations}
[ -d "$migrations_dir" ] || die "no migrations directory $migrations_dir"

# ------------------------------------------------------------------ helpers
step_no=0
step() { step_no=$((step_no + 1)); printf '\n%s: [%s] %s\n' "$KIVA_TOOL" "$step_no" "$*" >&2; }
# q WORD: WORD quoted for a POSIX shell (single quotes unless it needs none).
q() {
  if [[ "$1" =~ ^[A-Za-z0-9_./:=,@%+-]+$ ]]; then printf '%s' "$1"; else
    printf "'%s'" "${1//\'/\'\\\'\'}"; fi
}
show() { local a line="  +"; for a in "$@"; do line+=" $(q "$a")"; done; printf '%s\n' "$line" >&2; }
# run CMD...: prints the command, runs it unless DRY_RUN.
run() { show "$@"; [ "$dry_run" = 1 ] || "$@"; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kiva-deploy.XXXXXX")
ssh_opts=(-p "$ssh_port" -o BatchMode=yes -o ConnectTimeout=15 -o ServerAliveInterval=15
  -o ControlMaster=auto -o "ControlPath=$tmp/ssh-%C" -o ControlPersist=120 "${ssh_extra[@]}")
dest="$ssh_user@$target_host"
ssh_line="ssh"; for a in "${ssh_opts[@]}"; do ssh_line+=" $(q "$a")"; done
cleanup() {
  local rc=$?
  if compgen -G "$tmp/ssh-*" >/dev/null; then ssh "${ssh_opts[@]}" -O exit "$dest" 2>/dev/null || true; fi
  rm -rf "$tmp"
  if [ $rc != 0 ]; then
    printf '\n%s: FAILED (%s) at step %s; nothing after it was done. See the messages above.\n' \
      "$KIVA_TOOL" "$action" "$step_no" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# remote SCRIPT [< stdin]: runs a shell script as the app user on the target (its login
# shell, bash, set up by prepare-target.sh), printed first as "$SSH user@host 'script'".
remote() {
  printf '  + $SSH %s %s\n' "$dest" "$(q "$1")" >&2
  [ "$dry_run" = 1 ] && return 0
  ssh "${ssh_opts[@]}" "$dest" "$1"
}
A=$(q "$app_dir")
owner_conninfo="$database user=$db_owner application_name=kiva-deploy"
# psql on the target as the owner role; its password goes from this machine through ssh's
# standard input to PGPASSWORD for this psql only (never on a command line, never on disk).
remote_psql() {  # remote_psql PSQL_ARGS_STRING
  local cmd="cd $A && psql -X -q -v ON_ERROR_STOP=1 -v owner=$(q "$db_owner") -v runtime=$(q "$db_user") $1 $(q "$owner_conninfo")"
  if [ -n "$owner_password_file" ]; then
    cmd="IFS= read -r PGPASSWORD && export PGPASSWORD && $cmd"
    printf '  + (standard input: the owner password from %s)\n' "$owner_password_file" >&2
    [ "$dry_run" = 1 ] && { remote "$cmd"; return 0; }
    remote "$cmd" <"$owner_password_file"
  else
    remote "$cmd"
  fi
}

say "$action of instance $instance to $dest:$app_dir (database $db_name as $db_user, migrations as $db_owner)"
[ "$dry_run" = 1 ] && say "DRY_RUN=1: printing every command, running none"
say "SSH = $ssh_line"

check_local_tools() {
  local t missing=""
  for t in "$@"; do command -v "$t" >/dev/null || missing="$missing $t"; done
  [ -z "$missing" ] || die "missing on this machine:$missing (Debian: apt-get install openssh-client rsync cmake g++ binutils curl)"
}

who_line=$(printf '%s@%s' "${USER:-$(id -un)}" "$(uname -n)" | tr -c 'A-Za-z0-9._@-' '_')

check_target() {
  step "checking the target $dest (prepared by deploy/prepare-target.sh?)"
  remote "set -e
cd $A
for d in bin sql conf log .incoming; do
  test -d \$d || { echo \"missing $app_dir/\$d: run deploy/prepare-target.sh --instance $instance on the target\" >&2; exit 1; }
done
test -r conf/token.secret || { echo 'missing $app_dir/conf/token.secret: run deploy/prepare-target.sh on the target' >&2; exit 1; }
test -f ~/.pgpass || echo 'warning: no ~/.pgpass on the target: the worker has no database password' >&2
for t in rsync psql; do
  command -v \$t >/dev/null || { echo \"missing on the target: \$t (prepare-target.sh installs it)\" >&2; exit 1; }
done
echo \"target \$(uname -n) runs: \$(cat VERSION 2>/dev/null || echo nothing yet)\"" ||
    die "the target is not reachable or not prepared (ssh $dest, port $ssh_port)"
}

# ------------------------------------------------------------------ status and rollback
if [ "$action" = status ]; then
  check_local_tools ssh
  check_target
  step "schema version of $db_name"
  remote_psql "-At -F ' ' -c $(q "SELECT version, name, applied_at FROM kiva_meta.schema_version ORDER BY version")" ||
    die "cannot read the schema version"
  say "status done"
  exit 0
fi

if [ "$action" = rollback ]; then
  check_local_tools ssh
  check_target
  step "putting back the release the last deploy replaced (binary, configuration, SQL files; not the schema)"
  remote "set -e
cd $A
test -x .previous/bin/kiva || { echo 'no previous release to roll back to' >&2; exit 1; }
rsync -a --delete .previous/sql/ sql/
cp -p .previous/conf/kiva.conf conf/.kiva.conf.new && mv -f conf/.kiva.conf.new conf/kiva.conf
cp -p .previous/bin/kiva bin/.kiva.new && mv -f bin/.kiva.new bin/kiva
cp -p .previous/VERSION .VERSION.new && mv -f .VERSION.new VERSION
echo \"\$(date -u +%FT%TZ) rollback to \$(cat VERSION) by $who_line\" >>log/deploy.log
echo \"now at: \$(cat VERSION)\"" || die "the rollback failed (above)"
  if [ "$restart_command" != none ]; then
    step "restarting the systemd worker gracefully: $restart_command"
    remote "$restart_command" || die "the restart failed: check the worker's log on the target"
  fi
  say "rollback done"
  exit 0
fi

# ------------------------------------------------------------------ build and test
check_local_tools cmake ssh rsync sha256sum objcopy
step "building the release binary in $build_dir"
run cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DKIVA_TESTS=ON -DKIVA_SANITIZE=OFF -DKIVA_FUZZ=OFF
run cmake --build "$build_dir" -j "$jobs" || die "the build failed: nothing was deployed"

if [ "${KIVA_SKIP_UNIT_TESTS:-0}" = 1 ]; then
  warn "KIVA_SKIP_UNIT_TESTS=1: the unit tests are skipped"
else
  step "running the unit tests"
  run "$build_dir/unit_tests" --report_level=short || die "the unit tests failed: nothing was deployed"
fi

# ------------------------------------------------------------------ stage
stage=$tmp/stage
# Letters, digits and " ._:@+-" only: it is written into remote commands and logs.
release=$(printf '%s' "$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown) $(date -u +%Y-%m-%dT%H:%M:%SZ) ${USER:-$(id -un)}@$(uname -n)" |
  tr -c 'A-Za-z0-9 ._:@+-' '_')
step "staging release '$release'"
run mkdir -p "$stage/bin" "$stage/sql/migrations" "$stage/conf"
# The binary carries its release in an ELF section: each deploy ships a distinct file, and
# `objcopy -O binary --only-section=.kiva.release bin/kiva /dev/stdout` tells which it is.
if [ "$dry_run" = 1 ]; then show printf '%s\n' "$release" ">$stage/VERSION"; else printf '%s\n' "$release" >"$stage/VERSION"; fi
run objcopy --add-section .kiva.release="$stage/VERSION" --set-section-flags .kiva.release=noload,readonly \
  "$build_dir/kiva" "$stage/bin/kiva"
# Not drop.sql nor truncate.sql: nothing on a production host should make that easy.
run cp -p "$root"/sql/{queries,create,data,load-demo}.sql "$stage/sql/"
run cp -p "$migrations_dir"/*.sql "$stage/sql/migrations/"
if [ "$dry_run" = 1 ]; then
  show generate "$stage/sql/migrations/migrate.psql" from "$migrations_dir" "(transactions: $migration_transactions)"
else
  migrate_script "$migrations_dir" "$migration_transactions" >"$stage/sql/migrations/migrate.psql"
fi
if [ "$action" = init ]; then
  users_csv=""
  if [ "$demo_data" = 1 ]; then
    show "$build_dir/kiva-pass2csv" "$root/sql/users.in" ">$stage/sql/users.csv"
    [ "$dry_run" = 1 ] || "$build_dir/kiva-pass2csv" "$root/sql/users.in" >"$stage/sql/users.csv" ||
      die "kiva-pass2csv failed"
    users_csv=$app_dir/.incoming/sql/users.csv
  fi
  if [ "$dry_run" = 1 ]; then show generate "$stage/sql/migrations/init.psql"; else
    init_script "$migrations_dir" "$users_csv" >"$stage/sql/migrations/init.psql"; fi
fi
kiva_conf() {
  cat <<EOF
# Generated by deploy/deploy.sh from $(basename "$conf_file") at each deploy: edits are lost.
# Release: $release
app_name = $(get APP_NAME kiva)
database = $database
queries = ../sql/queries.sql
# Empty: the socket comes from systemd (kiva@$instance.socket) or from mod_fcgid.
listen =
threads = $(get THREADS 4)
processes = $(get PROCESSES 1)
body_limit = $body_limit
log_level = $(get LOG_LEVEL info)
token_secret_file = $app_dir/conf/token.secret
EOF
  local line
  for line in "${conf_extra[@]}"; do printf '%s\n' "$line"; done
}
if [ "$dry_run" = 1 ]; then
  show generate "$stage/conf/kiva.conf:"
  kiva_conf | sed 's/^/      /' >&2
else
  kiva_conf >"$stage/conf/kiva.conf"
fi

# ------------------------------------------------------------------ upload
check_target
step "uploading to $dest:$app_dir/.incoming"
# Group-readable (the web server's user may be in the app group, for mod_fcgid), no others.
run rsync -rlpt --checksum --delete --chmod=Du=rwx,Dg=rx,Do=,Fu=rwX,Fg=rX,Fo= \
  -e "ssh $(printf '%q ' "${ssh_opts[@]}")" "$stage/" "$dest:$app_dir/.incoming/" || die "the upload failed"

step "checking the new release on the target (configuration, queries, routes)"
remote "cd $A && .incoming/bin/kiva --config .incoming/conf/kiva.conf --check" ||
  die "the new release does not start on the target (see above): nothing was switched"

# ------------------------------------------------------------------ init
if [ "$action" = init ]; then
  step "creating the schema and loading the initial data$([ "$demo_data" = 1 ] && echo ' and the demo users') in $db_name, in one transaction"
  remote_psql "-f .incoming/sql/migrations/init.psql" ||
    die "init failed (above): the database was left as it was"
  remote "cd $A && rm -f .incoming/sql/users.csv && echo \"\$(date -u +%FT%TZ) init of $db_name with '$release'\" >>log/deploy.log"
  say "init done: now run make deploy (DEPLOY_CONF=$conf_file) to switch the worker to this release"
  exit 0
fi

# ------------------------------------------------------------------ migrate
step "applying the pending migrations to $db_name (as $db_owner, $([ "$migration_transactions" = each ] && echo 'one transaction each' || echo 'all in one transaction'))"
remote_psql "-f .incoming/sql/migrations/migrate.psql" ||
  die "the migrations stopped (above): $([ "$migration_transactions" = each ] && echo 'the failing one was rolled back (those before it are applied)' || echo 'none was applied'), nothing was switched, the worker still runs the previous release"

# ------------------------------------------------------------------ switch
step "switching to the new release (each file renamed into place: running processes keep the old one)"
remote "set -e
cd $A
# Keep the running release for deploy/deploy.sh rollback (the binary as a hard link).
rm -rf .previous.new
if [ -e bin/kiva ]; then
  mkdir -p .previous.new/bin .previous.new/conf
  ln bin/kiva .previous.new/bin/kiva
  cp -p conf/kiva.conf .previous.new/conf/
  cp -pr sql .previous.new/sql
  cp -p VERSION .previous.new/ 2>/dev/null || echo unknown >.previous.new/VERSION
  rm -rf .previous && mv .previous.new .previous
fi
# SQL files, then the configuration, then the binary: each written aside and renamed over.
rsync -a --delete --exclude=users.csv .incoming/sql/ sql/
cp -p .incoming/conf/kiva.conf conf/.kiva.conf.new && mv -f conf/.kiva.conf.new conf/kiva.conf
cp -p .incoming/bin/kiva bin/.kiva.new && mv -f bin/.kiva.new bin/kiva
cp -p .incoming/VERSION .VERSION.new && mv -f .VERSION.new VERSION
echo \"now at: \$(cat VERSION)\"" ||
  die "the switch failed (above): check $app_dir on the target (deploy/deploy.sh rollback puts the previous release back)"

if [ "$restart_command" = none ]; then
  say "RESTART_COMMAND=none: no standalone worker to restart (mod_fcgid starts the new binary for the next requests)"
else
  step "restarting the systemd worker gracefully: $restart_command"
  remote "$restart_command" ||
    die "the restart failed: the new files are in place; check the worker's log on the target, or run deploy/deploy.sh rollback"
fi

if [ -n "$health_url" ]; then
  step "checking $health_url"
  check_local_tools curl
  # GET /health: 200 once the worker runs a query; with the new release's string when the
  # URL is the worker's /health (another URL only needs its 200).
  health_ok=0 health_body=""
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    show curl -fsS --max-time 10 ${health_ca:+--cacert "$health_ca"} "$health_url"
    [ "$dry_run" = 1 ] && { health_ok=1; break; }
    if health_body=$(curl -fsS --max-time 10 ${health_ca:+--cacert "$health_ca"} "$health_url"); then
      case $health_url in
        */health) [[ "$health_body" == *"\"release\":\"$release\""* ]] && { health_ok=1; break; } ;;
        *) health_ok=1; break ;;
      esac
    fi
    sleep 1
  done
  [ "$health_ok" = 1 ] || die "$health_url does not answer 200 with release '$release' after the deploy (got: ${health_body:0:200}; deploy/deploy.sh rollback puts the previous release back)"
  say "healthy: ${health_body:0:200}"
fi

remote "cd $A && echo \"\$(date -u +%FT%TZ) deploy of '$release'\" >>log/deploy.log" || true
say "deploy done: $instance runs '$release'"
