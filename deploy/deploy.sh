#!/bin/bash
# Ships kiva from this machine to the target of a deploy configuration (see
# deploy/deploy.conf.example and deploy/README.md).
#
# Usage: deploy/deploy.sh deploy|init|rollback [RELEASE]|status
#   deploy    build a release binary, run the unit tests, upload binary, SQL and configuration
#             to the app directory over ssh/rsync, apply the pending migrations (each in
#             its own transaction; on failure nothing is switched), switch files atomically,
#             restart the systemd worker gracefully (mod_fcgid picks the new binary up).
#             The last KEEP_RELEASES releases stay in APP_DIR/releases/ for rollback.
#   init      create the schema (DEMO_DATA=1: and the demo rows and users of sql/data.sql and
#             sql/users.in), in one transaction; refuses a database that already has tables.
#             Switches nothing. The first admin: kiva-admin on the target (deploy/README.md).
#   rollback  put back a kept release (default: the one before the running one; RELEASE: its
#             id, as status lists them), restart and check HEALTH_URL. Files only, not the schema.
#   status    show what runs on the target: release, kept releases, schema version.
# A deploy refuses a working tree with uncommitted or untracked files (ALLOW_DIRTY=1 ships it
# anyway, with "dirty" in the release), a target of another distribution than this machine,
# and a target where another deploy holds the lock (APP_DIR/.deploy.lock).
# Environment: DEPLOY_CONF (default deploy/deploy.local.conf), DRY_RUN=1 (print every command,
# run none), DEMO_DATA=1 (init), ALLOW_DIRTY=1, KIVA_SKIP_UNIT_TESTS=1 (not recommended),
# KIVA_BUILD_OS ("ID VERSION_ID ARCH" of the build, when /etc/os-release does not tell it: a
# container), KIVA_MIGRATIONS_DIR (another migrations directory than sql/migrations: tests).
# Several targets (TARGETS="app1=10.0.0.5 app2=10.0.0.6" in the configuration): a rolling
# deploy: the release is built once, uploaded to every target and checked there, the
# migrations run once, then each target in turn is drained from the load balancer
# (DRAIN_COMMAND), switched, restarted, checked on its own HEALTH_URL and put back
# (UNDRAIN_COMMAND); a failing target stops the roll, drained, while the others serve.
# Every step says what it does; any failure stops with a message and a non-zero status.
set -euo pipefail
KIVA_TOOL=deploy
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# The application (KIVA_APP_DIR: a project made by kiva-new passes its own directory; in this
# repository, the course demo) and the framework's SQL (in an installed framework: sql/).
app_root=${KIVA_APP_DIR:-$root/examples/course}
fw_sql=$root/framework/sql
[ -d "$fw_sql" ] || fw_sql=$root/sql
# What is built and shipped: this repository (the demo's binary, kiva), or the project of
# KIVA_APP_DIR on an installed framework (its binary KIVA_BINARY, the tools from its bin/).
src_root=$root cmake_extra=() worker_binary=${KIVA_BINARY:-kiva}
if [ -n "${KIVA_APP_DIR:-}" ]; then
  src_root=$app_root
  [ -d "$root/framework" ] || cmake_extra=(-DCMAKE_PREFIX_PATH="$(cd "$root/../.." && pwd)")
fi
# kiva_tool NAME: a framework tool, from the build or from the installed framework's bin/.
kiva_tool() { if [ -x "$build_dir/$1" ]; then echo "$build_dir/$1"; else echo "$root/../../bin/$1"; fi; }
. "$here/lib/common.sh"
. "$here/lib/migrations.sh"

action=${1:-}
case $action in
  deploy|init|rollback|status) ;;
  -h|--help|help) print_header "$0"; exit 0 ;;
  *) die "usage: deploy/deploy.sh deploy|init|rollback [RELEASE]|status (see --help)" ;;
esac
rollback_to=${2:-}
[ -z "$rollback_to" ] || [ "$action" = rollback ] || die "only rollback takes an argument"
[[ "$rollback_to" =~ ^[A-Za-z0-9._-]*$ ]] || die "bad release id '$rollback_to'"
dry_run=${DRY_RUN:-0}
[ "$dry_run" = 0 ] || [ "$dry_run" = 1 ] || die "DRY_RUN must be 0 or 1"

# ------------------------------------------------------------------ configuration
conf_file=${DEPLOY_CONF:-$root/deploy/deploy.local.conf}
[ -f "$conf_file" ] || die "no deploy configuration $conf_file: copy deploy/deploy.conf.example to deploy/deploy.local.conf and edit it (or set DEPLOY_CONF=FILE)"

