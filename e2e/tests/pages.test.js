// The preview gallery: every page state in twelve languages, plain and branded. axe-core finds
// no serious or critical violation on every page in English and Arabic (right to left), plain
// and branded, and on the first page of each other language (the same markup, other words);
// nothing overflows a 360 px phone on any page in any language (long German words included)
// and the primary action is reachable; English and Arabic are also laid out at 1280 px. The
// English and Arabic pages are screenshotted under target/e2e-screenshots/.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { axeViolations, checkLayout, launch, newContext, screenshot } from '../lib/browser.js';
import { STATES } from '../lib/checkout.js';
import { PRIMARY_OF, parseSlug, previewSite } from '../lib/preview.js';
import { startServer } from '../lib/server.js';

let server;
let browser;
let site;

const LANGUAGES = ['en', 'es', 'pt-BR', 'fr', 'de', 'it', 'nl', 'pl', 'ja', 'zh-CN', 'ko', 'ar'];
/** Audited and laid out at both sizes in full: left to right and right to left. */
const FULL = new Set(['en', 'ar']);
const inFull = (slug) => FULL.has(parseSlug(slug).language);

before(async () => {
  server = await startServer();
  browser = await launch();
  site = await previewSite(server);
});
after(async () => {
  await site?.close();
  await browser?.close();
  await server?.stop();
});

test('the preview gallery is served at /preview in development (README, docs/templates.md)', async () => {
  const index = await fetch(`${server.url}/preview`);
  assert.equal(index.status, 200, `GET /preview answered ${index.status}`);
  assert.match(index.headers.get('content-type') ?? '', /text\/html/);
  const entry = await fetch(`${server.url}/preview/card.en.plain`);
  assert.equal(entry.status, 200, `GET /preview/card.en.plain answered ${entry.status}`);
});

test('the gallery covers every state in every language, plain and branded, and the dashboard', () => {
  const parsed = site.slugs.map(parseSlug);
  const languages = new Set(parsed.map((p) => p.language));
  for (const lang of LANGUAGES) assert.ok(languages.has(lang), `language ${lang}`);
  assert.equal(languages.size, LANGUAGES.length);
  for (const state of Object.keys(PRIMARY_OF)) {
    assert.ok(parsed.some((p) => p.state === state), `state ${state}`);
  }
  // The checkout's states plain and branded; the dashboard's pages and the e-mails plain only.
  const states = new Set(parsed.map((p) => p.state));
  const dashboard = [...states].filter((s) => s.startsWith('dashboard-') || s.startsWith('email-'));
  for (const page of ['dashboard-home', 'dashboard-payment', 'dashboard-branding']) {
    assert.ok(dashboard.includes(page), `dashboard page ${page}`);
  }
  assert.equal(site.slugs.length, (states.size - dashboard.length) * languages.size * 2 + dashboard.length * languages.size);
});

describe('axe-core: zero serious or critical violations', () => {
  let context;
  before(async () => {
    // bypassCSP only here: axe is injected as an inline script, which the pages' CSP forbids.
    context = await newContext(browser, 'desktop', { bypassCSP: true });
  });
  after(() => context?.close());

  test('every page state × branding in English and Arabic; the first page in each other language', async (t) => {
    const page = await context.newPage();
    const failures = [];
    const firstOf = new Map();
    for (const slug of site.slugs) {
      const { language } = parseSlug(slug);
      if (!FULL.has(language) && !firstOf.has(language)) firstOf.set(language, slug);
    }
    const audited = site.slugs.filter(inFull).concat([...firstOf.values()]);
    for (const slug of audited) {
      await page.goto(site.url(slug));
      const violations = await axeViolations(page);
      for (const v of violations) failures.push(`${slug}: [${v.impact}] ${v.id} (${v.help}) at ${v.nodes.join(' | ')}`);
    }
    t.diagnostic(`audited ${audited.length} pages`);
    assert.deepEqual(failures, [], `axe violations:\n${failures.join('\n')}`);
  });
});

for (const size of ['phone', 'desktop']) {
  test(`layout @${size}: no horizontal overflow, primary action reachable; screenshots`, async (t) => {
    const context = await newContext(browser, size);
    t.after(() => context.close());
    const page = await context.newPage();
    const failures = [];
    // Every language on a phone, where long words overflow; at 1280 px English and Arabic.
    const slugs = size === 'phone' ? site.slugs : site.slugs.filter(inFull);
    t.diagnostic(`laid out ${slugs.length} pages`);
    for (const slug of slugs) {
      const { state } = parseSlug(slug);
      await page.goto(site.url(slug));
      try {
        await checkLayout(page, STATES[PRIMARY_OF[state]]?.primary, slug);
      } catch (e) {
        failures.push(e.message);
      }
      if (inFull(slug)) await screenshot(page, `preview-${slug}-${size}`);
    }
    assert.deepEqual(context.cspViolations, [], 'no CSP violation or page error');
    assert.deepEqual(failures, [], failures.join('\n'));
  });
}
