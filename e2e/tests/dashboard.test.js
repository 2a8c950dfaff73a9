// The merchant's dashboard (/dashboard) in a real browser, against the real server: the owner's
// account made through the first-start link, sandbox card payments made through the checkout
// pages, then, with and without JavaScript, on a phone (360×740) and a desktop (1280×800): sign
// in, find one payment by its customer's e-mail, refund $10.50 of it with the form, and see the
// refund on the page and through the merchant API. axe-core audits every dashboard page.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { axeViolations, checkLayout, newContext, screenshot, unreachable } from '../lib/browser.js';
import { CARDS, STATES, chooseRoute, createSession, fillCard, open, paymentsOf, waitForReturn } from '../lib/checkout.js';
import {
  OWNER, badgeOutOfView, dollars, filterByEmail, follow, inviteLink, pageText, setupLink, signIn, visit,
} from '../lib/dashboard.js';
import { buyer, useHarness } from '../lib/harness.js';

const h = useHarness('dashboard');

/** The four ways through the refund: with and without JavaScript, on a phone and a desktop. */
const RUNS = [
  { js: true, size: 'phone' },
  { js: true, size: 'desktop' },
  { js: false, size: 'phone' },
  { js: false, size: 'desktop' },
];
const runName = ({ js, size }) => `${js ? 'js' : 'nojs'}-${size}`;
const emailOf = (run) => `buyer-${runName(run)}@example.com`;
/** One payment per run, and one nobody refunds (so the filter has something to leave out). */
const EMAILS = [...RUNS.map(emailOf), 'bystander@example.com'];

/** What the payments test made: customer e-mail → { sessionId, paymentId, total }. */
const paid = new Map();
/** The owner's setup link, used by the first test. */
let ownerLink = null;

const oneLine = (s) => (s ?? '').replace(/\s+/g, ' ').trim();
const todayUtc = () => new Date().toISOString().slice(0, 10);

/** The environment badge is in view without scrolling; fails with where it is otherwise. */
async function expectBadge(page, label) {
  const problem = await badgeOutOfView(page);
  assert.equal(problem, null, `${label}: the environment badge #environment is not in view: ${problem}`);
  assert.equal(oneLine(await page.textContent('#environment')), 'Sandbox', `${label}: the badge names the environment`);
}

test("the first-start link creates the owner's account through its page and signs the browser in", async (t) => {
  ownerLink = await setupLink(h.server);
  assert.equal(new URL(ownerLink).origin, h.server.url, 'the link points at this server');
  const { page, context } = await buyer(h, t, 'phone');
  await visit(page, ownerLink);
  await checkLayout(page, 'main form button[type="submit"]', 'setup page @phone');
  await screenshot(page, 'dashboard-setup-phone');

  // Two passwords that differ: the form again, saying so, with the e-mail kept.
  await page.fill('#email', OWNER.email);
  await page.fill('#password', OWNER.password);
  await page.fill('#password_again', `${OWNER.password}!`);
  await follow(page, 'main form button[type="submit"]', { status: 400 });
  assert.match(await page.textContent('.error-summary'), /passwords differ/);
  assert.equal(await page.inputValue('#email'), OWNER.email);

  await page.fill('#password', OWNER.password);
  await page.fill('#password_again', OWNER.password);
  await follow(page, 'main form button[type="submit"]');
  assert.equal(new URL(page.url()).pathname, '/dashboard', `after the setup: ${page.url()}`);
  await expectBadge(page, 'home after setup');
  assert.equal(oneLine(await page.textContent('#paid-today')), dollars(0));
  assert.match(await page.textContent('.dash-user'), new RegExp(`${OWNER.email} · owner`));

  const cookie = (await context.cookies(`${h.server.url}/dashboard`)).find((c) => c.name === 'orc_dashboard');
  assert.ok(cookie, 'the session cookie is set');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Lax');
  assert.equal(cookie.path, '/dashboard');

  // The link works once.
  const again = await fetch(ownerLink);
  assert.equal(again.status, 410, 'the used setup link is gone');
  assert.deepEqual(context.cspViolations, [], 'no CSP violation or page error');
});

