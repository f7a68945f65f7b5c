#!/bin/bash
# Fills the mod_fcgid pool of kiva instances to its size, from this machine's loopback, so that
# no client request is the one that grows it (mod_fcgid 2.3.9 grows a pool only when a request
# has found it busy and slept a whole second). Run as root after every start, reload and deploy:
# deploy/systemd/apache2.service.d/kiva-fcgid-warm.conf does it for starts and reloads (logrotate's
# included), `make deploy` and `make rollback` through WARM_COMMAND (deploy/README.md).
#
# Usage: deploy/fcgid-warm.sh [--conf FILE]... [--timeout 30] [--address 127.0.0.1] [--after-reload]
#   --conf FILE     an instance's settings (render-site.sh writes OUT/fcgid-warm.conf); without
#                   it, every /etc/kiva/fcgid-warm.d/*.conf
#   --after-reload  Apache was just started or reloaded: first wait (within the timeout) until
#                   the processes started before now are gone (a graceful reload stops them
#                   while this runs), so that they are not counted as the pool
# Self-contained (no file beside it needed): installed as /usr/local/sbin/kiva-fcgid-warm.
# How: while APP_DIR/run/fcgid-warming exists, the wrapper makes each new process wait 1.5 s
# before it serves; bursts of requests at once to URL (resolved to --address) then find the pool
# busy, sleep their second, and have mod_fcgid start the next processes, until the pool holds
# POOL processes of APP_DIR/bin/kiva or the time is up. Prints "INSTANCE: pool N/POOL".
# Exit status: 0 when every pool is full, 1 otherwise.
set -euo pipefail
say() { printf 'fcgid-warm: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

confs=() timeout=30 address=127.0.0.1 after_reload=0
while [ $# -gt 0 ]; do
  case $1 in
    -h|--help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; exit 0 ;;
    --after-reload) after_reload=1; shift; continue ;;
    --conf) confs+=("${2:?--conf needs a file}") ;;
    --timeout) timeout=${2:?} ;;
    --address) address=${2:?} ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift 2
done
[[ "$timeout" =~ ^[0-9]+$ ]] || die "bad --timeout '$timeout'"
if [ ${#confs[@]} -eq 0 ]; then
  shopt -s nullglob
  confs=(/etc/kiva/fcgid-warm.d/*.conf)
  [ ${#confs[@]} -gt 0 ] || { say "no /etc/kiva/fcgid-warm.d/*.conf: no mod_fcgid pool to fill"; exit 0; }
fi

# Clock ticks since boot now: processes that started before are the previous generation.
ticks=$(getconf CLK_TCK)
started=$(awk -v t="$ticks" '{printf "%d", $1 * t}' /proc/uptime)

# pool_size APP_DIR [old]: the processes mod_fcgid runs for the instance now: those of its current
# binary (an old one, replaced by a deploy, shows as deleted) whose parent is Apache's process
# manager; with "old", only those started before this script.
pool_size() {
  local bin=$1/bin/kiva only_old=${2:-} n=0 pid stat
  for pid in $(pgrep -x kiva || true); do
    [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$bin" ] || continue
    stat=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
    # shellcheck disable=SC2086  # the fields after "(comm) ": 2 is the parent, 20 the start time
    set -- $stat
    [ "$(cat "/proc/$2/comm" 2>/dev/null)" = apache2 ] || continue
    [ -z "$only_old" ] || [ "${20}" -lt "$started" ] || continue
    n=$((n + 1))
  done
  echo "$n"
}

# warm CONF: one instance; prints its line, returns 1 when the pool is not full in time.
warm() {
  local INSTANCE="" POOL="" URL="" APP_DIR=""
  # shellcheck disable=SC1090  # rendered by render-site.sh: KEY=VALUE lines only
  . "$1"
  [ -n "$INSTANCE" ] && [[ "$POOL" =~ ^[0-9]+$ ]] && [ -n "$URL" ] && [ -d "$APP_DIR" ] || die "$1: INSTANCE, POOL, URL and APP_DIR expected"
  local hostport=${URL#*://}; hostport=${hostport%%/*}
  local host=${hostport%:*} port=${hostport##*:}
  local flag=$APP_DIR/run/fcgid-warming deadline=$((SECONDS + timeout)) have
  if [ "$after_reload" = 1 ]; then  # at most 10 s: a process a client started just before counts as old
    local waited=$((SECONDS + 10))
    while [ "$(pool_size "$APP_DIR" old)" -gt 0 ] && [ "$SECONDS" -lt "$waited" ]; do sleep 0.2; done
  fi
  have=$(pool_size "$APP_DIR")
  if [ "$have" -lt "$POOL" ]; then
    touch "$flag"
    # shellcheck disable=SC2064  # the flag of this instance, now
    trap "rm -f '$flag'" EXIT
    while have=$(pool_size "$APP_DIR"); [ "$have" -lt "$POOL" ] && [ "$SECONDS" -lt "$deadline" ]; do
      # As many requests as the pool has processes plus the ones missing: the first take every
      # idle process (held for the new ones by the wrapper), the rest find it busy and grow it.
      # Loopback to this machine's own vhost: its certificate names the public host (-k).
      local n=$((POOL + POOL - have)) urls=() i
      for ((i = 0; i < n; i++)); do urls+=(-o /dev/null "$URL"); done
      curl -sk --http1.1 --parallel --parallel-immediate --parallel-max "$n" --max-time 20 \
        --resolve "$host:$port:$address" "${urls[@]}" 2>/dev/null || true
      sleep 0.5   # the last processes started are exec'ing kiva
    done
    rm -f "$flag"
    trap - EXIT
  fi
  say "$INSTANCE: pool $have/$POOL"
  [ "$have" -ge "$POOL" ]
}

rc=0
for conf in "${confs[@]}"; do
  warm "$conf" || rc=1
done
exit "$rc"
