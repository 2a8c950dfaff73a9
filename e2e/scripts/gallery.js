#!/usr/bin/env node
// Regenerates docs/screenshots/: every page state of real checkouts, in English, at 320, 390
// and 1280 px wide, plain and with a merchant's branding, and docs/screenshots/README.md with
// them in a table.
// Run: npm --prefix e2e run screenshots   (needs `cargo build` and /usr/bin/chromium)
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { launch, newContext } from '../lib/browser.js';
import {
  CARDS, action, chooseRoute, createSession, fillCard, open, pay, waitForState,
} from '../lib/checkout.js';
import { startMerchant } from '../lib/merchant.js';
import { ROOT, startServer } from '../lib/server.js';

const OUT = path.join(ROOT, 'docs', 'screenshots');
const SIZES = ['w320', 'w390', 'w1280'];
const BRANDING = { displayName: 'Northwind Tea', brandColor: '#7c3aed', buttonShape: 'pill', note: 'Questions? hello@northwind.example' };

/** [file stem, title, what it shows, how to get there] */
const SHOTS = [
  ['choose', 'Choose how to pay', 'The product, the price, and each route with its fee and total.', async (p, s) => { await open(p, s); }],
  ['card', 'Card form', 'Labelled fields, the total on the button, the sandbox test cards.', async (p, s) => { await open(p, s); await chooseRoute(p, 'card'); }],
  ['card-errors', 'Card form with errors', 'Errors next to each field and summarised at the top.', async (p, s) => {
    await open(p, s); await chooseRoute(p, 'card'); await fillCard(p, '4242 4242 4242 4241', { expiry: '13/20', cvc: '1', name: '' }); await pay(p);
  }],
  ['challenge', 'Card confirmation', "The issuer's confirmation step (3-D Secure), simulated.", async (p, s) => {
    await open(p, s); await chooseRoute(p, 'card'); await fillCard(p, CARDS.challenge); await pay(p);
  }],
  ['waiting', 'Waiting for the provider', 'Updates itself when the provider answers.', async (p, s) => {
    await open(p, s); await chooseRoute(p, 'card'); await fillCard(p, CARDS.pending); await pay(p);
  }],
  ['wallet', 'USDC wallet', 'Address, exact amount and a QR code drawn on the server.', async (p, s) => { await open(p, s); await chooseRoute(p, 'wallet'); }],
  ['bank', 'Bank transfer', 'The account and a unique reference.', async (p, s) => { await open(p, s); await chooseRoute(p, 'bank'); }],
  ['paid', 'Paid', 'A clear mark, the amount paid, what for and how; then back to the merchant at once.', async (p, s) => {
    await open(p, s); await chooseRoute(p, 'card'); await fillCard(p, CARDS.paid); await pay(p); await waitForState(p, 'paid');
  }],
  ['retry-card', 'Card declined: pay again', 'The reason in the error summary, the card form ready for another card, other ways out.', async (p, s) => {
    await open(p, s); await chooseRoute(p, 'card'); await fillCard(p, CARDS.declined); await pay(p);
  }],
  ['retry-routes', 'Transfer failed: choose again', 'After a failed wallet transfer every route is offered again.', async (p, s) => {
    await open(p, s); await chooseRoute(p, 'wallet'); await action(p, 'transfer_fail');
  }],
  ['failed', 'Failed', 'The last attempt failed: why, that no money was taken, and the way back.', async (p, s) => {
    await open(p, s); await chooseRoute(p, 'card'); await fillCard(p, CARDS.declined); await pay(p);
    await fillCard(p, CARDS.insufficient); await pay(p);
  }],
  ['expired', 'Expired', 'No payment was taken; a link back to the merchant.', async (p, s, { server }) => {
    await server.api('POST', `/api/gateway/sessions/${s.id}/expire`); await open(p, s);
  }],
  ['not-found', 'Unknown checkout', 'The 404 page.', async (p, s, { server }) => { await p.goto(`${server.url}/checkout/chk_00000000000000000000000000`); }],
  ['paid-confirming', 'Paid, telling the merchant first', 'Waits a moment for the merchant to acknowledge payment.paid.', async (p, s, { merchant }) => {
    merchant.state.holdPaid.set(s.id, 20_000);
    await open(p, s); await chooseRoute(p, 'card'); await fillCard(p, CARDS.paid); await pay(p); await waitForState(p, 'confirming');
  }],
];

