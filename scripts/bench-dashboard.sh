#!/usr/bin/env bash
# Latency of every page of the merchant dashboard on SQLite with a year of data (a release
# build on 127.0.0.1; nothing is sent anywhere else).
#
#   scripts/bench-dashboard.sh                      # 1,000,000 sessions
#   SESSIONS=50000 scripts/bench-dashboard.sh       # a quick run
#   KEEP=1 scripts/bench-dashboard.sh               # keep the folder and its seeded database
#   SEEDED_DB=/tmp/orc-dash.X/bench.db scripts/bench-dashboard.sh
#                                                   # measure again on a database seeded before
#   BIN=target/debug/openrails-checkout SESSIONS=3000 REQUESTS=3 WARMUP=1 \
#     scripts/bench-dashboard.sh                    # CI: the seeder and every page, no timing
#                                                   # worth reading (a debug build, not rebuilt)
#
# 1. builds the release binary, starts it once on a new SQLite file (migrations, the merchant),
#    stops it;
# 2. seeds SESSIONS checkout sessions with scripts/seed.py (prints the time it took and the
#    database's size);
# 3. creates a dashboard owner with the command line (`users create … --password-stdin`),
#    restarts the server, signs in as a browser does (the login form's token, the
#    `orc_dashboard` cookie);
# 4. asks each dashboard page WARMUP (20) times, then REQUESTS (200) times in a row on one
#    keep-alive connection, and prints p50, p99 and max in ms. Every answer must be 200 (the
#    script fails otherwise); a p99 of 50 ms or more is marked. A page whose timed requests take
#    longer than PAGE_BUDGET seconds (60) in all stops early and says how many it measured (its
#    warm-ups stop after a third of that).
#
# The CSV export streams every matching payment: for the whole set, what counts is the time to
# its first byte (and to its first batch of rows), measured on a new connection each time
# (the rest is not read; 50 ms untimed pause after each, so that the dropped export does not
# run beside the next request); a one-day export is also read to its end.
set -euo pipefail
cd "$(dirname "$0")/.."

SESSIONS=${SESSIONS:-1000000}
PORT=${PORT:-18490}
REQUESTS=${REQUESTS:-200}
WARMUP=${WARMUP:-20}
PAGE_BUDGET=${PAGE_BUDGET:-60}
BUILD_TIMEOUT=${BUILD_TIMEOUT:-3600}
SEED_TIMEOUT=${SEED_TIMEOUT:-1200}
MEASURE_TIMEOUT=${MEASURE_TIMEOUT:-3600}
EMAIL=owner@example.com
PASSWORD=bench-dashboard-password-1

if [ -n "${BIN:-}" ]; then
  BIN=$(realpath "$BIN")
  echo "== using $BIN (not rebuilt)"
else
  echo "== building (cargo build --release)"
  timeout "$BUILD_TIMEOUT" cargo build --release --quiet
  BIN=$PWD/target/release/openrails-checkout
