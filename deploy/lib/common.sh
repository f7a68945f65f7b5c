# shellcheck shell=bash
# Shared by the deploy scripts (sourced, not run): messages, instance names, sizes.
# Everything an instance is called derives from its name (see deploy/README.md):
#   unix user and group, app directory   NAME (runs the worker), /home/NAME
#   deploy account (ssh, owns the release)  NAME-deploy, home /home/NAME-deploy
#   database, runtime role, owner role   NAME with - as _: kiva_prod, kiva_prod, kiva_prod_owner
#   worker socket, systemd units         /run/kiva/NAME.sock, kiva@NAME.socket / .service
#   Apache and nginx site files          NAME.conf (upstream NAME_workers, - as _)

: "${KIVA_TOOL:=kiva}"

say() { printf '%s: %s\n' "$KIVA_TOOL" "$*" >&2; }
warn() { printf '%s: warning: %s\n' "$KIVA_TOOL" "$*" >&2; }
die() { printf '%s: error: %s\n' "$KIVA_TOOL" "$*" >&2; exit 1; }
# print_header FILE: a script's --help, its comment block after the #! line (up to the first
# line that is no comment, so that the help never drifts into code when the block grows).
print_header() { awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$1"; }

# check_instance NAME: lower-case letters, digits and dashes, a letter first, at most 25
# characters (it becomes unix user names, NAME and NAME-deploy: 32 at most, and NAME_owner a
# PostgreSQL role).
check_instance() {
  [[ "$1" =~ ^[a-z][a-z0-9-]{0,24}$ ]] && [[ "$1" != *- ]] ||
    die "bad instance name '$1': use a-z, 0-9 and -, starting with a letter, at most 25 characters (e.g. kiva-prod)"
}

# sql_name NAME: the instance name as a PostgreSQL identifier (no quoting needed).
sql_name() { printf '%s' "${1//-/_}"; }

# size_bytes 1M|64K|1048576: bytes, as the worker's body_limit understands them.
size_bytes() {
  local v=$1 n unit
  [[ "$v" =~ ^([0-9]+)([kKmMgG]?)$ ]] || die "bad size '$v' (bytes, or a number with K, M or G)"
  n=${BASH_REMATCH[1]}; unit=${BASH_REMATCH[2]}
  case $unit in
    k|K) n=$((n * 1024)) ;;
    m|M) n=$((n * 1024 * 1024)) ;;
    g|G) n=$((n * 1024 * 1024 * 1024)) ;;
  esac
  printf '%s' "$n"
}

# render TEMPLATE KEY=VALUE...: replaces every @KEY@; fails if a placeholder is left.
render() {
  local template=$1; shift
  [ -f "$template" ] || die "template $template not found"
  local text pair key value
  text=$(<"$template")
  for pair in "$@"; do
    key=${pair%%=*}; value=${pair#*=}
    text=${text//@"$key"@/"$value"}
  done
  local left
  left=$(grep -o '@[A-Z][A-Z_]*@' <<<"$text" | sort -u | tr '\n' ' ' || true)
  [ -z "$left" ] || die "$template: no value for $left"
  printf '%s\n' "$text"
}