test('sandbox card payments through the checkout pages, one per customer e-mail', async (t) => {
  for (const email of EMAILS) {
    const { page, context } = await buyer(h, t, 'desktop');
    const session = await createSession(h.server, h.merchant, { customer: email });
    await open(page, session);
    await chooseRoute(page, 'card');
    await fillCard(page, CARDS.paid);
    // Pay, then wait for the merchant's return page (through "confirming" or straight from
    // "paid": either way the buyer ends there).
    await page.click(STATES.card.primary);
    const query = await waitForReturn(page, h.merchant).catch(async (e) => {
      throw new Error(`${email}: not back at the merchant (${page.url()} says "${await pageText(page)}"): ${e.message}`);
    });
    assert.equal(query.status, 'paid', `${email}: back at the merchant, paid`);
    const payments = await paymentsOf(h.server, session.id);
    assert.equal(payments.length, 1, `${email}: one payment`);
    assert.equal(payments[0].status, 'paid');
    assert.equal(payments[0].amountRefunded, 0);
    paid.set(email, { sessionId: session.id, paymentId: payments[0].id, total: payments[0].fees.total, created: payments[0].created });
    await context.close();
  }
});

for (const run of RUNS) {
  const { js, size } = run;
  test(`sign in, find a payment by e-mail, refund 10.50 @${size} ${js ? 'with' : 'without'} JavaScript`, async (t) => {
    const email = emailOf(run);
    const made = paid.get(email);
    assert.ok(made, `the payment of ${email} was made by the test before`);
    const { page, context } = await buyer(h, t, size, { javaScriptEnabled: js });
    const shot = (state) => screenshot(page, `dashboard-${runName(run)}-${state}`);
    const scripts = [];
    page.on('request', (r) => { if (r.resourceType() === 'script') scripts.push(r.url()); });

    // Not signed in: the dashboard sends the browser to the sign-in page, and back after.
    await visit(page, `${h.server.url}/dashboard/payments`);
    assert.equal(new URL(page.url()).pathname, '/dashboard/login');
    await visit(page, `${h.server.url}/dashboard/login`);
    await checkLayout(page, 'main form button[type="submit"]', `login @${size}`);
    await shot('login');
    await signIn(page);
    await expectBadge(page, `home @${size}`);
    await checkLayout(page, null, `home @${size}`);
    if ([...paid.values()].every((p) => p.created.startsWith(todayUtc()))) {
      const sum = [...paid.values()].reduce((a, p) => a + Math.round(p.total * 100), 0) / 100;
      assert.equal(oneLine(await page.textContent('#paid-today')), dollars(sum), "today's paid volume");
      assert.equal(oneLine(await page.textContent('#sessions-today div:has(> dt:text-is("paid")) dd')), String(paid.size), "today's paid checkouts");
    } else {
      t.diagnostic('the payments were made on another UTC day: the figures of today are not compared');
    }
    await shot('home');

    // The payments list, then the filter by the customer's e-mail: one row, this payment.
    await follow(page, '.dash-nav a[href="/dashboard/payments"]');
    await expectBadge(page, `payments @${size}`);
    assert.ok((await page.locator('#payments tbody tr').count()) >= EMAILS.length, 'every payment is listed');
    const links = await filterByEmail(page, email);
    assert.deepEqual(links, [`/dashboard/payments/${made.paymentId}`], `the filter by ${email} finds its payment only`);
    assert.match(await page.textContent('#payments tbody tr'), new RegExp(email.replace(/[.]/g, '\\.')));
    await expectBadge(page, `payments filtered @${size}`);
    await checkLayout(page, 'form.filters button[type="submit"]', `payments filtered @${size}`);
    await shot('payments');

    // The filtered set as CSV: the header and this one payment.
    const csvHref = await page.getAttribute('#export-csv', 'href');
    const csv = await page.request.get(new URL(csvHref, h.server.url).href);
    assert.equal(csv.status(), 200, 'the CSV export answers');
    assert.equal(csv.headers()['content-type'], 'text/csv; charset=utf-8');
    const csvLines = (await csv.text()).split('\r\n').filter(Boolean);
    assert.equal(csvLines.length, 2, `the header and one row: ${csvLines.join(' / ')}`);
    assert.ok(csvLines[1].startsWith(`${made.paymentId},`), csvLines[1]);
    assert.ok(csvLines[1].includes(`,${email},`), csvLines[1]);

    // The payment: its facts, and the refund form within reach.
    await follow(page, '#payments tbody tr td:first-child a');
    assert.equal(new URL(page.url()).pathname, `/dashboard/payments/${made.paymentId}`);
    await expectBadge(page, `payment @${size}`);
    assert.equal(oneLine(await page.textContent('#payment-status')), 'paid');
    assert.equal(oneLine(await page.textContent('#refunded')), `${dollars(0)} · settled`);
    assert.ok((await page.locator('#timeline li').count()) >= 3, 'the timeline: created, route chosen, events');
    const submit = '#refund-form button[type="submit"]';
    assert.equal(await unreachable(page, submit), null, `the refund button is reachable @${size}`);
    await checkLayout(page, submit, `payment @${size}`);
    await shot('payment');

    await page.fill('#refund-amount', '10.50');
    await page.selectOption('#refund-reason', 'requested_by_customer');
    await page.fill('#refund-note', `e2e ${runName(run)}`);
    await follow(page, submit);
    const after = new URL(page.url());
    assert.equal(after.pathname, `/dashboard/payments/${made.paymentId}`, 'back on the payment');
    assert.equal(after.searchParams.get('notice'), 'refund_done');
    assert.equal(oneLine(await page.textContent('#notice')), 'Refund made: succeeded.');
    assert.equal(oneLine(await page.textContent('#refunded')), `${dollars(10.5)} · partially_refunded`);
    assert.equal(await page.locator('#refunds li').count(), 1, 'one refund listed');
    assert.match(oneLine(await page.textContent('#refunds li')), /\$10\.50 · succeeded/);
    await expectBadge(page, `payment refunded @${size}`);
    // Still refundable (the rest): the form is there and reachable.
    await checkLayout(page, submit, `payment refunded @${size}`);
    await shot('refunded');

    // The paid event, sent again to the merchant's endpoint from the timeline.
    await follow(page, '#timeline form[action$="_paid/redeliver"] button[type="submit"]');
    assert.equal(new URL(page.url()).searchParams.get('notice'), 'redelivered');
    assert.match(oneLine(await page.textContent('#notice')), /^Queued again for [1-9]\d* endpoint\(s\)\.$/);
    await shot('redelivered');

    const api = await h.server.api('GET', `/api/gateway/payments/${made.paymentId}`);
    assert.equal(api.amountRefunded, 10.5, 'the API says 10.5 refunded');
    assert.equal(api.ledgerStatus, 'partially_refunded');
    assert.equal(api.status, 'paid');
    assert.deepEqual(
      api.refunds.map((r) => [r.amount, r.status, r.reason, r.note]),
      [[10.5, 'succeeded', 'requested_by_customer', `e2e ${runName(run)}`]],
    );

    assert.deepEqual(scripts, [], 'the dashboard loads no script');
    assert.deepEqual(context.cspViolations, [], 'no CSP violation or page error');
    assert.deepEqual(context.offHost, [], 'nothing asked of another host');
  });
}

