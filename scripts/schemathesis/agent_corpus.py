"""The agent API's schemas against the API's own validation, on one corpus of bodies.

For each action, every body of the corpus is judged twice: by the JSON Schema that
GET /api/agent/schema/{action} serves (with jsonschema_rs, which Schemathesis installs) and by
the server itself (POST /api/agent/actions/{action}). A body the schema accepts must be
answered 200; a body it refuses must be answered 400 validation_failed. Any disagreement fails.

    python agent_corpus.py <base URL> <sandbox key>

Run by run.sh against the server it started (127.0.0.1 only).
"""

import json
import sys
import urllib.error
import urllib.request

import jsonschema_rs

BASE, KEY = sys.argv[1], sys.argv[2]

GOOD_CHECKOUT = {"product": "Creator plan", "amount": 116, "customer": "buyer@example.com"}


def checkout(**changes):
    body = dict(GOOD_CHECKOUT)
    for key, value in changes.items():
        if value is ...:
            body.pop(key, None)
        else:
            body[key] = value
    return body


CHECKOUT_CORPUS = [
    checkout(),
    checkout(amount=0.01),
    checkout(amount=10000),
    checkout(amount=116.5),
    checkout(amount=0),
    checkout(amount=-1),
    checkout(amount=10000.01),
    checkout(amount=1.234),
    checkout(amount="116"),
    checkout(amount=None),
    checkout(amount=...),
    checkout(product=""),
    checkout(product="x" * 120),
    checkout(product="x" * 121),
    checkout(product="Line\nbreak"),
    checkout(product=...),
    checkout(product=7),
    checkout(customer="not-an-address"),
    checkout(customer=...),
    checkout(customer="a@b.example"),
    checkout(preferredRoute="card"),
    checkout(preferredRoute="wallet"),
    checkout(preferredRoute="local"),
    checkout(preferredRoute="cash"),
    checkout(preferredRoute=None),
    checkout(redirectUrl="https://merchant.example/done?order=1"),
    checkout(redirectUrl="https://merchant.example/r/{CHECKOUT_SESSION_ID}"),
    checkout(redirectUrl="ftp://merchant.example/"),
    checkout(redirectUrl="not a url"),
    checkout(metadata={"order_id": "ord_284"}),
    checkout(metadata={f"k{i}": "v" for i in range(11)}),
    checkout(metadata={"k": 1}),
    checkout(metadata={"": "v"}),
    checkout(metadata=[]),
    checkout(idempotencyKey="order-1"),
    checkout(idempotencyKey=""),
    checkout(idempotencyKey="k" * 256),
    checkout(clientReferenceId="ord_1"),
    checkout(clientReferenceId=""),
    checkout(environment="sandbox"),
    checkout(environment="staging"),
    checkout(expiresInSeconds=300),
    checkout(expiresInSeconds=299),
    checkout(expiresInSeconds=604801),
    checkout(unknownField=1),
    {},
]

EXAMPLE_CORPUS = [
    {},
    {"event": "payment.paid"},
    {"event": "payment.failed", "amount": 899, "routeId": "card-bridge-a"},
    {"event": "payment.refunded"},
    {"event": 1},
    {"amount": 0},
    {"amount": 10000.001},
    {"routeId": "no-such-route"},
    {"metadata": {"order_id": "ord_284"}},
    {"metadata": {"k": 1}},
    {"sessionId": "chk_1", "customerId": "cus_1"},
    {"other": True},
]

VERIFY_CORPUS = [
    {"payload": "{}", "signature": "t=1,v1=00", "secret": "whsec_x"},
    {"payload": "{}", "signature": "t=1,v1=00", "secret": "whsec_x", "at": 1},
    {"payload": "{}", "signature": "t=1,v1=00", "secret": "whsec_x", "at": -1},
    {"payload": "{}", "signature": "t=1,v1=00", "secret": "whsec_x", "at": 253402300800},
    {"payload": "{}", "signature": "", "secret": "whsec_x"},
    {"payload": "{}", "signature": "t=1,v1=00", "secret": ""},
    {"payload": "{}", "signature": "t=1,v1=00"},
    {"signature": "t=1,v1=00", "secret": "whsec_x"},
    {"payload": {"id": 1}, "signature": "t=1,v1=00", "secret": "whsec_x"},
    {"payload": "{}", "signature": "t=1,v1=00", "secret": "whsec_x", "extra": 1},
    {"payload": "{}", "signature": "0" * 2000, "secret": "whsec_x"},
    {"payload": "{}", "signature": "0" * 2001, "secret": "whsec_x"},
    {"payload": "{}", "signature": "t=1,v1=00", "secret": "s" * 501},
    {"payload": "x" * 60000, "signature": "t=1,v1=00", "secret": "whsec_x"},
    {"payload": "x" * 60001, "signature": "t=1,v1=00", "secret": "whsec_x"},
]


def fetch(method, path, body=None, key=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", "Bearer " + key)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def main():
    disagreements = []
    judged = 0
    for action, corpus in [
        ("checkout.preview", CHECKOUT_CORPUS),
        ("fees.estimate", CHECKOUT_CORPUS),
        ("webhook.example", EXAMPLE_CORPUS),
        ("webhook.verify_sample", VERIFY_CORPUS),
    ]:
        status, schema = fetch("GET", f"/api/agent/schema/{action}")
        assert status == 200, (action, status, schema)
        # Formats (email) are asserted: the API checks them.
        validator = jsonschema_rs.validator_for(schema, validate_formats=True)
        for body in corpus:
            valid = validator.is_valid(body)
            status, answer = fetch("POST", f"/api/agent/actions/{action}", body, KEY)
            judged += 1
            accepted = status == 200
            refused = status == 400 and answer.get("error", {}).get("code") == "validation_failed"
            if not (accepted or refused) or valid != accepted:
                disagreements.append((action, body, valid, status, answer))
    for action, body, valid, status, answer in disagreements:
        print(f"agent corpus: {action} {json.dumps(body)[:200]}: schema says "
              f"{'valid' if valid else 'invalid'}, the API answered {status} "
              f"{json.dumps(answer)[:300]}", file=sys.stderr)
    print(f"agent corpus: {judged} bodies judged by schema and API, "
          f"{len(disagreements)} disagreements")
    sys.exit(1 if disagreements else 0)


if __name__ == "__main__":
    main()
