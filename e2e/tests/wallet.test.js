// The real-money wallet route in a real browser: a production session paid in USDC on a local
// chain (anvil, chain id 8453 like Base), through the page's browser-wallet button. The browser
// wallet is an EIP-1193 `window.ethereum` injected into the page; its transaction is signed by
// anvil and mined for real, and the server finds it on the chain by itself. Without a browser
// wallet the button stays hidden and the page is the same as without JavaScript.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { open, waitForState } from '../lib/checkout.js';
import { BUYER, MERCHANT, USDC, decodeTransfer, injectWallet, startChain, usdc } from '../lib/chain.js';
import { buyer, useHarness } from '../lib/harness.js';

const chain = {};
after(async () => {
  await chain.stop?.();
});

// One production route, the onchain one, on the local chain (started first, in the harness's
// hook); two confirmations so that the page shows the transfer on the chain before it is paid.
const h = useHarness('wallet', {
  serverConfig: async () => {
    Object.assign(chain, await startChain());
    return `
[[routes]]
id = "wallet-usdc-live"
kind = "wallet"
label = "USDC wallet"
provider = "USDC on Base"
integration = "onchain"
environments = ["production"]
buyer_fee_rate = 0.0
gateway_fee_rate = 0.0
eta = "about 1 minute"
onchain = { rpc_url = "${chain.url}", chain_id = 8453, settlement_address = "${MERCHANT}", confirmations = 2, poll_interval_ms = 200 }
`;
  },
});

let live = null;
/** The merchant API with a production key, created once through the CLI. */
async function liveApi() {
  if (!live) {
    const out = await h.server.cli('keys', 'create', '--environment', 'production', '--label', 'e2e');
    const key = /sk_live_[A-Za-z0-9_]+/.exec(out)?.[0];
    assert.ok(key, `the CLI printed a live key: ${out}`);
    live = h.server.apiAs(key);
  }
  return live;
}

/** A production session of $116, opened at its wallet page. */
async function openWalletPage(page) {
  const api = await liveApi();
  const session = await api('POST', '/api/gateway/sessions', {
    product: 'Creator plan',
    amount: 116,
    customer: 'buyer@example.com',
    preferredRoute: 'wallet',
  });
  assert.equal(session.livemode, true);
  await open(page, session);
  if ((await page.locator('input[name="route"]').count()) > 0) {
    await page.check('input[name="route"][value="wallet-usdc-live"]');
    await page.click('form:has(input[name="route"]) button[type="submit"]');
  }
  await waitForState(page, 'onchain');
  return { api, session };
}

test('a browser wallet sends exactly the transfer shown, and the page follows it to paid', async (t) => {
  const { page, context, visit } = await buyer(h, t, 'desktop');
  const wallet = await injectWallet(page, chain);
  const { api, session } = await openWalletPage(page);
  await waitForState(page, 'onchainWallet');
  await visit('onchainWallet');

  const shown = (await page.textContent('#amount-value')).replace(/ USDC$/, '');
  assert.equal(await page.textContent('#address-value'), MERCHANT, 'the address with its checksum');
  const units = BigInt(await page.getAttribute('#wallet-send', 'data-units'));
  assert.equal(usdc(units), shown, 'the button asks for the amount the page shows');
  assert.match(shown, /^116\.\d{6}$/);
  assert.notEqual(shown, '116.000000', 'a unique amount, tagged below the cent');

  await chain.mint(BUYER, 500_000_000n);
  await page.click('#wallet-send');
  const sent = await waitForSent(wallet);
  const [tx] = sent.params;
  assert.equal(tx.from.toLowerCase(), BUYER.toLowerCase());
  assert.equal(tx.to.toLowerCase(), USDC.toLowerCase(), 'a call to the token contract');
  assert.deepEqual(decodeTransfer(tx.data), { to: MERCHANT.toLowerCase(), units });
  const methods = wallet.calls.map((c) => c.method);
  assert.deepEqual(methods, ['eth_requestAccounts', 'eth_chainId', 'eth_sendTransaction'], 'already on Base: no switch');
  await chain.mined(sent.hash);

  // The page reloads itself once the scanner saw the transfer: no QR code or button any more.
  await waitForState(page, 'onchainSeen', 20_000);
  assert.match(await page.textContent('#live-status'), /^Transfer seen in block \d+: 1 of 2 confirmations\.$/);
  await visit('onchainSeen');

  await chain.mine(1);
  await waitForState(page, 'paid', 20_000);
  await visit('paid');
  assert.ok((await page.content()).includes(sent.hash), 'the result names the transaction');
  const payment = await api('GET', `/api/gateway/payments/${session.id}`);
  assert.equal(payment.status, 'paid');
  assert.equal(payment.txHash, sent.hash);
  assert.equal(await chain.balanceOf(MERCHANT), units, 'the money is at the merchant');
  assert.equal(wallet.sent.length, 1, 'one transaction');
  assert.deepEqual(context.cspViolations, [], 'the browser reported no CSP violation or page error');
});

test('a wallet that refuses leaves the button to try again and the payment waiting', async (t) => {
  const { page, context } = await buyer(h, t, 'phone');
  const wallet = await injectWallet(page, chain);
  await page.addInitScript(() => {
    // The buyer rejects the request in their wallet (EIP-1193 error 4001).
    const request = window.ethereum.request;
    window.ethereum.request = (args) => {
      if (args.method !== 'eth_sendTransaction') return request(args);
      window.__walletCalled({ method: args.method, params: args.params ?? null });
      return Promise.reject(Object.assign(new Error('User rejected the request.'), { code: 4001 }));
    };
  });
  await openWalletPage(page);
  await waitForState(page, 'onchainWallet');
  await page.click('#wallet-send');
  await page.waitForFunction(() => document.getElementById('live-status').textContent.includes('did not send'));
  assert.equal(await page.isEnabled('#wallet-send'), true, 'the buyer can try again');
  assert.ok(wallet.calls.some((c) => c.method === 'eth_sendTransaction'));
  assert.equal(wallet.sent.length, 0);
  assert.deepEqual(context.cspViolations, []);
});

test('without a browser wallet the button stays hidden and the wallet link is there', async (t) => {
  const { page, context, visit } = await buyer(h, t, 'phone');
  await openWalletPage(page);
  assert.equal(await page.isVisible('#wallet-send'), false);
  const href = await page.getAttribute('a.button[href^="ethereum:"]', 'href');
  assert.match(href, new RegExp(`^ethereum:${USDC}@8453/transfer\\?address=${MERCHANT}&uint256=116\\d{6}$`));
  assert.equal(await page.locator('.qr svg').count(), 1, 'a QR code');
  await visit('onchain');
  assert.deepEqual(context.cspViolations, []);
});

/** The wallet's one forwarded transaction, once the page sent it. */
async function waitForSent(wallet, timeout = 10_000) {
  const deadline = Date.now() + timeout;
  while (wallet.sent.length === 0) {
    if (Date.now() > deadline) throw new Error(`the page sent no transaction: ${JSON.stringify(wallet.calls)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return wallet.sent[0];
}