/** A 1×1 PNG, as a browser would upload it from disk. */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4z8DwHwAFAAH/iZk9HQAAAABJRU5ErkJggg==',
  'base64',
);

test('the owner uploads a logo from the branding page, without JavaScript, and sees it in the preview', async (t) => {
  const { page, context } = await buyer(h, t, 'desktop', { javaScriptEnabled: false });
  await visit(page, `${h.server.url}/dashboard/login`);
  await signIn(page);
  await visit(page, `${h.server.url}/dashboard/branding`);
  // Not an image: the form again with a plain reason, nothing saved.
  await page.setInputFiles('#b-logo', { name: 'logo.png', mimeType: 'image/png', buffer: Buffer.from('not a picture') });
  await follow(page, '#branding-form button[type="submit"]', { status: 400 });
  assert.match(oneLine(await page.textContent('#branding-error')), /must be a PNG, JPEG, WebP or SVG image/);
  assert.equal(await page.locator('#logo-current').count(), 0, 'no logo saved');

  await page.setInputFiles('#b-logo', { name: 'logo.png', mimeType: 'image/png', buffer: PNG });
  await follow(page, '#branding-form button[type="submit"]');
  assert.equal(new URL(page.url()).searchParams.get('notice'), 'saved');
  const current = page.locator('#logo-current');
  assert.equal(await current.count(), 1, 'the saved logo is shown');
  assert.ok(await current.evaluate((img) => img.complete && img.naturalWidth === 1), 'the saved logo loads');
  const frame = page.frameLocator('#branding-preview');
  const framed = frame.locator('img[src*="/logo"]');
  await framed.waitFor({ state: 'attached', timeout: 5_000 });
  assert.ok(await framed.evaluate((img) => img.complete && img.naturalWidth === 1), 'the preview wears the logo');
  await screenshot(page, 'dashboard-branding-logo-desktop');

  // Removed with the box: gone from the page and from the checkout.
  await page.check('input[name="remove_logo"]');
  await follow(page, '#branding-form button[type="submit"]');
  assert.equal(await page.locator('#logo-current').count(), 0, 'the logo is removed');
  assert.deepEqual(context.cspViolations, [], 'no CSP violation or page error');
});