fi
WORK=$(mktemp -d /tmp/orc-dash.XXXXXX)
SERVER_PID=
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
  fi
}
cleanup() {
  stop_server
  if [ -n "${KEEP:-}" ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

if [ -n "${SEEDED_DB:-}" ]; then
  DB=$SEEDED_DB
else
  DB=$WORK/bench.db
fi
DB_URL="sqlite://$DB"

start_server() {
  (cd "$WORK" && RUST_LOG=warn OPENRAILS_BIND=127.0.0.1:$PORT DATABASE_URL=$DB_URL \
    OPENRAILS_SHUTDOWN_TIMEOUT_SECONDS=5 exec "$BIN" serve >>"$WORK/server.out" 2>&1) &
  SERVER_PID=$!
  for _ in $(seq 1 600); do
    curl -sf --max-time 2 "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && return
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "server did not start" >&2; cat "$WORK/server.out" >&2; exit 1
}

if [ -z "${SEEDED_DB:-}" ]; then
  echo "== first start (migrations, the merchant)"
  start_server
  stop_server
  echo "== seeding $SESSIONS sessions (scripts/seed.py)"
  timeout "$SEED_TIMEOUT" python3 scripts/seed.py "$DB" --sessions "$SESSIONS" | tee "$WORK/seed.txt"
else
  echo "== reusing $DB"
fi
du -h --apparent-size "$DB" | awk '{print "database size on disk: " $1}'

echo "== dashboard owner (users create … --role owner --password-stdin)"
printf '%s\n' "$PASSWORD" | RUST_LOG=warn DATABASE_URL=$DB_URL timeout 120 \
  "$BIN" users create "$EMAIL" --role owner --password-stdin 2>&1 |
  grep -v "has an account already" || true

start_server
echo "== measuring on http://127.0.0.1:$PORT ($(nproc) cores): $WARMUP warm-ups, $REQUESTS timed requests a page"
cat >"$WORK/measure.py" <<'PY'
import http.client, math, re, sqlite3, sys, time, urllib.parse

port, db, email, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
warmup, requests, budget = int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7])
HOST = "127.0.0.1"
ORIGIN = f"http://{HOST}:{port}"

# Sample values, read from the database (read-only, beside the running server).
q = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
one = lambda sql, *a: q.execute(sql, a).fetchone()
merchant = one("SELECT merchant_id FROM users WHERE email = ?", email)[0]
env = "sandbox"
# A paid payment of the middle of the year whose events were delivered (its timeline lists
# them): the newest such delivery older than 180 days.
dlv = one("""SELECT event_id FROM webhook_deliveries WHERE merchant_id = ? AND environment = ?
             AND event_id LIKE 'evt_chk_%_paid' AND created_at < ? ORDER BY created_at DESC LIMIT 1""",
          merchant, env, int(time.time() * 1000) - 180 * 86_400_000)
session_with_deliveries = dlv[0][4:].rsplit("_", 1)[0]
paid = one("SELECT id, customer_id FROM payments WHERE session_id = ? AND status = 'paid'",
           session_with_deliveries)
paid_id, customer = paid
cust_email = one("SELECT email FROM customers WHERE id = ?", customer)[0]
ref_row = one("""SELECT s.client_reference_id, s.metadata FROM payments p JOIN checkout_sessions s
                 ON s.id = p.session_id WHERE p.id = ?""", paid_id)
reference = ref_row[0] or "ord_0000001"
order = (re.search(r'"order":"([^"]+)"', ref_row[1]) or [None, "ord_0000001"])[1]
endpoints = [r[0] for r in q.execute(
    "SELECT id FROM webhook_endpoints WHERE merchant_id = ? AND environment = ? ORDER BY id",
    (merchant, env))]
ms = int(time.time() * 1000)
day = lambda days_ago: time.strftime("%Y-%m-%d", time.gmtime(ms / 1000 - days_ago * 86400))
q.close()

cookie = None


def connect():
    return http.client.HTTPConnection(HOST, port, timeout=60)


conn = connect()


def get(path, conn_=None, read=True):
    global conn
    c = conn_ or conn
    headers = {"Accept": "text/html", "Accept-Language": "en"}
    if cookie:
        headers["Cookie"] = cookie
    try:
        c.request("GET", path, headers=headers)
        r = c.getresponse()
    except (http.client.RemoteDisconnected, ConnectionError):
        if conn_ is not None:
            raise
        # The server closed the idle keep-alive connection: open another one.
        conn.close()
        conn = c = connect()
        c.request("GET", path, headers=headers)
        r = c.getresponse()
    body = r.read() if read else None
    return r, body


# Sign in as a browser: the form's token, then the form, keeping the cookie.
r, body = get("/dashboard/login?next=/dashboard")
token = re.search(rb'name="token" value="([^"]+)"', body).group(1).decode()
form = urllib.parse.urlencode({"token": token, "email": email, "password": password,
                               "next": "/dashboard"})
