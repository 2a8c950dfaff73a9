// The merchant dashboard's gallery: docs/screenshots/dashboard-<page>-<width>.png and the
// "What the merchant sees" section of docs/screenshots/README.md (between its markers).
//
// A fresh server (debug build, 127.0.0.1, throwaway SQLite), the owner's account made through
// the first-start setup link, then realistic content made as a merchant and buyers make it:
// sessions through the public API, paid, declined and left open on the checkout pages, one
// expired and one refunded from the dashboard, two webhook endpoints (one answering on
// 127.0.0.1, one on a closed port), an API key and the branding. Then every dashboard page,
// full page, at 360 and 1280 px.
//
// Pages are reached and filled by stable attributes (form field names, hrefs, form actions),
// never by their texts: the pages' wording and extra sections may change.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { launch, newContext } from '../lib/browser.js';
import {
  CARDS, STATES, chooseRoute, fillCard, leave, navigation, open, pay, paymentsOf, waitForReturn,
} from '../lib/checkout.js';
import { OWNER, pageText, setupLink } from '../lib/dashboard.js';
import { startMerchant } from '../lib/merchant.js';
import { ROOT, freePort, sleep, startServer, waitFor } from '../lib/server.js';

const started = Date.now();
const OUT = path.join(ROOT, 'docs', 'screenshots');
const README = path.join(OUT, 'README.md');
const START = '<!-- dashboard:start -->';
const END = '<!-- dashboard:end -->';
/** [name of the size in lib/browser.js's VIEWPORTS, width in the file name] */
const SIZES = [['phone', 360], ['desktop', 1280]];
const BRANDING = { display_name: 'Northwind Tea', color: '#7c3aed', shape: 'pill', note: 'Questions? hello@northwind.example' };

/** The merchant's logo: a tea leaf in the brand colour (an SVG of shapes only, no text). */
const LOGO = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" width="64" height="64">
<rect width="64" height="64" rx="14" fill="#7c3aed"/>
<path d="M16 46c0-18 12-30 32-30 0 20-12 32-30 32l-2-2z" fill="#ffffff"/>
<path d="M18 46c6-8 14-16 24-22" stroke="#7c3aed" stroke-width="3" fill="none" stroke-linecap="round"/>
</svg>
`;

/**
 * The checkouts made: product, amount, customer, what the buyer does. `key` names the ones the
 * pages below need. Two are Maya's, so that her customer page lists more than one payment.
 */
const ORDERS = [
  { key: 'refunded', product: 'Annual plan', amount: 480, customer: 'maya.chen@example.com', ref: 'cus_4821', meta: { order_id: 'ord_1001', plan: 'annual', seats: '3' }, outcome: 'card' },
  { product: 'Creator plan', amount: 116, customer: 'jonas.weber@example.com', ref: 'cus_4822', meta: { order_id: 'ord_1002', plan: 'creator' }, outcome: 'card' },
  { product: 'Team seats × 5', amount: 245.5, customer: 'priya.nair@example.com', ref: 'cus_4823', meta: { order_id: 'ord_1003', seats: '5' }, outcome: 'card' },
  { product: 'Sticker pack', amount: 12.99, customer: 'leo.martin@example.com', ref: 'cus_4824', meta: { order_id: 'ord_1004', campaign: 'spring' }, outcome: 'bank' },
  { product: 'Workshop ticket', amount: 89, customer: 'amara.okafor@example.com', ref: 'cus_4825', meta: { order_id: 'ord_1005', event: 'lisbon-2025' }, outcome: 'declined' },
  { key: 'expired', product: 'Gift card', amount: 50, customer: 'sam.rivera@example.com', ref: 'cus_4826', meta: { order_id: 'ord_1006', recipient: 'friend' }, outcome: 'expire' },
  { product: 'Consulting hour', amount: 150, customer: 'ines.duarte@example.com', ref: 'cus_4827', meta: { order_id: 'ord_1007' }, outcome: 'open' },
  { product: 'Creator plan', amount: 116, customer: 'maya.chen@example.com', ref: 'cus_4821', meta: { order_id: 'ord_1008', plan: 'creator', renewal: 'true' }, outcome: 'wallet' },
];

const log = (...args) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s]`, ...args);

