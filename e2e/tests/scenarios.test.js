// Every buyer path, in a real browser with the pages' real Content-Security-Policy, from
// checkoutUrl to the merchant's redirectUrl, with the webhooks the merchant receives. The main
// paths run on a phone (360×740) and a desktop (1280×800), with layout checks at every step.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  CARDS, action, chooseRoute, createSession, deliveriesSettled, fillCard, leave, open, pay, paymentsOf,
  submitAndWait, waitForReturn, waitForState,
} from '../lib/checkout.js';
import { buyer, useHarness } from '../lib/harness.js';
import { sleep } from '../lib/server.js';

const h = useHarness('scenarios');

/** The end of every path: back at the merchant with the right query, webhooks as expected. */
async function expectReturn(page, context, session, status, { events = [], notEvents = [], attempts = 1 } = {}) {
  const { merchant } = h;
  const query = await waitForReturn(page, merchant);
  assert.equal(query.order, session.order, "the redirectUrl's own query is kept");
  assert.equal(query.checkout_session_id, session.id);
  assert.equal(query.status, status);
  assert.equal(await page.textContent('#status'), status, 'the merchant page is shown');
  for (const type of events) await merchant.waitForEvent(session.id, type);
  // Everything the server owes this session's merchant has been sent and answered: an
  // unexpected event would be among what arrived.
  await deliveriesSettled(h.server, session.id);
  const types = merchant.typesFor(session.id);
  for (const type of notEvents) assert.ok(!types.includes(type), `no ${type} webhook (got ${types.join(', ')})`);
  for (const type of new Set(types)) {
    const n = types.filter((x) => x === type).length;
    assert.ok(n <= attempts, `at most ${attempts} ${type} event(s), one per payment (got ${types.join(', ')})`);
  }
  const ids = h.merchant.eventsFor(session.id).map((e) => e.body.id);
  assert.equal(new Set(ids).size, ids.length, `every event once (got ${ids.join(', ')})`);
  assert.deepEqual(merchant.state.rejected, [], 'every webhook signature verifies');
  assert.deepEqual(context.cspViolations, [], 'the browser reported no CSP violation or page error');
  return query;
}

/** `payment.paid` was acknowledged before the buyer landed on the merchant's page. */
function expectPaidBeforeReturn(session) {
  const paid = h.merchant.eventsFor(session.id).find((e) => e.type === 'payment.paid');
  const landed = h.merchant.returnsFor(session.id)[0];
  assert.ok(paid && landed, 'both the webhook and the return happened');
  assert.ok(paid.at <= landed.at, `payment.paid arrived ${paid.at - landed.at} ms after the buyer was back`);
}

async function paidByCard(t, size) {
  const { page, context, visit } = await buyer(h, t, size);
  const session = await createSession(h.server, h.merchant, { preferredRoute: 'card' });
  await open(page, session);
  await visit('choose');
  await chooseRoute(page, 'card');
  await visit('card');
  await fillCard(page, CARDS.paid);
  assert.match(await pay(page), /^(confirming|paid)$/);
  await expectReturn(page, context, session, 'paid', { events: ['payment.paid'], notEvents: ['payment.failed'] });
  expectPaidBeforeReturn(session);
  const payments = await paymentsOf(h.server, session.id);
  assert.equal(payments.length, 1);
  assert.equal(payments[0].status, 'paid');
}

async function declinedCard(t, size) {
  const { page, context, visit } = await buyer(h, t, size);
  const session = await createSession(h.server, h.merchant);
  await open(page, session);
  await visit('choose');
  await chooseRoute(page, 'card');
  await visit('card');
  await fillCard(page, CARDS.declined);
  assert.equal(await pay(page), 'retryCard');
  await visit('retryCard');
  assert.match(await page.textContent('.error-summary'), /declined/i);
  await leave(page);
  await expectReturn(page, context, session, 'failed', { events: ['payment.failed'], notEvents: ['payment.paid'] });
  const failed = h.merchant.eventsFor(session.id).find((e) => e.type === 'payment.failed');
  assert.equal(failed.body.data.failure_code, 'card_declined');
}

