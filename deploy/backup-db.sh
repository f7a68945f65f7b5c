#!/bin/bash
# Backups of the database cluster of kiva instances, on the database host: a base backup a
# day (pg_basebackup) plus continuous WAL archiving, for point-in-time recovery (PITR).
# Run as the postgres account (or as root: it switches). See deploy/README.md, Backups.
#
# Usage: deploy/backup-db.sh setup|base|restore [options]
#   setup    turn WAL archiving on (ALTER SYSTEM: archive_mode, archive_command into DIR/wal,
#            archive_timeout) and make DIR/base and DIR/wal (0700 postgres); restart
#            PostgreSQL afterwards (archive_mode needs it). With systemd: installs this script
#            in /usr/local/lib/kiva/ and enables kiva-db-backup.timer.
#   base     take a base backup into DIR/base/STAMP (tar, gzip, with its WAL), keep the last
#            --keep of them, and remove the archived WAL older than the oldest one kept.
#   restore  into a NEW, empty data directory: the last base backup finished before
#            --target-time (or the last one), then the archived WAL up to that time
#            (recovery.signal, restore_command). Start the server on it: it replays and
#            promotes itself. Archiving is off in the restored cluster until `setup` again.
# Options: --backup-dir DIR (KIVA_BACKUP_DIR, /var/backups/kiva-db), --keep N (KIVA_BACKUP_KEEP,
#   7), --pg-socket-dir DIR --pg-port PORT (KIVA_PG_HOST, KIVA_PG_PORT: the cluster to back up),
#   --data-dir DIR and --target-time 'YYYY-MM-DD HH:MM:SS+00' (restore), --archive-timeout 60s.
set -euo pipefail
KIVA_TOOL=backup-db
here=$(cd "$(dirname "$0")" && pwd)
self=$here/$(basename "$0")
. "$here/lib/common.sh"
cd /   # tools run as postgres must not start in a checkout below a private directory

usage() { print_header "$self"; exit "${1:-0}"; }
action=${1:-}
case $action in setup|base|restore) shift ;; -h|--help) usage 0 ;; *) usage 1 ;; esac
backup_dir=${KIVA_BACKUP_DIR:-/var/backups/kiva-db} keep=${KIVA_BACKUP_KEEP:-7}
socket_dir=${KIVA_PG_HOST:-} port=${KIVA_PG_PORT:-} data_dir="" target_time="" archive_timeout=60s
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || die "$1 needs a value (see --help)"
  case $1 in
    --backup-dir) backup_dir=$2 ;;
    --keep) keep=$2 ;;
    --pg-socket-dir) socket_dir=$2 ;;
    --pg-port) port=$2 ;;
    --data-dir) data_dir=$2 ;;
    --target-time) target_time=$2 ;;
    --archive-timeout) archive_timeout=$2 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift 2
done
[[ "$backup_dir" =~ ^/[A-Za-z0-9._/-]+$ ]] || die "bad --backup-dir '$backup_dir' (absolute, no spaces)"
[[ "$keep" =~ ^[1-9][0-9]*$ ]] || die "bad --keep '$keep'"
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$pgbin" ] || pgbin=$(dirname "$(command -v pg_basebackup)")

# as_postgres CMD...: runs CMD as the postgres account.
as_postgres() { if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi; }
pg_args=(${socket_dir:+-h "$socket_dir"} ${port:+-p "$port"})
# base_backups: the names of the base backups (their start, UTC), oldest first.
base_backups() {
  local d
  for d in "$backup_dir"/base/*; do
    [[ "${d##*/}" =~ ^[0-9]{8}T[0-9]{6}Z$ ]] && printf '%s\n' "${d##*/}"
  done
  return 0
}
# pg_dirs DIR...: directories of the postgres account, 0700 (root makes them where postgres could not).
pg_dirs() {
  if [ "$(id -u)" = 0 ]; then install -d -m 0700 -o postgres -g postgres "$@"; else install -d -m 0700 "$@"; fi
}

case $action in
setup)
  pg_dirs "$backup_dir" "$backup_dir/base" "$backup_dir/wal"
  wal=$backup_dir/wal
  # Never overwrite an archived segment; write aside, then rename (a crash leaves no half file).
  command="test ! -f $wal/%f && cp %p $wal/%f.part && mv $wal/%f.part $wal/%f"
  as_postgres psql -X -q -v ON_ERROR_STOP=1 "${pg_args[@]}" -d postgres \
    -c "ALTER SYSTEM SET archive_mode = on" -c "ALTER SYSTEM SET archive_command = '$command'" \
    -c "ALTER SYSTEM SET archive_timeout = '$archive_timeout'" -c "SELECT pg_reload_conf()" >/dev/null
  say "WAL archiving into $wal set (archive_timeout $archive_timeout: at most that much is lost)"
  [ "$(as_postgres psql -X -At "${pg_args[@]}" -d postgres -c 'SHOW archive_mode')" = on ] ||
    say "restart PostgreSQL now for archive_mode (Debian: systemctl restart postgresql@15-main)"
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ] && [ "$(id -u)" = 0 ]; then
    install -d -m 0755 /usr/local/lib/kiva /usr/local/lib/kiva/lib
    install -m 0755 "$self" /usr/local/lib/kiva/backup-db.sh
    install -m 0644 "$here/lib/common.sh" /usr/local/lib/kiva/lib/common.sh
    install -m 0644 "$here/systemd/kiva-db-backup.service" "$here/systemd/kiva-db-backup.timer" /etc/systemd/system/
    systemctl daemon-reload && systemctl enable --now kiva-db-backup.timer
    say "kiva-db-backup.timer enabled (daily base backup): systemctl list-timers kiva-db-backup"
  else
    say "no systemd here: install deploy/systemd/kiva-db-backup.{service,timer} and this script by hand"
  fi
  ;;