/** Opens `url` (a dashboard path or an address) and checks the document's status. */
async function visit(page, server, url, status = 200) {
  const full = url.startsWith('http') ? url : `${server.url}${url}`;
  const response = await page.goto(full);
  assert.equal(response.status(), status, `GET ${full} answered ${response.status()}: "${await pageText(page)}"`);
}

/** Clicks `selector` (a submit button or link) and waits for the page after it; its status. */
async function submit(page, selector) {
  const doc = await navigation(page, () => page.click(selector));
  assert.ok(doc, `clicking ${selector} loaded no document`);
  return doc.status();
}

/** Fills and posts the sign-in form (open on `page`); the status of the page it leads to. */
async function postLogin(page, { email, password }) {
  await page.fill('form[action="/dashboard/login"] input[name="email"]', email);
  await page.fill('form[action="/dashboard/login"] input[name="password"]', password);
  return submit(page, 'form[action="/dashboard/login"] button[type="submit"]');
}

async function signIn(page, server) {
  await visit(page, server, '/dashboard/login');
  const status = await postLogin(page, OWNER);
  assert.equal(status, 200, `signing in answered ${status}: "${await pageText(page)}"`);
  assert.equal(new URL(page.url()).pathname, '/dashboard', `signed in, on ${page.url()}`);
}

/** Waits for every iframe of the page to have loaded its document. */
async function framesLoaded(page) {
  for (const handle of await page.$$('iframe')) {
    const frame = await handle.contentFrame();
    assert.ok(frame, 'an iframe without its frame');
    await frame.waitForLoadState('load');
    await waitFor(() => frame.evaluate(() => document.readyState === 'complete' && document.body?.childElementCount > 0), {
      message: `the iframe ${frame.url()} to show its page`,
    });
  }
}

/**
 * What a person would not see of the page at `width` px (notes for the design review, never
 * failures): the page wider than the screen (a phone context widens its layout viewport to the
 * content, so this compares with the width asked for), tables cut by their scrolling wrapper
 * (the columns out of view), iframes whose page is taller than the frame.
 */
async function layoutNotes(page, width) {
  return page.evaluate((width) => {
    const notes = [];
    const label = (el) => `<${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${typeof el.className === 'string' && el.className.trim() ? `.${el.className.trim().split(/\s+/).join('.')}` : ''}>`;
    const doc = document.documentElement;
    if (doc.scrollWidth > width) {
      // Not what a scrolling box (a table's wrapper) holds: that box is cut, not the page.
      const clipped = (el) => {
        for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
          if (getComputedStyle(a).overflowX !== 'visible') return true;
        }
        return false;
      };
      const wide = [...document.querySelectorAll('body *')]
        .filter((el) => el.getBoundingClientRect().right > width + 0.5 && !clipped(el))
        .filter((el) => !el.parentElement || el.parentElement.getBoundingClientRect().right <= width + 0.5)
        .slice(0, 3)
        .map((el) => `${label(el)} "${(el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 50)}" ends at ${Math.round(el.getBoundingClientRect().right)}px`);
      // Text wider than its box (a long URL that does not wrap) leaves the box's size as it is.
      const spill = [...document.querySelectorAll('main *')]
        .filter((el) => !clipped(el) && el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX === 'visible')
        .filter((el, _, all) => !all.some((other) => other !== el && el.contains(other)))
        .slice(0, 3)
        .map((el) => `${label(el)} "${(el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 60)}" holds ${el.scrollWidth}px in ${el.clientWidth}px`);
      notes.push(`the page is ${doc.scrollWidth}px wide (screen ${width}px): ${[...wide, ...spill].join('; ') || 'cause not found'}`);
    }
    for (const wrap of document.querySelectorAll('main *')) {
      const style = getComputedStyle(wrap);
      if (!['auto', 'scroll'].includes(style.overflowX) || wrap.scrollWidth <= wrap.clientWidth + 1) continue;
      const table = wrap.querySelector('table');
      const right = wrap.getBoundingClientRect().right;
      const hidden = table
        ? [...table.querySelectorAll('thead th')].filter((th) => th.getBoundingClientRect().right > right + 1)
            .map((th) => `"${th.textContent.trim()}"${th.getBoundingClientRect().left >= right ? '' : ' (cut)'}`)
        : [];
      notes.push(`${label(table ?? wrap)} scrolls sideways (${wrap.scrollWidth}px in ${wrap.clientWidth}px)${hidden.length ? `; out of view: ${hidden.join(', ')}` : ''}`);
    }
    return notes;
  }, width);
}

