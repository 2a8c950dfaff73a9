#!/usr/bin/env python3
"""Checks a webhook's `Stripe-Signature` header with Stripe's official library.

    check_signature.py --header 't=…,v1=…' [--secret whsec_…] [--tolerance 300] < payload

The payload is the raw request body, read from standard input. The secret comes from --secret
or, better (it stays out of the process list), from the STRIPE_WEBHOOK_SECRET environment
variable. The header is checked with `stripe.WebhookSignature.verify_header` and the event
built with `stripe.Webhook.construct_event`, exactly as a merchant's server does.

Exit status: 0 when the signature verifies (prints "<event id> <event type>"), 1 when it is
refused (prints why on standard error), 2 when the arguments are wrong.
"""

import argparse
import os
import sys

import stripe


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Verify a Stripe webhook signature with the official stripe package."
    )
    parser.add_argument("--header", required=True, help="the Stripe-Signature header value")
    parser.add_argument(
        "--secret",
        default=os.environ.get("STRIPE_WEBHOOK_SECRET"),
        help="the endpoint's signing secret, whsec_… (default: $STRIPE_WEBHOOK_SECRET)",
    )
    parser.add_argument(
        "--tolerance",
        type=int,
        default=stripe.Webhook.DEFAULT_TOLERANCE,
        help="how old, in seconds, the signed timestamp may be (default: %(default)s)",
    )
    args = parser.parse_args()
    if not args.secret:
        print("no secret: pass --secret or set STRIPE_WEBHOOK_SECRET", file=sys.stderr)
        return 2

    payload = sys.stdin.buffer.read()
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        print("refused: the payload is not UTF-8", file=sys.stderr)
        return 1
    try:
        stripe.WebhookSignature.verify_header(text, args.header, args.secret, args.tolerance)
        event = stripe.Webhook.construct_event(text, args.header, args.secret, args.tolerance)
    except stripe.SignatureVerificationError as error:
        print(f"refused: {error}", file=sys.stderr)
        return 1
    except ValueError as error:
        print(f"refused: the payload is not a Stripe event: {error}", file=sys.stderr)
        return 1
    print(f"{event.id} {event.type}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
