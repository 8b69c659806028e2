# shellcheck shell=bash
# Common settings and helpers of the setup/ scripts. Sourced, never run.
#
# Everything installed lives OUTSIDE the checkout, in one per-user cache, so a fresh clone
# (CI runs on one) finds Odoo and its venv without ODOO_SRC:
#   MFG_HUB_HOME   cache root (default: ${XDG_CACHE_HOME:-~/.cache}/mfg-hub)
#     odoo/        Odoo 18.0 source tree (extracted from ODOO_SRC, or cloned from GitHub)
#     venv/        Python venv with Odoo, its requirements and ours
#     node/        npm packages of the lint (prettier, @prettier/plugin-xml: setup/package.json)
#     etc/         generated Odoo configuration files
#     log/         server logs of setup/run
set -o pipefail

MFG_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MFG_HUB_HOME="${MFG_HUB_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/mfg-hub}"
MFG_ODOO_DIR="$MFG_HUB_HOME/odoo"
MFG_VENV="$MFG_HUB_HOME/venv"
MFG_NODE_DIR="$MFG_HUB_HOME/node"   # node_modules of the lint tools (setup/package.json)
# The pinned Odoo 18.0 Community commit (see README, "Where Odoo comes from").
MFG_ODOO_COMMIT="${MFG_ODOO_COMMIT:-13d94b323ca8005af47895d61201699f92a5985d}"
MFG_ODOO_GIT_URL="${MFG_ODOO_GIT_URL:-https://github.com/odoo/odoo}"
MFG_ODOO_BRANCH="18.0"

# Database connection (Odoo refuses to run as 'postgres': we use our own role).
MFG_DB_HOST="${MFG_DB_HOST:-127.0.0.1}"
MFG_DB_PORT="${MFG_DB_PORT:-5432}"
MFG_DB_USER="${MFG_DB_USER:-odoo}"
MFG_DB_ADMIN_USER="${MFG_DB_ADMIN_USER:-postgres}"   # only used to create MFG_DB_USER
MFG_MQTT_HOST="${MFG_MQTT_HOST:-127.0.0.1}"
MFG_MQTT_PORT="${MFG_MQTT_PORT:-1883}"

mfg_say()  { printf '%s\n' "$*" >&2; }
mfg_info() { [ -n "${MFG_QUIET:-}" ] || printf '[mfg] %s\n' "$*" >&2; }
mfg_die()  { printf '\n[mfg] ERROR: %s\n' "$*" >&2; exit 1; }

# Every addon folder of the project (a folder of addons/ with a __manifest__.py).
mfg_project_addons() {
  local d
  for d in "$MFG_ROOT"/addons/*/__manifest__.py; do
    [ -f "$d" ] && basename "$(dirname "$d")"
  done
}

mfg_python() { "$MFG_VENV/bin/python" "$@"; }

# addons_path: Odoo's own addons (nightly package: odoo/addons only; a GitHub clone
# also has a top-level addons/), then ours. OCA addons installed from PyPI
# (queue_job) live in site-packages/odoo/addons and are found by Odoo's namespace.
mfg_addons_path() {
  local p="$MFG_ODOO_DIR/odoo/addons"
  [ -d "$MFG_ODOO_DIR/addons" ] && p="$MFG_ODOO_DIR/addons,$p"
  printf '%s,%s%s' "$p" "$MFG_ROOT/addons" "${MFG_EXTRA_ADDONS_PATH:+,$MFG_EXTRA_ADDONS_PATH}"
}

# Test-only addons (tests/addons/*): installed by setup/test, never by setup/run.
mfg_test_addons() {
  local d
  for d in "$MFG_ROOT"/tests/addons/*/__manifest__.py; do
    [ -f "$d" ] && basename "$(dirname "$d")"
  done
}

# Fail fast, with what to do, when PostgreSQL is not reachable.
mfg_check_postgres() {
  if ! command -v pg_isready >/dev/null 2>&1; then
    mfg_die "pg_isready not found: install the PostgreSQL client (apt-get install -y postgresql-client)."
  fi
  if ! pg_isready -q -h "$MFG_DB_HOST" -p "$MFG_DB_PORT" -t 5; then
    local ver=""
    [ -d /etc/postgresql ] && ver="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)"
    {
      printf '\n[mfg] ERROR: PostgreSQL is not reachable on %s:%s.\n' "$MFG_DB_HOST" "$MFG_DB_PORT"
      printf '      Start it, then run this command again:\n'
      if [ -n "$ver" ]; then
        printf '        pg_ctlcluster --skip-systemctl-redirect %s main start   # as root\n' "$ver"
        printf '        (or: sudo systemctl start postgresql)\n'
      else
        printf '        sudo systemctl start postgresql\n'
        printf '      or install it: apt-get install -y postgresql\n'
      fi
      printf '      Another server? Set MFG_DB_HOST / MFG_DB_PORT.\n'
    } >&2
    exit 2
  fi
}

