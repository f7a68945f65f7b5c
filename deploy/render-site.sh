#!/bin/bash
# Renders the web server files of one kiva instance from the shipped templates:
#   apache/kiva-fcgid.conf.in       -> OUT/apache-fcgid.conf      (Apache runs the worker: mod_fcgid)
#   apache/kiva-fcgid-wrapper.in    -> OUT/kiva-fcgid             (mod_fcgid starts the worker through it;
#                                                                  installed twice: classes a and b)
#   (the warm-up's settings)        -> OUT/fcgid-warm.conf        (for deploy/fcgid-warm.sh)
#   apache/kiva-proxy-fcgi.conf.in  -> OUT/apache-proxy-fcgi.conf (Apache in front of the systemd worker)
#   nginx/kiva-site.conf.in         -> OUT/nginx-site.conf        (nginx in front of the systemd worker)
#   nginx/kiva-api.conf.in          -> OUT/nginx-api.conf         (the API location, included by the site)
#   nginx/kiva-default.conf.in      -> OUT/nginx-default.conf     (refuses unknown names: once per machine)
#   apache/kiva-default.conf.in     -> OUT/apache-default.conf    (refuses unknown names: once per machine)
# Nothing is installed: review the files, then copy them (the commands are printed).
#
# Usage: deploy/render-site.sh --instance NAME --server-name HOST --cert FILE --key FILE --out DIR
#          [--app-dir DIR] [--prefix /api] [--body-limit 1M] [--https-port 443] [--http-port 80]
#          [--socket PATH] [--nginx-api-conf PATH] [--nginx-log-dir DIR] [--listen-address IP]
#          [--fcgid-max-processes N | --mpm-conf FILE] [--runtime-connections N] [--suexec]
#          [--fcgid-wrapper PATH] [--fcgid-idle-timeout 0] [--metrics-allow CIDR]...
# /metrics is reachable from loopback and every --metrics-allow network (the monitoring one).
# mod_fcgid's pool: --fcgid-max-processes, else the MaxRequestWorkers of --mpm-conf (default: the
# enabled mpm_*.conf of /etc/apache2, else Debian's 150): no Apache thread may find it full.
# --runtime-connections: the CONNECTION LIMIT given to prepare-db.sh; a pool above it is refused.
# --suexec: the worker runs as the account INSTANCE (SuexecUserGroup), not as Apache's user; its
# wrapper then goes below suEXEC's document root (/var/www/kiva/INSTANCE/kiva-fcgid).
# --fcgid-idle-timeout: 0 (never) is the shipped setting; anything else is for demonstrations.
set -euo pipefail
KIVA_TOOL=render-site
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$here/lib/common.sh"

usage() { print_header "$0"; exit "${1:-0}"; }

instance="" server_name="" cert="" key="" out="" app_dir="" prefix=/api body_limit=1M
https_port=443 http_port=80 socket="" api_conf="" nginx_log_dir=/var/log/nginx listen_address=
fcgid_max="" fcgid_idle=0 metrics_allow=() mpm_conf="" runtime_connections="" suexec=0 wrapper=""
while [ $# -gt 0 ]; do
  opt=$1
  case $opt in
    -h|--help) usage 0 ;;
    --suexec) suexec=1; shift; continue ;;
    --*) [ $# -ge 2 ] || die "$opt needs a value" ;;
    *) die "unexpected argument '$opt' (see --help)" ;;
  esac
  case $opt in
    --instance) instance=$2 ;;
    --server-name) server_name=$2 ;;
    --cert) cert=$2 ;;
    --key) key=$2 ;;
    --out) out=$2 ;;
    --app-dir) app_dir=$2 ;;
    --prefix) prefix=$2 ;;
    --body-limit) body_limit=$2 ;;
    --https-port) https_port=$2 ;;
    --http-port) http_port=$2 ;;
    --socket) socket=$2 ;;
    --nginx-api-conf) api_conf=$2 ;;
    --nginx-log-dir) nginx_log_dir=$2 ;;
    --listen-address) listen_address=$2 ;;
    --fcgid-max-processes) fcgid_max=$2 ;;
    --fcgid-idle-timeout) fcgid_idle=$2 ;;
    --mpm-conf) mpm_conf=$2 ;;
    --runtime-connections) runtime_connections=$2 ;;
    --fcgid-wrapper) wrapper=$2 ;;
    --metrics-allow) metrics_allow+=("$2") ;;
    *) die "unknown option $opt (see --help)" ;;
  esac
  shift 2
