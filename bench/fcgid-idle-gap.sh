#!/bin/bash
# What an idle gap does to a mod_fcgid pool: one private Apache (mpm_event) runs bench/hello.cpp
# under mod_fcgid with the shipped template's pool settings (24 processes, spawn limits, the
# wrapper and deploy/fcgid-warm.sh), once with FcgidIdleTimeout IDLE (scan every second: the
# default 300 s shortened to show in seconds what five quiet minutes do) and once as shipped
# (0, scans hourly). Each: warm-up, wrk -c16 for SECONDS, GAP seconds of nothing, wrk again;
# requests >= 900 ms counted from Apache's access log (%D), the pool counted after each step.
# Usage: sudo bench/fcgid-idle-gap.sh [IDLE=5] [SECONDS=5] [GAP=8]   (loopback only)
set -euo pipefail
idle=${1:-5} secs=${2:-5} gap=${3:-8}
root=$(cd "$(dirname "$0")/.." && pwd)
state=$(mktemp -d /tmp/kiva-fcgid-idle-XXXXXX)
chmod 0755 "$state"
apache_pid=""
cleanup() {
  [ -z "$apache_pid" ] || { kill "$apache_pid" 2>/dev/null; wait "$apache_pid" 2>/dev/null || true; }
  rm -rf "$state"
}
trap cleanup EXIT
mkdir -p "$state/app/bin" "$state/app/run" "$state/app/fcgid" "$state/fcgid" "$state/run" "$state/log"
# shellcheck disable=SC2046  # pkg-config's flags are meant to be split
g++ -std=c++20 -O2 -o "$state/app/bin/kiva" "$root/bench/hello.cpp" $(pkg-config --cflags --libs fcgi) -lpthread
printf '#!/bin/sh\nif [ -e %s/app/run/fcgid-warming ]; then sleep 1.5; fi\nexec %s/app/bin/kiva\n' "$state" "$state" \
  >"$state/app/fcgid/kiva-fcgid"
chmod -R a+rX "$state/app"; chmod 0755 "$state/app/fcgid/kiva-fcgid"
chown www-data "$state/fcgid" "$state/app/run"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'INSTANCE=idle-gap\nPOOL=24\nURL=http://127.0.0.1:%s/api/health\nAPP_DIR=%s/app\n' "$port" "$state" >"$state/warm.conf"
count() { awk '$1 >= 900000' "$state/log/access.log" | wc -l; }
pool() { pgrep -fc "^$state/app/bin/kiva" || true; }

for setting in "$idle 1" "0 3600"; do
  read -r timeout scan <<<"$setting"
  cat >"$state/httpd.conf" <<EOF
ServerRoot /etc/apache2
ServerName localhost
DefaultRuntimeDir $state/run
PidFile $state/run/httpd.pid
ErrorLog $state/log/error.log
User www-data
Group www-data
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so
LoadModule mime_module /usr/lib/apache2/modules/mod_mime.so
LoadModule fcgid_module /usr/lib/apache2/modules/mod_fcgid.so
TypesConfig /etc/mime.types
FcgidIPCDir $state/fcgid
FcgidProcessTableFile $state/fcgid/shm
FcgidSpawnScoreUpLimit 256
FcgidMaxProcesses 256
FcgidIdleScanInterval $scan
FcgidBusyScanInterval 3600
FcgidZombieScanInterval 3600
Mutex pthread fcgid-proctbl fcgid-pipe
Listen 127.0.0.1:$port
<VirtualHost 127.0.0.1:$port>
  CustomLog $state/log/access.log "%D"
  FcgidMaxProcessesPerClass 24
  FcgidIdleTimeout $timeout
  FcgidProcessLifeTime 0
  Alias /api $state/app/fcgid/kiva-fcgid
  <Directory $state/app/fcgid>
    Options +ExecCGI
    SetHandler fcgid-script
    FcgidWrapper $state/app/fcgid/kiva-fcgid
    AcceptPathInfo On
    Require all granted
  </Directory>
</VirtualHost>
EOF
  apache2 -f "$state/httpd.conf" -DFOREGROUND &
  apache_pid=$!
  for _ in $(seq 50); do [ -s "$state/run/httpd.pid" ] && break; sleep 0.1; done
  "$root/deploy/fcgid-warm.sh" --conf "$state/warm.conf"
  : >"$state/log/access.log"
  wrk -t1 -c16 -d"${secs}s" "http://127.0.0.1:$port/api/x" >/dev/null
  echo "FcgidIdleTimeout $timeout: under load $(wc -l <"$state/log/access.log") requests, $(count) >= 900 ms, pool $(pool)"
  sleep "$gap"
  echo "FcgidIdleTimeout $timeout: after $gap s idle, pool $(pool)"
  : >"$state/log/access.log"
  wrk -t1 -c16 -d"${secs}s" "http://127.0.0.1:$port/api/x" >/dev/null
  echo "FcgidIdleTimeout $timeout: after the gap $(wc -l <"$state/log/access.log") requests, $(count) >= 900 ms, pool $(pool)"
  kill "$apache_pid"; wait "$apache_pid" 2>/dev/null || true; apache_pid=""
done
