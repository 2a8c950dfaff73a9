#!/usr/bin/env python3
"""Fill a migrated openrails-checkout SQLite database with a year of checkout sessions.

    python3 scripts/seed.py data/openrails.db                    # 1,000,000 sessions
    python3 scripts/seed.py data/openrails.db --sessions 20000   # a small one

The database must have been created by the server (its first start applies the migrations and
creates the merchant); stop the server while seeding. Everything is written for that merchant,
in one transaction (all or nothing), with rows shaped as the product writes them:

- ids as `src/domain/ids.rs` makes them: a prefix and the 26 lowercase Crockford base32
  characters of a UUIDv7 whose 48 high bits are the row's own `created_at` (Unix ms), the
  version and variant bits set and the rest random, so ids sort as their times do;
- sessions spread evenly over the last 365 days up to now, in the sandbox (what the dashboard
  shows first) and a small share in production (`--production-share`, 2 %; the default
  routes are offered in the sandbox only, so production rows use them as if a production
  config offered them too);
- about 60 % paid (a payment, its invoice, `payment.provider_pending` and `payment.paid`
  events; 5 % of them after a declined first attempt), 8 % failed (the buyer gave up after a
  failed payment), the rest expired (`payment.expired`), and, among the last day's sessions
  (not past their `expires_at`), some still open: `routed`, or `pending` with a card payment
  awaiting the buyer;
- payments on the routes of the default configuration (`card-bridge-a`, `wallet-usdc-base`,
  `local-bank-transfer`; `--config` reads the `[[routes]]` of a config file instead), with the
  fees `src/domain/fees.rs` computes;
- customers (200,000 addresses by default; one row per address and environment, created with
  its first session), metadata objects (`{"order":"ord_…","plan":"pro"}`, compact JSON with
  sorted keys, as `Metadata::to_db` writes them), client references, idempotency keys;
- refunds of 1 % of paid payments (sandbox: succeeded at once; full or partial), with their
  events, the payment's and invoice's totals, and an audit line;
- two webhook endpoints (one active, one disabled after failing) on 127.0.0.1, with one
  delivery per subscribed endpoint and its attempts for 10 % of the events. Every delivery is
  finished (succeeded or failed), so the server's worker has nothing to send.

If the schema has `payment_metadata` (migration 0017: the session's metadata pairs of each
payment, which the product writes with the payment), it is filled too.

If `checkout_sessions` has an `opened_at` column (nullable Unix ms: when the buyer first opened
the page), it is filled for about 80 % of sessions (every session with a payment, and some
others). Columns are read with PRAGMA table_info: a NOT NULL column without a default that this
script does not know stops it before anything is written.

Python 3 standard library only.
"""

import argparse
import json
import os
import random
import sqlite3
import multiprocessing
import pickle
import sys
import time
import traceback
from operator import itemgetter

DAY_MS = 86_400_000

# --- ids (src/domain/ids.rs) -------------------------------------------------------------------

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_CROCKFORD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", _ALPHABET.encode())
# 10 bits -> 2 characters.
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]
# A random byte -> a random character; the character holding the version (bits 79..75:
# 0111 and a random bit); the one holding the variant (bits 64..60: a random bit, 10, two
# random bits).
_ANY = bytes(ord(_ALPHABET[b & 31]) for b in range(256))
_VERSION = bytes(ord(_ALPHABET[0b01110 | (b & 1)]) for b in range(256))
_VARIANT = bytes(ord(_ALPHABET[((b >> 2) & 1) << 4 | 0b1000 | (b & 3)]) for b in range(256))


def encode_ms(ms):
    """The first 10 of the 26 characters: the 48-bit time (and 2 zero bits above it)."""
    p = _PAIRS
    return (p[ms >> 40] + p[(ms >> 30) & 1023] + p[(ms >> 20) & 1023] + p[(ms >> 10) & 1023]
            + p[ms & 1023])


def suffix_maker(rng, batch=1 << 16):
    """A function ms -> the 26-character suffix of a fresh id made at `ms`: the UUIDv7 of
    `ids::new_suffix` (48 bits of time, version 7, 12 random bits, variant 10, 62 random bits)
    in lowercase Crockford base32, most significant first."""
    import itertools

    def tails():
        while True:
            a = rng.randbytes(16 * batch).translate(_ANY).decode()
            v = rng.randbytes(batch).translate(_VERSION).decode()
            w = rng.randbytes(batch).translate(_VARIANT).decode()
            yield [v[j] + a[16 * j + 1:16 * j + 3] + w[j] + a[16 * j + 4:16 * j + 16]
                   for j in range(batch)]

    next_tail = itertools.chain.from_iterable(tails()).__next__
    p = _PAIRS

    def suffix(ms):
        return (p[ms >> 40] + p[(ms >> 30) & 1023] + p[(ms >> 20) & 1023]
                + p[(ms >> 10) & 1023] + p[ms & 1023] + next_tail())

    return suffix


