#!/usr/bin/env bash
# Benchmark of webhook delivery on 127.0.0.1 (release build), on SQLite or PostgreSQL:
#
#   scripts/bench-webhooks.sh
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres scripts/bench-webhooks.sh
#
# 1. latency: LATENCY_PAYMENTS card payments through the real pages, one at a time, with the
#    queue otherwise idle; for each, the time from just before the card is submitted to the
#    arrival of its payment.paid at the receiver (examples/webhook_receiver.rs, which verifies
#    every signature);
# 2. throughput: EVENTS events queued in the database while the server is stopped, then the
#    server started and the time to drain them all to the receiver.
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS=${EVENTS:-10000}
LATENCY_PAYMENTS=${LATENCY_PAYMENTS:-100}
PORT=${PORT:-18580}
RPORT=${RPORT:-18581}

cargo build --release --quiet --bin openrails-checkout --example webhook_receiver
BIN=$PWD/target/release/openrails-checkout
RECEIVER=$PWD/target/release/examples/webhook_receiver
WORK=$(mktemp -d /tmp/orc-bench-webhooks.XXXXXX)
SERVER_PID=
RECEIVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill -9 "$SERVER_PID" 2>/dev/null || true
  [ -n "$RECEIVER_PID" ] && kill -9 "$RECEIVER_PID" 2>/dev/null || true
  [ -n "${PG_DB:-}" ] && psql "$BASE_URL" -qc "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

if [[ "${DATABASE_URL:-}" == postgres* ]]; then
  BASE_URL=$DATABASE_URL
  PG_DB=orc_bench_wh_$$
  psql "$BASE_URL" -qc "CREATE DATABASE $PG_DB" >/dev/null
  DB_URL="${BASE_URL%/*}/$PG_DB"
  BACKEND=PostgreSQL
else
  DB_URL="sqlite://$WORK/bench.db"
  BACKEND=SQLite
fi

start_server() {
  (cd "$WORK" && RUST_LOG=warn OPENRAILS_BIND=127.0.0.1:$PORT DATABASE_URL=$DB_URL \
    OPENRAILS_REDIRECT_WAIT_SECONDS=0 OPENRAILS_API_RATE_PER_SECOND=10000000 \
    OPENRAILS_API_RATE_BURST=10000000 exec "$BIN" serve >>"$WORK/server.out" 2>&1) &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && return
    sleep 0.1
  done
  echo "server did not start" >&2; cat "$WORK/server.out" >&2; exit 1
}

sql() {
  if [ "$BACKEND" = SQLite ]; then
    python3 - "$WORK/bench.db" "$1" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1]); r = c.execute(sys.argv[2]).fetchall(); c.commit()
print("\n".join("|".join(str(v) for v in row) for row in r))
PY
  else
    psql "$DB_URL" -Atc "$1"
  fi
}

