#!/usr/bin/env node
// Regenerates docs/screenshots/: the main page states of real checkouts, in English, at
// 360×740 (phone) and 1280×800 (desktop), and docs/screenshots/README.md with them in a table.
// Run: npm --prefix e2e run screenshots   (needs `cargo build` and /usr/bin/chromium)
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { launch, newContext } from '../lib/browser.js';
import {
  CARDS, action, chooseRoute, createSession, fillCard, open, pay, waitForState,
} from '../lib/checkout.js';
import { startMerchant } from '../lib/merchant.js';
import { ROOT, startServer } from '../lib/server.js';

const OUT = path.join(ROOT, 'docs', 'screenshots');
const SIZES = ['phone', 'desktop'];

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
  ['paid', 'Paid', 'Sends the buyer back to the merchant after a few seconds (and by a link).', async (p, s) => {
    await open(p, s); await chooseRoute(p, 'card'); await fillCard(p, CARDS.paid); await pay(p); await waitForState(p, 'paid');
  }],
  ['failed', 'Failed', 'Why, and that no money was taken.', async (p, s) => {
    await open(p, s); await chooseRoute(p, 'card'); await fillCard(p, CARDS.declined); await pay(p);
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
  env: { OPENRAILS_SANDBOX_DELAY_SECONDS: '600', OPENRAILS_REDIRECT_WAIT_SECONDS: '30' },
});
const merchant = await startMerchant();
const browser = await launch();
try {
  await merchant.register(server);
  mkdirSync(OUT, { recursive: true });
  for (const f of readdirSync(OUT)) if (f.endsWith('.png')) rmSync(path.join(OUT, f));
  for (const [stem, title, , go] of SHOTS) {
    for (const size of SIZES) {
      const context = await newContext(browser, size);
      // The merchant's page answers 204 here, so the result pages stay on screen.
      await context.route(`${merchant.url}/return**`, (route) => route.fulfill({ status: 204 }));
      const page = await context.newPage();
      const session = await createSession(server, merchant, { preferredRoute: 'card' });
      await go(page, session, { server, merchant });
      const file = path.join(OUT, `${stem}-${size}.png`);
      await shoot(page, file);
      await context.close();
      console.log(`${title} @${size}: ${path.relative(ROOT, file)}`);
    }
  }
  const rows = SHOTS.map(
    ([stem, title, what]) =>
      `| **${title}**<br>${what} | <img src="${stem}-phone.png" width="180" alt="${title}, phone"> | <img src="${stem}-desktop.png" width="480" alt="${title}, desktop"> |`,
  );
  writeFileSync(
    path.join(OUT, 'README.md'),
    `# What the buyer sees

Screenshots of real sandbox checkouts in headless Chromium, in English, on a phone (360×740)
and a desktop (1280×800), full page. Every state in every language and branding is in the
preview gallery (\`/preview\` in development, or \`openrails-checkout preview export <dir>\`).

Regenerate them (after \`cargo build\`) with:

\`\`\`sh
npm --prefix e2e ci
npm --prefix e2e run screenshots
\`\`\`

| State | Phone | Desktop |
|---|---|---|
${rows.join('\n')}
`,
  );
  console.log(`wrote ${SHOTS.length * SIZES.length} screenshots and README.md to ${path.relative(ROOT, OUT)}/`);
} finally {
  await browser.close();
  await merchant.close();
  await server.stop();
}