def suffix_at(ms):
    """The smallest suffix of an id made at `ms` (`ids::suffix_at`)."""
    return encode_ms(ms) + "0" * 16


def random_token(rng, n):
    """`n` random Crockford characters (`ids::random_token`)."""
    return rng.randbytes(n).translate(_ANY).decode()


# --- routes and fees -----------------------------------------------------------------------------

# The default routes (src/domain/payment_route.rs, config.example.toml).
DEFAULT_ROUTES = [
    dict(id="card-bridge-a", kind="card", label="Credit card", provider="Sandbox Card",
         integration="sandbox", buyer_fee_rate=0.032, gateway_fee_rate=0.03,
         provider_timeout_seconds=None, environments=["sandbox"]),
    dict(id="wallet-usdc-base", kind="wallet", label="USDC wallet", provider="Sandbox Wallet",
         integration="sandbox", buyer_fee_rate=0.005, gateway_fee_rate=0.01,
         provider_timeout_seconds=None, environments=["sandbox"]),
    dict(id="local-bank-transfer", kind="local", label="Bank transfer", provider="Sandbox Bank",
         integration="sandbox", buyer_fee_rate=0.0, gateway_fee_rate=0.01,
         provider_timeout_seconds=259200, environments=["sandbox"]),
]
PROVIDER_TIMEOUT_SECONDS = 1800  # config: provider_timeout_seconds


def load_routes(path):
    if not path:
        return DEFAULT_ROUTES
    import tomllib

    with open(path, "rb") as f:
        config = tomllib.load(f)
    routes = config.get("routes") or DEFAULT_ROUTES
    out = []
    for r in routes:
        out.append(dict(
            id=r["id"], kind=r["kind"], label=r["label"], provider=r["provider"],
            integration=r.get("integration", "sandbox"),
            buyer_fee_rate=float(r["buyer_fee_rate"]),
            gateway_fee_rate=float(r["gateway_fee_rate"]),
            provider_timeout_seconds=r.get("provider_timeout_seconds"),
            environments=r.get("environments", ["sandbox"]),
        ))
    return out


class Route:
    def __init__(self, r):
        self.id = r["id"]
        self.kind = r["kind"]
        self.provider = r["integration"]  # payments.provider is the integration's id
        self.buyer_ppm = round(r["buyer_fee_rate"] * 1_000_000)
        self.gateway_ppm = round(r["gateway_fee_rate"] * 1_000_000)
        self.timeout_ms = (r["provider_timeout_seconds"] or PROVIDER_TIMEOUT_SECONDS) * 1000
        self.environments = r["environments"]
        # PaymentRoute::asset / network: USDC on Base unless a stripe route.
        asset, network = ("USD", "Stripe") if r["integration"] == "stripe" else ("USDC", "Base")
        self.asset = r.get("asset") or asset
        self.network = r.get("network") or network
        self.json = json.dumps(
            {"id": r["id"], "kind": r["kind"], "label": r["label"], "provider": r["provider"]},
            separators=(",", ":"), sort_keys=True, ensure_ascii=False,
        )

    def fees(self, amount):
        """(buyer fee, gateway fee, merchant net, total), as src/domain/fees.rs computes them."""
        buyer = (amount * self.buyer_ppm + 999_999) // 1_000_000
        gateway = (amount * self.gateway_ppm + 500_000) // 1_000_000
        return buyer, gateway, amount - gateway, amount + buyer


