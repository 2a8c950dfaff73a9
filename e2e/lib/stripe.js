// The Stripe stand-in (`examples/stripe_standin/`, built by `cargo build --example
// stripe_standin`) in a process of its own on 127.0.0.1, for the browser tests of the
// `stripe` integration: Stripe's API, its hosted payment page and its signed webhooks.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ROOT, waitFor } from './server.js';

export const STANDIN =
  process.env.STRIPE_STANDIN_BIN || path.join(ROOT, 'target', 'debug', 'examples', 'stripe_standin');

export const STRIPE_KEY = 'sk_test_51OpenRailsBrowserTests';
export const STRIPE_WEBHOOK_SECRET = 'whsec_openrails_browser_tests';

/**
 * Starts the stand-in accepting STRIPE_KEY and signing webhooks with STRIPE_WEBHOOK_SECRET.
 * Resolves with `{ url, sendWebhooksTo(url), control(path, body), stop() }`.
 */
export async function startStripe() {
  if (!existsSync(STANDIN)) {
    throw new Error(`${STANDIN} does not exist: run \`cargo build --example stripe_standin\` first`);
  }
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('STANDIN_')));
  const child = spawn(STANDIN, ['127.0.0.1:0'], {
    env: { ...env, STANDIN_SECRET_KEY: STRIPE_KEY, STANDIN_WEBHOOK_SECRET: STRIPE_WEBHOOK_SECRET },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  let exited = null;
  child.stdout.on('data', (d) => { stdout += d; });
  child.on('exit', (code, signal) => { exited = { code, signal }; });
  const address = await waitFor(
    () => {
      if (exited) throw new Error(`the Stripe stand-in exited (${JSON.stringify(exited)})`);
      return /Listening on (\S+)/.exec(stdout)?.[1];
    },
    { timeout: 30_000, message: 'the Stripe stand-in to listen' },
  );
  const url = `http://${address}`;
  const control = async (controlPath, body = {}) => {
    const res = await fetch(`${url}/_standin/${controlPath}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`/_standin/${controlPath} answered ${res.status}: ${text}`);
    return JSON.parse(text);
  };
  return {
    url,
    control,
    sendWebhooksTo: (target) => control('webhooks', { url: target }),
    stop: async () => {
      if (!exited) {
        const done = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await done;
      }
    },
  };
}

/** The TOML of a card route and a bank-debit route through the stand-in, in the sandbox. */
export function stripeRoutes(apiBase) {
  const route = (id, kind, label, methods, eta) => `
[[routes]]
id = "${id}"
kind = "${kind}"
label = "${label}"
provider = "Stripe"
integration = "stripe"
environments = ["sandbox"]
buyer_fee_rate = 0.0
gateway_fee_rate = 0.0
eta = "${eta}"
stripe = { secret_key_env = "STRIPE_SECRET_KEY", webhook_secret_env = "STRIPE_WEBHOOK_SECRET", payment_method_types = ["${methods}"], api_base = "${apiBase}" }
`;
  return `
[[routes]]
id = "card-bridge-a"
kind = "card"
label = "Credit card"
provider = "Sandbox Card"
buyer_fee_rate = 0.032
gateway_fee_rate = 0.03
eta = "instant"
${route('card-stripe', 'card', 'Card (Stripe)', 'card', 'instant')}
${route('bank-stripe', 'local', 'Bank debit (US)', 'us_bank_account', 'up to 4 business days')}
`;
}
