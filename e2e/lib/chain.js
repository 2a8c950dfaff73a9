// A real local EVM chain for the onchain wallet route: anvil (from the npm package pinned in
// tools/chain, installed with `npm ci` when it is missing) on 127.0.0.1, with the test token's
// runtime placed at USDC's address on Base, and a browser wallet (EIP-1193 `window.ethereum`)
// injected into a page, whose transactions the test forwards to that chain.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, waitFor } from './server.js';

export const CHAIN_TOOLS = path.join(ROOT, 'tools', 'chain');
export const ANVIL =
  process.env.ANVIL_BIN || path.join(CHAIN_TOOLS, 'node_modules', '@foundry-rs', 'anvil-linux-amd64', 'bin', 'anvil');

/** Base mainnet, which production onchain routes require. */
export const BASE_CHAIN_ID = 8453;
/** Native USDC on Base: the address the product pays to by default. */
export const USDC = '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913';
/** anvil's funded, unlocked dev accounts (its default mnemonic): anvil signs for them. */
export const MERCHANT = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
export const BUYER = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC';

/** A 32-byte ABI word of an address or a non-negative integer (BigInt or hex digits). */
export const word = (v) => (typeof v === 'bigint' ? v.toString(16) : v.replace(/^0x/, '').toLowerCase()).padStart(64, '0');

/** USDC's 6-decimal units as the page writes them: 116000123n → "116.000123". */
export const usdc = (units) => `${units / 1_000_000n}.${String(units % 1_000_000n).padStart(6, '0')}`;

/** Splits ERC-20 `transfer(address,uint256)` calldata into `{ to, units }`, or throws. */
export function decodeTransfer(data) {
  const m = /^0xa9059cbb([0-9a-f]{64})([0-9a-f]{64})$/i.exec(data ?? '');
  if (!m) throw new Error(`not transfer(address,uint256) calldata: ${data}`);
  if (!/^0{24}/.test(m[1])) throw new Error(`the address word has bits above 160: ${m[1]}`);
  return { to: `0x${m[1].slice(24).toLowerCase()}`, units: BigInt(`0x${m[2]}`) };
}

/**
 * Starts anvil with `chainId`, places the test token at USDC's address and resolves with
 * `{ url, rpc(method, params), send(tx), mint(to, units), balanceOf(address), mine(n), stop(),
 * logs() }`. Every request goes to 127.0.0.1.
 */
