// One server, one merchant and one browser per test file; a fresh browser context per test.
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before } from 'node:test';
import { SCREENSHOT_DIR, checkLayout, launch, newContext, screenshot } from './browser.js';
import { STATES } from './checkout.js';
import { startMerchant } from './merchant.js';
import { startServer } from './server.js';

/**
 * Starts everything before the file's tests and stops it after; returns a live view.
 * `serverEnv` (variables) and `serverConfig` (the text of a TOML settings file) may also be
 * functions, called in the `before` hook: then they can use what an earlier hook started.
 */
export function useHarness(name, { serverEnv = {}, serverConfig } = {}) {
  const h = { server: null, merchant: null, browser: null };
  before(async () => {
    const env = typeof serverEnv === 'function' ? await serverEnv() : serverEnv;
    const config = typeof serverConfig === 'function' ? await serverConfig() : serverConfig;
    h.server = await startServer({ env, config });
    h.merchant = await startMerchant();
    await h.merchant.register(h.server);
    h.browser = await launch();
  });
  after(async () => {
    await h.browser?.close();
    await h.merchant?.close();
    if (h.server) {
      mkdirSync(SCREENSHOT_DIR, { recursive: true });
      writeFileSync(path.join(SCREENSHOT_DIR, `server-${name}.log`), h.server.logs());
      await h.server.stop();
    }
  });
  return h;
}

export const slug = (s) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');

/**
 * A buyer: a fresh context and page at `size`, closed after the test. `visit(state)` checks the
 * layout of the state shown now (no horizontal overflow, primary action reachable) and saves its
 * screenshot as target/e2e-screenshots/<scenario>-<state>-<size>.png.
 */
export async function buyer(h, t, size = 'desktop', options = {}) {
  const context = await newContext(h.browser, size, options);
  const page = await context.newPage();
  t.after(() => context.close());
  const base = slug(t.name.replace(/@.*$/, ''));
  const visit = async (state) => {
    await checkLayout(page, STATES[state].primary, `${t.name}: ${state} at ${size}`);
    await screenshot(page, `${base}-${state}-${size}`);
  };
  return { context, page, visit };
}
