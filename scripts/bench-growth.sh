#!/usr/bin/env bash
# Flat as it grows: the checkout page and the session create measured on a SQLite database
# holding few and then very many sessions (release build, wrk with 32 connections, 127.0.0.1).
#
#   scripts/bench-growth.sh                        # 10,000 and 10,000,000 sessions
#   SIZES="10000 1000000" scripts/bench-growth.sh  # other sizes
#
# For each size: the server creates and migrates a fresh database and stops; scripts/seed.py
# fills it with a year of sessions (payments, events, refunds, customers, as the product writes
# them); the server starts again on it and wrk drives, for DURATION seconds each,
# GET /checkout/{id} for sessions picked at random among 10,000 spread over the whole table
# (scripts/wrk/pages.lua), twice: "first" (most views are a session's first, which notes the
# view: a write) and "pages" (the same pages again: reads); then POST /api/gateway/sessions
# with a new buyer each time, then GET /healthz. The last lines compare the p99 of each size with the first size's.
# The 10,000,000-session database takes about 40 GB and ten minutes to seed.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES:-"10000 10000000"}
DURATION=${DURATION:-10}
PORT=${PORT:-18482}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --quiet
BIN=$PWD/target/release/openrails-checkout
WORK=$(mktemp -d /tmp/orc-growth.XXXXXX)
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill -9 "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

start_server() { # $1: database file
  (cd "$WORK" && RUST_LOG=warn OPENRAILS_BIND=127.0.0.1:$PORT DATABASE_URL="sqlite://$1" \
    OPENRAILS_API_RATE_PER_SECOND=10000000 OPENRAILS_API_RATE_BURST=10000000 \
    exec "$BIN" serve >>"$WORK/server.out" 2>&1) &
  SERVER_PID=$!
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && return
    sleep 0.1
  done
  echo "server did not start" >&2; cat "$WORK/server.out" >&2; exit 1
}
stop_server() { kill -TERM "$SERVER_PID"; wait "$SERVER_PID" || true; SERVER_PID=; }
field() { awk -v k="$1" '{for (i = 1; i < NF; i++) if ($i == k) print $(i + 1)}' "$2"; }
rate() { awk '/Requests\/sec/ {print $2}' "$1"; }

for size in $SIZES; do
  db=$WORK/growth-$size.db
  : >"$WORK/server.out"
  start_server "$db"
  stop_server
  customers=$(( size / 5 < 200000 ? size / 5 : 200000 ))
  started=$(date +%s)
  python3 scripts/seed.py "$db" --sessions "$size" --customers "$customers" >"$WORK/seed-$size.txt"
  echo "== $size sessions: seeded in $(( $(date +%s) - started )) s, database $(du -sh "$db" | cut -f1)"
  python3 - "$db" "$WORK/ids-$size.txt" <<'PY'
import random, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
low, high = db.execute("SELECT MIN(rowid), MAX(rowid) FROM checkout_sessions").fetchone()
rng = random.Random(7)
ids = set()
while len(ids) < min(10_000, high - low + 1):
    row = db.execute("SELECT id FROM checkout_sessions WHERE rowid = ?", (rng.randint(low, high),)).fetchone()
    if row:
        ids.add(row[0])
open(sys.argv[2], "w").write("\n".join(sorted(ids)) + "\n")
PY
  start_server "$db"
  # The key the server printed when it created the database.
  export OPENRAILS_KEY
  OPENRAILS_KEY=$(grep -o 'sk_test_[a-z0-9]*' "$WORK/server.out" | head -n 1)
  # First views (the first view of a session notes it: a write), then the same pages again.
  IDS_FILE=$WORK/ids-$size.txt wrk -t2 -c32 -d"${DURATION}s" -s scripts/wrk/pages.lua \
    "http://127.0.0.1:$PORT" >"$WORK/first-$size.txt"
  IDS_FILE=$WORK/ids-$size.txt wrk -t2 -c32 -d"${DURATION}s" -s scripts/wrk/pages.lua \
    "http://127.0.0.1:$PORT" >"$WORK/pages-$size.txt"
  wrk -t2 -c32 -d"${DURATION}s" -s scripts/wrk/create_session.lua \
    "http://127.0.0.1:$PORT" >"$WORK/sessions-$size.txt"
  wrk -t2 -c32 -d"${DURATION}s" "http://127.0.0.1:$PORT/healthz" >"$WORK/healthz-$size.txt"
  stop_server
  echo "pages, first views: $(rate "$WORK/first-$size.txt") req/s, p50 $(field p50_ms "$WORK/first-$size.txt") ms, p99 $(field p99_ms "$WORK/first-$size.txt") ms"
  echo "pages:    $(rate "$WORK/pages-$size.txt") req/s, p50 $(field p50_ms "$WORK/pages-$size.txt") ms, p99 $(field p99_ms "$WORK/pages-$size.txt") ms"
  echo "sessions: $(rate "$WORK/sessions-$size.txt") req/s, p50 $(field p50_ms "$WORK/sessions-$size.txt") ms, p99 $(field p99_ms "$WORK/sessions-$size.txt") ms"
  echo "healthz:  $(rate "$WORK/healthz-$size.txt") req/s"
  grep -h "Non-2xx" "$WORK/first-$size.txt" "$WORK/pages-$size.txt" "$WORK/sessions-$size.txt" || true
  rm -f "$db" "$db-wal" "$db-shm"
done

first=${SIZES%% *}
for size in $SIZES; do
  [ "$size" = "$first" ] && continue
  for load in first pages sessions; do
    python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print(f'$load p99: {b:.2f} ms with $size sessions vs {a:.2f} ms with $first: {b / a:.2f}x')" \
      "$(field p99_ms "$WORK/$load-$first.txt")" "$(field p99_ms "$WORK/$load-$size.txt")"
  done
done
