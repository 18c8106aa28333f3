#!/usr/bin/env bash
# Sourced by scripts/test.sh: start_postgres starts a throwaway PostgreSQL
# server for the tests (a temporary data folder, a free loopback port, no
# fsync) and sets CTEM_TEST_POSTGRES to a connection URL to it; the server
# and its folder go when the shell exits. PostgreSQL refuses to run as
# root, so as root the server runs as the user postgres (created when
# missing). It returns 1 when no PostgreSQL is installed.

pg_bin() {
  local name=$1 p
  if p=$(command -v "$name" 2>/dev/null); then echo "$p"; return 0; fi
  p=$(ls -d /usr/lib/postgresql/*/bin/"$name" 2>/dev/null | sort -V | tail -1)
  [ -n "$p" ] && echo "$p"
}

free_port() {
  local p
  for p in $(seq 55400 55499); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}

start_postgres() {
  local initdb pg_ctl port dir as=()
  initdb=$(pg_bin initdb) || return 1
  pg_ctl=$(pg_bin pg_ctl) || return 1
  [ -n "$initdb" ] && [ -n "$pg_ctl" ] || return 1
  port=$(free_port) || { echo "no free port for PostgreSQL" >&2; return 1; }
  dir=$(mktemp -d)
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
    chown postgres "$dir"
    as=(runuser -u postgres --)
  fi
  PG_DIR=$dir PG_CTL=$pg_ctl PG_AS="${as[*]}"
  trap 'stop_postgres' EXIT
  "${as[@]}" "$initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; return 1; }
  "${as[@]}" "$pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o \
    "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
    start >/dev/null || { cat "$dir/server.log" >&2; return 1; }
  export CTEM_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
  echo "PostgreSQL $("$pg_ctl" --version | awk '{print $3}') started on 127.0.0.1:$port (data in $dir)"
}

stop_postgres() {
  if [ -n "${PG_DIR:-}" ]; then
    # shellcheck disable=SC2086
    $PG_AS "$PG_CTL" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
    PG_DIR=
  fi
}
