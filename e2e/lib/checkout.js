// The buyer's steps on the checkout pages, as a person does them: click, type, wait.
import assert from 'node:assert/strict';
import { waitFor } from './server.js';

export const CARDS = {
  paid: '4242424242424242',
  declined: '4000000000000002',
  insufficient: '4000000000009995',
  challenge: '4000002760003184',
  pending: '4000000000000077',
};

export const ROUTES = { card: 'card-bridge-a', wallet: 'wallet-usdc-base', bank: 'local-bank-transfer' };

/** What identifies each page state, and its primary action (the button a buyer must reach). */
export const STATES = {
  choose: { marker: 'input[name="route"]', primary: 'form:has(input[name="route"]) button[type="submit"]' },
  card: { marker: '#number', primary: 'form:has(#number) button[type="submit"]' },
  cardErrors: { marker: '#number[aria-invalid="true"]', primary: 'form:has(#number) button[type="submit"]' },
  retryCard: { marker: 'body:has(form[action*="/leave"]) #number', primary: 'form:has(#number) button[type="submit"]' },
  retryRoutes: { marker: 'body:has(form[action*="/leave"]) input[name="route"]', primary: 'form:has(input[name="route"]) button[type="submit"]' },
  challenge: { marker: 'button[name="action"][value="approve"]', primary: 'button[name="action"][value="approve"]' },
  wallet: { marker: 'button[name="action"][value="transfer"]', primary: 'button[name="action"][value="transfer"]' },
  bank: { marker: 'button[name="action"][value="bank_confirm"]', primary: 'button[name="action"][value="bank_confirm"]' },
  waiting: { marker: 'section.stack:not([aria-labelledby]) #live-status', primary: null },
  confirming: { marker: 'section.result:has(h1.ok):not(:has(a.button))', primary: null },
  paid: { marker: 'section.result:has(h1.ok)', primary: null },
  failed: { marker: 'section.result:has(h1.bad) a.button', primary: 'section.result a.button' },
  expired: { marker: 'section.message a.button', primary: 'section.message a.button' },
  // An onchain wallet route (real USDC on Base): what to send where, with the "Open in your
  // wallet" link; the browser wallet's button once the script found `window.ethereum`; then,
  // the transfer on the chain, the same details without the QR code, link or button.
  onchain: { marker: 'body:has(#wallet-send) #amount-value', primary: 'a.button[href^="ethereum:"]' },
  onchainWallet: { marker: 'p:not([hidden]) > #wallet-send', primary: '#wallet-send' },
  onchainSeen: { marker: 'body:not(:has(#wallet-send, .qr)) section[aria-labelledby="instructions-title"] #amount-value', primary: null },
};

let orders = 0;

/** A session whose redirectUrl is the merchant's return page with its own query. */
export async function createSession(server, merchant, extra = {}) {
  const order = `ord_e2e_${process.pid}_${++orders}`;
  const session = await server.api('POST', '/api/gateway/sessions', {
    product: 'Creator plan',
    amount: 116,
    customer: 'buyer@example.com',
    redirectUrl: `${merchant.url}/return?order=${order}`,
    metadata: { order_id: order },
    ...extra,
  });
  return { ...session, order };
}

/** Waits until the page shows `state` (surviving reloads on the way). */
export async function waitForState(page, state, timeout = 15_000) {
  await page.locator(STATES[state].marker).first().waitFor({ state: 'attached', timeout });
}

/**
 * Runs `action` (a click that posts a form or follows a link) and waits until the page it
 * leads to has loaded; the answer of that page's document (after redirects), or null.
 */
export async function navigation(page, action, timeout = 15_000) {
  let doc = null;
  const onResponse = (r) => {
    if (r.request().isNavigationRequest() && r.frame() === page.mainFrame()) doc = r;
  };
  page.on('response', onResponse);
  const loaded = page.waitForEvent('load', { timeout });
  try {
    await action();
    await loaded;
  } finally {
    page.off('response', onResponse);
  }
  return doc;
}