export async function startChain({ chainId = BASE_CHAIN_ID } = {}) {
  if (!existsSync(ANVIL)) {
    execFileSync('npm', ['ci', '--prefix', CHAIN_TOOLS, '--no-audit', '--no-fund'], { stdio: 'inherit' });
  }
  if (!existsSync(ANVIL)) throw new Error(`no anvil at ${ANVIL} after npm ci in ${CHAIN_TOOLS}`);
  const child = spawn(ANVIL, ['--host', '127.0.0.1', '--port', '0', '--chain-id', String(chainId)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let exited = null;
  // Keeps draining anvil's log (it would block on a full pipe), the last 64 KB kept for failures.
  const keep = (d) => { out = (out + d).slice(-65_536); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.on('exit', (code, signal) => { exited = { code, signal }; });
  const stop = async () => {
    if (exited) return;
    const done = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await done;
    clearTimeout(t);
  };
  try {
    const address = await waitFor(
      () => {
        if (exited) throw new Error(`anvil exited (${JSON.stringify(exited)})\n${out}`);
        return /Listening on (127\.0\.0\.1:\d+)/.exec(out)?.[1];
      },
      { timeout: 30_000, message: 'anvil to say where it listens' },
    );
    const url = `http://${address}`;
    let id = 0;
    /** A JSON-RPC call that must succeed; its result. */
    const rpc = async (method, params = []) => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }),
      });
      const answer = await res.json();
      if (answer.error) throw new Error(`${method} failed: ${JSON.stringify(answer.error)}`);
      return answer.result;
    };
    const { runtime } = JSON.parse(readFileSync(path.join(CHAIN_TOOLS, 'TestUSDC.json'), 'utf8'));
    await rpc('anvil_setCode', [USDC, runtime.startsWith('0x') ? runtime : `0x${runtime}`]);
    const chain = {
      url,
      chainId,
      rpc,
      /**
       * A transaction anvil signs (from one of its dev accounts); resolves with its hash once
       * it is mined (anvil may answer with the hash just before the block is there).
       */
      send: async (tx) => {
        const hash = await rpc('eth_sendTransaction', [tx]);
        await chain.mined(hash);
        return hash;
      },
      /** Waits for the receipt of `hash`; throws when the transaction reverted. */
      mined: async (hash, timeout = 10_000) => {
        const receipt = await waitFor(() => rpc('eth_getTransactionReceipt', [hash]), {
          timeout,
          message: `the receipt of ${hash}`,
        });
        if (receipt.status !== '0x1') throw new Error(`${hash} reverted: ${JSON.stringify(receipt)}`);
        return receipt;
      },
      /** Mints `units` (BigInt) of the token to `to`. */
      mint: (to, units) => chain.send({ from: MERCHANT, to: USDC, data: `0x40c10f19${word(to)}${word(units)}` }),
      /** The token balance of `address`, in units (BigInt). */
      balanceOf: async (address) =>
        BigInt(await rpc('eth_call', [{ to: USDC, data: `0x70a08231${word(address)}` }, 'latest'])),
      blockNumber: async () => Number(BigInt(await rpc('eth_blockNumber'))),
      /** Mines `n` empty blocks. */
      mine: (n = 1) => rpc('anvil_mine', [`0x${n.toString(16)}`]),
      stop,
      logs: () => out,
    };
    return chain;
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * Gives `page` a browser wallet: an EIP-1193 `window.ethereum` (injected with addInitScript,
 * which the pages' CSP does not stop) holding `account` on chain `chainIdHex`. It records every
 * call in `window.__walletCalls` and, on the test's side, in the returned `calls` (they survive
 * the page's reloads); `eth_sendTransaction` goes to `chain` through an exposed function (the
 * page's CSP would refuse a fetch to another port). `sent` holds the hashes returned.
 */
export async function injectWallet(page, chain, { account = BUYER, chainIdHex = `0x${BASE_CHAIN_ID.toString(16)}` } = {}) {
  const calls = [];
  const sent = [];
  await page.exposeFunction('__walletCalled', (call) => { calls.push(call); });
  await page.exposeFunction('__forwardToChain', async (method, params) => {
    if (method !== 'eth_sendTransaction') throw new Error(`the test wallet does not forward ${method}`);
    const hash = await chain.rpc(method, params);
    sent.push({ params, hash });
    return hash;
  });
  await page.addInitScript(
    ({ account, chainIdHex }) => {
      window.__walletCalls = [];
      const refuse = (code, message) => Promise.reject(Object.assign(new Error(message), { code }));
      window.ethereum = {
        isTestWallet: true,
        request({ method, params } = {}) {
          const call = { method, params: params ?? null };
          window.__walletCalls.push(call);
          window.__walletCalled(call);
          switch (method) {
            case 'eth_requestAccounts':
            case 'eth_accounts':
              return Promise.resolve([account]);
            case 'eth_chainId':
              return Promise.resolve(chainIdHex);
            case 'wallet_switchEthereumChain':
              return params?.[0]?.chainId === chainIdHex ? Promise.resolve(null) : refuse(4902, 'unknown chain');
            case 'eth_sendTransaction':
              if (String(params?.[0]?.from).toLowerCase() !== account.toLowerCase()) return refuse(4100, 'not this account');
              return window.__forwardToChain(method, params);
            default:
              return refuse(4200, `unsupported method ${method}`);
          }
        },
        on() {},
        removeListener() {},
      };
    },
    { account, chainIdHex },
  );
  return { calls, sent };
}
