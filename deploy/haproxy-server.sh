#!/bin/sh
# Sets the state of one server of HAProxy through its runtime API (the admin socket), for
# the DRAIN_COMMAND and UNDRAIN_COMMAND of a rolling deploy (deploy/deploy.conf.example):
#   deploy/haproxy-server.sh SOCKET BACKEND[,BACKEND...]/SERVER drain|ready|maint
# drain: no new requests, those in flight finish; ready: back in the rotation (the health
# check still decides). Several backends: the server in each (kiva.cfg.in lists every host
# in `kiva` and in `kiva-degraded`). Waits (up to 30 s) until a drained server has no
# request in flight. Needs socat. From another machine: ssh lb deploy/haproxy-server.sh ...
set -eu
[ $# = 3 ] || { echo "usage: $0 SOCKET BACKEND[,BACKEND...]/SERVER drain|ready|maint" >&2; exit 2; }
sock=$1 target=$2 state=$3
case $state in drain|ready|maint) ;; *) echo "$0: state is drain, ready or maint" >&2; exit 2 ;; esac
case $target in ?*/?*) ;; *) echo "$0: BACKEND/SERVER expected, got '$target'" >&2; exit 2 ;; esac
backends=${target%%/*} name=${target#*/}
api() { printf '%s\n' "$1" | socat -t 5 stdio "UNIX-CONNECT:$sock"; }
for backend in $(echo "$backends" | tr ',' ' '); do
  out=$(api "set server $backend/$name state $state")
  [ -z "$out" ] || { echo "$0: haproxy: $out" >&2; exit 1; }
  echo "haproxy: $backend/$name $state"
done
[ "$state" = ready ] && exit 0
# show stat: pxname,svname,qcur,qmax,scur,...: wait for scur (field 5) to be 0 everywhere.
i=0
while [ $i -lt 300 ]; do
  cur=$(api "show stat" | awk -F, -v bs=",$backends," -v s="$name" \
    'index(bs, "," $1 ",") && $2 == s {n += $5} END {print n + 0}')
  [ "$cur" = 0 ] && exit 0
  sleep 0.1; i=$((i + 1))
done
echo "$0: $target still has $cur requests in flight after 30 s" >&2
exit 1