def cents_json(cents):
    """`money::cents_to_json`: 116, 116.5, 19.99."""
    if cents % 100 == 0:
        return str(cents // 100)
    return repr(cents / 100)


def plain(cents):
    """`money::format_plain`."""
    if cents % 100 == 0:
        return str(cents // 100)
    return "%d.%02d" % (cents // 100, cents % 100)


def iso_millis(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)


# --- the columns this script writes, per table -------------------------------------------------

COLUMNS = {
    "customers": "id merchant_id environment email email_normalized status created_at",
    "checkout_sessions": "id merchant_id environment customer_id customer_email product "
    "amount_cents currency status preferred_route route_id redirect_url metadata "
    "client_reference_id idempotency_key request_hash payment_id expires_at created_at "
    "updated_at opened_at",
    "payments": "id session_id merchant_id environment customer_id attempt invoice_id route_id "
    "route_kind provider amount_cents buyer_fee_cents gateway_fee_cents merchant_net_cents "
    "total_cents currency status ledger_status provider_state provider_ref provider_data "
    "card_brand card_last4 tx_hash failure_code failure_message provider_deadline next_poll_at "
    "created_at updated_at refund_reserved_cents refunded_cents",
    "invoices": "id session_id payment_id merchant_id environment customer_id amount_cents "
    "currency status metadata created_at updated_at credited_cents",
    "events": "id merchant_id environment session_id type payload created_at",
    "refunds": "id merchant_id environment payment_id session_id provider amount_cents "
    "covers_cents currency status reason note metadata idempotency_key request_hash "
    "provider_ref failure_code failure_message next_poll_at created_at updated_at",
    "webhook_endpoints": "id merchant_id environment url events status disabled_reason secret "
    "previous_secret previous_secret_expires_at failing_since created_at updated_at",
    "webhook_deliveries": "id event_id endpoint_id merchant_id environment status attempts "
    "next_attempt_at locked_until locked_by last_status_code last_error delivered_at created_at "
    "updated_at",
    "webhook_attempts": "id delivery_id event_id endpoint_id attempt started_at duration_ms "
    "status_code response_body error",
    "audit_log": "id merchant_id environment actor action target detail created_at",
    # Migration 0017: the session's metadata of each payment, written with the payment.
    "payment_metadata": "payment_id merchant_id environment key value",
}
COLUMNS = {t: c.split() for t, c in COLUMNS.items()}
# Known columns that a schema may lack (then they are simply not written).
OPTIONAL = {("checkout_sessions", "opened_at")}
# Known tables that a schema may lack (then they are not written).
OPTIONAL_TABLES = {"payment_metadata"}


class Table:
    """Inserts rows built in COLUMNS order into the columns the table really has."""

    def __init__(self, conn, name):
        info = conn.execute(f"PRAGMA table_info({name})").fetchall()
        if not info:
            sys.exit(f"seed.py: table {name} does not exist: is the database migrated?")
        present = {row[1]: row for row in info}
        known = COLUMNS[name]
        unknown = [
            c for c, (_, _, _, notnull, default, pk) in present.items()
            if c not in known and notnull and default is None
        ]
        if unknown:
            sys.exit(
                f"seed.py: {name} has NOT NULL column(s) without a default that this script "
                f"does not know: {', '.join(unknown)}. Teach scripts/seed.py what the product "
                f"writes there (COLUMNS and the row builders) before seeding."
            )
        missing = [c for c in known if c not in present and (name, c) not in OPTIONAL]
        if missing:
            print(f"seed.py: note: {name} has no column(s) {', '.join(missing)}; not written",
                  file=sys.stderr)
        self.columns = [c for c in known if c in present]
        self.has = set(self.columns)
        self.pick = None
        if len(self.columns) != len(known):
            idx = [known.index(c) for c in self.columns]
            self.pick = itemgetter(*idx) if len(idx) > 1 else (lambda row, i=idx[0]: (row[i],))
        self.sql = "INSERT INTO %s (%s) VALUES (%s)" % (
            name, ", ".join(self.columns), ", ".join("?" * len(self.columns)))
        self.conn = conn
        self.name = name
        self.rows = []
        self.count = 0

    def take(self):
        """The rows built so far, handed over; the list itself is emptied in place (the row
        builders hold it)."""
        rows = self.rows[:]
        self.rows.clear()
        self.count += len(rows)
        return rows

    def insert(self, rows):
        if self.pick is not None:
            rows = map(self.pick, rows)
        self.conn.executemany(self.sql, rows)


# --- what the data looks like ------------------------------------------------------------------

PRODUCTS = [
    ("Creator plan", [11600]), ("Pro plan", [4900, 9900]), ("Team plan", [19900, 29900]),
    ("Starter pack", [900, 1900]), ("Annual subscription", [49000, 99000]),
    ("Conference ticket", [35000]), ("T-shirt", [2500, 2999]), ("E-book", [1299, 1999]),
    ("Consulting hour", [15000]), ("Gift card", [2500, 5000, 10000]),
]
PLANS = ["pro", "basic", "team", "enterprise"]
DOMAINS = ["example.com", "example.org", "mail.example", "shop.example", "example.net"]
FAILURES = {
    "card": [("card_declined", "The card was declined.", 7),
             ("insufficient_funds", "The card has insufficient funds.", 2),
             ("authentication_failed", "The card's confirmation step was not completed.", 1)],
    "wallet": [("transfer_failed", "The wallet transfer failed.", 3),
               ("provider_timeout", "The payment provider did not confirm the payment in time.", 1)],
    "local": [("bank_rejected", "The bank rejected the transfer.", 3),
              ("provider_timeout", "The payment provider did not confirm the payment in time.", 1)],
}
SANDBOX_ADDRESS = "0x5a9c7b1d3e2f4a6b8c0d1e2f3a4b5c6d7e8f9a0b"
USDC_BASE = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("database", help="the SQLite file (as in DATABASE_URL=sqlite://<file>)")
    p.add_argument("--sessions", type=int, default=1_000_000, help="default 1000000")
    p.add_argument("--customers", type=int, default=200_000,
                   help="distinct buyer addresses (default 200000, at most sessions/2)")
    p.add_argument("--days", type=int, default=365, help="spread over this many days (365)")
    p.add_argument("--production-share", type=float, default=0.02,
                   help="share of sessions in production (default 0.02; the dashboard shows "
                        "the sandbox first)")
    p.add_argument("--paid", type=float, default=0.60, help="share paid (0.60)")
    p.add_argument("--failed", type=float, default=0.08, help="share failed (0.08)")
    p.add_argument("--refunds", type=float, default=0.01, help="share of paid refunded (0.01)")
    p.add_argument("--delivered", type=float, default=0.10,
                   help="share of events with webhook deliveries (0.10)")
    p.add_argument("--opened", type=float, default=0.80,
                   help="share of sessions with opened_at, if the column exists (0.80)")
    p.add_argument("--config", help="a config file whose [[routes]] replace the defaults")
    p.add_argument("--merchant", help="the merchant (default: the only / first one)")
    p.add_argument("--seed", type=int, default=1, help="random seed (1)")
    p.add_argument("--batch", type=int, default=50_000, help="sessions per insert batch")
    p.add_argument("--force", action="store_true",
                   help="seed even if the merchant already has sessions")
    return p.parse_args()


def main():
    args = parse_args()
    started = time.monotonic()
    if not os.path.exists(args.database):
        sys.exit(f"seed.py: {args.database} does not exist: start the server once on it first")
    conn = sqlite3.connect(args.database, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 5000")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute("PRAGMA cache_size = -200000")  # 200 MB of page cache for the load

    merchants = conn.execute("SELECT id FROM merchants ORDER BY created_at, id").fetchall()
    if args.merchant:
        if (args.merchant,) not in merchants:
            sys.exit(f"seed.py: no merchant {args.merchant}")
        merchant = args.merchant
    elif not merchants:
        sys.exit("seed.py: no merchant: start the server once on this database first")
    else:
        merchant = merchants[0][0]
    existing = conn.execute(
        "SELECT COUNT(*) FROM checkout_sessions WHERE merchant_id = ?", (merchant,)).fetchone()[0]
    if existing and not args.force:
        sys.exit(f"seed.py: {merchant} already has {existing} sessions (use --force to add more)")

    present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    tables = {name: Table(conn, name) for name in COLUMNS
              if name in present or name not in OPTIONAL_TABLES}
    payment_metadata_rows = (
        tables["payment_metadata"].rows if "payment_metadata" in tables else None)
    with_opened = "opened_at" in tables["checkout_sessions"].has
    routes = [Route(r) for r in load_routes(args.config)]
    routes_in = {
        env: [r for r in routes if env in r.environments] or routes
        for env in ("sandbox", "production")
    }

    rng = random.Random(args.seed)
    rand = rng.random

    def randint(a, b):  # random.randint's range, without its cost
        return a + int(rand() * (b - a + 1))

    choice = rng.choice
    getrandbits = rng.getrandbits
    suffix = suffix_maker(rng)

    def hex_(bits):
        return "%0*x" % (bits // 4, getrandbits(bits))

    def token(n):
        return random_token(rng, n)

    now = int(time.time() * 1000)
    n = args.sessions
    span = args.days * DAY_MS
    start = now - span
    # Session times: uniform over the span, sorted, the newest a minute before now.
    times = sorted(start + int(rand() * (span - 60_000)) for _ in range(n))

    n_customers = max(1, min(args.customers, n // 2 or 1))
    pool = []
    # With --force, another run's addresses (customers are unique per address).
    tag = f"{args.seed}x" if existing else ""
    for i in range(n_customers):
        domain = DOMAINS[i % len(DOMAINS)]
        address = f"buyer{tag}{i:06d}@{domain}"
        if i % 10 == 3:  # some merchants pass addresses in mixed case
            address = f"Buyer{tag}{i:06d}@{domain.capitalize()}"
        pool.append(address)
    customer_ids = {}  # (environment, index) -> (id, email as first given)

    # Webhook endpoints: one active for a year; one that failed and was disabled 30 days ago.
    env0 = "sandbox"
    ep1_created = start - 5 * DAY_MS
    ep2_created = now - 200 * DAY_MS
    ep2_failing = now - 33 * DAY_MS
    ep2_disabled = now - 30 * DAY_MS
    ep1 = "we_" + suffix(ep1_created)
    ep2 = "we_" + suffix(ep2_created)
    default_events = ["payment.provider_pending", "payment.paid", "payment.failed"]
    endpoints = [
        (ep1, merchant, env0, "http://127.0.0.1:9/hooks/openrails",
         json.dumps(default_events, separators=(",", ":")), "active", None,
         "whsec_" + token(32), None, None, None, ep1_created, ep1_created),
        (ep2, merchant, env0, "http://127.0.0.1:9/hooks/fulfilment",
         json.dumps(["payment.paid"], separators=(",", ":")), "disabled",
         "every delivery failed for 3 days", "whsec_" + token(32), None, None,
         ep2_failing, ep2_created, ep2_disabled),
    ]
    tables["webhook_endpoints"].rows.extend(endpoints)

    T = {k: v.rows for k, v in tables.items()}
    sessions_rows = T["checkout_sessions"]
    customers_rows = T["customers"]
    payments_rows = T["payments"]
    invoices_rows = T["invoices"]
    events_rows = T["events"]
    refunds_rows = T["refunds"]
    deliveries_rows = T["webhook_deliveries"]
    attempts_rows = T["webhook_attempts"]
    audit_rows = T["audit_log"]

    def deliver(event_id, kind, at, env):
        """Deliveries (and their attempts) of one event, to the endpoints that took it."""
        if env != env0:
            return
        targets = []
        if at >= ep1_created:
            targets.append((ep1, True))
        if kind == "payment.paid" and ep2_created <= at < ep2_disabled:
            targets.append((ep2, at < ep2_failing))
        for endpoint, healthy in targets:
            dlv = "dlv_" + suffix(at) + "_" + endpoint[3:]
            t = at + randint(5, 400)
            r = rand()
            if healthy:
                failures = 0 if r < 0.95 else (1 if r < 0.99 else 2)
                if at + 2 * 1_800_000 > now:  # retries would still be under way: keep it done
                    failures = 0
            else:
                failures = randint(1, 4)
            delays = (5_000, 300_000, 1_800_000, 7_200_000)
            attempt = 0
            last_code, last_error, delivered = None, None, None
            for k in range(failures + (1 if healthy else 0)):
                attempt = k + 1
                if t > now:
                    break
                duration = randint(15, 450)
                ok = healthy and k == failures
                if ok:
                    code, body, error = 200, '{"received":true}', None
                    delivered = t + duration
                elif rand() < 0.5:
                    code, body, error = 500, "Internal Server Error", "the endpoint answered 500"
                else:
                    code, body, error = None, None, "connection refused"
                    duration = randint(1, 5)
                attempts_rows.append((
                    "att_" + suffix(t), dlv, event_id, endpoint, attempt, t, duration,
                    code, body, error))
                last_code, last_error = code, error
                if ok:
                    break
                t = t + duration + delays[min(k, 3)]
            if attempt == 0:
                continue
            finished = min(t, now)
            status = "succeeded" if delivered else "failed"
            deliveries_rows.append((
                dlv, event_id, endpoint, merchant, env, status, attempt,
                delivered or finished, None, None, last_code, last_error, delivered, at,
                delivered or finished))

    def payment_event(kind, status, sid, cid, env, amount, route, fees, tx, meta, pid, attempt,
                      failure_code, at):
        step = kind.split(".", 1)[1]
        eid = f"evt_{sid}_{step}" if attempt <= 1 else f"evt_{sid}_{step}_{attempt}"
        payload = (
            '{"created":"%s","data":{"amount":%s,"asset":"%s","currency":"USD",'
            '"customer_id":"%s","failure_code":%s,"fees":{"buyer_fee":%s,"gateway_fee":%s,'
            '"merchant_net":%s,"total":%s},"metadata":%s,"network":"%s","payment_id":"%s",'
            '"route":%s,"session_id":"%s","status":"%s","tx_hash":%s},"id":"%s",'
            '"livemode":%s,"type":"%s"}'
        ) % (
            iso_millis(at), cents_json(amount), route.asset, cid,
            '"%s"' % failure_code if failure_code else "null",
            cents_json(fees[0]), cents_json(fees[1]), cents_json(fees[2]), cents_json(fees[3]),
            meta, route.network, pid, route.json, sid, status,
            '"%s"' % tx if tx else "null", eid,
            "true" if env == "production" else "false", kind,
        )
        events_rows.append((eid, merchant, env, sid, kind, payload, at))
        if rand() < args.delivered:
            deliver(eid, kind, at, env)

    def expired_event(sid, cid, env, amount, meta, at):
        eid = f"evt_{sid}_expired"
        payload = (
            '{"created":"%s","data":{"amount":%s,"asset":"USDC","currency":"USD",'
            '"customer_id":"%s","failure_code":null,"fees":null,"metadata":%s,'
            '"network":"Base","payment_id":null,"route":null,"session_id":"%s",'
            '"status":"expired","tx_hash":null},"id":"%s","livemode":%s,'
            '"type":"payment.expired"}'
        ) % (iso_millis(at), cents_json(amount), cid, meta, sid, eid,
             "true" if env == "production" else "false")
        events_rows.append((eid, merchant, env, sid, "payment.expired", payload, at))

    def refund_event(kind, status, rid, amount, pid, refunded, ledger, sid, cid, env, meta, at,
                     provider_ref):
        eid = f"evt_{rid}_{kind.split('.', 1)[1]}"
        payload = (
            '{"created":"%s","data":{"amount":%s,"amount_refunded":%s,"currency":"USD",'
            '"customer_id":"%s","failure_code":null,"ledger_status":"%s","metadata":%s,'
            '"note":null,"payment_id":"%s","provider_reference":%s,'
            '"reason":"requested_by_customer","refund_id":"%s","refund_metadata":{},'
            '"session_id":"%s","status":"%s","transfer":null},"id":"%s","livemode":%s,'
            '"type":"%s"}'
        ) % (iso_millis(at), cents_json(amount), cents_json(refunded), cid, ledger, meta, pid,
             '"%s"' % provider_ref if provider_ref else "null", rid, sid, status, eid,
             "true" if env == "production" else "false", kind)
        events_rows.append((eid, merchant, env, sid, kind, payload, at))

    def make_payment(sid, cid, env, amount, route, attempt, at, outcome, meta, pairs,
                     opened_until):
        """One payment of a session (and its invoice and events). `outcome`: paid, failed or
        pending. Returns (payment id, when it was decided, payment row index)."""
        pid = "pay_" + suffix(at)
        inv = "inv_" + suffix(at)
        fees = route.fees(amount)
        kind = route.kind
        if payment_metadata_rows is not None:
            for key, value in pairs:
                payment_metadata_rows.append((pid, merchant, env, key, value))
        if outcome == "pending":
            # A card payment waiting for the buyer's card: nothing handed off yet.
            payments_rows.append([
                pid, sid, merchant, env, cid, attempt, inv, route.id, kind, route.provider,
                amount, fees[0], fees[1], fees[2], fees[3], "USD", "pending", "pending",
                "awaiting_buyer", None, "{}", None, None, None, None, None, None, None, at, at,
                0, 0])
            invoices_rows.append([inv, sid, pid, merchant, env, cid, amount, "USD", "open", meta,
                                  at, at, 0])
            return pid, at, len(payments_rows) - 1
        # Handed off: the buyer's card a few seconds after choosing the route; a transfer at once.
        handoff = at + (randint(5_000, 90_000) if kind == "card" else randint(50, 400))
        if kind == "card":
            decided = handoff + randint(200, 2_500)
        elif kind == "wallet":
            decided = handoff + randint(30_000, 600_000)
        else:
            decided = handoff + randint(3_600_000, 2 * DAY_MS)
        if decided > opened_until:  # keep every time in the past
            room = max(opened_until - at, 2)
            handoff = at + room // 3
            decided = at + (2 * room) // 3
        deadline = handoff + route.timeout_ms
        provider_ref = "sbx_" + token(16)
        if kind == "card":
            data = "{}"
            brand, last4 = "visa", ("4242" if outcome == "paid" else "0002")
        elif kind == "wallet":
            units = fees[3] * 10_000
            data = (
                '{"address":"%s","asset_amount":"%d.%02d","bank_name":null,"chain_id":null,'
                '"exact":false,"kind":"wallet","network":"Base","payment_uri":"ethereum:%s@8453'
                '/transfer?address=%s&uint256=%d","reference":null,"token":null,"units":null}'
            ) % (SANDBOX_ADDRESS, fees[3] // 100, fees[3] % 100, USDC_BASE, SANDBOX_ADDRESS,
                 units)
            brand = last4 = None
        else:
            data = (
                '{"account_number":"000123456789","asset_amount":"%d.%02d","bank_name":'
                '"Sandbox Bank","kind":"local","reference":"ORC-%s","routing_number":'
                '"110000000"}'
            ) % (fees[3] // 100, fees[3] % 100, pid[-8:].upper())
            brand = last4 = None
        if outcome == "paid":
            tx = "0x" + hex_(256)
            failure = (None, None)
            status, ledger, invoice_status = "paid", "settled", "paid"
        else:
            tx = None
            options = failure_draw[kind]
            code, message = options[int(rand() * len(options))]
            failure = (code, message)
            status, ledger, invoice_status = "failed", "pending", "void"
        payments_rows.append([
            pid, sid, merchant, env, cid, attempt, inv, route.id, kind, route.provider, amount,
            fees[0], fees[1], fees[2], fees[3], "USD", status, ledger, "done", provider_ref,
            data, brand, last4, tx, failure[0], failure[1], deadline, None, at, decided, 0, 0])
        invoices_rows.append([inv, sid, pid, merchant, env, cid, amount, "USD", invoice_status,
                              meta, at, decided, 0])
        payment_event("payment.provider_pending", "pending", sid, cid, env, amount, route, fees,
                      None, meta, pid, attempt, None, min(handoff + randint(20, 300), decided))
        payment_event("payment." + status, status, sid, cid, env, amount, route, fees, tx, meta,
                      pid, attempt, failure[0], decided)
        return pid, decided, len(payments_rows) - 1

    def refund(pid, prow, irow, sid, cid, env, amount, buyer_fee, meta, paid_at):
        at = min(paid_at + randint(3_600_000, 30 * DAY_MS), now - 1_000)
        if at <= paid_at:
            return
        rid = "re_" + suffix(at)
        if rand() < 0.7:  # everything: the amount and the buyer's fee
            back, covers = amount + buyer_fee, amount
            ledger = "refunded"
        else:
            back = covers = max(1, (amount * randint(10, 90)) // 100)
            ledger = "partially_refunded"
        provider_ref = "sbx_re_" + token(16)
        done = at + randint(100, 2_000)
        refunds_rows.append((
            rid, merchant, env, pid, sid, prow[9], back, covers, "USD", "succeeded",
            "requested_by_customer", None, "{}", None, hex_(256), provider_ref, None, None, None,
            at, done))
        prow[17] = ledger
        prow[29] = done
        prow[30] = covers
        prow[31] = back
        irow[11] = done
        irow[12] = back
        refund_event("refund.created", "pending", rid, back, pid, 0, "settled", sid, cid, env,
                     meta, at, None)
        refund_event("refund.succeeded", "succeeded", rid, back, pid, back, ledger, sid, cid,
                     env, meta, done, provider_ref)
        audit_rows.append((
            "aud_" + suffix(at), merchant, env, "owner@example.com", "refund.create", rid,
            f"{plain(back)} (pending) of {pid}", at))

    # Draws by weight: each choice repeated as many times as its weight.
    route_weights = {"card": 12, "wallet": 5, "local": 3}
    route_draw = {env: [x for x in rs for _ in range(route_weights.get(x.kind, 2))]
                  for env, rs in routes_in.items()}
    failure_draw = {kind: [(c, m) for c, m, w in options for _ in range(w)]
                    for kind, options in FAILURES.items()}
    paid_share, failed_share = args.paid, args.failed
    opened_share = args.opened
    prod_share = args.production_share
    order_no = 0

    order = ("customers", "checkout_sessions", "payments", "payment_metadata", "invoices",
             "events", "refunds", "webhook_endpoints", "webhook_deliveries", "webhook_attempts",
             "audit_log")

    def flush_all(send):
        # Parents first; each table's rows are already in (nearly) id order.
        send(("rows", [(name, tables[name].take()) for name in order
                       if name in tables and tables[name].rows]))

    def build(send_end):
        """The row builder, in a child process: sends the rows batch by batch while this
        process inserts the previous batch (two cores, no lock shared between the halves)."""

        nonlocal order_no

        def send(message):
            send_end.send_bytes(pickle.dumps(message, pickle.HIGHEST_PROTOCOL))

        try:
            last_report = time.monotonic()
            for i, created in enumerate(times):
                env = "production" if rand() < prod_share else "sandbox"
                k = randint(0, n_customers - 1)
                found = customer_ids.get((env, k))
                if found is None:
                    email = pool[k]
                    found = ("cus_" + suffix(created), email)
                    customer_ids[(env, k)] = found
                    customers_rows.append((found[0], merchant, env, email, email.lower(),
                                           "active", created))
                cid, email = found
                sid = "chk_" + suffix(created)
                product, prices = PRODUCTS[getrandbits(10) % len(PRODUCTS)]
                amount = choice(prices) if rand() < 0.85 else randint(100, 50_000)
                r = rand()
                preferred = (None if r < 0.4 else "card" if r < 0.75
                             else "wallet" if r < 0.9 else "local")
                env_routes = routes_in[env]
                preferred_route = None
                if preferred:
                    of_kind = [x for x in env_routes if x.kind == preferred]
                    preferred_route = of_kind[0] if of_kind else None
                    if preferred_route is None:
                        preferred = None
                order_no += 1
                r = rand()
                if r < 0.7:
                    pairs = (("order", "ord_%07d" % order_no), ("plan", PLANS[order_no % 4]))
                    meta = '{"order":"%s","plan":"%s"}' % (pairs[0][1], pairs[1][1])
                elif r < 0.85:
                    pairs = (("plan", PLANS[order_no % 4]),)
                    meta = '{"plan":"%s"}' % PLANS[order_no % 4]
                else:
                    pairs = ()
                    meta = "{}"
                reference = "ord_%07d" % order_no if rand() < 0.7 else None
                redirect = (f"https://shop.example/thanks?order=ord_{order_no:07d}"
                            if rand() < 0.7 else None)
                idem = ("idem_" + hex_(96)) if rand() < 0.5 else None
                expires = created + DAY_MS
                open_now = expires > now
                # What became of it.
                r = rand()
                if r < paid_share:
                    fate = "paid"
                elif r < paid_share + failed_share:
                    fate = "failed"
                elif open_now:
                    fate = "pending" if rand() < 0.25 else "routed"
                else:
                    fate = "expired"
                until = min(now - 1_000, expires - 1_000)
                opened = None
                if fate in ("paid", "failed", "pending") or rand() < (opened_share - 0.7) / 0.3:
                    opened = created + randint(2_000, 600_000)
                    if opened > until:
                        opened = created + max(1, (until - created) // 4)
                status, payment_id, route_id, updated = fate, None, (
                    preferred_route.id if preferred_route else None), created
                if fate in ("paid", "failed", "pending"):
                    if preferred_route is not None:
                        route = preferred_route
                    else:
                        draw = route_draw[env]
                        route = draw[int(rand() * len(draw))]
                    chose = opened + randint(1_000, 120_000)
                    if chose > until:
                        chose = opened + max(1, (until - opened) // 4)
                    attempt = 1
                    if fate == "paid" and rand() < 0.05:
                        # A declined card first, then paid.
                        first = [x for x in env_routes if x.kind == "card"] or [route]
                        _, decided, _ = make_payment(sid, cid, env, amount, first[0], 1, chose,
                                                     "failed", meta, pairs, until)
                        chose = decided + randint(1_000, 60_000)
                        if chose > until:
                            chose = decided + 1
                        attempt = 2
                    payment_id, decided, prow_i = make_payment(
                        sid, cid, env, amount, route, attempt, chose, fate, meta, pairs, until)
                    if fate == "failed" and rand() < 0.15 and decided < until:
                        again = decided + randint(1_000, 60_000)
                        if again < until:
                            payment_id, decided, prow_i = make_payment(
                                sid, cid, env, amount, route, 2, again, "failed", meta, pairs,
                                until)
                    route_id = route.id
                    updated = decided
                    if fate == "failed":
                        updated = min(decided + randint(1_000, 300_000), until)
                    if fate == "paid" and rand() < args.refunds:
                        refund(payment_id, payments_rows[prow_i], invoices_rows[prow_i], sid,
                               cid, env, amount, payments_rows[prow_i][11], meta, decided)
                elif fate == "expired":
                    # Swept within sweep_interval_seconds of its deadline.
                    updated = expires + randint(0, 15_000)
                    if updated > now:
                        updated = now - 1
                    expired_event(sid, cid, env, amount, meta, updated)
                row = (sid, merchant, env, cid, email, product, amount, "USD", status,
                       preferred, route_id, redirect, meta, reference, idem, hex_(256),
                       payment_id, expires, created, updated, opened if with_opened else None)
                sessions_rows.append(row)
                if (i + 1) % args.batch == 0:
                    flush_all(send)
                    if time.monotonic() - last_report > 5:
                        last_report = time.monotonic()
                        print(f"  {i + 1:,} sessions, {time.monotonic() - started:.0f}s",
                              file=sys.stderr)
            flush_all(send)
            send(("done", {name: t.count for name, t in tables.items()},
                  time.monotonic() - started))
        except BaseException:  # noqa: BLE001 - told to the parent, which stops
            send(("error", traceback.format_exc()))
        finally:
            send_end.close()
            os._exit(0)

    fork = multiprocessing.get_context("fork")
    receive_end, send_end = fork.Pipe(duplex=False)
    child = fork.Process(target=build, args=(send_end,), daemon=True)
    child.start()
    send_end.close()
    conn.execute("BEGIN IMMEDIATE")
    insert_s = 0.0
    try:
        while True:
            try:
                message = pickle.loads(receive_end.recv_bytes())
            except EOFError:
                sys.exit("seed.py: the row builder stopped without a word; nothing was written")
            if message[0] == "rows":
                t = time.monotonic()
                for name, rows in message[1]:
                    tables[name].insert(rows)
                insert_s += time.monotonic() - t
            elif message[0] == "done":
                _, counts, built_s = message
                break
            else:
                sys.exit("seed.py: building rows failed; nothing was written:\n" + message[1])
    except BaseException:
        conn.execute("ROLLBACK")
        child.kill()
        raise
    child.join()
    t = time.monotonic()
    conn.execute("COMMIT")
    commit_s = time.monotonic() - t
    t = time.monotonic()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    # The load ran with synchronous = OFF: the database's pages are still in the kernel's
    # cache. Flushed here, or the server's first commit would pay for them (its first fsync
    # stalled for a second after seeding a million sessions).
    with open(args.database, "rb+") as database:
        os.fsync(database.fileno())
    checkpoint_s = time.monotonic() - t
    elapsed = time.monotonic() - started
    size = os.path.getsize(args.database)
    wal = args.database + "-wal"
    if os.path.exists(wal):
        size += os.path.getsize(wal)
    counts = ", ".join(f"{name} {count:,}" for name, count in counts.items())
    print(f"seeded {args.database} for {merchant} (journal_mode {mode}, "
          f"opened_at {'filled' if with_opened else 'absent'}): {counts}")
    print(f"seed time: {elapsed:.1f}s (rows built in {built_s:.1f}s while inserting them took "
          f"{insert_s:.1f}s; commit {commit_s:.1f}s; checkpoint and sync {checkpoint_s:.1f}s); "
          f"database size: {size / 2**20:,.0f} MiB")


if __name__ == "__main__":
    main()