async function challengeApproved(t, size) {
  const { page, context, visit } = await buyer(h, t, size);
  const session = await createSession(h.server, h.merchant);
  await open(page, session);
  await chooseRoute(page, 'card');
  await fillCard(page, CARDS.challenge);
  assert.equal(await pay(page), 'challenge');
  await visit('challenge');
  assert.match(await action(page, 'approve'), /^(confirming|paid)$/);
  await expectReturn(page, context, session, 'paid', { events: ['payment.paid'], notEvents: ['payment.failed'] });
  expectPaidBeforeReturn(session);
}

async function walletPaid(t, size) {
  const { page, context, visit } = await buyer(h, t, size);
  const session = await createSession(h.server, h.merchant, { preferredRoute: 'wallet' });
  await open(page, session);
  assert.ok(await page.isChecked('input[name="route"][value="wallet-usdc-base"]'), 'the preferred route is preselected');
  await chooseRoute(page, 'wallet');
  await visit('wallet');
  assert.equal(await page.locator('.qr svg').count(), 1, 'the QR code is drawn');
  assert.match(await action(page, 'transfer'), /^(confirming|paid)$/);
  await expectReturn(page, context, session, 'paid', {
    events: ['payment.provider_pending', 'payment.paid'],
    notEvents: ['payment.failed'],
  });
  expectPaidBeforeReturn(session);
  const types = h.merchant.typesFor(session.id);
  assert.ok(types.indexOf('payment.provider_pending') < types.indexOf('payment.paid'), types.join(', '));
}

async function bankConfirmed(t, size) {
  const { page, context, visit } = await buyer(h, t, size);
  const session = await createSession(h.server, h.merchant, { preferredRoute: 'local' });
  await open(page, session);
  await chooseRoute(page, 'bank');
  await visit('bank');
  assert.match(await action(page, 'bank_confirm'), /^(confirming|paid)$/);
  await expectReturn(page, context, session, 'paid', {
    events: ['payment.provider_pending', 'payment.paid'],
    notEvents: ['payment.failed'],
  });
}

/** Declined, then paid with another card on the same form: two payments, one session. */
async function declinedThenPaid(t, size, javaScriptEnabled = true) {
  const { page, context, visit } = await buyer(h, t, size, { javaScriptEnabled });
  const session = await createSession(h.server, h.merchant);
  await open(page, session);
  await chooseRoute(page, 'card');
  await fillCard(page, CARDS.declined);
  assert.equal(await pay(page), 'retryCard');
  await visit('retryCard');
  if (javaScriptEnabled) {
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'errors', 'focus moves to the error summary');
  }
  // No timed exit: the buyer is still here after longer than the old 3 s return.
  await sleep(3500);
  assert.ok(page.url().startsWith(`${h.server.url}/checkout/`), `still on the checkout: ${page.url()}`);
  await fillCard(page, CARDS.paid);
  assert.match(await pay(page), /^(confirming|paid)$/);
  await expectReturn(page, context, session, 'paid', { events: ['payment.failed', 'payment.paid'], attempts: 2 });
  const payments = await paymentsOf(h.server, session.id);
  assert.equal(payments.length, 2);
  assert.deepEqual(payments.map((p) => p.status).sort(), ['failed', 'paid']);
}

const MAIN = [
  ['card declined, then paid with another card', declinedThenPaid],
  ['card paid', paidByCard],
  ['card declined', declinedCard],
  ['challenge approved', challengeApproved],
  ['wallet paid', walletPaid],
  ['local bank transfer confirmed', bankConfirmed],
];

for (const size of ['phone', 'desktop']) {
  describe(`main paths @${size}`, () => {
    for (const [name, run] of MAIN) test(`${name} @${size}`, (t) => run(t, size));
  });
}

