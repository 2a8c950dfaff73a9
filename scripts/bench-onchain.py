#!/usr/bin/env python3
"""Benchmark of the onchain integration (USDC) against a local chain (anvil), SQLite, release
build, everything on 127.0.0.1:

    scripts/bench-onchain.py            # LATENCY=50 POLLS=2000,250 SCAN_SESSIONS=1000 ...

1. latency: LATENCY payments one at a time on a sandbox onchain route (confirmations = 1), for
   each poll interval in POLLS; for each payment, the time from just before the buyer's
   transfer is sent (anvil mines it at once) to the arrival of its payment.paid at a receiver
   that verifies every signature (examples/webhook_receiver.rs);
2. scan: SCAN_SESSIONS sessions wait (their addresses and amounts reserved through the real
   pages), the server is stopped, SCAN_BLOCKS blocks are mined holding SCAN_TRANSFERS token
   transfers of which one per session pays it (the others go to addresses that are not ours),
   and the server is started again: the time from its start until every one of them is paid,
   and the RPC calls its scanner made (openrails_onchain_rpc_calls_total, which does not count
   the start-up check's two). Once with address_mode
   "unique_amount" (one address) and once with "xpub" (an address per session).

Needs: cargo, Node.js (npm ci in tools/chain for anvil). Bounded: every wait has a deadline.
"""
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LATENCY = int(os.environ.get("LATENCY", "50"))
POLLS = [int(p) for p in os.environ.get("POLLS", "2000,250").split(",") if p]
SCAN_SESSIONS = int(os.environ.get("SCAN_SESSIONS", "1000"))
SCAN_BLOCKS = int(os.environ.get("SCAN_BLOCKS", "1000"))
SCAN_TRANSFERS = int(os.environ.get("SCAN_TRANSFERS", "20000"))
PORT = int(os.environ.get("PORT", "18590"))
RPORT = int(os.environ.get("RPORT", "18591"))

USDC = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
# anvil's funded, unlocked accounts (its default mnemonic); anvil signs for them.
ACCOUNTS = [
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
    "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
    "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
    "0x976EA74026E726554dB657fA54763abd0C3a0aa9",
    "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
    "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f",
    "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
]
MERCHANT, BUYER = ACCOUNTS[1], ACCOUNTS[2]
STRAY_SENDERS = ACCOUNTS[3:]
# The account key m/44'/60'/0' of anvil's mnemonic: its receiving addresses are anvil's accounts.
XPUB = ("xpub6Ce9NcJvTk36xtLSrJLZqE7wtgA5deCeYs7rSQtreh4cj6ByPtrg9sD7V2FNFLPnf8heNP3FGkeV9qwfzvZNS"
        "d54JoNXVsXFYSYwHsnJxqP")
CHAIN_ID = 84532


def post_json(url, body, headers=None, timeout=30):
    req = urllib.request.Request(url, json.dumps(body).encode(), method="POST",
                                 headers={"content-type": "application/json", **(headers or {})})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.load(r)


def get_text(url, headers=None):
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as r:
        return r.read().decode()


def word(v):
    return (format(v, "x") if isinstance(v, int) else v[2:].lower()).rjust(64, "0")


