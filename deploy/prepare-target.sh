#!/bin/bash
# One-time preparation of an application server for a kiva instance, run as root on that
# server (copy or clone the repository there). Idempotent: run it again to add a key, change
# the database password, or repair modes; it never deletes nor overwrites a secret.
#
# Usage: deploy/prepare-target.sh --instance NAME --db-host HOST [options]
#   --instance NAME          the instance (unix users NAME and NAME-deploy, /home/NAME,
#                            database NAME with - as _)
#   --db-host HOST[,HOST]    database server(s), as in the worker's conninfo (for ~/.pgpass)
#   --db-port PORT           (5432)
#   --db-password-file FILE  the runtime role's password (from deploy/prepare-db.sh): written
#                            to ~NAME/.pgpass (0600) and conf/apache.pgpass when it exists
#                            (line of this host:port); without it, existing lines are kept
#   --authorized-key FILE    a deployer's ssh public key (repeat for several); appended once to
#                            NAME-deploy's authorized_keys
#   --apache-user USER       Apache runs the worker (mod_fcgid) as USER (www-data): add USER to
#                            group NAME and give it its own password file (conf/apache.pgpass)
#   --systemd                install deploy/systemd/kiva@.{socket,service} and kiva-jobs@.service,
#                            enable kiva@NAME.socket and kiva-jobs@NAME.service (needs systemd)
#   --sudo-restart           let NAME-deploy run `systemctl restart kiva@NAME.service` and
#                            `systemctl restart kiva-jobs@NAME.service`, nothing else
#                            (/etc/sudoers.d/kiva-NAME, checked with visudo)
#   --cache-password-file F  the Redis password (deploy configuration CONF_cache=redis://...):
#                            written to conf/cache.password (0640 NAME:NAME), replaced when given
#   --no-packages            do not install missing packages (rsync, postgresql-client, logrotate)
#
# Two accounts: NAME runs the worker (no login shell, no ssh) and can read the secrets;
# NAME-deploy receives the deploys over ssh and owns the release files, but cannot read the
# secrets (not in group NAME) nor change its keys (root owns them). NAME (and Apache's user)
# are in group NAME-deploy to read the release.
#   /home/NAME-deploy    0750 root:NAME-deploy  home of the deploy account (bash, no password)
#     .ssh/              0755 root:root  authorized_keys 0644 root:root, key authentication only
#   /home/NAME           0750 NAME-deploy:NAME-deploy  the app directory (home of NAME)
#     .pgpass            0600 NAME:NAME  the runtime role's password for the worker (libpq)
#     bin/ sql/          0750  the binary and SQL, installed by make deploy
#     conf/              0750  kiva.conf (0640, by make deploy); token.secret (0640 NAME:NAME,
#                              made here once, never leaves this host); token.keys (0420
#                              NAME:NAME-deploy: the key set shared by every host, which
#                              make deploy writes from TOKEN_KEYS_FILE and cannot read back);
#                              cache.password (0640 NAME:NAME); apache.pgpass
#     log/               0750  deploy.log (one line per deploy; /etc/logrotate.d/kiva-NAME rotates it)
#     releases/          0750  the last releases, for deploy.sh rollback
#     www/               0755  static files of the vhost (empty)
#     .incoming/         0750  the upload area of make deploy
set -euo pipefail
KIVA_TOOL=prepare-target
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/common.sh"

usage() { print_header "$0"; exit "${1:-0}"; }
instance="" db_host="" db_port=5432 db_password_file="" apache_user="" systemd=0 sudo_restart=0
packages=1 cache_password_file=""
keys=()
while [ $# -gt 0 ]; do
  case $1 in
    -h|--help) usage 0 ;;
    --systemd) systemd=1; shift; continue ;;
    --sudo-restart) sudo_restart=1; shift; continue ;;
    --no-packages) packages=0; shift; continue ;;
    --*) [ $# -ge 2 ] || die "$1 needs a value" ;;
    *) die "unexpected argument '$1' (see --help)" ;;
  esac
  case $1 in
    --instance) instance=$2 ;;
    --db-host) db_host=$2 ;;
    --db-port) db_port=$2 ;;
    --db-password-file) db_password_file=$2 ;;
    --authorized-key) keys+=("$2") ;;
    --apache-user) apache_user=$2 ;;
    --cache-password-file) cache_password_file=$2 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift 2