done
[ -n "$instance" ] && [ -n "$server_name" ] && [ -n "$cert" ] && [ -n "$key" ] && [ -n "$out" ] ||
  die "--instance, --server-name, --cert, --key and --out are required (see --help)"
check_instance "$instance"
[[ "$server_name" =~ ^[A-Za-z0-9.-]+$ ]] || die "bad server name '$server_name'"
[[ "$prefix" =~ ^/[A-Za-z0-9._/-]*[A-Za-z0-9._-]$ ]] || die "bad prefix '$prefix' (e.g. /api, no trailing slash)"
app_dir=${app_dir:-/home/$instance}
# The pool: one process per Apache thread that can serve this vhost at once, so that no request
# ever finds it full (a full pool makes the next request sleep a second).
if [ -z "$fcgid_max" ]; then
  if [ -z "$mpm_conf" ]; then
    for f in /etc/apache2/mods-enabled/mpm_event.conf /etc/apache2/mods-enabled/mpm_worker.conf \
             /etc/apache2/mods-enabled/mpm_prefork.conf; do
      [ -f "$f" ] && { mpm_conf=$f; break; }
    done
  fi
  if [ -n "$mpm_conf" ]; then
    [ -r "$mpm_conf" ] || die "cannot read $mpm_conf"
    fcgid_max=$(awk 'tolower($1) == "maxrequestworkers" || tolower($1) == "maxclients" {n = $2} END {print n}' "$mpm_conf")
    [ -n "$fcgid_max" ] || die "no MaxRequestWorkers in $mpm_conf: pass --fcgid-max-processes"
    say "mod_fcgid pool: $fcgid_max processes, the MaxRequestWorkers of $mpm_conf"
  else
    fcgid_max=150
    say "mod_fcgid pool: 150 processes (Debian's MaxRequestWorkers; --fcgid-max-processes or --mpm-conf to change)"
  fi
fi
for p in "$https_port" "$http_port" "$fcgid_max" "$fcgid_idle" ${runtime_connections:+"$runtime_connections"}; do
  [[ "$p" =~ ^[0-9]+$ ]] || die "'$p' is not a number"
done
[ "$fcgid_max" -ge 1 ] || die "--fcgid-max-processes must be at least 1"
# Each process holds a database connection of the runtime role (prepare-db.sh --runtime-connections).
if [ -n "$runtime_connections" ]; then
  # Two pools for the seconds of a deploy: the new one is full before the old one stops.
  [ $((2 * fcgid_max)) -le "$runtime_connections" ] ||
    die "a mod_fcgid pool of $fcgid_max processes needs $((2 * fcgid_max)) database connections (twice the pool while a deploy switches pools), over the runtime role's CONNECTION LIMIT $runtime_connections: raise it (prepare-db.sh --runtime-connections $((2 * fcgid_max)) or more) or lower the pool (MaxRequestWorkers, --fcgid-max-processes)"
  say "mod_fcgid pool of $fcgid_max (twice that during a deploy) within the runtime role's $runtime_connections connections"
else
  say "mod_fcgid pool of $fcgid_max processes = $fcgid_max database connections, twice that during a deploy: prepare-db.sh --runtime-connections must allow them (--runtime-connections N checks it)"