conn.request("POST", "/dashboard/login", body=form, headers={
    "Content-Type": "application/x-www-form-urlencoded", "Origin": ORIGIN})
r = conn.getresponse()
r.read()
set_cookie = r.getheader("Set-Cookie") or ""
m = re.match(r"(orc_dashboard=[^;]+)", set_cookie)
if r.status != 303 or not m:
    sys.exit(f"sign-in failed: {r.status} {set_cookie!r}")
cookie = m.group(1)

r, body = get("/dashboard/payments")
nxt = re.search(rb'before=(pay_[0-9a-z]+)', body)
second_page = "/dashboard/payments?before=" + nxt.group(1).decode() if nxt else None
r, body = get("/dashboard/webhooks")
nxt = re.search(rb'before=(att_[0-9a-z]+)', body)
log_page2 = "/dashboard/webhooks?endpoint=&outcome=&before=" + nxt.group(1).decode() if nxt else None

enc = urllib.parse.quote
pages = [
    ("home", "/dashboard"),
    ("payments", "/dashboard/payments"),
    ("payments status=paid", "/dashboard/payments?status=paid"),
    ("payments status=failed", "/dashboard/payments?status=failed"),
    ("payments status=pending", "/dashboard/payments?status=pending"),
    ("payments route=wallet", "/dashboard/payments?route=wallet-usdc-base"),
    ("payments route=bank", "/dashboard/payments?route=local-bank-transfer"),
    ("payments email", "/dashboard/payments?email=" + enc(cust_email.upper())),
    ("payments reference", "/dashboard/payments?reference=" + enc(reference)),
    ("payments metadata plan=pro", "/dashboard/payments?metadata=" + enc("plan=pro")),
    ("payments metadata order=…", "/dashboard/payments?metadata=" + enc("order=" + order)),
    ("payments customer", "/dashboard/payments?customer=" + customer),
    ("payments from..to (7 days)", f"/dashboard/payments?from={day(97)}&to={day(91)}"),
    ("payments status+route+dates", f"/dashboard/payments?status=failed&route=card-bridge-a&from={day(60)}&to={day(30)}"),
    ("payments page 2 (cursor)", second_page),
    ("payment (pay_…)", "/dashboard/payments/" + paid_id),
    ("payment (its chk_…)", "/dashboard/payments/" + session_with_deliveries),
    ("customers", "/dashboard/customers"),
    ("customers email", "/dashboard/customers?email=" + enc(cust_email)),
    ("customer", "/dashboard/customers/" + customer),
    ("webhooks", "/dashboard/webhooks"),
    ("webhooks endpoint=1", "/dashboard/webhooks?endpoint=" + endpoints[0]),
    ("webhooks outcome=ok", "/dashboard/webhooks?outcome=ok"),
    ("webhooks outcome=failed", "/dashboard/webhooks?outcome=failed"),
    ("webhooks endpoint=2 failed", f"/dashboard/webhooks?endpoint={endpoints[-1]}&outcome=failed"),
    ("webhooks log page 2", log_page2),
    ("keys", "/dashboard/keys"),
    ("audit", "/dashboard/audit"),
    ("branding", "/dashboard/branding"),
    ("branding preview", "/dashboard/branding/preview"),
    ("account", "/dashboard/account"),
]


def pct(sorted_ms, p):
    return sorted_ms[max(0, math.ceil(p * len(sorted_ms)) - 1)]


rows, failures = [], []