done
[ -n "$instance" ] && [ -n "$db_host" ] || die "--instance and --db-host are required (see --help)"
check_instance "$instance"
[[ "$db_host" =~ ^[A-Za-z0-9.:/_-]+(,[A-Za-z0-9.:/_-]+)*$ ]] || die "bad --db-host '$db_host'"
# Several database servers (an HA cluster: the conninfo's host=A,B,C): one .pgpass line each.
IFS=, read -r -a db_hosts <<<"$db_host"
[[ "$db_port" =~ ^[0-9]+$ ]] || die "bad --db-port '$db_port'"
[ "$(id -u)" = 0 ] || die "run as root (it creates a user and sets owners)"
if [ -n "$apache_user" ]; then id "$apache_user" >/dev/null 2>&1 || die "no user $apache_user (--apache-user)"; fi
if [ -n "$db_password_file" ]; then [ -r "$db_password_file" ] || die "cannot read $db_password_file"; fi
if [ -n "$cache_password_file" ]; then [ -s "$cache_password_file" ] || die "cannot read $cache_password_file (or empty)"; fi
for k in "${keys[@]}"; do
  [ -r "$k" ] || die "cannot read the public key $k"
  grep -qE '^(ssh-|ecdsa-|sk-)' "$k" || die "$k does not look like an ssh public key (ssh-ed25519 AAAA...)"
done

user=$instance
home=/home/$instance
deployer=$instance-deploy
deployer_home=/home/$deployer
db=$(sql_name "$instance")
runtime=$db

# ------------------------------------------------------------------ packages
if [ "$packages" = 1 ]; then
  missing=""
  command -v rsync >/dev/null || missing="$missing rsync"
  command -v psql >/dev/null || missing="$missing postgresql-client"
  command -v logrotate >/dev/null || missing="$missing logrotate"
  # The worker links hiredis (the shared cache client), whether or not `cache` is set.
  grep -q 'libhiredis\.so' <<<"$(ldconfig -p 2>/dev/null)" || missing="$missing libhiredis0.14"
  if [ -n "$missing" ]; then
    command -v apt-get >/dev/null || die "install$missing (needed by make deploy)"
    say "installing$missing"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing; }
  fi
fi

# ------------------------------------------------------------------ users and directories
nologin=$(command -v nologin || echo /usr/sbin/nologin)
# ensure_user NAME HOME SHELL
ensure_user() {
  if id "$1" >/dev/null 2>&1; then
    say "user $1 exists"
    [ "$(getent passwd "$1" | cut -d: -f6)" = "$2" ] || die "user $1 exists with another home than $2"
    [ "$(getent passwd "$1" | cut -d: -f7)" = "$3" ] || { say "login shell of $1: $3"; usermod -s "$3" "$1"; }
  else
    say "creating user $1 (home $2, no password)"
    adduser --quiet --disabled-password --comment "kiva instance $instance" --shell "$3" --home "$2" "$1"
  fi
}
ensure_user "$user" "$home" "$nologin"
ensure_user "$deployer" "$deployer_home" /bin/bash
group=$(id -gn "$user")
dgroup=$(id -gn "$deployer")
# "!" (what adduser --disabled-password leaves) marks a locked account, which sshd refuses
# even with a key when UsePAM is off; "*" is "no password" without the lock.
if [ "$(getent shadow "$deployer" | cut -d: -f2)" = "!" ]; then usermod -p '*' "$deployer"; fi
# in_group USER GROUP: adds USER to GROUP unless it is in it.
in_group() {
  id -nG "$1" | tr ' ' '\n' | grep -qxF "$2" && return 0
  say "adding $1 to group $2"
  usermod -a -G "$2" "$1"
}
in_group "$user" "$dgroup"   # the worker reads the release
if id -nG "$deployer" | tr ' ' '\n' | grep -qxF "$group"; then
  die "$deployer is in group $group: it could read the secrets (gpasswd -d $deployer $group)"
fi

# ensure_dir PATH MODE [OWNER]: creates or repairs.
ensure_dir() {
  local path=$1 mode=$2 owner=${3:-$deployer:$dgroup}
  [ -d "$path" ] || say "creating $path"
  install -d -m "$mode" -o "${owner%%:*}" -g "${owner#*:}" "$path"
}
ensure_dir "$deployer_home" 0750 "root:$dgroup"
ensure_dir "$deployer_home/.ssh" 0755 root:root
ensure_dir "$home" 0750
for d in bin sql conf log releases .incoming; do ensure_dir "$home/$d" 0750; done
ensure_dir "$home/www" 0755
# From the layout where NAME itself received the deploys: the release files go to the deploy
# account, the keys to its authorized_keys.
for f in bin sql log releases .incoming www conf/kiva.conf VERSION .previous .deploy.lock; do
  [ ! -e "$home/$f" ] || chown -R "$deployer:$dgroup" "$home/$f"