known_keys=" INSTANCE TARGET_HOST SSH_USER SSH_PORT SSH_OPTIONS APP_DIR DATABASE DB_OWNER"
known_keys+=" DB_OWNER_PASSWORD_FILE RESTART_COMMAND JOBS_RESTART_COMMAND HEALTH_URL HEALTH_CA APP_NAME THREADS"
known_keys+=" PROCESSES BODY_LIMIT LOG_LEVEL BUILD_DIR JOBS MIGRATION_TRANSACTIONS KEEP_RELEASES"
known_keys+=" TARGETS DRAIN_COMMAND UNDRAIN_COMMAND DRAIN_SECONDS TOKEN_KEYS_FILE WARM_COMMAND "
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
      database|listen|queries|token_secret_file|token_secret_env|test_mode|log_name|cache_password_file)
        die "$conf_file:$lineno: $key is set by the deployment itself and cannot be overridden" ;;
      app_name|threads|processes|body_limit|log_level)
        die "$conf_file:$lineno: use $(tr a-z A-Z <<<"$ckey")= rather than $key" ;;
    esac
    [[ "$value" != *$'\n'* ]] || die "$conf_file:$lineno: multi-line value"
    [ "$ckey" != db_replica ] || [[ "$value" != *password* ]] ||
      die "$conf_file:$lineno: CONF_db_replica must not contain a password (it belongs in ~/.pgpass on the target)"
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
# TARGETS: NAME[=HOST] entries; {name} and {host} in HEALTH_URL, DRAIN_COMMAND and
# UNDRAIN_COMMAND become each one's. This script runs itself once per target and phase
# (KIVA_DEPLOY_TARGET=NAME=HOST, KIVA_DEPLOY_PHASE=stage|migrate|switch).
read -r -a target_list <<<"$(get TARGETS)"
for t in "${target_list[@]}"; do
  [[ "$t" =~ ^[A-Za-z0-9_-]+(=[A-Za-z0-9.:-]+)?$ ]] || die "$conf_file: bad TARGETS entry '$t' (NAME or NAME=HOST)"
