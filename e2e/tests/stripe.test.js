// The `stripe` integration in a real browser: the buyer goes from our page to Stripe's hosted
// page (the stand-in's, on 127.0.0.1), pays there and comes back to our page, which sends them
// on to the merchant; a buyer who gives up there chooses another way to pay, which closes
// Stripe's page. No card number touches our pages.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createSession, open, waitForReturn, waitForState } from '../lib/checkout.js';
import { buyer, useHarness } from '../lib/harness.js';
import { STRIPE_KEY, STRIPE_WEBHOOK_SECRET, startStripe, stripeRoutes } from '../lib/stripe.js';

const stripe = {};
after(async () => {
  await stripe.stop?.();
});

const h = useHarness('stripe', {
  serverEnv: async () => {
    Object.assign(stripe, await startStripe());
    return { STRIPE_SECRET_KEY: STRIPE_KEY, STRIPE_WEBHOOK_SECRET };
  },
  serverConfig: () => stripeRoutes(stripe.url),
});

let webhooksSet = false;
/** Stripe's webhooks go to the server (known once it runs). */
async function connect() {
  if (!webhooksSet) {
    await stripe.sendWebhooksTo(`${h.server.url}/api/providers/stripe/callbacks`);
    webhooksSet = true;
  }
}

/** Chooses `route` on our page; resolves once the browser is on Stripe's page. */
async function toStripe(page, route) {
  await page.check(`input[name="route"][value="${route}"]`);
  await page.click('form:has(input[name="route"]) button[type="submit"]');
  await page.waitForURL((u) => u.href.startsWith(`${stripe.url}/pay/cs_test_`), { timeout: 15_000 });
}

test('a card paid on Stripe\'s page comes back paid and goes on to the merchant', async (t) => {
  await connect();
  const { page, visit } = await buyer(h, t, 'phone');
  const session = await createSession(h.server, h.merchant);
  await open(page, session);
  await waitForState(page, 'choose');
  await visit('choose');
  await toStripe(page, 'card-stripe');
  assert.match(await page.textContent('body'), /Creator plan/);
  await page.click('button:has-text("Pay")');
  const query = await waitForReturn(page, h.merchant);
  assert.equal(query.checkout_session_id, session.id);
  assert.equal(query.status, 'paid');
  const api = await h.server.api('GET', `/api/gateway/sessions/${session.id}`);
  assert.equal(api.status, 'paid');
  const paid = await h.merchant.waitForEvent(session.id, 'payment.paid');
  assert.deepEqual(h.merchant.typesFor(session.id), ['payment.paid'], 'no provider_pending for a card');
  assert.equal(paid.body.data.route.provider, 'Stripe');
  assert.ok('tx_hash' in paid.body.data, 'the payload names tx_hash');
  assert.equal(paid.body.data.tx_hash, null);
  assert.equal(paid.body.data.asset, 'USD');
  assert.equal(paid.body.data.network, 'Stripe');
});

test('giving up on Stripe\'s page offers it again or another way, which closes it', async (t) => {
  await connect();
  const { page, visit } = await buyer(h, t, 'desktop');
  const session = await createSession(h.server, h.merchant);
  await open(page, session);
  await toStripe(page, 'card-stripe');
  const stripePage = page.url();
  await page.click('button:has-text("Back")');
  await page.waitForURL((u) => u.href.startsWith(`${h.server.url}/checkout/${session.id}/routes`));
  await waitForState(page, 'choose');
  const resume = page.locator('a.button', { hasText: 'Continue paying with Stripe' });
  assert.equal(await resume.getAttribute('href'), stripePage);
  await visit('choose');

  // Another way: Stripe's page is closed first, then our card form.
  await page.check('input[name="route"][value="card-bridge-a"]');
  await page.click('form:has(input[name="route"]) button[type="submit"]');
  await waitForState(page, 'card');
  const cs = stripePage.split('/').pop();
  const closed = await (await fetch(`${stripe.url}/v1/checkout/sessions/${cs}`, {
    headers: { authorization: `Bearer ${STRIPE_KEY}` },
  })).json();
  assert.equal(closed.status, 'expired');
});