# The role Odoo connects with; created once (trust auth on a dev machine).
mfg_ensure_db_role() {
  if psql -h "$MFG_DB_HOST" -p "$MFG_DB_PORT" -U "$MFG_DB_USER" -d postgres -tAc 'select 1' >/dev/null 2>&1; then
    return 0
  fi
  mfg_info "creating PostgreSQL role '$MFG_DB_USER' (CREATEDB)"
  if ! psql -h "$MFG_DB_HOST" -p "$MFG_DB_PORT" -U "$MFG_DB_ADMIN_USER" -d postgres -v ON_ERROR_STOP=1 -qc \
      "DO \$\$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$MFG_DB_USER') THEN CREATE ROLE \"$MFG_DB_USER\" LOGIN CREATEDB; END IF; END\$\$;" >/dev/null; then
    mfg_die "could not create the PostgreSQL role '$MFG_DB_USER' as '$MFG_DB_ADMIN_USER'. Create it yourself:
        psql -h $MFG_DB_HOST -U postgres -c 'CREATE ROLE \"$MFG_DB_USER\" LOGIN CREATEDB'
      (or set MFG_DB_USER to an existing role that may create databases)."
  fi
}

mfg_check_mqtt() {
  if ! mfg_python - "$MFG_MQTT_HOST" "$MFG_MQTT_PORT" <<'PY' 2>/dev/null
import socket, sys
socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3).close()
PY
  then
    mfg_die "the MQTT broker is not reachable on $MFG_MQTT_HOST:$MFG_MQTT_PORT. Start it:
        mosquitto -d -c /etc/mosquitto/mosquitto.conf   # as root
      (or: sudo systemctl start mosquitto; install with apt-get install -y mosquitto).
      Another broker? Set MFG_MQTT_HOST / MFG_MQTT_PORT."
  fi
}

# Write an Odoo configuration file for database $2 to path $1 (extra "key = value"
# lines for [options] may follow as arguments). Drop folders and file exports must lie under
# [mfg_integration] file_roots: $MFG_FILE_ROOTS (comma-separated absolute folders), default
# mfg_files under the data_dir. The flat-file tests make their temporary folders under the
# first root (tests/common.py make_test_folder), so no folder of /tmp at large is allowed.
mfg_write_conf() {
  local conf="$1" db="$2"; shift 2
  mkdir -p "$(dirname "$conf")"
  {
    echo "; generated by setup/ — edit odoo.conf.example and setup/lib.sh instead"
    echo "[options]"
    echo "addons_path = $(mfg_addons_path)"
    echo "db_host = $MFG_DB_HOST"
    echo "db_port = $MFG_DB_PORT"
    echo "db_user = $MFG_DB_USER"
    echo "db_password = False"
    echo "db_name = $db"
    echo "dbfilter = ^$db\$"
    echo "list_db = False"
    echo "server_wide_modules = base,web,queue_job"
    echo "without_demo = all"
    echo "data_dir = $MFG_HUB_HOME/data"
    local kv
    for kv in "$@"; do echo "$kv"; done
    echo
    echo "[queue_job]"
    echo "channels = root:2"
    echo
    echo "[mfg_integration]"
    # dev and tests: receivers run on this machine (the safe default, nothing set, allows no host)
    echo "outbound_allowed_hosts = *, localhost, 127.0.0.0/8, ::1"
    echo "mqtt_host = $MFG_MQTT_HOST"
    echo "mqtt_port = $MFG_MQTT_PORT"
    echo "file_roots = ${MFG_FILE_ROOTS:-$MFG_HUB_HOME/data/mfg_files}"
  } >"$conf"
}

mfg_db_exists() {
  [ "$(psql -h "$MFG_DB_HOST" -p "$MFG_DB_PORT" -U "$MFG_DB_USER" -d postgres -tAc \
      "select 1 from pg_database where datname = '$1'" 2>/dev/null)" = "1" ]
}

mfg_drop_db() {
  psql -h "$MFG_DB_HOST" -p "$MFG_DB_PORT" -U "$MFG_DB_USER" -d postgres -qc \
    "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$MFG_HUB_HOME/data/filestore/$1"
}
