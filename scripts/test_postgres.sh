#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests (tests/ha_test.ts, src/state/postgres_*_test.ts):
#   eval "$(scripts/test_postgres.sh start)"   # prints export SGEVENTS_TEST_PG_URL=... and PGDIR
#   scripts/test_postgres.sh stop "$SGEVENTS_TEST_PG_DIR"
#   scripts/test_postgres.sh down|up <dir>       # an outage: stop the server, start it again
# Debian's postgresql package; initdb in a temp folder, 127.0.0.1 on a free port, run as the
# postgres user (initdb refuses root).
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bin" ] || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "${1:-}" in
start)
  dir=$(mktemp -d /tmp/sgevents-pg.XXXXXX)
  [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
    echo $((20000 + RANDOM % 20000)))
  as_postgres "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1
  echo "$port" >"$dir/port"
  "$0" up "$dir"
  echo "export SGEVENTS_TEST_PG_URL=postgres://postgres@127.0.0.1:$port/postgres"
  echo "export SGEVENTS_TEST_PG_DIR=$dir"
  ;;
up)
  dir=${2:?give the folder printed by start}
  port=$(cat "$dir/port")
  as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=off" \
    start >/dev/null
  ;;
down)
  dir=${2:?give the folder printed by start}
  as_postgres "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
  ;;
stop)
  dir=${2:?give the folder printed by start}
  as_postgres "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  ;;
*)
  echo "usage: $0 start | stop <dir> | down <dir> | up <dir>" >&2
  exit 2
  ;;
esac