async function shoot(page, file) {
  // Pages that refresh themselves may be mid-reload: try again.
  for (let i = 0; ; i++) {
    try {
      await page.waitForLoadState('load');
      await page.screenshot({ path: file, fullPage: true, animations: 'disabled' });
      return;
    } catch (e) {
      if (i >= 4) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

const server = await startServer({
  env: {
    OPENRAILS_SANDBOX_DELAY_SECONDS: '600',
    OPENRAILS_REDIRECT_WAIT_SECONDS: '30',
    // So that the second decline of the "failed" shot is the last attempt.
    OPENRAILS_PAYMENT_ATTEMPTS_PER_SESSION: '2',
  },
});
const merchant = await startMerchant();
const browser = await launch();
try {
  await merchant.register(server);
  mkdirSync(OUT, { recursive: true });
  // The dashboard's shots (scripts/dashboard-gallery.js) and the Arabic ones (tests/languages.test.js) stay.
  for (const f of readdirSync(OUT)) if (f.endsWith('.png') && !f.startsWith('dashboard-') && !f.startsWith('ar-')) rmSync(path.join(OUT, f));
  for (const set of ['plain', 'branded']) {
    if (set === 'branded') await server.api('PUT', '/api/gateway/branding', BRANDING);
    for (const [stem, title, , go] of SHOTS) {
      for (const size of SIZES) {
        const context = await newContext(browser, size);
        // The merchant's page answers 204 here, so the result pages stay on screen.
        await context.route(`${merchant.url}/return**`, (route) => route.fulfill({ status: 204 }));
        const page = await context.newPage();
        const session = await createSession(server, merchant, { preferredRoute: 'card' });
        await go(page, session, { server, merchant });
        const file = path.join(OUT, `${stem}${set === 'branded' ? '-branded' : ''}-${size.slice(1)}.png`);
        await shoot(page, file);
        await context.close();
        console.log(`${title} (${set}) @${size}: ${path.relative(ROOT, file)}`);
      }
    }
  }
  const cells = (stem) => SIZES.map((size) => {
    const w = size.slice(1);
    return `<img src="${stem}-${w}.png" width="${w === '1280' ? 400 : 160}" alt="${stem} at ${w} px">`;
  }).join(' | ');
  const rows = SHOTS.flatMap(([stem, title, what]) => [
    `| **${title}**<br>${what} | ${cells(stem)} |`,
    `| ${title}, branded | ${cells(`${stem}-branded`)} |`,
  ]);
  // The dashboard's section (between its markers, written by scripts/dashboard-gallery.js) is kept.
  const readmePath = path.join(OUT, 'README.md');
  const before = existsSync(readmePath) ? readFileSync(readmePath, 'utf8') : '';
  const dashboard = /<!-- dashboard:start -->[\s\S]*<!-- dashboard:end -->\n?/.exec(before)?.[0];
  const rtl = /<!-- rtl:start -->[\s\S]*<!-- rtl:end -->\n?/.exec(before)?.[0];
  writeFileSync(
    readmePath,
    `# What the buyer sees

Screenshots of real sandbox checkouts in headless Chromium, in English, 320, 390 and 1280 px
wide, full page; each state plain and with a merchant's branding (name, colour \`#7c3aed\`,
pill buttons, a note). Every state in every language and branding is also in the preview
gallery (\`/preview\` in development, or \`openrails-checkout preview export <dir>\`).

Regenerate them (after \`cargo build\`) with:

\`\`\`sh
npm --prefix e2e ci
npm --prefix e2e run screenshots
\`\`\`

| State | 320 px | 390 px | 1280 px |
|---|---|---|---|
${rows.join('\n')}
${dashboard ? `\n${dashboard}` : ''}${rtl ? `\n${rtl}` : ''}`,
  );
  console.log(`wrote ${SHOTS.length * SIZES.length * 2} screenshots and README.md to ${path.relative(ROOT, OUT)}/`);
} finally {
  await browser.close();
  await merchant.close();
  await server.stop();
}
