// Twelve languages and right-to-left in a real browser. An Arabic buyer (the browser asks for
// `ar`) pays by card and opens the receipt: every page is `dir="rtl"` and mirrored (the
// merchant's note has its border on the right), card fields stay left-to-right, nothing
// overflows, and axe-core finds no serious or critical violation; the pages and two dashboard
// pages are saved at 360 and 1280 px as docs/screenshots/ar-*.png. Then the paid page and the
// receipt in each of the twelve languages: in that language, nothing overflowing at 360 px.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { axeViolations, checkLayout, newContext } from '../lib/browser.js';
import { CARDS, STATES, chooseRoute, fillCard, pay, waitForState } from '../lib/checkout.js';
import { useHarness } from '../lib/harness.js';
import { ROOT } from '../lib/server.js';

const h = useHarness('languages');
const DOCS = path.join(ROOT, 'docs', 'screenshots');
const LANGUAGES = ['en', 'es', 'pt-BR', 'fr', 'de', 'it', 'nl', 'pl', 'ja', 'zh-CN', 'ko', 'ar'];
const PX = { phone: 360, desktop: 1280 };

/** A sandbox card session with no redirectUrl: the paid page is the end, with its receipt link. */
async function session() {
  return h.server.api('POST', '/api/gateway/sessions', {
    product: 'Creator plan',
    amount: 1116,
    customer: 'buyer@example.com',
  });
}

async function save(page, name, size) {
  mkdirSync(DOCS, { recursive: true });
  await page.screenshot({ path: path.join(DOCS, `${name}-${PX[size]}.png`), fullPage: true, animations: 'disabled' });
}

async function assertRtl(page, label) {
  const { dir, lang } = await page.evaluate(() => ({ dir: document.documentElement.dir, lang: document.documentElement.lang }));
  assert.equal(dir, 'rtl', `${label}: <html dir>`);
  assert.equal(lang, 'ar', `${label}: <html lang>`);
}

for (const size of ['phone', 'desktop']) {
  test(`an Arabic buyer pays by card and keeps the receipt, right to left @${size}`, async (t) => {
    await h.server.api('PUT', '/api/gateway/branding', { note: 'أسئلة؟ hello@northwind.example' });
    const context = await newContext(h.browser, size, { locale: 'ar' });
    t.after(() => context.close());
    const page = await context.newPage();
    const s = await session();
    const visited = [];

    await page.goto(s.checkoutUrl);
    await assertRtl(page, 'choose');
    // Mirrored: the note's border is on the right, where a line starts in Arabic.
    const border = await page.$eval('.merchant-note', (el) => {
      const cs = getComputedStyle(el);
      return { right: cs.borderRightWidth, left: cs.borderLeftWidth };
    });
    assert.deepEqual(border, { right: '4px', left: '0px' }, 'the note is mirrored');
    await checkLayout(page, STATES.choose.primary, `choose @${size}`);
    await save(page, 'ar-choose', size);
    visited.push(page.url());

    await chooseRoute(page, 'card');
    await assertRtl(page, 'card');
    for (const id of ['number', 'expiry', 'cvc']) {
      const direction = await page.$eval(`#${id}`, (el) => getComputedStyle(el).direction);
      assert.equal(direction, 'ltr', `#${id} stays left-to-right`);
    }
    await checkLayout(page, STATES.card.primary, `card @${size}`);
    await save(page, 'ar-card', size);

    await fillCard(page, CARDS.paid);
    // The merchant's endpoint is told first ("confirming"), then the page shows it paid.
    assert.ok(['paid', 'confirming'].includes(await pay(page)));
    await waitForState(page, 'paid');
    await assertRtl(page, 'paid');
    await checkLayout(page, null, `paid @${size}`);
    await save(page, 'ar-paid', size);
    visited.push(page.url());

    await Promise.all([page.waitForEvent('load'), page.click('a[href^="/receipts/"]')]);
    await assertRtl(page, 'receipt');
    const text = await page.textContent('main');
    assert.match(text, /\u20661,151\.\d\d\u00A0US\$\u2069/, 'the total, isolated left-to-right');
    assert.match(text, /Creator plan/);
    await checkLayout(page, null, `receipt @${size}`);
    await save(page, 'ar-receipt', size);
    visited.push(page.url());

    for (const name of ['dashboard-home', 'dashboard-payment']) {
      await page.goto(`${h.server.url}/preview/${name}.ar.plain`);
      await assertRtl(page, name);
      await checkLayout(page, null, `${name} @${size}`);
      await save(page, `ar-${name}`, size);
      visited.push(page.url());
    }
    assert.deepEqual(context.cspViolations, [], 'no CSP violation or page error');

    // axe-core injects an inline script, which the pages' CSP forbids: audited in its own context.
    const audit = await newContext(h.browser, size, { locale: 'ar', bypassCSP: true });
    t.after(() => audit.close());
    const auditPage = await audit.newPage();
    const failures = [];
    for (const url of visited) {
      await auditPage.goto(url);
      for (const v of await axeViolations(auditPage)) failures.push(`${url}: [${v.impact}] ${v.id} (${v.help}) at ${v.nodes.join(' | ')}`);
    }
    assert.deepEqual(failures, [], `axe violations:\n${failures.join('\n')}`);
  });
}

test('the paid page and the receipt speak each of the twelve languages, with nothing overflowing at 360 px', async (t) => {
  const context = await newContext(h.browser, 'phone');
  t.after(() => context.close());
  const page = await context.newPage();
  const s = await session();
  await page.goto(s.checkoutUrl);
  await chooseRoute(page, 'card');
  await fillCard(page, CARDS.paid);
  assert.ok(['paid', 'confirming'].includes(await pay(page)));
  await waitForState(page, 'paid');
  const receipt = await page.$eval('a[href^="/receipts/"]', (a) => a.href);
  for (const lang of LANGUAGES) {
    const inLang = new URL(receipt);
    inLang.searchParams.set('lang', lang);
    for (const url of [`${s.checkoutUrl}?lang=${lang}`, inLang.href]) {
      await page.goto(url);
      const html = await page.evaluate(() => ({ lang: document.documentElement.lang, dir: document.documentElement.dir }));
      assert.deepEqual(html, { lang, dir: lang === 'ar' ? 'rtl' : 'ltr' }, url);
      await checkLayout(page, null, url);
    }
  }
});

test('a receipt prints on one A4 page and on one Letter page, without the language list and footer', async (t) => {
  const context = await newContext(h.browser, 'desktop');
  t.after(() => context.close());
  const page = await context.newPage();
  for (const lang of ['en', 'de', 'ar']) {
    await page.goto(`${h.server.url}/preview/receipt.${lang}.branded`);
    await page.emulateMedia({ media: 'print' });
    assert.equal(await page.$eval('.footer', (el) => getComputedStyle(el).display), 'none', 'the language list and footer are not printed');
    // page.pdf() prints with the emulated media: print, as a browser's print menu does.
    for (const format of ['A4', 'Letter']) {
      const pdf = (await page.pdf({ format })).toString('latin1');
      const pages = (pdf.match(/\/Type\s*\/Page[^s]/g) ?? []).length;
      assert.equal(pages, 1, `${lang} on ${format}: ${pages} pages`);
    }
  }
});
