#!/usr/bin/env bash
# Benchmark of the merchant API on 127.0.0.1 (a release build, wrk with 32 connections).
#
#   scripts/bench.sh                 # SQLite, in a temporary folder
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres scripts/bench.sh
#                                    # PostgreSQL: a fresh database is created beside that one
#
# 1. throughput and latency of POST /api/gateway/sessions for DURATION seconds;
# 2. throughput and latency of GET /checkout/{id} (the page a buyer opens), and the weight of
#    that first view: the HTML with the CSS and script it links, and any other host it names;
# 3. durability: the session load again, the server killed with SIGKILL in the middle,
#    restarted, and every session the server acknowledged (HTTP 200) looked for in the database.
# Each load is measured beside GET /healthz in the same run (the server's emptiest answer): the
# ratio to it is the figure to compare, since it cancels most of a shared machine's noise.
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
  # One key sends the whole load: its rate limit is raised out of the way.
  (cd "$WORK" && RUST_LOG=warn OPENRAILS_BIND=127.0.0.1:$PORT DATABASE_URL=$DB_URL \
    OPENRAILS_API_RATE_PER_SECOND=10000000 OPENRAILS_API_RATE_BURST=10000000 \
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

rate() { awk '/Requests\/sec/ {print $2}' "$1"; }
healthz() {
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" "http://127.0.0.1:$PORT/healthz" >"$WORK/healthz.txt"
  echo "GET /healthz in the same run: $(rate "$WORK/healthz.txt") req/s"
}
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$1" "$2"; }

start_server
export OPENRAILS_KEY
OPENRAILS_KEY=$(grep -o 'sk_test_[a-z0-9]*' "$WORK/server.out" | head -n 1)
echo "== $BACKEND: POST /api/gateway/sessions, $CONNECTIONS connections, ${DURATION}s, $(nproc) cores"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s scripts/wrk/create_session.lua \
  "http://127.0.0.1:$PORT" | tee "$WORK/throughput.txt" | grep -E 'Requests/sec|Latency |Non-2xx|Socket errors|acknowledged|p50_ms|requests in'
healthz
echo "sessions / healthz: $(ratio "$(rate "$WORK/throughput.txt")" "$(rate "$WORK/healthz.txt")")"

echo "== $BACKEND: GET /checkout/{id}, $CONNECTIONS connections, ${DURATION}s"
SESSION=$(curl -sf "http://127.0.0.1:$PORT/api/gateway/sessions" -H "Authorization: Bearer $OPENRAILS_KEY" \
  -H 'Content-Type: application/json' \
  -d '{"product":"Creator plan","amount":116,"customer":"buyer@example.com","preferredRoute":"card"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "http://127.0.0.1:$PORT/checkout/$SESSION" |
  tee "$WORK/pages.txt" | grep -E 'Requests/sec|Latency |Non-2xx|Socket errors| 50%| 99%|requests in'
healthz
echo "pages / healthz: $(ratio "$(rate "$WORK/pages.txt")" "$(rate "$WORK/healthz.txt")")"

echo "== first view of the checkout page"
curl -sf "http://127.0.0.1:$PORT/checkout/$SESSION" -o "$WORK/page.html"
total=$(stat -c %s "$WORK/page.html")
echo "html: $total bytes"
for asset in $(grep -o '/static/[^"?]*' "$WORK/page.html" | sort -u); do
  size=$(curl -sf "http://127.0.0.1:$PORT$asset" -o "$WORK/asset" -w '%{size_download}')
  echo "$asset: $size bytes"
  total=$((total + size))
  cat "$WORK/asset" >>"$WORK/all-assets"
done
echo "first view, uncompressed: $total bytes ($(( (total + 1023) / 1024 )) KiB)"
others=$(cat "$WORK/page.html" "$WORK/all-assets" | grep -oE '(src|href)="(https?:)?//[^"]+"|url\((https?:)?//[^)]+\)' | sort -u || true)
if [ -n "$others" ]; then echo "requests to other hosts: $others"; else echo "requests to other hosts: none"; fi

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
