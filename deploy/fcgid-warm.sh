#!/bin/bash
# Fills the mod_fcgid pool of kiva instances to its size, from this machine's loopback, so that
# no client request is the one that grows it (mod_fcgid 2.3.9 grows a pool only when a request
# has found it busy and slept a whole second). Run as root after every start and reload:
# deploy/systemd/apache2.service.d/kiva-fcgid-warm.conf does it (logrotate's reloads included);
# and, with --switch, by `make deploy` and `make rollback` through WARM_COMMAND (deploy/README.md).
#
# Usage: deploy/fcgid-warm.sh [--conf FILE]... [--timeout 30] [--address 127.0.0.1]
#                             [--after-reload | --switch]
#   --conf FILE     an instance's settings (render-site.sh writes OUT/fcgid-warm.conf); without
#                   it, every /etc/kiva/fcgid-warm.d/*.conf
#   --after-reload  Apache was just started or reloaded: first wait (within the timeout) until
#                   the processes started before now are gone (a graceful reload stops them
#                   while this runs), so that they are not counted as the pool
#   --switch        after a deploy or a rollback, without reloading Apache: fill the class of
#                   processes that serves no client (the vhost has two, a and b) with processes
#                   of the binary now installed, move clients to it (CLASS_FLAG), then stop the
#                   processes of the other class (SIGTERM: each finishes its request first)
# Self-contained (no file beside it needed): installed as /usr/local/sbin/kiva-fcgid-warm.
# How: while APP_DIR/run/fcgid-warming exists, the wrapper makes each new process wait 1.5 s
# before it serves; bursts of requests at once to URL (resolved to --address, naming the class in
# X-Kiva-Fcgid-Class, which the vhost honours from loopback only) then find the class busy, sleep
# their second, and have mod_fcgid start the next processes, until the class holds POOL processes
# of APP_DIR/bin/kiva or the time is up. Prints "INSTANCE: pool N/POOL (class C)".
# Exit status: 0 when every pool is full, 1 otherwise.
set -euo pipefail
say() { printf 'fcgid-warm: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

confs=() timeout=30 address=127.0.0.1 after_reload=0 switch=0
while [ $# -gt 0 ]; do
  case $1 in
    -h|--help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; exit 0 ;;
    --after-reload) after_reload=1; shift; continue ;;
    --switch) switch=1; shift; continue ;;
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

# class_of PID: the class (a or b) the wrapper gave a process (KIVA_FCGID_CLASS), or "".
class_of() {
  tr '\0' '\n' <"/proc/$1/environ" 2>/dev/null | sed -n 's/^KIVA_FCGID_CLASS=//p'
}

# class_pids APP_DIR CLASS [old|any]: the processes mod_fcgid runs for the instance in CLASS
# now: those of its current binary (an old one, replaced by a deploy, shows as deleted) whose
# parent is Apache's process manager; with "old", only those started before this script; with
# "any", those of any binary of the instance (a replaced one included).
class_pids() {
  local bin=$1/bin/kiva class=$2 which=${3:-} pid stat exe
  for pid in $(pgrep -x kiva || true); do
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
    if [ "$which" = any ]; then [ "${exe% (deleted)}" = "$bin" ] || continue; else [ "$exe" = "$bin" ] || continue; fi
    stat=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
    # shellcheck disable=SC2086  # the fields after "(comm) ": 2 is the parent, 20 the start time
    set -- $stat
    [ "$(cat "/proc/$2/comm" 2>/dev/null)" = apache2 ] || continue
    [ "$which" != old ] || [ "${20}" -lt "$started" ] || continue
    [ "$(class_of "$pid")" = "$class" ] || continue
    echo "$pid"
  done
}

# pool_size APP_DIR CLASS [old]: how many of class_pids.
pool_size() {
  class_pids "$@" | wc -l
}