def measure(name, path, one_request):
    """Warm-ups, then timed requests until REQUESTS or the page's time budget is spent."""
    if path is None:
        failures.append(f"{name}: no such page in this data (no next page?)")
        rows.append((name, "-", None, None, None, "-", 0))
        return
    codes = set()
    begun = time.monotonic()
    for _ in range(warmup):
        codes.add(one_request(path)[0])
        if time.monotonic() - begun > budget / 3:
            break
    times = []
    begun = time.monotonic()
    while len(times) < requests and time.monotonic() - begun < budget:
        code, elapsed = one_request(path)
        codes.add(code)
        times.append(elapsed)
    times.sort()
    status = ",".join(str(c) for c in sorted(codes))
    if codes != {200}:
        failures.append(f"{name}: {path} answered {status}")
    rows.append((name, path, pct(times, 0.5), pct(times, 0.99), times[-1], status, len(times)))


def page(path):
    t = time.perf_counter()
    r, _ = get(path)
    return r.status, (time.perf_counter() - t) * 1000


def csv_first(path, rows_too=False):
    """Time to the first byte of the body (or to the first row) of a streamed export, on a
    new connection that is dropped afterwards."""
    c = connect()
    t = time.perf_counter()
    r, _ = get(path, c, read=False)
    if rows_too:
        r.readline()  # the header line
        r.readline()  # the first payment: its batch of 500 was read
    else:
        r.read(1)
    elapsed = (time.perf_counter() - t) * 1000
    c.close()
    # Not timed: let the server notice the dropped connection and stop that export, so that
    # it does not run beside the next request.
    time.sleep(0.05)
    return r.status, elapsed


one_day = f"/dashboard/payments.csv?from={day(120)}&to={day(120)}"
pages += [("payments.csv first byte", "/dashboard/payments.csv", csv_first),
          ("payments.csv first row", "/dashboard/payments.csv", lambda p: csv_first(p, True)),
          ("payments.csv 1 day, whole", one_day, page)]
for name, path, *how in pages:
    try:
        measure(name, path, how[0] if how else page)
    except Exception as e:  # noqa: BLE001 - report it with the others
        failures.append(f"{name}: {path}: {e!r}")
        rows.append((name, path, None, None, None, "error", 0))
        conn.close()
        conn = connect()

try:
    r, body = get(one_day)
    csv_rows = body.count(b"\r\n") - 1
except Exception as e:  # noqa: BLE001
    failures.append(f"counting the one-day export: {e!r}")
    csv_rows = "?"

w = max(len(r[0]) for r in rows)
print(f"{'page':<{w}}  {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  {'status':<6} {'n':>4}  ")
print("-" * (w + 46))
slow = 0
for name, path, p50, p99, mx, status, n in rows:
    if p50 is None:
        print(f"{name:<{w}}  {'-':>8} {'-':>8} {'-':>8}  {status:<6} {n:>4}")
        continue
    mark = "  <-- p99 >= 50 ms" if p99 >= 50 else ""
    slow += p99 >= 50
    short = "" if n >= requests else f" (stopped after {budget:.0f}s)"
    print(f"{name:<{w}}  {p50:8.1f} {p99:8.1f} {mx:8.1f}  {status:<6} {n:>4}{mark}{short}")
print("-" * (w + 46))
print(f"pages with p99 >= 50 ms: {slow} of {len(rows)}; one-day export: {csv_rows} rows")
print("paths:")
for name, path, *_ in rows:
    print(f"  {name:<{w}}  {path}")
if failures:
    print("FAILED:\n  " + "\n  ".join(failures))
    sys.exit(1)
PY
timeout "$MEASURE_TIMEOUT" python3 "$WORK/measure.py" "$PORT" "$DB" "$EMAIL" "$PASSWORD" \
  "$WARMUP" "$REQUESTS" "$PAGE_BUDGET"
if grep -qiE '"level":"ERROR"| ERROR ' "$WORK/server.out"; then
  echo "server errors:"; grep -iE '"level":"ERROR"| ERROR ' "$WORK/server.out" | tail -n 5
fi
[ -f "$WORK/seed.txt" ] && grep -E '^seed time' "$WORK/seed.txt"
du -h --apparent-size "$DB" | awk '{print "database size: " $1}'