base)
  [ -d "$backup_dir/wal" ] || die "no $backup_dir/wal: run deploy/backup-db.sh setup first"
  [ "$(as_postgres psql -X -At "${pg_args[@]}" -d postgres -c 'SHOW archive_mode')" = on ] ||
    die "archive_mode is off: run deploy/backup-db.sh setup and restart PostgreSQL"
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  dir=$backup_dir/base/$stamp
  say "base backup into $dir"
  as_postgres "$pgbin/pg_basebackup" "${pg_args[@]}" -U postgres -D "$dir.part" -Ft -z -X stream \
    --checkpoint=fast --label "kiva $stamp" || { as_postgres rm -rf "$dir.part"; die "pg_basebackup failed"; }
  as_postgres gzip -t "$dir.part/base.tar.gz" "$dir.part/pg_wal.tar.gz" || die "the backup in $dir.part is damaged"
  as_postgres mv "$dir.part" "$dir"
  # Retention: the last KEEP base backups, and the WAL from the oldest of them on.
  base_backups | head -n -"$keep" | while read -r old; do
    say "removing the base backup $old (keeping $keep)"
    as_postgres rm -rf "${backup_dir:?}/base/$old"
  done
  oldest=$(base_backups | head -n 1)
  # Its first WAL segment, from the Start-LSN of its manifest (timeline, then LSN / 16 MiB).
  read -r tli lsn < <(sed -n 's/.*"Timeline": *\([0-9]*\), *"Start-LSN": *"\([0-9A-F/]*\)".*/\1 \2/p' \
    "$backup_dir/base/$oldest/backup_manifest" | head -n 1)
  [ -n "${lsn:-}" ] || die "no Start-LSN in $backup_dir/base/$oldest/backup_manifest"
  first=$(printf '%08X%08X%08X' "$tli" "$((16#${lsn%/*}))" "$((16#${lsn#*/} >> 24))")
  as_postgres "$pgbin/pg_archivecleanup" "$backup_dir/wal" "$first"
  say "done: $(base_backups | wc -l) base backups, WAL from $first"
  ;;
restore)
  [ -n "$data_dir" ] || die "--data-dir NEW is required"
  [ ! -e "$data_dir" ] || [ -z "$(ls -A "$data_dir")" ] || die "$data_dir is not empty: restore into a new directory"
  # The last base backup that ended before the target time (its manifest is written last):
  # recovery must reach the end of the backup before it can stop.
  limit=$(date -u +%s%N)
  if [ -n "$target_time" ]; then
    limit=$(date -u -d "$target_time" +%s%N) || die "bad --target-time '$target_time'"
  fi
  base=""
  for b in $(base_backups); do
    [ "$(date -u -r "$backup_dir/base/$b/backup_manifest" +%s%N)" -lt "$limit" ] && base=$b
  done
  [ -n "$base" ] || die "no base backup in $backup_dir/base finished before ${target_time:-now}"
  say "restoring the base backup $base into $data_dir${target_time:+, then the WAL up to $target_time}"
  pg_dirs "$data_dir" "$data_dir/pg_wal"
  as_postgres tar -xzf "$backup_dir/base/$base/base.tar.gz" -C "$data_dir"
  as_postgres tar -xzf "$backup_dir/base/$base/pg_wal.tar.gz" -C "$data_dir/pg_wal"
  as_postgres sh -c "cat >>'$data_dir/postgresql.auto.conf'" <<EOF
# Written by deploy/backup-db.sh restore of $base$([ -n "$target_time" ] && echo " to $target_time").
restore_command = 'cp $backup_dir/wal/%f %p'
$([ -n "$target_time" ] && printf "recovery_target_time = '%s'\nrecovery_target_action = 'promote'" "$target_time")
# Not into the archive of the cluster it was restored from: deploy/backup-db.sh setup again.
archive_mode = off
EOF
  as_postgres touch "$data_dir/recovery.signal"
  say "restored: start PostgreSQL on $data_dir; it replays the WAL and promotes itself (its log says 'archive recovery complete')"
  ;;
esac
