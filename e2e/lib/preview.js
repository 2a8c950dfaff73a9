// The preview gallery: every page state × language × branding, rendered from fixtures. Served
// by the server at /preview in development (README, docs/templates.md). When the server does not
// answer there, the same pages come from `openrails-checkout preview export <dir>`, served here
// with the pages' own headers, so the audit still covers every state.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BINARY, ROOT } from './server.js';

export const CSP =
  "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; " +
  "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** Which STATES entry (lib/checkout.js) gives each gallery state its primary action. */
export const PRIMARY_OF = {
  choose: 'choose', card: 'card', 'card-errors': 'cardErrors', challenge: 'challenge', wallet: 'wallet',
  bank: 'bank', paid: 'paid', failed: 'failed', expired: 'expired', 'retry-card': 'retryCard',
  'retry-routes': 'retryRoutes',
};

/** `{ url, slugs, served, close }`: `url(slug)` is the page of one gallery entry. */
export async function previewSite(server) {
  const index = await fetch(`${server.url}/preview`).catch(() => null);
  if (index?.ok && /text\/html/.test(index.headers.get('content-type') ?? '')) {
    const html = await index.text();
    const slugs = [...new Set([...html.matchAll(/href="\/preview\/([^"/]+)"/g)].map((m) => m[1]))];
    return { served: true, slugs, url: (slug) => `${server.url}/preview/${slug}`, close: async () => {} };
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'orc-e2e-preview-'));
  execFileSync(BINARY, ['preview', 'export', dir], { cwd: ROOT, stdio: 'pipe', env: { ...process.env, RUST_LOG: 'warn' } });
  const slugs = readdirSync(dir)
    .filter((f) => f.endsWith('.html') && f !== 'index.html')
    .map((f) => f.slice(0, -'.html'.length));
  const types = { '.html': 'text/html; charset=utf-8', '.css': 'text/css; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.svg': 'image/svg+xml' };
  const site = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url, 'http://x').pathname).replace(/^\/+/, '');
    const file = path.join(dir, rel);
    if (!file.startsWith(dir) || !existsSync(file)) return res.writeHead(404).end();
    const headers = { 'content-type': types[path.extname(file)] ?? 'application/octet-stream' };
    if (file.endsWith('.html')) Object.assign(headers, { 'content-security-policy': CSP, 'referrer-policy': 'no-referrer' });
    res.writeHead(200, headers).end(readFileSync(file));
  });
  await new Promise((r) => site.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${site.address().port}`;
  return {
    served: false,
    slugs,
    url: (slug) => `${base}/${slug}.html`,
    close: async () => {
      await new Promise((r) => { site.closeAllConnections?.(); site.close(r); });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `card-errors.pt-BR.branded` → { state, language, branding } */
export function parseSlug(slug) {
  const [state, ...rest] = slug.split('.');
  const branding = rest.pop();
  return { state, language: rest.join('.'), branding };
}