/** Iframes whose page is taller than the frame (the rest only seen by scrolling inside it). */
async function frameNotes(page) {
  const notes = [];
  for (const handle of await page.$$('iframe')) {
    const frame = await handle.contentFrame();
    const box = await handle.boundingBox();
    const inner = await frame.evaluate(() => document.documentElement.scrollHeight);
    if (box && inner > box.height + 1) {
      notes.push(`the iframe ${new URL(frame.url()).pathname} is ${Math.round(box.height)}px tall, its page ${inner}px: ${Math.round(inner - box.height)}px only seen by scrolling inside it`);
    }
  }
  return notes;
}

/** The buyer's part of one order, in a fresh desktop context. */
async function buy(browser, merchant, session, outcome) {
  const context = await newContext(browser, 'desktop');
  const page = await context.newPage();
  try {
    await open(page, session);
    // Paying: click, then wait for the merchant's return page (lib/checkout.js's pay() would
    // wait out its timeout when the paid page sends the buyer on before it is seen).
    if (outcome === 'card') {
      await chooseRoute(page, 'card');
      await fillCard(page, CARDS.paid);
      await page.click(STATES.card.primary);
    } else if (outcome === 'bank') {
      await chooseRoute(page, 'bank');
      await page.click(STATES.bank.primary);
    } else if (outcome === 'wallet') {
      await chooseRoute(page, 'wallet');
      await page.click(STATES.wallet.primary);
    } else if (outcome === 'declined') {
      await chooseRoute(page, 'card');
      await fillCard(page, CARDS.declined);
      await pay(page);
      // "Return to the store": the session fails and the buyer is back at the merchant.
      await leave(page);
    } else if (outcome === 'expire') {
      // A card declined, and the buyer gone: the checkout is open again (for the merchant to
      // expire, below).
      await chooseRoute(page, 'card');
      await fillCard(page, CARDS.declined);
      await pay(page);
      return;
    } else if (outcome === 'open') {
      // A bank transfer chosen and never made: the payment waits for the buyer.
      await chooseRoute(page, 'bank');
      return;
    }
    const query = await waitForReturn(page, merchant, 30_000);
    const expected = outcome === 'declined' ? 'failed' : 'paid';
    assert.equal(query.status, expected, `${session.product}: back at the merchant, ${expected}`);
  } finally {
    await context.close();
  }
}

