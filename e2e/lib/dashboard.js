// The merchant's dashboard (/dashboard) as a person uses it: the one-time setup link, signing in,
// the payments list's filters, one payment and its refund form. The dashboard has no script:
// every step is a link or a form post followed by a new page.
import assert from 'node:assert/strict';
import { navigation } from './checkout.js';
import { waitFor } from './server.js';

/** The owner's account, made through the first-start link. */
export const OWNER = { email: 'owner@example.com', password: 'correct horse battery staple' };

const SETUP_LINK = /Create the owner's dashboard account[^\n]*\n\s*\n?\s*(http:\/\/\S+\/dashboard\/setup\/[A-Za-z0-9]+)/;

/** The owner's setup link, as the server printed it on its first start (after the sk_test_ key). */
export async function setupLink(server, timeout = 10_000) {
  return waitFor(() => SETUP_LINK.exec(server.stdout())?.[1], {
    timeout,
    message: `the owner's setup link on the server stdout:\n${server.stdout()}`,
  });
}

/** A new one-time setup link for `role`, made with `openrails-checkout users create`. */
export async function inviteLink(server, role = 'viewer') {
  const out = await server.cli('users', 'create', '--role', role);
  const link = /(http:\/\/\S+\/dashboard\/setup\/[A-Za-z0-9]+)/.exec(out)?.[1];
  assert.ok(link, `users create printed no setup link: ${out}`);
  return link;
}

/** What the page says, in one line (for failure messages). */
export async function pageText(page) {
  return ((await page.textContent('main').catch(() => '')) ?? '').replace(/\s+/g, ' ').trim().slice(0, 300);
}

/** Opens `url` and checks the document's status. */
export async function visit(page, url, status = 200) {
  const response = await page.goto(url);
  assert.equal(response.status(), status, `GET ${url} answered ${response.status()}: "${await pageText(page)}"`);
  return response;
}

/**
 * Clicks `selector` (a form's submit button or a link) and waits for the page it leads to,
 * after any redirect; throws unless that page's status is `status`. Returns the response.
 */
export async function follow(page, selector, { status = 200, timeout = 15_000 } = {}) {
  const doc = await navigation(page, () => page.click(selector, { timeout }), timeout);
  assert.ok(doc, `clicking ${selector} loaded no document`);
  if (doc.status() !== status) {
    throw new Error(
      `${doc.request().method()} ${doc.url()} (after ${selector}) answered ${doc.status()}: "${await pageText(page)}"`,
    );
  }
  return doc;
}

/** Fills the sign-in page (already open) and posts it; ends on the dashboard's home. */
export async function signIn(page, { email, password } = OWNER) {
  await page.fill('#email', email);
  await page.fill('#password', password);
  await follow(page, 'main form button[type="submit"]');
  assert.equal(new URL(page.url()).pathname, '/dashboard', `signed in, on ${page.url()}`);
  await page.locator('#paid-today').waitFor({ state: 'visible', timeout: 5_000 });
}

/** On the payments list: filters by the customer's e-mail; returns the rows' payment links. */
export async function filterByEmail(page, email) {
  await page.fill('form.filters input[name="email"]', email);
  await follow(page, 'form.filters button[type="submit"]');
  assert.equal(new URL(page.url()).searchParams.get('email'), email, `the filter is in the address: ${page.url()}`);
  return page.locator('#payments tbody tr td:first-child a').evaluateAll((links) => links.map((a) => a.getAttribute('href')));
}

/**
 * The environment badge is seen without scrolling: inside the viewport, with a size, and the
 * element at its centre. Returns the problem, or null.
 */
export async function badgeOutOfView(page) {
  return page.evaluate(() => {
    window.scrollTo(0, 0);
    const el = document.getElementById('environment');
    if (!el) return 'no #environment';
    const style = getComputedStyle(el);
    if (style.visibility !== 'visible' || style.display === 'none' || Number(style.opacity) === 0) return 'it is hidden';
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) return 'it has no size';
    if (r.top < 0 || r.left < 0 || r.bottom > window.innerHeight || r.right > window.innerWidth) {
      return `outside the ${window.innerWidth}×${window.innerHeight} viewport: ${JSON.stringify(r)}`;
    }
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    if (hit !== el && !el.contains(hit)) return `covered by <${hit?.tagName.toLowerCase()} class="${hit?.className}">`;
    return null;
  });
}

/** `$10.50`-style money, as the dashboard writes it in English. */
export const dollars = (n) => `$${n.toFixed(2)}`;
