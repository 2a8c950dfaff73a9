#!/usr/bin/env bash
# Benchmark of the merchant API on 127.0.0.1 (a release build, wrk with 32 connections).
#
#   scripts/bench.sh                 # SQLite, in a temporary folder
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres scripts/bench.sh
#                                    # PostgreSQL: a fresh database is created beside that one
#
# 1. throughput and latency of POST /api/gateway/sessions for DURATION seconds;
# 2. durability: the same load, the server killed with SIGKILL in the middle, restarted, and
#    every session the server acknowledged (HTTP 200) looked for in the database.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
PORT=${PORT:-18480}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --quiet
BIN=$PWD/target/release/openrails-checkout
WORK=$(mktemp -d /tmp/orc-bench.XXXXXX)
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill -9 "$SERVER_PID" 2>/dev/null || true
  [ -n "${PG_DB:-}" ] && psql "$BASE_URL" -qc "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

if [[ "${DATABASE_URL:-}" == postgres* ]]; then
  BASE_URL=$DATABASE_URL
  PG_DB=orc_bench_$$
  psql "$BASE_URL" -qc "CREATE DATABASE $PG_DB" >/dev/null
  DB_URL="${BASE_URL%/*}/$PG_DB"
  BACKEND=PostgreSQL
else
  DB_URL="sqlite://$WORK/bench.db"
  BACKEND=SQLite
fi

start_server() {
  (cd "$WORK" && RUST_LOG=warn OPENRAILS_BIND=127.0.0.1:$PORT DATABASE_URL=$DB_URL \
    OPENRAILS_DATABASE_MAX_CONNECTIONS=${DB_CONNECTIONS:-16} \
    exec "$BIN" serve >>"$WORK/server.out" 2>&1) &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && return
    sleep 0.1
  done
  echo "server did not start" >&2; cat "$WORK/server.out" >&2; exit 1
}

count_sessions() {
  if [ "$BACKEND" = SQLite ]; then
    python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from checkout_sessions').fetchone()[0])" "$WORK/bench.db"
  else
    psql "$DB_URL" -Atc "SELECT COUNT(*) FROM checkout_sessions"
  fi
}

start_server
export OPENRAILS_KEY
OPENRAILS_KEY=$(grep -o 'sk_test_[a-z0-9]*' "$WORK/server.out" | head -n 1)
echo "== $BACKEND: POST /api/gateway/sessions, $CONNECTIONS connections, ${DURATION}s, $(nproc) cores"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s scripts/wrk/create_session.lua \
  "http://127.0.0.1:$PORT" | tee "$WORK/throughput.txt" | grep -E 'Requests/sec|Latency |Non-2xx|Socket errors|acknowledged|p50_ms|requests in'

echo "== $BACKEND: durability under kill -9"
before=$(count_sessions)
wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" -s scripts/wrk/create_session.lua \
  "http://127.0.0.1:$PORT" >"$WORK/kill.txt" 2>&1 &
WRK_PID=$!
sleep $((DURATION / 2))
kill -9 "$SERVER_PID"; SERVER_PID=
wait "$WRK_PID" || true
acknowledged=$(awk '/acknowledged_sessions/ {print $2}' "$WORK/kill.txt")
start_server
after=$(count_sessions)
stored=$((after - before))
echo "acknowledged before the kill: $acknowledged; stored after restart: $stored"
if [ "$stored" -ge "$acknowledged" ]; then
  echo "durability: OK (every acknowledged session survived)"
else
  echo "durability: FAILED ($((acknowledged - stored)) acknowledged sessions lost)"; exit 1
fi