done
# run/: the shared metrics file of the worker's processes (and of those mod_fcgid spawns as
# Apache's user, which is in the group): written by the worker, never by the deploy account.
ensure_dir "$home/run" 2770 "$user:$group"

# ------------------------------------------------------------------ ssh keys
ak=$deployer_home/.ssh/authorized_keys
touch "$ak"
old_ak=$home/.ssh/authorized_keys
[ ! -f "$old_ak" ] || { say "moving the keys of $old_ak to $ak ($user receives no ssh login)"; keys+=("$old_ak"); }
for k in "${keys[@]}"; do
  while IFS= read -r line; do
    [ -z "$line" ] && continue
    if grep -qxF "$line" "$ak"; then
      say "key already authorized: ${line:0:40}..."
    else
      say "authorizing key ${line:0:40}..."
      printf '%s\n' "$line" >>"$ak"
    fi
  done <"$k"
done
[ ! -f "$old_ak" ] || rm -rf "$home/.ssh"
# root's: the deploy account cannot add a key nor remove one.
chown root:root "$ak"; chmod 0644 "$ak"
[ -s "$ak" ] || warn "no key in $ak yet: make deploy cannot log in (--authorized-key FILE)"

# ------------------------------------------------------------------ token secret
secret=$home/conf/token.secret
if [ -s "$secret" ]; then
  say "token secret exists (kept)"
else
  say "generating the token secret $secret"
  (umask 077 && openssl rand -hex 32 >"$secret.new" && mv -f "$secret.new" "$secret")
fi
chown "$user:$group" "$secret"; chmod 0640 "$secret"
# The key set shared by the hosts of a scaled-out instance (TOKEN_KEYS_FILE in the deploy
# configuration): the deploy account writes it (group write) but cannot read it; only the
# worker (its owner) reads it. Empty until the first such deploy.
keys_file=$home/conf/token.keys
[ -e "$keys_file" ] || { say "creating the shared key set slot $keys_file (filled by make deploy)"; : >"$keys_file"; }
chown "$user:$dgroup" "$keys_file"; chmod 0420 "$keys_file"

# ------------------------------------------------------------------ cache (Redis) password
cache_pw=$home/conf/cache.password
if [ -n "$cache_password_file" ]; then
  say "writing the cache password to $cache_pw (0640 $user:$group)"
  tmpf=$(mktemp "$cache_pw.XXXXXX")
  head -n 1 "$cache_password_file" >"$tmpf"
  chown "$user:$group" "$tmpf"; chmod 0640 "$tmpf"
  mv -f "$tmpf" "$cache_pw"
fi

# ------------------------------------------------------------------ database password
# The owner role's password (DDL) never goes to the worker: only the deploy's migrations use it.
for f in "$home/.pgpass" "$home/conf/apache.pgpass"; do
  if [ -f "$f" ] && cut -d: -f4 "$f" | grep -qxF "${db}_owner"; then
    die "$f has a line for the owner role ${db}_owner: remove it (the worker must not be able to change the schema)"
  fi
done
# write_pgpass FILE OWNER: sets the line of host:port:db:runtime (other lines are kept).
pgpass_escape() { sed -e 's/\\/\\\\/g' -e 's/:/\\:/g' <<<"$1"; }
write_pgpass() {
  local file=$1 owner=$2 password prefix tmpf h
  password=$(head -n 1 "$db_password_file")
  [ -n "$password" ] || die "$db_password_file is empty"
  local patterns=()
  for h in "${db_hosts[@]}"; do patterns+=(-e "$(pgpass_escape "$h"):$db_port:$db:$runtime:"); done
  tmpf=$(mktemp "$file.XXXXXX")   # 0600: libpq ignores a password file others can read
  if [ -f "$file" ]; then grep -vF "${patterns[@]}" "$file" >"$tmpf" || true; fi
  for h in "${db_hosts[@]}"; do
    prefix="$(pgpass_escape "$h"):$db_port:$db:$runtime:"
    printf '%s%s\n' "$prefix" "$(pgpass_escape "$password")" >>"$tmpf"
  done
  chmod 0600 "$tmpf"
  chown "$owner" "$tmpf"
  mv -f "$tmpf" "$file"
}
if [ -n "$db_password_file" ]; then
  say "writing the runtime role's password to $home/.pgpass ($db_host:$db_port:$db:$runtime)"
  write_pgpass "$home/.pgpass" "$user:$group"