/** A receiver that answers every webhook delivery 200 (and checks its signature). */
const merchant = await startMerchant();
const server = await startServer();
const browser = await launch();
const problems = [];
try {
  // --- The owner's account, through the link the server printed on its first start.
  const link = await setupLink(server);
  const admin = await newContext(browser, 'desktop');
  const page = await admin.newPage();
  await visit(page, server, link);
  await page.fill('input[name="email"]', OWNER.email);
  await page.fill('input[name="password"]', OWNER.password);
  await page.fill('input[name="password_again"]', OWNER.password);
  assert.equal(await submit(page, 'main form button[type="submit"]'), 200, `the setup: "${await pageText(page)}"`);
  assert.equal(new URL(page.url()).pathname, '/dashboard', `after the setup: ${page.url()}`);
  log('owner account made and signed in');

  // --- Webhook endpoints: the merchant's receiver through the API, one on a closed port
  // through the dashboard's form.
  await merchant.register(server);
  const closed = `http://127.0.0.1:${await freePort()}/hooks/orders`;
  await visit(page, server, '/dashboard/webhooks');
  await page.fill('form[action="/dashboard/webhooks"][method="post"] input[name="url"]', closed);
  assert.equal(await submit(page, 'form[action="/dashboard/webhooks"][method="post"] button[type="submit"]'), 200);
  log(`webhook endpoints: ${merchant.url}/webhooks (answers), ${closed} (closed port)`);

  // --- An API key, from the dashboard.
  await visit(page, server, '/dashboard/keys');
  await page.fill('form[action="/dashboard/keys"] input[name="label"]', 'Storefront (Shopify sync)');
  await page.selectOption('form[action="/dashboard/keys"] select[name="environment"]', 'sandbox');
  assert.equal(await submit(page, 'form[action="/dashboard/keys"] button[type="submit"]'), 200);
  log('API key made');

  // --- The branding, from the dashboard's form.
  await visit(page, server, '/dashboard/branding');
  const form = 'form[action="/dashboard/branding"]';
  await page.fill(`${form} input[name="display_name"]`, BRANDING.display_name);
  await page.fill(`${form} input[name="color"]`, BRANDING.color);
  await page.selectOption(`${form} select[name="shape"]`, BRANDING.shape);
  await page.fill(`${form} [name="note"]`, BRANDING.note);
  // A logo too, where the form takes one (an upload field named "logo").
  const logoField = `${form} input[type="file"][name="logo"]`;
  const withLogo = (await page.locator(logoField).count()) > 0;
  if (withLogo) await page.setInputFiles(logoField, { name: 'northwind.svg', mimeType: 'image/svg+xml', buffer: Buffer.from(LOGO) });
  let saved = await submit(page, `${form} button[type="submit"]`);
  let logoSaved = withLogo;
  if (withLogo && (saved !== 200 || (await page.locator('main .error-summary').count()) > 0)) {
    logoSaved = false;
    problems.push(`the branding form refused the logo (${saved}: "${await pageText(page)}"): saved without it`);
    await visit(page, server, '/dashboard/branding');
    await page.fill(`${form} input[name="display_name"]`, BRANDING.display_name);
    await page.fill(`${form} input[name="color"]`, BRANDING.color);
    await page.selectOption(`${form} select[name="shape"]`, BRANDING.shape);
    await page.fill(`${form} [name="note"]`, BRANDING.note);
    saved = await submit(page, `${form} button[type="submit"]`);
  }
  assert.equal(saved, 200, `saving the branding: "${await pageText(page)}"`);
  const branding = await server.api('GET', '/api/gateway/branding');
  assert.equal(JSON.stringify(branding).toLowerCase().includes(BRANDING.color), true, `the branding saved: ${JSON.stringify(branding)}`);
  log('branding saved');

  // --- The orders: sessions through the API, the buyers on the checkout pages.
  const made = {};
  for (const [i, o] of ORDERS.entries()) {
    const session = await server.api('POST', '/api/gateway/sessions', {
      product: o.product,
      amount: o.amount,
      customer: o.customer,
      clientReferenceId: o.ref,
      metadata: o.meta,
      redirectUrl: `${merchant.url}/return?order=${o.meta.order_id}`,
      idempotencyKey: `gallery-${o.meta.order_id}`,
    });
    await buy(browser, merchant, session, o.outcome);
    const payments = await paymentsOf(server, session.id);
    made[o.key ?? `order${i}`] = { session, payment: payments[0] };
    log(`${o.meta.order_id} ${o.product} $${o.amount} ${o.customer}: ${o.outcome} (${payments.map((p) => p.status).join(', ') || 'no payment'})`);
  }
  // One more session nobody opened yet: counted among today's sessions.
  await server.api('POST', '/api/gateway/sessions', {
    product: 'Starter plan', amount: 29, customer: 'noah.kim@example.com', clientReferenceId: 'cus_4828',
    metadata: { order_id: 'ord_1009' }, redirectUrl: `${merchant.url}/return?order=ord_1009`,
  });

  // --- Expire one from its payment's page (the API's expire action if the page has no form).
  const expired = made.expired.payment;
  assert.ok(expired, 'the gift card has a payment');
  await visit(page, server, `/dashboard/payments/${expired.id}`);
  const expire = `form[action="/dashboard/payments/${expired.id}/expire"] button[type="submit"]`;
  if (await page.locator(expire).count()) {
    assert.equal(await submit(page, expire), 200);
  } else {
    problems.push(`no expire form on /dashboard/payments/${expired.id}: expired through the API`);
    await server.api('POST', `/api/gateway/sessions/${made.expired.session.id}/expire`);
  }
  const after = await server.api('GET', `/api/gateway/sessions/${made.expired.session.id}`);
  assert.equal(after.status, 'expired', `the gift card's session: ${after.status}`);
  log('gift card expired from the dashboard');

  // --- Refund part of the annual plan from its page.
  const refunded = made.refunded.payment;
  await visit(page, server, `/dashboard/payments/${refunded.id}`);
  const refundForm = `form[action="/dashboard/payments/${refunded.id}/refund"]`;
  await page.fill(`${refundForm} [name="amount"]`, '160.00');
  await page.selectOption(`${refundForm} select[name="reason"]`, 'requested_by_customer');
  await page.fill(`${refundForm} [name="note"]`, 'Downgraded from 3 seats to 2');
  assert.equal(await submit(page, `${refundForm} button[type="submit"]`), 200);
  const refundedNow = await server.api('GET', `/api/gateway/payments/${refunded.id}`);
  assert.equal(refundedNow.amountRefunded, 160, `refunded: ${JSON.stringify(refundedNow.refunds)}`);
  log('annual plan: $160 refunded from the dashboard');

  // --- Deliveries settle: every paid payment acknowledged by the receiver, the closed port
  // failing (the delivery log shows a failed attempt).
  const paidSessions = Object.values(made).filter((m) => m.payment?.status === 'paid').map((m) => m.session.id);
  await waitFor(() => paidSessions.every((id) => merchant.typesFor(id).includes('payment.paid')), {
    timeout: 30_000, message: 'payment.paid delivered for every paid payment',
  });
  await waitFor(async () => {
    await visit(page, server, '/dashboard/webhooks?outcome=failed');
    return (await page.locator('main table tbody tr').count()) > 0;
  }, { timeout: 30_000, interval: 1_000, message: 'a failed delivery in the log' });
  await sleep(1_000);
  await admin.close();
  log('webhook deliveries settled');

  // --- The customer with two payments.
  const mayaId = await (async () => {
    const c = await newContext(browser, 'desktop');
    const p = await c.newPage();
    await signIn(p, server);
    await visit(p, server, `/dashboard/customers?email=${encodeURIComponent(ORDERS[0].customer)}`);
    const href = await p.locator('main a[href^="/dashboard/customers/"]').first().getAttribute('href');
    await c.close();
    return href;
  })();
  assert.ok(mayaId, 'Maya is listed among the customers');

  /** [file name part, title, what it shows, path or how to get there, status] */
  const SHOTS = [
    ['login', 'Sign in', 'E-mail and password; the one-time setup link makes the first account.', null],
    ['login-error', 'Sign in, wrong password', 'The error said at the top, the e-mail kept.', null],
    ['home', 'Home', "The figures at a glance: paid volume today and this month, today's checkouts by status, failing webhook endpoints.", '/dashboard'],
    ['payments', 'Payments', 'Every payment, newest first, with filters (e-mail, status, route, reference, metadata, dates) and a CSV export.', '/dashboard/payments'],
    ['payments-filtered', 'Payments, filtered', 'The same list filtered to status=paid; the filter is in the address.', '/dashboard/payments?status=paid'],
    ['payment', 'One payment', 'Paid and partly refunded: its facts and metadata, the refund form, the refunds, and the timeline with each webhook delivery.', `/dashboard/payments/${refunded.id}`],
    ['customers', 'Customers', 'Everyone who checked out, by e-mail.', '/dashboard/customers'],
    ['customer', 'One customer', 'Their facts and their latest payments.', mayaId],
    ['webhooks', 'Webhooks', 'The endpoints (one failing), their actions, the form to add one and the delivery log.', '/dashboard/webhooks'],
    ['keys', 'API keys', 'The keys by hint and label; a new key is shown once.', '/dashboard/keys'],
    ['branding', 'Branding', "The checkout's name, colour, button shape, note and language, with a live preview.", '/dashboard/branding'],
    ['account', 'Account', 'The second factor (TOTP): a QR code to scan, then a code to confirm.', '/dashboard/account'],
    ['audit', 'Audit log', 'Who did what, when: sign-ins, keys, endpoints, branding, refunds, expiries.', '/dashboard/audit'],
  ];

  mkdirSync(OUT, { recursive: true });
  for (const f of readdirSync(OUT)) if (/^dashboard-.*\.png$/.test(f)) rmSync(path.join(OUT, f));
  const files = [];
  for (const [size, width] of SIZES) {
    const context = await newContext(browser, size);
    const p = await context.newPage();
    const shoot = async (name) => {
      await p.waitForLoadState('load');
      await framesLoaded(p);
      const notes = [...await layoutNotes(p, width), ...await frameNotes(p)];
      for (const n of notes) problems.push(`dashboard-${name}-${width}.png: ${n}`);
      const file = path.join(OUT, `dashboard-${name}-${width}.png`);
      await p.screenshot({ path: file, fullPage: true, animations: 'disabled' });
      files.push(file);
      log(`${path.relative(ROOT, file)}`);
    };
    await visit(p, server, '/dashboard/login');
    await shoot('login');
    const status = await postLogin(p, { email: OWNER.email, password: 'not the password' });
    assert.ok(status >= 400, `a wrong password answered ${status}`);
    assert.equal(await p.inputValue('form[action="/dashboard/login"] input[name="email"]'), OWNER.email, 'the e-mail kept');
    await shoot('login-error');
    await signIn(p, server);
    for (const [name, , , where] of SHOTS.slice(2)) {
      await visit(p, server, where);
      await shoot(name);
    }
    if (context.cspViolations.length) problems.push(`@${width}: ${context.cspViolations.join('; ')}`);
    if (context.offHost.length) problems.push(`@${width}: asked of other hosts: ${context.offHost.join(', ')}`);
    await context.close();
  }

  // --- The README's section, between its markers (appended the first time).
  const cells = (name) => SIZES.map(([, w]) =>
    `<img src="dashboard-${name}-${w}.png" width="${w === 1280 ? 400 : 160}" alt="${name} at ${w} px">`).join(' | ');
  const section = `${START}
# What the merchant sees

The merchant's dashboard (\`/dashboard\`), signed in as the owner, in a sandbox with content
made the way a merchant and buyers make it: nine checkouts through the API, each with its
product, amount, customer, metadata and \`clientReferenceId\` (five paid on the checkout pages:
three by card, one by bank transfer, one with the USDC wallet; one declined and given up; one
declined then expired from the dashboard; one left waiting for a bank transfer; one never
opened), $160 of one refunded from the dashboard, a webhook endpoint that answers and one on
a closed port (failing), an API key and the branding (\`#7c3aed\`, pill buttons, a note${logoSaved ? ', a logo' : ''}).
Headless Chromium, English, 360 and 1280 px wide, full page.

Regenerate them (after \`cargo build\`) with:

\`\`\`sh
npm --prefix e2e ci
npm --prefix e2e run screenshots:dashboard
\`\`\`

| Page | 360 px | 1280 px |
|---|---|---|
${SHOTS.map(([name, title, what]) => `| **${title}**<br>${what} | ${cells(name)} |`).join('\n')}
${END}
`;
  const readme = readFileSync(README, 'utf8');
  const at = readme.indexOf(START);
  const endAt = readme.indexOf(END);
  const next = at >= 0 && endAt > at
    ? `${readme.slice(0, at)}${section}${readme.slice(endAt + END.length).replace(/^\n/, '')}`
    : `${readme.replace(/\n*$/, '\n')}\n${section}`;
  writeFileSync(README, next);

  log(`wrote ${files.length} screenshots and the dashboard section of ${path.relative(ROOT, README)}`);
  if (problems.length) {
    console.log(`\nseen on the way (not failures):\n- ${problems.join('\n- ')}`);
  }
} catch (e) {
  console.error(server.logs().slice(-4000));
  throw e;
} finally {
  await browser.close();
  await merchant.close();
  await server.stop();
}
