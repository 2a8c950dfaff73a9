#!/usr/bin/env python3
"""Pays N sandbox checkouts by card through the real pages, one after another.

usage: pay.py <base url> <sk_test_ key> <count>
Prints one line per payment: "<session id> <unix ms just before the card was submitted>".
"""
import json
import re
import sys
import time
import urllib.parse
import urllib.request


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


opener = urllib.request.build_opener(NoRedirect)


def call(method, url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with opener.open(req) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def token(base, sid):
    _, page = call("GET", f"{base}/checkout/{sid}")
    return re.search(r'name="token" value="([^"]+)"', page).group(1)


def main():
    base, key, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    origin = {"Origin": base, "Content-Type": "application/x-www-form-urlencoded"}
    for i in range(count):
        body = json.dumps({"product": "Creator plan", "amount": 116, "customer": f"latency-{i}@example.com"}).encode()
        status, text = call("POST", f"{base}/api/gateway/sessions", body,
                            {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        sid = json.loads(text)["id"]
        form = urllib.parse.urlencode({"token": token(base, sid), "route": "card-bridge-a"}).encode()
        call("POST", f"{base}/checkout/{sid}/start", form, origin)
        form = urllib.parse.urlencode({"token": token(base, sid), "number": "4242424242424242",
                                       "expiry": "12/34", "cvc": "123", "name": "Latency Test"}).encode()
        started = int(time.time() * 1000)
        status, _ = call("POST", f"{base}/checkout/{sid}/card", form, origin)
        if status != 303:
            sys.exit(f"card submit answered {status}")
        print(sid, started, flush=True)


if __name__ == "__main__":
    main()
