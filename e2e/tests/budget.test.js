// Page budget, measured by the browser: the first view of the checkout page (fresh profile, empty
// cache) transfers at most 40 KB in all, asks no other host for anything, and its largest
// contentful paint on the local server is reported (target/e2e-screenshots/budget.json).
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { SCREENSHOT_DIR, newContext } from '../lib/browser.js';
import { createSession } from '../lib/checkout.js';
import { useHarness } from '../lib/harness.js';

const BUDGET_BYTES = 40 * 1024;
const h = useHarness('budget');
const report = {};

async function firstView(t, size, session, prepare) {
  // No request interception here: it would change what the browser fetches and how it counts.
  const context = await newContext(h.browser, size, { localOnly: false });
  t.after(() => context.close());
  const page = await context.newPage();
  if (prepare) await prepare(page);
  const requests = [];
  page.on('request', (r) => requests.push(r));
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  const encoded = new Map(); // every request the browser made, favicon included
  cdp.on('Network.requestWillBeSent', (e) => encoded.set(e.requestId, { url: e.request.url, bytes: 0 }));
  cdp.on('Network.loadingFinished', (e) => {
    if (encoded.has(e.requestId)) encoded.get(e.requestId).bytes = e.encodedDataLength;
  });
  await page.goto(session.checkoutUrl, { waitUntil: 'load' });
  await page.waitForLoadState('networkidle');
  const lcp = await page.evaluate(
    () =>
      new Promise((resolve) => {
        new PerformanceObserver((list) => {
          const last = list.getEntries().at(-1);
          resolve({ ms: Math.round(last.startTime), element: last.element?.tagName.toLowerCase() ?? null, size: last.size });
        }).observe({ type: 'largest-contentful-paint', buffered: true });
        setTimeout(() => resolve(null), 3000);
      }),
  );
  const timing = await page.evaluate(() =>
    [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')].map((e) => ({
      url: e.name,
      transferSize: e.transferSize,
      encodedBodySize: e.encodedBodySize,
    })),
  );
  const rows = [];
  for (const r of requests) {
    const sizes = await r.sizes().catch(() => null);
    const response = await r.response();
    rows.push({
      url: r.url(),
      status: response?.status() ?? null,
      bytes: sizes ? sizes.responseHeadersSize + sizes.responseBodySize : 0,
    });
  }
  const total = rows.reduce((a, r) => a + r.bytes, 0);
  const wire = [...encoded.values()];
  const wireTotal = wire.reduce((a, r) => a + r.bytes, 0);
  const timingTotal = timing.reduce((a, e) => a + e.transferSize, 0);
  const hosts = [...new Set([...rows, ...wire].map((r) => new URL(r.url).hostname))];
  const result = { url: session.checkoutUrl, total, wireTotal, timingTotal, lcp, hosts, requests: rows, wire };
  const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
  t.diagnostic(
    `${size}: ${rows.length} requests, ${kb(total)} (headers + bodies); on the wire ${kb(wireTotal)} in ${wire.length} requests; ` +
      `transferSize ${kb(timingTotal)}; LCP ${lcp ? `${lcp.ms} ms (<${lcp.element}>)` : 'not reported'}`,
  );
  for (const r of rows) t.diagnostic(`  ${r.status} ${r.url} ${r.bytes} B`);
  return result;
}

for (const size of ['desktop', 'phone']) {
  test(`first view of the checkout page @${size}: ≤ 40 KB, only 127.0.0.1, LCP reported`, async (t) => {
    const session = await createSession(h.server, h.merchant, { preferredRoute: 'card' });
    const r = await firstView(t, size, session);
    report[size] = r;
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    writeFileSync(path.join(SCREENSHOT_DIR, 'budget.json'), JSON.stringify(report, null, 2));
    console.log(`page budget @${size}: ${r.total} B (wire ${r.wireTotal} B), LCP ${r.lcp?.ms ?? '?'} ms`);
    assert.ok(r.requests.length >= 1);
    assert.deepEqual(r.hosts, ['127.0.0.1'], 'every request goes to 127.0.0.1');
    assert.ok(r.total <= BUDGET_BYTES, `the first view transfers ${r.total} B > ${BUDGET_BYTES} B`);
    assert.ok(r.wireTotal <= BUDGET_BYTES, `the browser received ${r.wireTotal} B > ${BUDGET_BYTES} B`);
    assert.ok(r.lcp && r.lcp.ms > 0, 'the browser reports a largest contentful paint');
  });
}