fi
# suEXEC runs only programs below its document root (Debian's apache2-suexec-custom: the first
# line of /etc/apache2/suexec/www-data, /var/www), owned by the target account, in a directory
# of its own that nobody else may write.
if [ "$suexec" = 1 ]; then wrapper=${wrapper:-/var/www/kiva/$instance/kiva-fcgid}; else wrapper=${wrapper:-$app_dir/fcgid/kiva-fcgid}; fi
[[ "$wrapper" =~ ^/[A-Za-z0-9._/-]+$ ]] || die "bad --fcgid-wrapper '$wrapper'"
if [ "$suexec" = 1 ]; then
  suexec_line="    # suEXEC: every process of this vhost runs as $instance, who alone reads its secrets.
    SuexecUserGroup $instance $instance"
  run_as="$instance (suEXEC)" wrapper_owner="$instance:$instance" pgpass=$app_dir/.pgpass
else
  suexec_line="    # No suEXEC: the worker runs as Apache's user (render-site.sh --suexec to change)."
  run_as="Apache's user" wrapper_owner="root:root" pgpass=$app_dir/conf/apache.pgpass
fi
socket=${socket:-/run/kiva/$instance.sock}
api_conf=${api_conf:-/etc/nginx/snippets/$instance-api.conf}
bytes=$(size_bytes "$body_limit")
suffix=""
[ "$https_port" = 443 ] || suffix=":$https_port"
upstream="$(sql_name "$instance")_workers"
# nginx listens on every address (IPv4 and IPv6) unless told one; Apache's Listen lines are
# in ports.conf, not in the site file.
if [ -n "$listen_address" ]; then
  [[ "$listen_address" =~ ^[0-9.]+$|^\[[0-9a-fA-F:]+\]$ ]] || die "bad listen address '$listen_address' (1.2.3.4 or [::1])"
  listen_https="listen $listen_address:$https_port ssl http2;"
  listen_http="listen $listen_address:$http_port;"
else
  listen_https="listen $https_port ssl http2;"$'\n'"    listen [::]:$https_port ssl http2;"
  listen_http="listen $http_port;"$'\n'"    listen [::]:$http_port;"