class Chain:
    def __init__(self, work):
        anvil = os.environ.get("ANVIL_BIN") or os.path.join(
            ROOT, "tools/chain/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
        if not os.path.exists(anvil):
            subprocess.run(["npm", "ci", "--prefix", os.path.join(ROOT, "tools/chain"), "--no-audit",
                            "--no-fund"], check=True)
        self.log = open(os.path.join(work, "anvil.log"), "w")
        self.proc = subprocess.Popen([anvil, "--host", "127.0.0.1", "--port", "0", "--chain-id",
                                      str(CHAIN_ID), "--gas-limit", "100000000"],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.time() + 30
        for line in self.proc.stdout:
            m = re.search(r"Listening on (127\.0\.0\.1:\d+)", line)
            if m:
                self.url = "http://" + m.group(1)
                break
            if time.time() > deadline:
                raise SystemExit("anvil did not start")
        # Keep draining its log so that it never blocks on a full pipe.
        self.drain = subprocess.Popen(["cat"], stdin=self.proc.stdout, stdout=self.log)
        runtime = json.load(open(os.path.join(ROOT, "tools/chain/TestUSDC.json")))["runtime"]
        self.rpc("anvil_setCode", [USDC, runtime if runtime.startswith("0x") else "0x" + runtime])
        self.id = 0

    def rpc(self, method, params):
        answer = post_json(self.url, {"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    def send(self, sender, to, units, wait=True):
        data = "0xa9059cbb" + word(to) + word(units)
        tx = self.rpc("eth_sendTransaction", [{"from": sender, "to": USDC, "data": data}])
        while wait and self.rpc("eth_getTransactionReceipt", [tx]) is None:
            time.sleep(0.005)
        return tx

    def mint(self, to, units):
        data = "0x40c10f19" + word(to) + word(units)
        tx = self.rpc("eth_sendTransaction", [{"from": MERCHANT, "to": USDC, "data": data}])
        while self.rpc("eth_getTransactionReceipt", [tx]) is None:
            time.sleep(0.005)

    def stop(self):
        self.proc.kill()
        self.drain.kill()


class Server:
    def __init__(self, work, binary):
        self.work, self.binary, self.proc = work, binary, None
        self.db_path = os.path.join(work, "bench.db")
        self.out = os.path.join(work, "server.out")

    def configure(self, chain, poll_ms, mode):
        pay_to = (f'settlement_address = "{MERCHANT}"' if mode == "unique_amount"
                  else f'address_mode = "xpub", xpub = "{XPUB}"')
        with open(os.path.join(self.work, "config.toml"), "w") as f:
            f.write(f"""[[routes]]
id = "wallet-usdc-test"
kind = "wallet"
label = "USDC wallet"
provider = "USDC on Base Sepolia"
integration = "onchain"
environments = ["sandbox"]
buyer_fee_rate = 0.0
gateway_fee_rate = 0.0
onchain = {{ rpc_url = "{chain.url}", chain_id = {CHAIN_ID}, {pay_to}, confirmations = 1, poll_interval_ms = {poll_ms} }}
""")

    def start(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENRAILS_") and k != "DATABASE_URL"}
        env.update(RUST_LOG="warn", OPENRAILS_BIND=f"127.0.0.1:{PORT}",
                   DATABASE_URL=f"sqlite://{self.db_path}",
                   OPENRAILS_CONFIG=os.path.join(self.work, "config.toml"),
                   OPENRAILS_REDIRECT_WAIT_SECONDS="0",
                   # One key creates every session: its rate limit is raised out of the way.
                   OPENRAILS_API_RATE_PER_SECOND="10000000", OPENRAILS_API_RATE_BURST="10000000")
        started = time.time()
        self.proc = subprocess.Popen([self.binary, "serve"], cwd=self.work, env=env,
                                     stdout=open(self.out, "a"), stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while True:
            try:
                get_text(f"http://127.0.0.1:{PORT}/readyz")
                return started
            except Exception:
                if time.time() > deadline or self.proc.poll() is not None:
                    raise SystemExit("the server did not start:\n" + open(self.out).read())
                time.sleep(0.05)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)

    def key(self):
        return re.search(r"sk_test_[a-z0-9]+", open(self.out).read()).group(0)

    def scalar(self, sql):
        with sqlite3.connect(self.db_path) as c:
            return c.execute(sql).fetchone()[0]

    def rpc_calls(self):
        text = get_text(f"http://127.0.0.1:{PORT}/metrics")
        m = re.search(r"^openrails_onchain_rpc_calls_total (\d+)", text, re.M)
        return int(m.group(1)) if m else 0


def waiting_session(key):
    """A sandbox session of $116 with its wallet page opened: (session id, units, address)."""
    session = post_json(f"http://127.0.0.1:{PORT}/api/gateway/sessions",
                        {"product": "Creator plan", "amount": 116, "customer": "buyer@example.com",
                         "preferredRoute": "wallet"}, {"authorization": f"Bearer {key}"})
    html = get_text(session["checkoutUrl"])
    form = re.search(r'<form method="post" action="([^"]+)"(.*?)</form>', html, re.S)
    if form and 'name="route"' in form.group(2):
        # The route is chosen on the page, as a buyer does: the form's own fields and the route.
        fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(2)))
        fields["route"] = "wallet-usdc-test"
        action = urllib.parse.urljoin(session["checkoutUrl"], form.group(1).replace("&amp;", "&"))
        req = urllib.request.Request(action, urllib.parse.urlencode(fields).encode(), method="POST",
                                     headers={"content-type": "application/x-www-form-urlencoded"})
        with urllib.request.urlopen(req, timeout=30) as r:
            html = r.read().decode()
    amount = re.search(r'id="amount-value">([0-9.]+) USDC', html)
    address = re.search(r'id="address-value"[^>]*>(0x[0-9a-fA-F]{40})', html)
    if not amount or not address:
        raise SystemExit("the wallet page did not ask for a transfer:\n" + html[:2000])
    whole, fraction = amount.group(1).split(".")
    return session["id"], int(whole + fraction), address.group(1)


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def paid_arrivals(log):
    arrived = {}
    if os.path.exists(log):
        for line in open(log):
            t, event = line.split()
            if event.endswith("_paid"):
                arrived[event] = int(t)
    return arrived


def main():
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "openrails-checkout",
                    "--example", "webhook_receiver"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="orc-bench-onchain.")
    chain = Chain(work)
    server = Server(work, os.path.join(ROOT, "target/release/openrails-checkout"))
    receiver = None
    try:
        chain.mint(BUYER, 10**15)
        for sender in STRAY_SENDERS:
            chain.mint(sender, 10**15)
        server.configure(chain, POLLS[0] if POLLS else 2000, "unique_amount")
        server.start()
        key = server.key()
        endpoint = post_json(f"http://127.0.0.1:{PORT}/api/gateway/webhook-endpoints",
                             {"url": f"http://127.0.0.1:{RPORT}/hooks"}, {"authorization": f"Bearer {key}"})
        arrivals = os.path.join(work, "arrivals.log")
        receiver = subprocess.Popen([os.path.join(ROOT, "target/release/examples/webhook_receiver"),
                                     f"127.0.0.1:{RPORT}", endpoint["secret"], arrivals])
        time.sleep(0.5)

        for poll in POLLS:
            server.stop()
            server.configure(chain, poll, "unique_amount")
            server.start()
            latencies = []
            for _ in range(LATENCY):
                session_id, units, address = waiting_session(key)
                # Sent at a random moment of the scanner's cycle (one after another, each would
                # otherwise come just after the step that paid the one before).
                time.sleep(random.uniform(0, poll / 1000))
                sent = time.time() * 1000
                chain.send(BUYER, address, units, wait=False)
                deadline = time.time() + 60
                event = None
                while event is None:
                    event = next((t for e, t in paid_arrivals(arrivals).items() if session_id in e), None)
                    if time.time() > deadline:
                        raise SystemExit(f"no payment.paid for {session_id}")
                    time.sleep(0.002)
                latencies.append(event - sent)
            print(f"latency, poll_interval_ms = {poll}, confirmations = 1: {LATENCY} payments, "
                  f"transfer sent -> payment.paid received: p50 {pct(latencies, 50):.0f} ms, "
                  f"p99 {pct(latencies, 99):.0f} ms, max {max(latencies):.0f} ms", flush=True)

        for mode in ["unique_amount", "xpub"]:
            server.stop()
            server.configure(chain, 2000, mode)
            server.start()
            paid_before = server.scalar("SELECT COUNT(*) FROM payments WHERE status = 'paid'")
            ours = [waiting_session(key) for _ in range(SCAN_SESSIONS)]
            server.stop()
            # The blocks, each with its share of transfers; one per session pays it.
            chain.rpc("evm_setAutomine", [False])
            per_block = SCAN_TRANSFERS // SCAN_BLOCKS
            ours_at = {b: [] for b in range(SCAN_BLOCKS)}
            for i, session in enumerate(ours):
                ours_at[i * SCAN_BLOCKS // len(ours)].append(session)
            made = 0
            for b in range(SCAN_BLOCKS):
                for _, units, address in ours_at[b]:
                    chain.send(BUYER, address, units, wait=False)
                    made += 1
                for _ in range(per_block - len(ours_at[b])):
                    stranger = "0x" + os.urandom(20).hex()
                    chain.send(random.choice(STRAY_SENDERS), stranger, random.randint(1, 10**9), wait=False)
                    made += 1
                chain.rpc("evm_mine", [])
            chain.rpc("evm_setAutomine", [True])
            head = int(chain.rpc("eth_blockNumber", []), 16)
            started = server.start()
            deadline = time.time() + 600
            while server.scalar("SELECT COUNT(*) FROM payments WHERE status = 'paid'") < paid_before + len(ours):
                if time.time() > deadline:
                    raise SystemExit("not every session was paid within 10 minutes")
                time.sleep(0.02)
            took = time.time() - started
            # The step that paid them adds its calls to the counter once it returns; the next
            # step is a poll interval away.
            time.sleep(0.5)
            calls = server.rpc_calls()
            print(f"scan, address_mode = {mode}: {SCAN_BLOCKS} blocks (head {head}) holding {made} "
                  f"transfers, {len(ours)} of them ours ({len(set(a for _, _, a in ours))} addresses): "
                  f"all {len(ours)} paid {took:.2f} s after the server was started, "
                  f"{calls} RPC calls by the scanner (besides the 2 of the start-up check)", flush=True)
    finally:
        if server.proc and server.proc.poll() is None:
            server.proc.kill()
        if receiver:
            receiver.kill()
        chain.stop()


if __name__ == "__main__":
    main()