describe('more paths @desktop', () => {
  test('card with insufficient funds', async (t) => {
    const { page, context, visit } = await buyer(h, t);
    const session = await createSession(h.server, h.merchant);
    await open(page, session);
    await chooseRoute(page, 'card');
    await fillCard(page, CARDS.insufficient);
    assert.equal(await pay(page), 'retryCard');
    await visit('retryCard');
    await leave(page);
    await expectReturn(page, context, session, 'failed', { events: ['payment.failed'], notEvents: ['payment.paid'] });
    const failed = h.merchant.eventsFor(session.id).find((e) => e.type === 'payment.failed');
    assert.equal(failed.body.data.failure_code, 'insufficient_funds');
  });

  test('card form errors, then paid', async (t) => {
    const { page, context, visit } = await buyer(h, t);
    const session = await createSession(h.server, h.merchant);
    await open(page, session);
    await chooseRoute(page, 'card');
    await fillCard(page, '4242 4242 4242 4241', { expiry: '13/20', cvc: '1', name: '' });
    assert.equal(await pay(page), 'cardErrors');
    await visit('cardErrors');
    assert.equal(await page.getAttribute('#number', 'aria-invalid'), 'true');
    assert.ok((await page.locator('.error-summary li').count()) >= 3, 'every error is summarised');
    assert.equal(await page.inputValue('#number'), '', 'the card number is never sent back');
    await fillCard(page, CARDS.paid);
    await pay(page);
    await expectReturn(page, context, session, 'paid', { events: ['payment.paid'] });
  });

  test('challenge denied', async (t) => {
    const { page, context, visit } = await buyer(h, t);
    const session = await createSession(h.server, h.merchant);
    await open(page, session);
    await chooseRoute(page, 'card');
    await fillCard(page, CARDS.challenge);
    assert.equal(await pay(page), 'challenge');
    assert.equal(await action(page, 'deny'), 'retryCard');
    await visit('retryCard');
    await leave(page);
    await expectReturn(page, context, session, 'failed', { events: ['payment.failed'], notEvents: ['payment.paid'] });
    const failed = h.merchant.eventsFor(session.id).find((e) => e.type === 'payment.failed');
    assert.equal(failed.body.data.failure_code, 'authentication_failed');
  });

  test('card pending, then paid while the page is open (updates without a reload)', async (t) => {
    const { page, context, visit } = await buyer(h, t);
    const session = await createSession(h.server, h.merchant);
    await open(page, session);
    await chooseRoute(page, 'card');
    await fillCard(page, CARDS.pending);
    const polls = [];
    page.on('request', (r) => { if (r.url().endsWith(`/checkout/${session.id}/status`)) polls.push(Date.now()); });
    assert.equal(await pay(page), 'waiting');
    const waitingSince = Date.now();
    await visit('waiting');
    // The test does not reload: the page's script polls the status and updates itself.
    await waitForReturn(page, h.merchant, 15_000);
    const took = Date.now() - waitingSince;
    t.diagnostic(`the paid state appeared ${took} ms after the waiting page, after ${polls.length} status polls`);
    assert.ok(polls.length > 0, 'the waiting page polled /checkout/{id}/status');
    await expectReturn(page, context, session, 'paid', {
      events: ['payment.provider_pending', 'payment.paid'],
      notEvents: ['payment.failed'],
    });
  });

  test('local bank transfer rejected', async (t) => {
    const { page, context, visit } = await buyer(h, t);
    const session = await createSession(h.server, h.merchant);
    await open(page, session);
    await chooseRoute(page, 'bank');
    assert.equal(await action(page, 'bank_reject'), 'retryRoutes');
    await visit('retryRoutes');
    await leave(page);
    await expectReturn(page, context, session, 'failed', {
      events: ['payment.provider_pending', 'payment.failed'],
      notEvents: ['payment.paid'],
    });
  });

  test('expired session', async (t) => {
    const { page, context, visit } = await buyer(h, t);
    const session = await createSession(h.server, h.merchant);
    await h.server.api('POST', `/api/gateway/sessions/${session.id}/expire`);
    await open(page, session);
    await waitForState(page, 'expired');
    await visit('expired');
    assert.match(await page.textContent('main'), /This checkout has expired\. No payment was taken\./);
    assert.equal(await page.locator('input, form').count(), 0, 'nothing to pay with');
    await page.click('section.message a.button');
    await expectReturn(page, context, session, 'expired', { events: ['payment.expired'], notEvents: ['payment.paid'] });
  });

  test('card declined, then paid with another card, with JavaScript disabled', (t) => declinedThenPaid(t, 'desktop', false));

  test('after a decline the buyer pays another way', async (t) => {
    const { page, context, visit } = await buyer(h, t);
    const session = await createSession(h.server, h.merchant);
    await open(page, session);
    await chooseRoute(page, 'card');
    await fillCard(page, CARDS.declined);
    assert.equal(await pay(page), 'retryCard');
    await page.click('a[href*="/routes"]');
    await waitForState(page, 'retryRoutes');
    await visit('retryRoutes');
    await chooseRoute(page, 'wallet');
    assert.match(await action(page, 'transfer'), /^(confirming|paid)$/);
    await expectReturn(page, context, session, 'paid', { events: ['payment.failed', 'payment.paid'], attempts: 2 });
  });

  test('error summary links move focus to their field with its label in view', async (t) => {
    const { page } = await buyer(h, t, 'w390');
    const session = await createSession(h.server, h.merchant);
    await open(page, session);
    await chooseRoute(page, 'card');
    await fillCard(page, '4242 4242 4242 4241', { expiry: '13/20', cvc: '1', name: '' });
    assert.equal(await pay(page), 'cardErrors');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'errors', 'focus is on the summary');
    // With four errors the Pay button is still on the first screen of a 390×844 phone.
    const bottom = await page.evaluate(() => {
      const b = document.querySelector('form:has(#number) button[type="submit"]').getBoundingClientRect();
      return b.bottom + window.scrollY;
    });
    t.diagnostic(`the Pay button ends ${Math.round(bottom)} px down the page after four errors`);
    assert.ok(bottom <= 844, `the Pay button ends at ${bottom} px, below the first screen`);
    await page.click('.error-summary a[href="#name"]');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'name');
    const label = await page.locator('label[for="name"]').boundingBox();
    assert.ok(label.y >= 0 && label.y < 844, `the label is in view (top ${label.y})`);
    // The card form's address shows the form again (a reload, a new tab, a language link).
    assert.ok(page.url().endsWith('/card'), page.url());
    await page.reload();
    await waitForState(page, 'card');
    await page.click('a[hreflang="es"]');
    await waitForState(page, 'card');
    assert.equal(await page.getAttribute('html', 'lang'), 'es');
  });

  test('the live status change is announced in the page\'s language', async (t) => {
    const { page } = await buyer(h, t);
    // What the live region says, kept across the reload that follows the announcement.
    await page.addInitScript(() => {
      document.addEventListener('DOMContentLoaded', () => {
        const live = document.getElementById('live-status');
        if (!live) return;
        new MutationObserver(() => sessionStorage.setItem('announced', live.textContent))
          .observe(live, { childList: true, characterData: true, subtree: true });
      });
    });
    const session = await createSession(h.server, h.merchant);
    h.merchant.state.holdPaid.set(session.id, 8_000);
    await page.goto(`${session.checkoutUrl}?lang=es`);
    await chooseRoute(page, 'card');
    await fillCard(page, CARDS.pending);
    assert.equal(await pay(page), 'waiting');
    await waitForState(page, 'confirming', 15_000);
    assert.equal(await page.getAttribute('html', 'lang'), 'es');
    assert.equal(
      await page.evaluate(() => sessionStorage.getItem('announced')),
      'El estado del pago cambió. Actualizando…',
    );
  });

  test('card path with JavaScript disabled', async (t) => {
    const { page, context, visit } = await buyer(h, t, 'desktop', { javaScriptEnabled: false });
    const session = await createSession(h.server, h.merchant);
    await open(page, session);
    await visit('choose');
    await chooseRoute(page, 'card');
    await fillCard(page, CARDS.paid);
    await pay(page);
    await expectReturn(page, context, session, 'paid', { events: ['payment.paid'] });
  });

  test('card pending with JavaScript disabled: the refresh brings the paid state', async (t) => {
    const { page, context } = await buyer(h, t, 'desktop', { javaScriptEnabled: false });
    const session = await createSession(h.server, h.merchant);
    await open(page, session);
    await chooseRoute(page, 'card');
    await fillCard(page, CARDS.pending);
    assert.equal(await pay(page), 'waiting');
    await expectReturn(page, context, session, 'paid', { events: ['payment.provider_pending', 'payment.paid'] });
  });

  test('the back button after paying shows the paid state, no second payment', async (t) => {
    const { page, context } = await buyer(h, t);
    const session = await createSession(h.server, h.merchant);
    await open(page, session);
    await chooseRoute(page, 'card');
    await fillCard(page, CARDS.paid);
    await pay(page);
    await expectReturn(page, context, session, 'paid', { events: ['payment.paid'] });
    // Going back shows the paid page, which sends the buyer forward again at once: record every
    // checkout document the browser is given on the way.
    const shown = [];
    page.on('response', (r) => {
      if (r.request().isNavigationRequest() && r.url().startsWith(`${h.server.url}/checkout/`)) {
        shown.push(r.text().catch(() => ''));
      }
    });
    for (let i = 0; i < 2; i++) {
      await page.evaluate(() => history.back()).catch(() => {});
      await sleep(1000);
      await page.waitForLoadState('load').catch(() => {});
    }
    for (const html of await Promise.all(shown)) {
      assert.ok(!/name="(number|route)"/.test(html), 'no form to pay again');
    }
    t.diagnostic(`going back showed ${shown.length} checkout page(s); the buyer is at ${page.url()}`);
    assert.equal((await paymentsOf(h.server, session.id)).length, 1);
    await deliveriesSettled(h.server, session.id);
    const types = h.merchant.typesFor(session.id);
    assert.equal(types.filter((x) => x === 'payment.paid').length, 1, types.join(', '));
    assert.ok(!types.includes('payment.failed'), types.join(', '));
  });

  test('a double click on pay makes one payment, also when both clicks reach the server', async (t) => {
    const { page, context } = await buyer(h, t);
    const session = await createSession(h.server, h.merchant);
    await open(page, session);
    await chooseRoute(page, 'card');
    await fillCard(page, CARDS.paid);
    const posts = [];
    page.on('request', (r) => { if (r.method() === 'POST' && r.url().includes('/card')) posts.push(r.url()); });
    // Chromium sends one post for a double click; other browsers, and a click repeated before
    // the page changes, send the form twice. So the second click's post is sent here too: the
    // same form and token, from the same browser context, at the same moment.
    const form = await page.evaluate(() => {
      const f = document.querySelector('form:has(#number)');
      return { action: f.action, fields: Object.fromEntries(new FormData(f)) };
    });
    const twin = page.request.post(form.action, {
      form: form.fields,
      headers: { origin: h.server.url },
      maxRedirects: 0,
    });
    await submitAndWait(page, () => page.dblclick('form:has(#number) button[type="submit"]'), ['confirming', 'paid']);
    const twinAnswer = await twin;
    t.diagnostic(`the browser sent ${posts.length} card post(s), and the twin post was answered ${twinAnswer.status()}`);
    assert.ok(posts.length >= 1, 'the browser posted the card form');
    assert.equal(twinAnswer.status(), 303, 'the second post is answered with the current state, not refused');
    await expectReturn(page, context, session, 'paid', { events: ['payment.paid'] });
    const payments = await paymentsOf(h.server, session.id);
    assert.equal(payments.length, 1);
    assert.equal(payments[0].status, 'paid');
    const types = h.merchant.typesFor(session.id);
    assert.equal(types.filter((x) => x === 'payment.paid').length, 1, types.join(', '));
  });

  test('the card form submitted from two tabs at once makes one payment', async (t) => {
    const { page, context } = await buyer(h, t);
    const session = await createSession(h.server, h.merchant);
    await open(page, session);
    await chooseRoute(page, 'card');
    const second = await context.newPage();
    await open(second, session);
    await waitForState(second, 'card');
    const posts = [];
    context.on('request', (r) => { if (r.method() === 'POST' && r.url().includes('/card')) posts.push(r.url()); });
    await fillCard(page, CARDS.paid);
    await fillCard(second, CARDS.paid);
    const outcomes = await Promise.all([pay(page), pay(second)]);
    t.diagnostic(`the two tabs show ${outcomes.join(' and ')}`);
    assert.equal(posts.length, 2, 'both tabs posted');
    await expectReturn(page, context, session, 'paid', { events: ['payment.paid'], notEvents: ['payment.failed'] });
    const payments = await paymentsOf(h.server, session.id);
    assert.equal(payments.length, 1);
    assert.equal(payments[0].status, 'paid');
  });
});