elif [ -f "$home/.pgpass" ]; then
  say "$home/.pgpass exists (kept)"
else
  warn "no $home/.pgpass: the worker cannot log in to the database (--db-password-file FILE)"
fi
[ -f "$home/.pgpass" ] && chmod 0600 "$home/.pgpass"

# ------------------------------------------------------------------ Apache (mod_fcgid)
if [ -n "$apache_user" ]; then
  in_group "$apache_user" "$group"   # the secrets (Apache must be restarted to see a new group)
  in_group "$apache_user" "$dgroup"
  [ -n "$db_password_file" ] || [ -f "$home/conf/apache.pgpass" ] ||
    warn "no $home/conf/apache.pgpass: the mod_fcgid worker cannot log in (--db-password-file FILE)"
fi
# Apache's copy follows every change of the password, with --apache-user or not: a copy left
# with the old password gives 503 from the mod_fcgid worker.
apache_pgpass=$home/conf/apache.pgpass
if [ -n "$db_password_file" ] && { [ -n "$apache_user" ] || [ -f "$apache_pgpass" ]; }; then
  apache_owner=${apache_user:-$(stat -c %U "$apache_pgpass")}
  say "writing $apache_pgpass for $apache_owner (mode 0600)"
  write_pgpass "$apache_pgpass" "$apache_owner:$group"
fi

# ------------------------------------------------------------------ log rotation
if [ -d /etc/logrotate.d ]; then
  rules=/etc/logrotate.d/kiva-$instance
  tmpf=$(mktemp)
  render "$here/logrotate/kiva.in" "INSTANCE=$instance" "APP_DIR=$home" "DEPLOYER=$deployer" >"$tmpf"
  if cmp -s "$tmpf" "$rules"; then
    say "log rotation rules $rules are up to date"
  else
    say "installing the log rotation rules $rules (log/deploy.log)"
    install -m 0644 "$tmpf" "$rules"
  fi
  rm -f "$tmpf"
  command -v logrotate >/dev/null || warn "logrotate is not installed: $rules does nothing (apt-get install logrotate)"
else
  warn "no /etc/logrotate.d: rotate $home/log/deploy.log by other means"
fi

# ------------------------------------------------------------------ systemd and sudo
if [ "$systemd" = 1 ]; then
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    changed=0
    for u in kiva@.socket kiva@.service kiva-jobs@.service; do
      if ! cmp -s "$here/systemd/$u" "/etc/systemd/system/$u"; then
        say "installing /etc/systemd/system/$u"
        install -m 0644 "$here/systemd/$u" "/etc/systemd/system/$u"
        changed=1
      fi
    done
    [ "$changed" = 0 ] || systemctl daemon-reload
    say "enabling kiva@$instance.socket (the worker starts on the first request or the first deploy)"
    systemctl enable --now "kiva@$instance.socket"
    # Not started now: the first deploy installs the binary and (re)starts it.
    say "enabling kiva-jobs@$instance.service (the jobs worker: started by each deploy, and at boot)"
    systemctl enable "kiva-jobs@$instance.service"
  else
    warn "no systemd here: install deploy/systemd/kiva@.socket, kiva@.service and kiva-jobs@.service by hand"
  fi
fi
if [ "$sudo_restart" = 1 ]; then
  if [ -d /etc/sudoers.d ] && command -v visudo >/dev/null; then
    systemctl_path=$(command -v systemctl || echo /usr/bin/systemctl)
    rule="$deployer ALL=(root) NOPASSWD: $systemctl_path restart kiva@$instance.service, $systemctl_path restart kiva-jobs@$instance.service"
    f=/etc/sudoers.d/kiva-$instance
    tmpf=$(mktemp)
    printf '# make deploy restarts the workers of %s (requests, jobs), and nothing else.\n%s\n' "$instance" "$rule" >"$tmpf"
    visudo -cqf "$tmpf" || { rm -f "$tmpf"; die "visudo rejects: $rule"; }
    install -m 0440 "$tmpf" "$f"; rm -f "$tmpf"
    say "sudo rule in $f: $rule"
  else
    warn "sudo is not installed: the deploy cannot restart the systemd worker (install sudo and run again with --sudo-restart)"
  fi
fi

cat >&2 <<EOF
$KIVA_TOOL: $instance is ready on $(uname -n) (deploys log in as $deployer). In the
deployer's deploy/deploy.local.conf:
    INSTANCE=$instance
    TARGET_HOST=<this host's name>
    DATABASE=host=$db_host port=$db_port dbname=$db user=$runtime sslmode=verify-full sslrootcert=<CA file>
EOF
