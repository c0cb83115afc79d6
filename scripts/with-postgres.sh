#!/usr/bin/env bash
# Run a command with CIVICLINK_TEST_DATABASE_URL pointing at a PostgreSQL database.
# If the variable is already set, the command just runs. Otherwise a throwaway server is started from
# Debian's PostgreSQL binaries in a temporary directory (its own port and socket), used, and removed.
set -euo pipefail

if [ -n "${CIVICLINK_TEST_DATABASE_URL:-}" ]; then
  exec "$@"
fi

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
  echo "error: PostgreSQL server binaries not found (run scripts/system-deps.sh)" >&2
  exit 1
fi

WORK=$(mktemp -d /tmp/civiclink-pg.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
RUN=()
if [ "$(id -u)" -eq 0 ]; then
  # initdb refuses to run as root: the server runs as the postgres system user.
  id postgres >/dev/null 2>&1 || useradd --system --home-dir "$WORK" postgres
  chown postgres "$WORK"
  RUN=(runuser -u postgres --)
fi
cleanup() {
  "${RUN[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

"${RUN[@]}" "$PGBIN/initdb" -D "$WORK/data" -U civiclink --auth=trust -E UTF8 --locale=C.UTF-8 >"$WORK/initdb.log" 2>&1 \
  || { cat "$WORK/initdb.log" >&2; exit 1; }
# Durability is not under test here: turn it off for speed.
"${RUN[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w -o \
  "-p $PORT -k $WORK -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
  start >/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
"$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U civiclink civiclink_test

export CIVICLINK_TEST_DATABASE_URL="postgresql+psycopg://civiclink@127.0.0.1:$PORT/civiclink_test"
echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on port $PORT"
"$@"