accepted() { curl -sf "http://127.0.0.1:$RPORT/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["accepted"])'; }

start_server
KEY=$(grep -o 'sk_test_[a-z0-9]*' "$WORK/server.out" | head -n 1)
ENDPOINT=$(curl -sf "http://127.0.0.1:$PORT/api/gateway/webhook-endpoints" -H "Authorization: Bearer $KEY" \
  -H 'Content-Type: application/json' -d "{\"url\":\"http://127.0.0.1:$RPORT/hooks\"}")
ENDPOINT_ID=$(echo "$ENDPOINT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
SECRET=$(echo "$ENDPOINT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
"$RECEIVER" "127.0.0.1:$RPORT" "$SECRET" "$WORK/arrivals.log" &
RECEIVER_PID=$!
sleep 0.5

echo "== $BACKEND: confirmation to webhook arrival, $LATENCY_PAYMENTS payments, idle queue"
python3 scripts/pay.py "http://127.0.0.1:$PORT" "$KEY" "$LATENCY_PAYMENTS" >"$WORK/payments.txt"
for _ in $(seq 1 50); do
  [ "$(grep -c '_paid$' "$WORK/arrivals.log" || true)" -ge "$LATENCY_PAYMENTS" ] && break
  sleep 0.1
done
python3 - "$WORK/payments.txt" "$WORK/arrivals.log" <<'PY'
import sys
sent = dict(line.split() for line in open(sys.argv[1]))
arrived = {}
for line in open(sys.argv[2]):
    t, event = line.split()
    if event.endswith("_paid"):
        arrived[event[len("evt_"):-len("_paid")]] = int(t)
lat = sorted(arrived[s] - int(t) for s, t in sent.items() if s in arrived)
missing = len(sent) - len(lat)
pct = lambda p: lat[min(len(lat) - 1, int(p / 100 * len(lat)))]
print(f"payments {len(sent)}, payment.paid received {len(lat)}, missing {missing}")
print(f"card submitted -> payment.paid received: p50 {pct(50)} ms, p99 {pct(99)} ms, max {lat[-1]} ms")
PY

echo "== $BACKEND: drain $EVENTS queued events"
kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
MERCHANT=$(sql "SELECT id FROM merchants LIMIT 1")
NOW=$(( $(date +%s) * 1000 ))
if [ "$BACKEND" = SQLite ]; then
  python3 - "$WORK/bench.db" "$MERCHANT" "$ENDPOINT_ID" "$EVENTS" "$NOW" <<'PY'
import json, sqlite3, sys
db, merchant, endpoint, n, now = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
c = sqlite3.connect(db)
for i in range(n):
    sid = f"chk_bench{i:08d}"
    eid = f"evt_{sid}_paid"
    payload = json.dumps({"id": eid, "type": "payment.paid", "livemode": False, "created": "2026-11-24T00:00:00.000Z",
        "data": {"session_id": sid, "customer_id": "cus_bench", "status": "paid", "amount": 116, "currency": "USD",
                 "asset": "USDC", "network": "Base", "route": {"id": "card-bridge-a", "kind": "card", "label": "Credit card", "provider": "Sandbox Card"},
                 "fees": {"buyer_fee": 3.72, "gateway_fee": 3.48, "merchant_net": 112.52, "total": 119.72},
                 "tx_hash": "0xabc123", "metadata": {"order_id": f"ord_{i}"}}}, separators=(",", ":"))
    c.execute("INSERT INTO events (id, merchant_id, environment, session_id, type, payload, created_at) VALUES (?, ?, 'sandbox', ?, 'payment.paid', ?, ?)", (eid, merchant, sid, payload, now))
    c.execute("INSERT INTO webhook_deliveries (id, event_id, endpoint_id, merchant_id, environment, status, attempts, next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, 'sandbox', 'pending', 0, ?, ?, ?)", (f"dlv_bench{i:08d}", eid, endpoint, merchant, now, now, now))
c.commit()
PY
else
  psql "$DB_URL" -q <<SQL
INSERT INTO events (id, merchant_id, environment, session_id, type, payload, created_at)
SELECT 'evt_chk_bench' || lpad(i::text, 8, '0') || '_paid', '$MERCHANT', 'sandbox', 'chk_bench' || lpad(i::text, 8, '0'), 'payment.paid',
  '{"id":"evt_chk_bench' || lpad(i::text, 8, '0') || '_paid","type":"payment.paid","livemode":false,"created":"2026-11-24T00:00:00.000Z","data":{"session_id":"chk_bench' || lpad(i::text, 8, '0') || '","customer_id":"cus_bench","status":"paid","amount":116,"currency":"USD","asset":"USDC","network":"Base","route":{"id":"card-bridge-a","kind":"card","label":"Credit card","provider":"Sandbox Card"},"fees":{"buyer_fee":3.72,"gateway_fee":3.48,"merchant_net":112.52,"total":119.72},"tx_hash":"0xabc123","metadata":{"order_id":"ord_' || i || '"}}}',
  $NOW
FROM generate_series(1, $EVENTS) AS i;
INSERT INTO webhook_deliveries (id, event_id, endpoint_id, merchant_id, environment, status, attempts, next_attempt_at, created_at, updated_at)
SELECT 'dlv_bench' || lpad(i::text, 8, '0'), 'evt_chk_bench' || lpad(i::text, 8, '0') || '_paid', '$ENDPOINT_ID', '$MERCHANT', 'sandbox', 'pending', 0, $NOW, $NOW, $NOW
FROM generate_series(1, $EVENTS) AS i;
SQL
fi
before=$(accepted)
start_server
deadline=$(( $(date +%s) + 120 ))
while [ "$(accepted)" -lt $((before + EVENTS)) ] && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.2; done
python3 - "$WORK/arrivals.log" "$EVENTS" <<'PY'
import sys
times = [int(l.split()[0]) for l in open(sys.argv[1]) if "chk_bench" in l]
n = int(sys.argv[2])
seen = len(times)
span = (max(times) - min(times)) / 1000 if times else 0
print(f"delivered {seen} of {n} queued events in {span:.2f} s: {seen / span:.0f} deliveries/s" if span else f"delivered {seen} of {n}")
PY
echo "deliveries recorded as succeeded: $(sql "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'succeeded' AND id LIKE 'dlv_bench%'")"
