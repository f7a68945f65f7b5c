#!/bin/bash
# Renders the web server files of one kiva instance from the shipped templates:
#   apache/kiva-fcgid.conf.in       -> OUT/apache-fcgid.conf      (Apache runs the worker: mod_fcgid)
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
#          [--fcgid-max-processes 8] [--fcgid-idle-timeout 300] [--metrics-allow CIDR]...
# /metrics is reachable from loopback and every --metrics-allow network (the monitoring one).
set -euo pipefail
KIVA_TOOL=render-site
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$here/lib/common.sh"

usage() { print_header "$0"; exit "${1:-0}"; }

instance="" server_name="" cert="" key="" out="" app_dir="" prefix=/api body_limit=1M
https_port=443 http_port=80 socket="" api_conf="" nginx_log_dir=/var/log/nginx listen_address=
fcgid_max=8 fcgid_idle=300 metrics_allow=()
while [ $# -gt 0 ]; do
  opt=$1
  case $opt in
    -h|--help) usage 0 ;;
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
for p in "$https_port" "$http_port" "$fcgid_max" "$fcgid_idle"; do
  [[ "$p" =~ ^[0-9]+$ ]] || die "'$p' is not a number"
done
app_dir=${app_dir:-/home/$instance}
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
  "FCGID_MAX_PROCESSES=$fcgid_max" "FCGID_IDLE_TIMEOUT=$fcgid_idle"
  "NGINX_LISTEN_HTTPS=$listen_https" "NGINX_LISTEN_HTTP=$listen_http"
  "NGINX_LISTEN_HTTPS_DEFAULT=$listen_https_default" "NGINX_LISTEN_HTTP_DEFAULT=$listen_http_default"
  "METRICS_ALLOW=$nginx_allow" "METRICS_ALLOW_APACHE=$apache_allow"
)
mkdir -p "$out"
render "$root/apache/kiva-fcgid.conf.in" "${values[@]}" >"$out/apache-fcgid.conf"
render "$root/apache/kiva-proxy-fcgi.conf.in" "${values[@]}" >"$out/apache-proxy-fcgi.conf"
render "$root/nginx/kiva-site.conf.in" "${values[@]}" >"$out/nginx-site.conf"
render "$root/nginx/kiva-api.conf.in" "${values[@]}" >"$out/nginx-api.conf"
render "$root/nginx/kiva-default.conf.in" "${values[@]}" >"$out/nginx-default.conf"
render "$root/apache/kiva-default.conf.in" "${values[@]}" >"$out/apache-default.conf"
say "rendered $out/{apache-fcgid,apache-proxy-fcgi,nginx-site,nginx-api,nginx-default,apache-default}.conf for $instance ($server_name)"
cat >&2 <<EOF
$KIVA_TOOL: to install (as root, after review), either Apache in front of the systemd worker
  (kiva@$instance.socket; the recommended Apache variant, see deploy/README.md):
    cp $out/apache-proxy-fcgi.conf /etc/apache2/sites-available/$instance.conf
    a2enmod ssl headers proxy proxy_fcgi && a2ensite $instance && apachectl configtest && apachectl graceful
  or Apache running the worker with mod_fcgid (size --fcgid-max-processes to the peak concurrency):
    cp $out/apache-fcgid.conf /etc/apache2/sites-available/$instance.conf
    a2enmod ssl headers fcgid alias unique_id && a2ensite $instance && apachectl configtest && apachectl graceful
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