describe('every dashboard page', () => {
  /** A fresh one-time link (from the CLI): its page is audited, never used. */
  let invite;
  before(async () => {
    invite = await inviteLink(h.server, 'viewer');
  });

  /**
   * Every dashboard page, in the order a person reaches them: [name, path, status, signed in].
   * `refunded` is the payment refunded above (with its notice); `untouched` one never refunded.
   */
  const pages = () => {
    const refunded = paid.get(emailOf(RUNS[0]))?.paymentId;
    const untouched = paid.get('bystander@example.com')?.paymentId;
    assert.ok(refunded && untouched, 'the payments were made by the tests before');
    return [
      ['setup', new URL(invite).pathname, 200, false],
      ['setup-link-gone', new URL(ownerLink).pathname, 410, false],
      ['login', '/dashboard/login', 200, false],
      ['home', '/dashboard', 200, true],
      ['payments', '/dashboard/payments', 200, true],
      ['payments-no-match', '/dashboard/payments?email=nobody%40example.com', 200, true],
      ['payments-bad-filter', '/dashboard/payments?status=nonsense', 400, true],
      ['payment', `/dashboard/payments/${untouched}`, 200, true],
      ['payment-refunded', `/dashboard/payments/${refunded}?notice=refund_done&v=succeeded`, 200, true],
      ['account', '/dashboard/account', 200, true],
      ['keys', '/dashboard/keys', 200, true],
      ['webhooks', '/dashboard/webhooks', 200, true],
      ['customers', '/dashboard/customers', 200, true],
      ['branding', '/dashboard/branding', 200, true],
      ['branding-preview', '/dashboard/branding/preview', 200, true],
      ['audit', '/dashboard/audit', 200, true],
      ['not-found', '/dashboard/nope', 404, true],
      ['payment-not-found', '/dashboard/payments/pay_nope', 404, true],
    ];
  };

  /** Visits every page at `size` (signing in on the way); `check(page, name)` after each. */
  async function everyPage(context, check) {
    const page = await context.newPage();
    let signedIn = false;
    for (const [name, path, status, needsSignIn] of pages()) {
      if (needsSignIn && !signedIn) {
        await visit(page, `${h.server.url}/dashboard/login`);
        await signIn(page);
        signedIn = true;
      }
      await visit(page, `${h.server.url}${path}`, status);
      if (name === 'payments') assert.ok((await page.locator('#payments tbody tr').count()) >= EMAILS.length, 'rows listed');
      if (name === 'payments-no-match') assert.equal(await page.locator('#no-payments').count(), 1, 'no match said');
      if (name === 'payment-refunded') assert.equal(await page.locator('#notice').count(), 1, 'the notice shown');
      await check(page, name);
    }
    return page;
  }

  for (const size of ['phone', 'desktop']) {
    test(`axe-core @${size}: no serious or critical violation`, async (t) => {
      // bypassCSP only here: axe is injected as an inline script, which the pages' CSP forbids.
      const context = await newContext(h.browser, size, { bypassCSP: true });
      t.after(() => context.close());
      const failures = [];
      let audited = 0;
      await everyPage(context, async (page, name) => {
        audited += 1;
        for (const v of await axeViolations(page)) {
          failures.push(`${name}: [${v.impact}] ${v.id} (${v.help}) at ${v.nodes.join(' | ')}`);
        }
      });
      t.diagnostic(`audited ${audited} pages`);
      assert.deepEqual(failures, [], `axe violations:\n${failures.join('\n')}`);
    });

    test(`layout @${size}: nothing overflows, the badge is in view when signed in; screenshots`, async (t) => {
      const context = await newContext(h.browser, size);
      t.after(() => context.close());
      const failures = [];
      await everyPage(context, async (page, name) => {
        const signedIn = (await page.locator('#environment').count()) > 0;
        try {
          await checkLayout(page, null, name);
        } catch (e) {
          failures.push(e.message);
        }
        if (signedIn) {
          const problem = await badgeOutOfView(page);
          if (problem) failures.push(`${name}: the environment badge is not in view: ${problem}`);
        }
        await screenshot(page, `dashboard-page-${name}-${size}`);
      });
      assert.deepEqual(context.cspViolations, [], 'no CSP violation or page error');
      assert.deepEqual(failures, [], failures.join('\n'));
    });
  }
});

test('signing out ends the session: the dashboard asks to sign in again', async (t) => {
  const { page } = await buyer(h, t, 'phone', { javaScriptEnabled: false });
  await visit(page, `${h.server.url}/dashboard/login`);
  await signIn(page);
  await follow(page, 'form[action="/dashboard/logout"] button[type="submit"]');
  assert.equal(new URL(page.url()).pathname, '/dashboard/login', `after signing out: ${page.url()} "${await pageText(page)}"`);
  await visit(page, `${h.server.url}/dashboard`);
  assert.equal(new URL(page.url()).pathname, '/dashboard/login', 'signed out');
});