done
phase=${KIVA_DEPLOY_PHASE:-all}
[[ "$phase" =~ ^(all|stage|migrate|switch)$ ]] || die "bad KIVA_DEPLOY_PHASE '$phase'"
this_target=${KIVA_DEPLOY_TARGET:-}
[ -z "$this_target" ] || [[ "$this_target" == *=* ]] || this_target="$this_target=$this_target"
# with_target TEXT NAME=HOST: {name} and {host} filled in.
with_target() { local s=$1; s=${s//\{name\}/${2%%=*}}; s=${s//\{host\}/${2#*=}}; printf '%s' "$s"; }
if [ -n "$this_target" ]; then
  [ ${#target_list[@]} -gt 0 ] || die "KIVA_DEPLOY_TARGET is for a configuration with TARGETS"
  target_host=${this_target#*=}
  cfg[HEALTH_URL]=$(with_target "$(get HEALTH_URL)" "$this_target")
elif [ ${#target_list[@]} -gt 0 ]; then
  [ -z "$(get TARGET_HOST)" ] || die "$conf_file: TARGET_HOST or TARGETS, not both"
  target_host=${target_list[0]#*=}
else
  target_host=$(get TARGET_HOST)
fi
[ -n "$target_host" ] || die "$conf_file: TARGET_HOST (or TARGETS) is required"
[[ "$target_host" =~ ^[A-Za-z0-9.:-]+$ ]] || die "$conf_file: bad TARGET_HOST '$target_host'"
ssh_user=$(get SSH_USER "$instance-deploy")
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
token_keys_file=$(expand_home "$(get TOKEN_KEYS_FILE)")
drain_seconds=$(get DRAIN_SECONDS 2)
[[ "$drain_seconds" =~ ^[0-9]+$ ]] || die "$conf_file: DRAIN_SECONDS must be a number"
cache_set=0
for line in "${conf_extra[@]}"; do [[ "$line" == "cache = "?* ]] && cache_set=1; done
restart_command=$(get RESTART_COMMAND "sudo -n systemctl restart kiva@$instance.service")
jobs_restart_command=$(get JOBS_RESTART_COMMAND "sudo -n systemctl restart kiva-jobs@$instance.service")
health_url=$(get HEALTH_URL)
warm_command=$(get WARM_COMMAND)
health_ca=$(expand_home "$(get HEALTH_CA)")
build_dir=$(get BUILD_DIR build-release)
case $build_dir in /*) ;; *) build_dir=$src_root/$build_dir ;; esac
jobs=$(get JOBS "$(nproc)")
body_limit=$(get BODY_LIMIT 1M)
size_bytes "$body_limit" >/dev/null
for k in THREADS PROCESSES JOBS KEEP_RELEASES; do
  v=$(get $k 1); [[ "$v" =~ ^[1-9][0-9]*$ ]] || die "$conf_file: $k must be a positive number"
done
# check_private KEY FILE: a secret of this machine, readable by its owner only.
check_private() {
  [ -r "$2" ] || die "$1 $2 cannot be read"
  local mode; mode=$(stat -c %a "$2")
  [[ "$mode" =~ ^[0-7]00$ ]] || die "$1 $2 is readable by others (mode $mode): chmod 600 it"
}
if [ -n "$owner_password_file" ] && [ "$action" != status ] && [ "$action" != rollback ] && [ "$dry_run" = 0 ]; then
  check_private DB_OWNER_PASSWORD_FILE "$owner_password_file"
fi
if [ -n "$token_keys_file" ] && [ "$action" = deploy ] && [ "$dry_run" = 0 ]; then
  check_private TOKEN_KEYS_FILE "$token_keys_file"
  [ -s "$token_keys_file" ] || die "TOKEN_KEYS_FILE $token_keys_file is empty"
  # The worker's format (README.md, key rotation): "id secret" lines, or one lone secret.
  ! grep -qvE '^([A-Za-z0-9_-]{1,32} )?[^ ]{16,}$' "$token_keys_file" ||
    die "TOKEN_KEYS_FILE $token_keys_file: every line is 'id secret' or a lone secret (16 characters at least)"
fi
keep_releases=$(get KEEP_RELEASES 5)
demo_data=${DEMO_DATA:-0}
migration_transactions=$(get MIGRATION_TRANSACTIONS each)
[[ "$migration_transactions" =~ ^(each|single)$ ]] || die "$conf_file: MIGRATION_TRANSACTIONS is each or single"
migrations_dir=${KIVA_MIGRATIONS_DIR:-$app_root/sql/migrations}
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

# ------------------------------------------------------------------ several targets
if [ ${#target_list[@]} -gt 0 ] && [ -z "$this_target" ]; then
  # on TARGET PHASE ACTION [ARG]: this script for one target (and one phase of a deploy).
  on() { KIVA_DEPLOY_TARGET=$1 KIVA_DEPLOY_PHASE=$2 "$0" "${@:3}"; }
  # balancer DRAIN|UNDRAIN TARGET: the configured command, run on this machine.
  balancer() {
    local cmd what; cmd=$(with_target "$(get "$1_COMMAND")" "$2")
    [ "$1" = DRAIN ] && what="draining ${2%%=*} from" || what="putting ${2%%=*} back in"
    if [ -z "$cmd" ]; then say "no $1_COMMAND: not $what the load balancer"; return 0; fi
    step "$what the load balancer"
    show sh -c "$cmd"
    [ "$dry_run" = 1 ] || sh -c "$cmd"
  }
  names=""; for t in "${target_list[@]}"; do names+=" ${t%%=*}"; done
  say "$action of instance $instance to${names} (TARGETS of $conf_file)"
  export KIVA_DEPLOY_TIME=${KIVA_DEPLOY_TIME:-$(date -u +%s)}   # one release name on every target
  case $action in
    status) rc=0; for t in "${target_list[@]}"; do on "$t" all status || rc=1; done; exit $rc ;;
    init) on "${target_list[0]}" all init; exit ;;
    rollback)
      for t in "${target_list[@]}"; do
        balancer DRAIN "$t" || die "cannot drain ${t%%=*}: nothing was rolled back there"
        [ "$dry_run" = 1 ] || sleep "$drain_seconds"
        on "$t" all rollback $rollback_to ||
          die "the rollback of ${t%%=*} failed: it stays drained; the targets before it run the kept release"
        balancer UNDRAIN "$t" || die "cannot put ${t%%=*} back in the load balancer"
      done
      say "rollback done on${names}"; exit 0 ;;
  esac
  first=${target_list[0]}
  for t in "${target_list[@]}"; do
    say "== ${t%%=*}: build (once), upload, check"
    on "$t" stage deploy || die "staging on ${t%%=*} failed: nothing was switched anywhere"
    export KIVA_DEPLOY_BUILT=1
  done
  say "== migrations, once (from ${first%%=*})"
  on "$first" migrate deploy || die "the migrations failed: nothing was switched anywhere"
  done_list=""
  for t in "${target_list[@]}"; do
    say "== ${t%%=*}: drain, switch, restart, check, put back"
    balancer DRAIN "$t" || die "cannot drain ${t%%=*}: it was not switched (switched already:${done_list:- none})"
    [ "$dry_run" = 1 ] || sleep "$drain_seconds"
    on "$t" switch deploy ||
      die "${t%%=*} failed (above): it stays out of the load balancer; switched already:${done_list:- none}; the others serve the release they run (fix it and deploy again, or deploy/deploy.sh rollback)"
    balancer UNDRAIN "$t" || die "cannot put ${t%%=*} back in the load balancer"
    done_list+=" ${t%%=*}"
  done
  say "rolling deploy done:${done_list}"
  exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kiva-deploy.XXXXXX")
ssh_opts=(-p "$ssh_port" -o BatchMode=yes -o ConnectTimeout=15 -o ServerAliveInterval=15
  -o ControlMaster=auto -o "ControlPath=$tmp/ssh-%C" -o ControlPersist=120 "${ssh_extra[@]}")
dest="$ssh_user@$target_host"
ssh_line="ssh"; for a in "${ssh_opts[@]}"; do ssh_line+=" $(q "$a")"; done
cleanup() {
  local rc=$?
  # Closing the lock's pipe ends its remote process, which frees the lock.
  if [ -n "${lock_fd:-}" ]; then exec {lock_fd}>&-; wait "$lock_pid" 2>/dev/null || true; fi
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
for d in bin sql conf log releases .incoming; do
  test -d \$d -a -w \$d || { echo \"missing or not writable: $app_dir/\$d: run deploy/prepare-target.sh --instance $instance on the target\" >&2; exit 1; }
done
test -e conf/token.secret || { echo 'missing $app_dir/conf/token.secret: run deploy/prepare-target.sh on the target' >&2; exit 1; }
$( [ -n "$token_keys_file" ] && echo "test -w conf/token.keys || { echo 'missing $app_dir/conf/token.keys (TOKEN_KEYS_FILE): run deploy/prepare-target.sh on the target' >&2; exit 1; }")
$( [ "$cache_set" = 1 ] && echo "test -e conf/cache.password || { echo 'missing $app_dir/conf/cache.password (CONF_cache): run deploy/prepare-target.sh --cache-password-file FILE on the target' >&2; exit 1; }")
test -e ~$instance/.pgpass || echo 'warning: no ~$instance/.pgpass on the target: the worker has no database password' >&2
for t in rsync psql flock; do
  command -v \$t >/dev/null || { echo \"missing on the target: \$t (prepare-target.sh installs it)\" >&2; exit 1; }
done
echo \"target \$(uname -n) runs: \$(cat VERSION 2>/dev/null || echo nothing yet)\"" ||
    die "the target is not reachable or not prepared (ssh $dest, port $ssh_port)"
}

# The distribution of a machine, "ID VERSION_ID ARCH" (debian 12 x86_64): a binary built on
# one runs on the same only (shared libraries: libpq, libfcgi, OpenSSL, libstdc++).
os_line='. /etc/os-release && printf "%s %s %s\n" "$ID" "${VERSION_ID:-none}" "$(uname -m)"'
check_distribution() {
  local here_os there_os
  here_os=${KIVA_BUILD_OS:-$(sh -c "$os_line")}
  step "checking that the target runs the distribution this machine builds for ($here_os)"
  printf '  + $SSH %s %s\n' "$dest" "$(q "$os_line")" >&2
  [ "$dry_run" = 1 ] && return 0
  there_os=$(ssh "${ssh_opts[@]}" "$dest" "$os_line") || die "cannot read /etc/os-release on the target"
  [ "$there_os" = "$here_os" ] ||
    die "this machine builds for $here_os, the target runs $there_os: its libraries differ, so the binary could fail there. Deploy from a machine (or container) of the target's distribution."
}

# One deploy at a time on a target: a flock on APP_DIR/.deploy.lock held by a remote process
# for as long as this script runs (its ssh session ends with it, even when killed: no stale lock).
lock_fd=""
take_lock() {
  step "taking the deploy lock $app_dir/.deploy.lock"
  local script="cd $A && exec 9<>.deploy.lock && if ! flock -n 9; then echo \"another deploy holds the lock on $app_dir (last taken: \$(cat .deploy.lock))\" >&2; exit 1; fi
printf '%s\n' \"$action by $who_line since \$(date -u +%FT%TZ)\" >.deploy.lock && echo locked && exec cat >/dev/null"
  printf '  + $SSH %s %s &\n' "$dest" "$(q "$script")" >&2
  [ "$dry_run" = 1 ] && return 0
  mkfifo "$tmp/lock.in"
  ssh "${ssh_opts[@]}" "$dest" "$script" <"$tmp/lock.in" >"$tmp/lock.out" 2>&1 &
  lock_pid=$!
  exec {lock_fd}>"$tmp/lock.in"
  local _
  for _ in $(seq 1 300); do
    grep -qx locked "$tmp/lock.out" && return 0
    kill -0 "$lock_pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$tmp/lock.out" >&2
  die "the deploy lock on $dest:$app_dir is not free: nothing was done"
}

# install_release ID (remote script): puts releases/ID in place, each file written aside and
# renamed over (SQL files, then the configuration, then the binary: running processes keep
# the old ones), and records it in releases/CURRENT.
install_release() {
  cat <<EOF
test -x releases/$1/bin/kiva || { echo 'no release $1 in $app_dir/releases' >&2; exit 1; }
rsync -a --delete --exclude=users.csv releases/$1/sql/ sql/
cp -p releases/$1/conf/kiva.conf conf/.kiva.conf.new && mv -f conf/.kiva.conf.new conf/kiva.conf
if [ -e releases/$1/bin/kiva-admin ]; then cp -p releases/$1/bin/kiva-admin bin/.kiva-admin.new && mv -f bin/.kiva-admin.new bin/kiva-admin; fi
cp -p releases/$1/bin/kiva bin/.kiva.new && mv -f bin/.kiva.new bin/kiva
cp -p releases/$1/VERSION .VERSION.new && mv -f .VERSION.new VERSION
echo $1 >releases/.CURRENT.new && mv -f releases/.CURRENT.new releases/CURRENT
echo "now at: \$(cat VERSION) (release $1)"
EOF
}

restart_worker() {
  if [ "$restart_command" = none ]; then
    say "RESTART_COMMAND=none: nothing restarted (under mod_fcgid, WARM_COMMAND with --switch starts the new binary's processes)"
  else
    step "restarting the worker gracefully: $restart_command"
    remote "$restart_command" ||
      die "the restart failed: the new files are in place; check the worker's log on the target, or run deploy/deploy.sh rollback"
  fi
  # The jobs worker (kiva-jobs@.service, docs/jobs.md): SIGTERM lets its running jobs finish
  # (stop_timeout), then the new binary claims the next ones. Its failure is a warning: the
  # requests are served by the new release already.
  if [ "$jobs_restart_command" = none ]; then
    say "JOBS_RESTART_COMMAND=none: no jobs worker restarted"
  else
    step "restarting the jobs worker gracefully: $jobs_restart_command"
    remote "$jobs_restart_command" ||
      warn "the jobs worker was not restarted (above): it runs the old release's jobs, or none; install kiva-jobs@.service and its sudo rule (deploy/prepare-target.sh --systemd --sudo-restart), or set JOBS_RESTART_COMMAND=none in the deploy configuration when the application declares no jobs"
  fi
  # mod_fcgid: WARM_COMMAND (fcgid-warm.sh --switch) fills the vhost's other class with processes
  # of the new binary, moves clients to it, stops the old ones and says the size reached. A pool
  # short of its size serves, with stalls: a warning.
  if [ -n "$warm_command" ]; then
    step "switching mod_fcgid's pool to the new binary: $warm_command"
    remote "$warm_command" || warn "mod_fcgid's pool is not full (above): requests may wait a second until it is"
  fi
}

health_check() {  # health_check WHAT [RELEASE]
  # GET /health answers 200 once the worker runs a query; given RELEASE and a URL that is the
  # worker's /health, the answer must also carry that release string (the new binary serves).
  [ -n "$health_url" ] || { say "no HEALTH_URL: the $1 is not checked over HTTP"; return 0; }
  step "checking $health_url"
  check_local_tools curl
  local _ body=""
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    show curl -fsS --max-time 10 ${health_ca:+--cacert "$health_ca"} "$health_url"
    [ "$dry_run" = 1 ] && return 0
    if body=$(curl -fsS --max-time 10 ${health_ca:+--cacert "$health_ca"} "$health_url"); then
      case $health_url in
        */health) [ -z "${2:-}" ] || [[ "$body" == *"\"release\":\"$2\""* ]] && { say "healthy: ${body:0:200}"; return 0; } ;;
        *) say "healthy"; return 0 ;;
      esac
    fi
    sleep 1
  done
  die "$health_url does not answer 200${2:+ with release '$2'} after the $1 (got: ${body:0:200}; deploy/deploy.sh rollback [RELEASE] puts a kept release back)"
}

# ------------------------------------------------------------------ status and rollback
if [ "$action" = status ]; then
  check_local_tools ssh
  check_target
  step "releases kept in $app_dir/releases (* the running one)"
  remote "cd $A && cur=\$(cat releases/CURRENT 2>/dev/null || true) && for r in \$(ls releases | grep -v '^CURRENT\$' | sort); do
  if [ \"\$r\" = \"\$cur\" ]; then m='*'; else m=' '; fi; echo \"  \$m \$r  \$(cat releases/\$r/VERSION 2>/dev/null)\"; done"
  step "schema version of $db_name"
  remote_psql "-At -F ' ' -c $(q "SELECT version, name, applied_at FROM kiva_meta.schema_version ORDER BY version")" ||
    die "cannot read the schema version"
  say "status done"
  exit 0
fi

if [ "$action" = rollback ]; then
  check_local_tools ssh
  check_target
  take_lock
  step "putting back ${rollback_to:-the release before the running one} (binary, configuration, SQL files; not the schema)"
  remote "set -e
cd $A
cur=\$(cat releases/CURRENT 2>/dev/null || true)
to=$rollback_to
if [ -z \"\$to\" ]; then
  to=\$(ls releases | grep -v '^CURRENT\$' | sort | awk -v cur=\"\$cur\" '\$0 == cur {print prev; exit} {prev = \$0}')
  [ -n \"\$to\" ] || { echo \"no kept release older than the running one (\${cur:-none}): deploy/deploy.sh status lists them\" >&2; exit 1; }
fi
test -x releases/\$to/bin/kiva || { echo \"no release \$to in $app_dir/releases: deploy/deploy.sh status lists them\" >&2; exit 1; }
echo \"rolling back from \${cur:-?} to \$to\"
$(install_release '$to')
echo \"\$(date -u +%FT%TZ) rollback to \$(cat VERSION) by $who_line\" >>log/deploy.log" || die "the rollback failed (above)"
  restart_worker
  health_check rollback
  say "rollback done"
  exit 0
fi

# ------------------------------------------------------------------ release name, target
# Letters, digits and " ._:@+-" only: it is written into remote commands and logs. A working
# tree with changes is refused: the release must say what it runs (ALLOW_DIRTY=1: it says dirty).
check_local_tools cmake ssh rsync sha256sum objcopy
if ! command -v git >/dev/null || ! git -C "$src_root" rev-parse --git-dir >/dev/null 2>&1; then
  commit=unknown dirty="not a git checkout"
else
  commit=$(git -C "$src_root" describe --always)
  dirty=$(git -C "$src_root" status --porcelain --untracked-files=normal | awk 'NR <= 20; END {if (NR > 20) printf "(and %d more)\n", NR - 20}')
fi
if [ -n "$dirty" ]; then
  [ "${ALLOW_DIRTY:-0}" = 1 ] ||
    die "the working tree has changes (commit them, or ALLOW_DIRTY=1 to ship them with 'dirty' in the release):"$'\n'"$dirty"
  warn "ALLOW_DIRTY=1: shipping a working tree with changes, the release says dirty"
  commit=$commit-dirty
fi
deploy_time=${KIVA_DEPLOY_TIME:-$(date -u +%s)}
stamp=$(date -u -d "@$deploy_time" +%Y%m%dT%H%M%SZ)
release=$(printf '%s' "$commit $(date -u -d "@$deploy_time" +%Y-%m-%dT%H:%M:%SZ) ${USER:-$(id -un)}@$(uname -n)" | tr -c 'A-Za-z0-9 ._:@+-' '_')
release_id=$(printf '%s' "$stamp-$commit" | tr -c 'A-Za-z0-9._-' '_')

check_target
if [ "$phase" = all ] || [ "$phase" = stage ]; then
check_distribution
take_lock

# ------------------------------------------------------------------ build and test
if [ "${KIVA_DEPLOY_BUILT:-0}" = 1 ]; then
  say "the release binary is built and tested already (for an earlier target of this deploy)"
else
step "building the release binary in $build_dir"
run cmake -S "$src_root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DKIVA_TESTS=ON -DKIVA_SANITIZE=OFF -DKIVA_FUZZ=OFF "${cmake_extra[@]}"
run cmake --build "$build_dir" -j "$jobs" || die "the build failed: nothing was deployed"

if [ "${KIVA_SKIP_UNIT_TESTS:-0}" = 1 ]; then
  warn "KIVA_SKIP_UNIT_TESTS=1: the unit tests are skipped"
elif [ ! -x "$build_dir/unit_tests" ] && [ "$dry_run" != 1 ]; then
  say "no unit_tests in this build: the project's make test is its proof"
else
  step "running the unit tests"
  run "$build_dir/unit_tests" --report_level=short || die "the unit tests failed: nothing was deployed"
fi
fi

# ------------------------------------------------------------------ stage
stage=$tmp/stage
step "staging release '$release' (id $release_id)"
run mkdir -p "$stage/bin" "$stage/sql/migrations" "$stage/sql/kiva/migrations" "$stage/conf"
# The binary carries its release in an ELF section: each deploy ships a distinct file, and
# `objcopy -O binary --only-section=.kiva.release bin/kiva /dev/stdout` tells which it is.
if [ "$dry_run" = 1 ]; then show printf '%s\n' "$release" ">$stage/VERSION"; else printf '%s\n' "$release" >"$stage/VERSION"; fi
run objcopy --add-section .kiva.release="$stage/VERSION" --set-section-flags .kiva.release=noload,readonly \
  "$build_dir/$worker_binary" "$stage/bin/kiva"
run cp -p "$(kiva_tool kiva-admin)" "$stage/bin/kiva-admin"
# Not drop.sql nor truncate.sql: nothing on a production host should make that easy.
run cp -p "$app_root"/sql/{queries,create,data,load-demo}.sql "$stage/sql/"
run cp -p "$migrations_dir"/*.sql "$stage/sql/migrations/"
run cp -p "$fw_sql"/migrations/*.sql "$stage/sql/kiva/migrations/"
if [ "$dry_run" = 1 ]; then
  show generate "$stage/sql/kiva/migrations/migrate.psql" from "$fw_sql/migrations" "(transactions: $migration_transactions)"
  show generate "$stage/sql/migrations/migrate.psql" from "$migrations_dir" "(transactions: $migration_transactions)"
else
  framework_migrate_script "$fw_sql/migrations" "$migration_transactions" >"$stage/sql/kiva/migrations/migrate.psql"
  migrate_script "$migrations_dir" "$migration_transactions" >"$stage/sql/migrations/migrate.psql"
fi
if [ "$action" = init ]; then
  users_csv=""
  if [ "$demo_data" = 1 ]; then
    show "$(kiva_tool kiva-pass2csv)" "$app_root/sql/users.in" ">$stage/sql/users.csv"
    [ "$dry_run" = 1 ] || "$(kiva_tool kiva-pass2csv)" "$app_root/sql/users.in" >"$stage/sql/users.csv" ||
      die "kiva-pass2csv failed"
    users_csv=$app_dir/.incoming/sql/users.csv
  fi
  if [ "$dry_run" = 1 ]; then show generate "$stage/sql/migrations/init.psql"; else
    init_script "$migrations_dir" "$demo_data" "$users_csv" "$fw_sql/migrations" ../kiva/migrations \
      >"$stage/sql/migrations/init.psql"; fi
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
# Each log line starts with it: instances told apart in Apache's error log (mod_fcgid).
log_name = $instance
token_secret_file = $app_dir/conf/$([ -n "$token_keys_file" ] && echo token.keys || echo token.secret)
# The counters shared by the worker's processes and the jobs worker (GET /metrics sums them).
metrics_file = $app_dir/run/metrics
EOF
  [ "$cache_set" = 0 ] || echo "cache_password_file = $app_dir/conf/cache.password"
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
step "uploading to $dest:$app_dir/.incoming"
# Group-readable (the web server's user may be in the app group, for mod_fcgid), no others.
run rsync -rlpt --checksum --delete --chmod=Du=rwx,Dg=rx,Do=,Fu=rwX,Fg=rX,Fo= \
  -e "ssh $(printf '%q ' "${ssh_opts[@]}")" "$stage/" "$dest:$app_dir/.incoming/" || die "the upload failed"

step "checking the new release on the target (configuration, queries, routes)"
# As the deploy account, which cannot read the token secret nor the cache's password: a
# stand-in secret and no password for this check only (the worker's own access to them shows
# in the health check after the restart; --check connects to nothing). No metrics file either:
# run/ is the worker's, and the rate limits' counters beside it would be mapped.
remote "cd $A && KIVA_TOKEN_SECRET_FILE= KIVA_TOKEN_SECRET_ENV=KIVA_CHECK_ONLY_SECRET KIVA_CHECK_ONLY_SECRET=not-a-secret-only-for-the-check KIVA_CACHE_PASSWORD_FILE= KIVA_METRICS_FILE= .incoming/bin/kiva --config .incoming/conf/kiva.conf --check" ||
  die "the new release does not start on the target (see above): nothing was switched"
if [ "$phase" = stage ]; then say "staged '$release' on $dest"; exit 0; fi
else
  take_lock   # the migrate and switch phases of a rolling deploy: .incoming was staged
fi

# ------------------------------------------------------------------ init
if [ "$action" = init ]; then
  step "creating the schema$([ "$demo_data" = 1 ] && echo ' and loading the demo data and users') in $db_name, in one transaction"
  remote_psql "-f .incoming/sql/migrations/init.psql" ||
    die "init failed (above): the database was left as it was"
  remote "cd $A && rm -f .incoming/sql/users.csv && echo \"\$(date -u +%FT%TZ) init of $db_name with '$release'\" >>log/deploy.log"
  say "init done: now run make deploy (DEPLOY_CONF=$conf_file) to switch the worker to this release, then create the first admin with kiva-admin on the target (deploy/README.md)"
  exit 0
fi

# ------------------------------------------------------------------ migrate
if [ "$phase" = all ] || [ "$phase" = migrate ]; then
step "applying the pending migrations to $db_name (as $db_owner, $([ "$migration_transactions" = each ] && echo 'one transaction each' || echo 'all in one transaction'))"
# The framework's migrations first (their own versions, kiva_meta.framework_version), then
# the application's: with MIGRATION_TRANSACTIONS=single, each part is one transaction.
remote_psql "-f .incoming/sql/kiva/migrations/migrate.psql -f .incoming/sql/migrations/migrate.psql" ||
  die "the migrations stopped (above): $([ "$migration_transactions" = each ] && echo 'the failing one was rolled back (those before it are applied)' || echo 'none was applied'), nothing was switched, the worker still runs the previous release"
if [ "$phase" = migrate ]; then say "migrations applied"; exit 0; fi
fi
if [ "$phase" = switch ]; then
  remote "grep -qxF $(q "$release") $A/.incoming/VERSION" ||
    die ".incoming on the target holds another release than '$release': nothing was switched"
fi

# ------------------------------------------------------------------ shared token keys
if [ -n "$token_keys_file" ]; then
  step "writing the shared token keys of $token_keys_file to $app_dir/conf/token.keys (the worker reads it, the deploy account cannot)"
  printf '  + (standard input: %s)\n' "$token_keys_file" >&2
  if [ "$dry_run" = 1 ]; then remote "cat >$A/conf/token.keys"; else
    remote "cat >$A/conf/token.keys" <"$token_keys_file" || die "cannot write conf/token.keys on the target: nothing was switched"
  fi
fi

# ------------------------------------------------------------------ switch
step "switching to the new release $release_id (each file renamed into place: running processes keep the old one)"
remote "set -e
cd $A
# A release of the layout before releases/ (bin/kiva without releases/CURRENT) is kept too.
if [ -e bin/kiva ] && [ ! -e releases/CURRENT ]; then
  old=\$(date -u -r bin/kiva +%Y%m%dT%H%M%SZ)-before-releases
  mkdir -p releases/\$old/bin releases/\$old/conf
  cp -p bin/kiva releases/\$old/bin/ && cp -p conf/kiva.conf releases/\$old/conf/ && cp -pr sql releases/\$old/sql
  cp -p VERSION releases/\$old/ 2>/dev/null || echo unknown >releases/\$old/VERSION
  echo \$old >releases/CURRENT
fi
rm -rf releases/$release_id releases/.new
mkdir -p releases/.new/bin releases/.new/conf
cp -p .incoming/bin/kiva .incoming/bin/kiva-admin releases/.new/bin/ && cp -p .incoming/conf/kiva.conf releases/.new/conf/
rsync -a --exclude=users.csv .incoming/sql/ releases/.new/sql/
cp -p .incoming/VERSION releases/.new/
mv releases/.new releases/$release_id
$(install_release "$release_id")
# Keep the last $keep_releases releases (and always the running one).
ls releases | grep -v '^CURRENT\$' | sort | head -n -$keep_releases | while read -r r; do
  [ \"\$r\" = $release_id ] || rm -rf \"releases/\$r\"
done" ||
  die "the switch failed (above): check $app_dir on the target (deploy/deploy.sh rollback puts the previous release back)"

restart_worker
health_check deploy "$release"

remote "cd $A && echo \"\$(date -u +%FT%TZ) deploy of '$release' ($release_id) by $who_line\" >>log/deploy.log" || true
say "deploy done: $instance runs '$release' (release $release_id)"
