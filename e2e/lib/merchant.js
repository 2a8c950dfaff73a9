// The merchant's side, served by the test on 127.0.0.1: the page the buyer is sent back to
// (`/return`) and the webhook endpoint (`/webhooks`), which checks every signature.
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { sleep, waitFor } from './server.js';

export const EVENTS = ['payment.provider_pending', 'payment.paid', 'payment.failed', 'payment.expired'];

/** Checks `x-gateway-signature: t=<s>,v1=<hex>[,v1=…]` over `<t>.<raw body>`. */
export function verifySignature(secret, header, raw, nowSeconds = Math.floor(Date.now() / 1000)) {
  if (!secret || !header) return false;
  const parts = header.split(',').map((p) => p.trim().split('='));
  const t = Number(parts.find(([k]) => k === 't')?.[1]);
  if (!Number.isFinite(t) || Math.abs(nowSeconds - t) > 300) return false;
  const expected = createHmac('sha256', secret).update(`${t}.`).update(raw).digest();
  return parts
    .filter(([k]) => k === 'v1')
    .some(([, v]) => {
      const got = Buffer.from(v ?? '', 'hex');
      return got.length === expected.length && timingSafeEqual(got, expected);
    });
}

export async function startMerchant() {
  const state = {
    secret: null,
    /** Verified webhook deliveries: { eventId, type, sessionId, body, at } */
    events: [],
    /** Deliveries whose signature did not verify. */
    rejected: [],
    /** Visits of the return page: { url, query, at } */
    returns: [],
    /** session id → ms to wait before acknowledging its `payment.paid`. */
    holdPaid: new Map(),
  };
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (req.method === 'POST' && url.pathname === '/webhooks') {
      const chunks = [];
      for await (const c of req) chunks.push(c);
      const raw = Buffer.concat(chunks);
      const header = req.headers['x-gateway-signature'];
      if (!verifySignature(state.secret, header, raw)) {
        state.rejected.push({ header, body: raw.toString() });
        res.writeHead(400).end('bad signature');
        return;
      }
      const body = JSON.parse(raw.toString());
      const event = {
        eventId: req.headers['x-gateway-event'] ?? body.id,
        type: body.type,
        sessionId: body.data?.session_id,
        body,
        at: Date.now(),
      };
      const hold = event.type === 'payment.paid' ? state.holdPaid.get(event.sessionId) : 0;
      if (hold) await sleep(hold);
      state.events.push(event);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      return;
    }
    if (req.method === 'GET' && url.pathname === '/return') {
      state.returns.push({ url: url.href, query: Object.fromEntries(url.searchParams), at: Date.now() });
      const esc = (s) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(
        `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Merchant</title></head>` +
          `<body><main><h1>Back at the merchant</h1><p id="status">${esc(url.searchParams.get('status') ?? '')}</p></main></body></html>`,
      );
      return;
    }
    res.writeHead(404).end('not found');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}`;

  return {
    url,
    state,
    /** Registers this merchant's webhook endpoint with the checkout server. */
    async register(checkout) {
      const ep = await checkout.api('POST', '/api/gateway/webhook-endpoints', {
        url: `${url}/webhooks`,
        events: EVENTS,
      });
      state.secret = ep.secret;
      return ep;
    },
    /** Verified events of one session, one per event id, in arrival order. */
    eventsFor(sessionId) {
      const seen = new Set();
      return state.events.filter((e) => e.sessionId === sessionId && !seen.has(e.eventId) && seen.add(e.eventId));
    },
    typesFor(sessionId) {
      return this.eventsFor(sessionId).map((e) => e.type);
    },
    async waitForEvent(sessionId, type, timeout = 10_000) {
      return waitFor(() => this.eventsFor(sessionId).find((e) => e.type === type), {
        timeout,
        message: `webhook ${type} for ${sessionId} (got: ${this.typesFor(sessionId).join(', ') || 'none'})`,
      });
    },
    returnsFor(sessionId) {
      return state.returns.filter((r) => r.query.checkout_session_id === sessionId);
    },
    close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }),
  };
}
