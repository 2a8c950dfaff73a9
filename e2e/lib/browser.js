// Debian's headless Chromium through playwright-core (no browser download), and the checks
// that need a page: layout, accessibility, screenshots.
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { ROOT } from './server.js';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
  '--disable-quic',
];

export const VIEWPORTS = {
  phone: { name: 'phone', viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 1 },
  desktop: { name: 'desktop', viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 },
  // The screenshot sizes of docs/screenshots/.
  w320: { name: 'w320', viewport: { width: 320, height: 640 }, isMobile: true, hasTouch: true, deviceScaleFactor: 1 },
  w390: { name: 'w390', viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 1 },
  w1280: { name: 'w1280', viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 },
};

export const SCREENSHOT_DIR = path.join(ROOT, 'target', 'e2e-screenshots');

/** Launches the browser; throws (never skips) when it cannot start. */
export async function launch() {
  try {
    return await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  } catch (e) {
    throw new Error(`Chromium at ${CHROMIUM} could not start: ${e.message}`);
  }
}

/**
 * A fresh context (its own cookies and cache) at `size` ('phone' | 'desktop'). Scenario
 * contexts keep the pages' real Content-Security-Policy; CSP violations reported by the
 * browser are collected on `context.cspViolations`.
 */
export async function newContext(browser, size = 'desktop', { localOnly = true, ...options } = {}) {
  const { name, ...vp } = VIEWPORTS[size];
  const context = await browser.newContext({ ...vp, locale: 'en-US', ...options });
  context.cspViolations = [];
  context.offHost = [];
  if (localOnly) {
    // Nothing leaves this machine: a request to any other host (say the fixture redirectUrl
    // https://merchant.example/… of the preview pages) is recorded and aborted.
    await context.route(
      (url) => !['127.0.0.1', 'localhost'].includes(url.hostname),
      (route) => {
        context.offHost.push(route.request().url());
        return route.abort('blockedbyclient');
      },
    );
  }
  context.on('console', (msg) => {
    const text = msg.text();
    if (/Content Security Policy/i.test(text)) context.cspViolations.push(`${msg.page()?.url()}: ${text}`);
  });
  context.on('weberror', (err) => context.cspViolations.push(`page error: ${err.error().message}`));
  return context;
}

/** Saves a full-page screenshot under target/e2e-screenshots/. */
export async function screenshot(page, name) {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Nothing wider than the viewport. Returns a description of the problem, or null. */
export async function horizontalOverflow(page) {
  return page.evaluate(() => {
    const doc = document.documentElement;
    if (doc.scrollWidth <= window.innerWidth) return null;
    const wide = [...document.querySelectorAll('body *')]
      .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5)
      .filter((el) => !el.parentElement || el.parentElement.getBoundingClientRect().right <= window.innerWidth + 0.5)
      .slice(0, 5)
      .map((el) => {
        const r = el.getBoundingClientRect();
        const cls = el.className && typeof el.className === 'string' ? `.${el.className.trim().split(/\s+/).join('.')}` : '';
        return `<${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${cls}> right=${Math.round(r.right)}px "${(el.textContent || '').trim().slice(0, 40)}"`;
      });
    return `scrollWidth ${doc.scrollWidth}px > innerWidth ${window.innerWidth}px; widest: ${wide.join('; ')}`;
  });
}

/**
 * The element is reachable: after scrollIntoView it is inside the viewport and the element at
 * its centre is itself (nothing covers it). Returns a description of the problem, or null.
 */
export async function unreachable(page, selector) {
  const handle = page.locator(selector).first();
  if ((await handle.count()) === 0) return `no element matches ${selector}`;
  return handle.evaluate((el) => {
    el.scrollIntoView({ block: 'center', inline: 'nearest' });
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) return 'it has no size';
    if (r.top < 0 || r.left < 0 || r.bottom > window.innerHeight || r.right > window.innerWidth) {
      return `outside the ${window.innerWidth}×${window.innerHeight} viewport after scrollIntoView: ${JSON.stringify(r)}`;
    }
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    if (hit !== el && !el.contains(hit)) return `covered by <${hit?.tagName.toLowerCase()} class="${hit?.className}">`;
    return null;
  });
}

/** Layout checks of one page state; throws with every problem found. */
export async function checkLayout(page, primarySelector, label) {
  const problems = [];
  const overflow = await horizontalOverflow(page);
  if (overflow) problems.push(`horizontal overflow: ${overflow}`);
  if (primarySelector) {
    const bad = await unreachable(page, primarySelector);
    if (bad) problems.push(`${primarySelector} is not reachable: ${bad}`);
  }
  if (problems.length) throw new Error(`${label} (${page.url()}): ${problems.join('; ')}`);
}

const require = createRequire(import.meta.url);
export const AXE_PATH = require.resolve('axe-core/axe.min.js');

/**
 * Runs axe-core in the page (needs a context with `bypassCSP: true`: the pages forbid the
 * inline script this injects). Returns the serious and critical violations.
 */
export async function axeViolations(page) {
  await page.addScriptTag({ path: AXE_PATH });
  const results = await page.evaluate(() =>
    window.axe.run(document, { resultTypes: ['violations'], runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] } }),
  );
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 3).map((n) => `${n.target.join(' ')}: ${n.failureSummary?.split('\n').slice(1).join(' ').trim()}`),
    }));
}