fi
# The default servers: the same listen lines, marked default_server.
listen_https_default=${listen_https//" ssl http2;"/" ssl http2 default_server;"}
listen_http_default=${listen_http//";"/" default_server;"}

nginx_allow="" apache_allow=""
for net in "${metrics_allow[@]}"; do
  [[ "$net" =~ ^[0-9.]+(/[0-9]+)?$|^[0-9a-fA-F:]+(/[0-9]+)?$ ]] || die "bad --metrics-allow '$net' (10.0.0.0/24)"
  nginx_allow+="        allow $net;"$'\n'
  apache_allow+=" $net"
done
nginx_allow=${nginx_allow%$'\n'}

values=(
  "INSTANCE=$instance" "SERVER_NAME=$server_name" "CERT_FILE=$cert" "KEY_FILE=$key"
  "APP_DIR=$app_dir" "PREFIX=$prefix" "HTTPS_PORT=$https_port" "HTTP_PORT=$http_port"
  "HTTPS_PORT_SUFFIX=$suffix" "SOCKET=$socket" "UPSTREAM=$upstream" "API_CONF=$api_conf"
  "NGINX_LOG_DIR=$nginx_log_dir" "BODY_LIMIT=$body_limit" "BODY_LIMIT_BYTES=$bytes"
  "FCGID_MAX_PROCESSES=$fcgid_max" "FCGID_IDLE_TIMEOUT=$fcgid_idle" "FCGID_WRAPPER=$wrapper"
  "FCGID_WRAPPER_DIR=$(dirname "$wrapper")" "FCGID_WRAPPER_NAME=$(basename "$wrapper")"
  "SUEXEC=$suexec_line" "RUN_AS=$run_as" "WRAPPER=$wrapper" "WRAPPER_OWNER=$wrapper_owner" "PGPASSFILE=$pgpass"
  "NGINX_LISTEN_HTTPS=$listen_https" "NGINX_LISTEN_HTTP=$listen_http"
  "NGINX_LISTEN_HTTPS_DEFAULT=$listen_https_default" "NGINX_LISTEN_HTTP_DEFAULT=$listen_http_default"
  "METRICS_ALLOW=$nginx_allow" "METRICS_ALLOW_APACHE=$apache_allow"
)
mkdir -p "$out"
render "$root/apache/kiva-fcgid.conf.in" "${values[@]}" >"$out/apache-fcgid.conf"
render "$root/apache/kiva-fcgid-wrapper.in" "${values[@]}" >"$out/kiva-fcgid"
chmod 0755 "$out/kiva-fcgid"
# What deploy/fcgid-warm.sh needs to fill this pool: its size, a URL for loopback, the app.
cat >"$out/fcgid-warm.conf" <<EOF
# deploy/fcgid-warm.sh: the mod_fcgid pool of $instance (rendered by render-site.sh)
INSTANCE=$instance
POOL=$fcgid_max
URL=https://$server_name:$https_port$prefix/health
APP_DIR=$app_dir
# Clients are served by class b while this file exists, else by class a (--switch moves them).
CLASS_FLAG=$(dirname "$wrapper")/class-b
EOF
render "$root/apache/kiva-proxy-fcgi.conf.in" "${values[@]}" >"$out/apache-proxy-fcgi.conf"
render "$root/nginx/kiva-site.conf.in" "${values[@]}" >"$out/nginx-site.conf"
render "$root/nginx/kiva-api.conf.in" "${values[@]}" >"$out/nginx-api.conf"
render "$root/nginx/kiva-default.conf.in" "${values[@]}" >"$out/nginx-default.conf"
render "$root/apache/kiva-default.conf.in" "${values[@]}" >"$out/apache-default.conf"
say "rendered $out/{apache-fcgid,apache-proxy-fcgi,nginx-site,nginx-api,nginx-default,apache-default}.conf, kiva-fcgid and fcgid-warm.conf for $instance ($server_name)"
cat >&2 <<EOF
$KIVA_TOOL: to install (as root, after review), either Apache in front of the systemd worker
  (kiva@$instance.socket; the recommended Apache variant, see deploy/README.md):
    cp $out/apache-proxy-fcgi.conf /etc/apache2/sites-available/$instance.conf
    a2enmod ssl headers deflate proxy proxy_fcgi && a2ensite $instance && apachectl configtest && apachectl graceful
  or Apache running the worker with mod_fcgid (a pool of $fcgid_max processes, filled after every
  start and reload by the apache2.service drop-in, see deploy/README.md):
    install -d -o ${wrapper_owner%%:*} -g ${wrapper_owner##*:} -m 0755 $(dirname "$wrapper")
    install -o ${wrapper_owner%%:*} -g ${wrapper_owner##*:} -m 0755 $out/kiva-fcgid $wrapper
    install -o ${wrapper_owner%%:*} -g ${wrapper_owner##*:} -m 0755 $out/kiva-fcgid $wrapper-b
    install -D -m 0644 $out/fcgid-warm.conf /etc/kiva/fcgid-warm.d/$instance.conf
    cp $out/apache-fcgid.conf /etc/apache2/sites-available/$instance.conf
    a2enmod ssl headers deflate fcgid alias rewrite unique_id$([ "$suexec" = 1 ] && printf ' suexec') && a2ensite $instance && apachectl configtest && systemctl reload apache2
  or nginx in front of the systemd worker (kiva@$instance.socket):
    cp $out/nginx-api.conf $api_conf
    cp $out/nginx-site.conf /etc/nginx/sites-available/$instance.conf
    ln -s ../sites-available/$instance.conf /etc/nginx/sites-enabled/ && nginx -t && nginx -s reload
  and, once per machine and port pair, the default server that refuses unknown names (without
  it, a name of no instance lands on the first instance read):
    nginx:  cp $out/nginx-default.conf /etc/nginx/sites-available/000-kiva-default.conf
            rm -f /etc/nginx/sites-enabled/default && ln -s ../sites-available/000-kiva-default.conf /etc/nginx/sites-enabled/
    Apache: cp $out/apache-default.conf /etc/apache2/sites-available/000-kiva-default.conf
            a2enmod rewrite && a2dissite 000-default && a2ensite 000-kiva-default
EOF