# stop_class APP_DIR CLASS: SIGTERM to the instance's processes of CLASS (any binary); each
# finishes the request it serves, then exits. Waits for them, 40 s at most.
stop_class() {
  local pids n=0
  pids=$(class_pids "$1" "$2" any)
  [ -n "$pids" ] || return 0
  # shellcheck disable=SC2086  # one pid per word
  kill -TERM $pids 2>/dev/null || true
  while [ "$(class_pids "$1" "$2" any | wc -l)" -gt 0 ] && [ "$n" -lt 200 ]; do sleep 0.2; n=$((n + 1)); done
  say "stopped $(echo "$pids" | wc -w) process(es) of class $2"
}

# warm CONF: one instance; prints its line, returns 1 when the pool is not full in time.
warm() {
  local INSTANCE="" POOL="" URL="" APP_DIR="" CLASS_FLAG=""
  # shellcheck disable=SC1090  # rendered by render-site.sh: KEY=VALUE lines only
  . "$1"
  [ -n "$INSTANCE" ] && [[ "$POOL" =~ ^[0-9]+$ ]] && [ -n "$URL" ] && [ -d "$APP_DIR" ] || die "$1: INSTANCE, POOL, URL and APP_DIR expected"
  local hostport=${URL#*://}; hostport=${hostport%%/*}
  local host=${hostport%:*} port=${hostport##*:}
  local flag=$APP_DIR/run/fcgid-warming deadline=$((SECONDS + timeout)) have
  # The class that serves clients now; --switch fills the other one and moves clients to it.
  local active=a target
  [ -n "$CLASS_FLAG" ] && [ -e "$CLASS_FLAG" ] && active=b
  target=$active
  if [ "$switch" = 1 ]; then
    [ -n "$CLASS_FLAG" ] || die "$1 has no CLASS_FLAG (rendered by an older render-site.sh): render and install the site again, or reload Apache and warm without --switch"
    if [ "$active" = a ]; then target=b; else target=a; fi
    # Left by a switch that did not finish: the class must start from the binary installed now.
    stop_class "$APP_DIR" "$target"
  fi
  if [ "$after_reload" = 1 ]; then  # at most 10 s: a process a client started just before counts as old
    local waited=$((SECONDS + 10))
    while [ "$(pool_size "$APP_DIR" "$target" old)" -gt 0 ] && [ "$SECONDS" -lt "$waited" ]; do sleep 0.2; done
  fi
  have=$(pool_size "$APP_DIR" "$target")
  if [ "$have" -lt "$POOL" ]; then
    touch "$flag"
    # shellcheck disable=SC2064  # the flag of this instance, now
    trap "rm -f '$flag'" EXIT
    while have=$(pool_size "$APP_DIR" "$target"); [ "$have" -lt "$POOL" ] && [ "$SECONDS" -lt "$deadline" ]; do
      # As many requests as the pool has processes plus the ones missing: the first take every
      # idle process (held for the new ones by the wrapper), the rest find it busy and grow it.
      # Loopback to this machine's own vhost: its certificate names the public host (-k).
      local n=$((POOL + POOL - have)) urls=() i
      for ((i = 0; i < n; i++)); do urls+=(-o /dev/null "$URL"); done
      # Its requests wait by design: they show in the access log as the agent kiva-fcgid-warm.
      curl -sk --http1.1 --parallel --parallel-immediate --parallel-max "$n" --max-time 20 -A kiva-fcgid-warm \
        -H "X-Kiva-Fcgid-Class: $target" --resolve "$host:$port:$address" "${urls[@]}" 2>/dev/null || true
      sleep 0.5   # the last processes started are exec'ing kiva
    done
    rm -f "$flag"
    trap - EXIT
  fi
  if [ "$switch" = 1 ]; then
    # Clients to the new class (mod_rewrite looks for the file at every request), even when it
    # is not full (it then grows as mod_fcgid grows pools): the new binary must serve.
    if [ "$target" = b ]; then touch "$CLASS_FLAG"; else rm -f "$CLASS_FLAG"; fi
    say "$INSTANCE: clients moved to class $target"
    sleep 2   # requests routed to the old class just before reach their process
    stop_class "$APP_DIR" "$active"
  fi
  say "$INSTANCE: pool $have/$POOL (class $target)"
  [ "$have" -ge "$POOL" ]
}

rc=0
for conf in "${confs[@]}"; do
  warm "$conf" || rc=1
done
exit "$rc"
