#!/bin/bash
# Does mod_fcgid's "(35)Resource deadlock avoided: can't lock process table" depend on Apache's
# mutex mechanism? For each of default, pthread, file: (fcntl, Debian's apache2.conf) and sysvsem:
# one private Apache (mpm_event, Debian's thread settings) running bench/hello.cpp under mod_fcgid
# (pool of 24), ROUNDS times: a graceful reload empties the pool, wrk -c48 regrows it by load for
# SECONDS; then the lock errors in its error log and the slow requests (>= 900 ms, Apache's %D).
# Usage: sudo bench/fcgid-mutex.sh [ROUNDS=5] [SECONDS=5]   (loopback only; about 4 x ROUNDS x
# (SECONDS + 3) s). HELLO=FILE uses a built responder (else built into the state directory).
set -euo pipefail
rounds=${1:-5} secs=${2:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
state=$(mktemp -d /tmp/kiva-fcgid-mutex-XXXXXX)
chmod 0755 "$state"
apache_pid=""
cleanup() {
  [ -z "$apache_pid" ] || { kill "$apache_pid" 2>/dev/null; wait "$apache_pid" 2>/dev/null || true; }
  rm -rf "$state"
}
trap cleanup EXIT
hello=${HELLO:-}
if [ -z "$hello" ]; then
  hello=$state/hello
  # shellcheck disable=SC2046  # pkg-config's flags are meant to be split
  g++ -std=c++20 -O2 -o "$hello" "$root/bench/hello.cpp" $(pkg-config --cflags --libs fcgi) -lpthread
fi
mkdir -p "$state/app" "$state/fcgid"
cp "$hello" "$state/app/hello"
chown www-data "$state/fcgid"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

printf '%-8s %6s %10s %10s %12s %10s\n' mutex rounds "lock errs" requests "slow>=900ms" processes
for mech in default pthread file sysvsem; do
  case $mech in
    default) mutex="" ;;
    file) mutex="Mutex file:$state/run default" ;;
    *) mutex="Mutex $mech default" ;;
  esac
  rm -rf "$state/run" "$state/log"; mkdir -p "$state/run" "$state/log"
  cat >"$state/httpd.conf" <<EOF
ServerRoot /etc/apache2
ServerName localhost
DefaultRuntimeDir $state/run
PidFile $state/run/httpd.pid
ErrorLog $state/log/error.log
$mutex
User www-data
Group www-data
StartServers 2
MinSpareThreads 25
MaxSpareThreads 75
ThreadsPerChild 25
MaxRequestWorkers 150
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
FcgidIdleTimeout 0
FcgidProcessLifeTime 0
Listen 127.0.0.1:$port
<VirtualHost 127.0.0.1:$port>
  CustomLog $state/log/access.log "%D"
  FcgidMaxProcessesPerClass 24
  Alias /h $state/app/hello
  <Directory $state/app>
    Options +ExecCGI
    SetHandler fcgid-script
    Require all granted
  </Directory>
</VirtualHost>
EOF
  apache2 -f "$state/httpd.conf" -DFOREGROUND &
  apache_pid=$!
  for _ in $(seq 50); do [ -s "$state/run/httpd.pid" ] && break; sleep 0.1; done
  procs=""
  for ((r = 0; r < rounds; r++)); do
    apache2 -f "$state/httpd.conf" -k graceful
    sleep 2
    wrk -t1 -c48 -d"${secs}s" "http://127.0.0.1:$port/h" >/dev/null
    procs+="$(pgrep -fc "^$state/app/hello" || true) "
  done
  kill "$apache_pid"; wait "$apache_pid" 2>/dev/null || true; apache_pid=""
  errs=$(grep -c "can't lock process table" "$state/log/error.log" || true)
  total=$(wc -l <"$state/log/access.log")
  slow=$(awk '$1 >= 900000' "$state/log/access.log" | wc -l)
  printf '%-8s %6s %10s %10s %12s %10s\n' "$mech" "$rounds" "$errs" "$total" "$slow" "$procs"
done