/** Runs `action` (a click that posts a form) and waits for the page it leads to. */
export async function submitAndWait(page, action, nextStates, timeout = 15_000) {
  const doc = await navigation(page, action, timeout);
  // A refused post (403, 500…) fails at once, saying what the buyer was shown. (422 is the card
  // form with errors.)
  if (doc && doc.status() >= 400 && doc.status() !== 422) {
    const text = (await page.textContent('main').catch(() => '')).replace(/\s+/g, ' ').trim();
    throw new Error(
      `${doc.request().method()} ${doc.url()} answered ${doc.status()}: the page says "${text.slice(0, 200)}"`,
    );
  }
  const states = [].concat(nextStates);
  const selector = states.map((s) => STATES[s].marker).join(', ');
  const start = new URL(page.url()).origin;
  try {
    await page.locator(selector).first().waitFor({ state: 'attached', timeout });
  } catch (e) {
    // A paid page sends the buyer back at once: they may be at the merchant already.
    if (states.includes('paid') && new URL(page.url()).origin !== start) return 'paid';
    throw e;
  }
  for (const s of states) {
    if ((await page.locator(STATES[s].marker).count()) > 0) return s;
  }
  throw new Error(`none of ${states.join(', ')} is shown`);
}

export async function open(page, session) {
  const response = await page.goto(session.checkoutUrl);
  assert.equal(response.status(), 200, `GET ${session.checkoutUrl}`);
}

export async function chooseRoute(page, route) {
  await page.check(`input[name="route"][value="${ROUTES[route] ?? route}"]`);
  const next = { card: 'card', wallet: 'wallet', bank: 'bank' }[route] ?? ['card', 'wallet', 'bank'];
  return submitAndWait(page, () => page.click(STATES.choose.primary), next);
}

export async function fillCard(page, number, { expiry = '12/34', cvc = '123', name = 'Ada Lovelace' } = {}) {
  await page.fill('#number', number);
  await page.fill('#expiry', expiry);
  await page.fill('#cvc', cvc);
  await page.fill('#name', name);
}

export const AFTER_CARD = ['challenge', 'waiting', 'confirming', 'paid', 'cardErrors', 'retryCard', 'failed'];
export const AFTER_ANSWER = ['waiting', 'confirming', 'paid', 'retryCard', 'retryRoutes', 'failed'];

/** After a failure: "Return to the store" (the session fails and the buyer goes back at once). */
export async function leave(page) {
  await page.click('form[action*="/leave"] button[type="submit"]');
}

export async function pay(page) {
  return submitAndWait(page, () => page.click(STATES.card.primary), AFTER_CARD);
}

/** Clicks a sandbox or challenge button (`name=action value=…`). */
export async function action(page, value) {
  return submitAndWait(page, () => page.click(`button[name="action"][value="${value}"]`), AFTER_ANSWER);
}

/** Waits until the browser is on the merchant's return page; returns its query. */
export async function waitForReturn(page, merchant, timeout = 20_000) {
  await page.waitForURL((u) => u.href.startsWith(`${merchant.url}/return`), { timeout });
  return Object.fromEntries(new URL(page.url()).searchParams);
}

/** The payments the server holds for a session. */
export async function paymentsOf(server, sessionId) {
  const list = await server.api('GET', `/api/gateway/payments?paymentId=${sessionId}`);
  return list.data;
}

/**
 * Waits until every webhook delivery of the session is settled (none pending at the server),
 * so that whatever the merchant was going to be sent has arrived: absence is only asserted
 * after this.
 */
export async function deliveriesSettled(server, sessionId, { timeout = 15_000 } = {}) {
  return waitFor(
    async () => {
      const events = await server.api('GET', `/api/gateway/events?sessionId=${sessionId}&limit=100`);
      for (const event of events.data) {
        const full = await server.api('GET', `/api/gateway/events/${event.id}`);
        if (full.deliveries.some((d) => d.status === 'pending')) return false;
      }
      return true;
    },
    { timeout, message: `every webhook delivery of ${sessionId} to be settled` },
  );
}
