// Starts the real server (target/debug/openrails-checkout serve) on 127.0.0.1 with a throwaway
// SQLite database, and talks to its merchant API.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');
export const BINARY =
  process.env.OPENRAILS_BIN || path.join(ROOT, 'target', 'debug', 'openrails-checkout');

/** A port nobody listens on right now, on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a truthy value; throws `message` after `timeout` ms. */
export async function waitFor(check, { timeout = 10_000, interval = 100, message = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${message}`);
    await sleep(interval);
  }
}

/**
 * Starts the server. `env` overrides the defaults below; `config` (optional) is the text of a
 * TOML settings file, written beside the database and named by `OPENRAILS_CONFIG`. Resolves
 * once `/readyz` answers 200, with `{ url, key, api(), apiAs(key), cli(...args), stop(),
 * logs(), stdout() }` (`stdout()`: what the server printed so far, e.g. its first-start setup
 * link).
 */
export async function startServer({ env = {}, config } = {}) {
  if (!existsSync(BINARY)) {
    throw new Error(`${BINARY} does not exist: run \`cargo build\` in ${ROOT} first`);
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'orc-e2e-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('OPENRAILS_') && k !== 'DATABASE_URL'),
  );
  const configEnv = {};
  if (config !== undefined) {
    configEnv.OPENRAILS_CONFIG = path.join(dir, 'config.toml');
    writeFileSync(configEnv.OPENRAILS_CONFIG, config);
  }
  const serverEnv = {
    ...inherited,
    OPENRAILS_BIND: `127.0.0.1:${port}`,
    DATABASE_URL: `sqlite://${dir}/e2e.db`,
    OPENRAILS_SANDBOX_DELAY_SECONDS: '2',
    OPENRAILS_RECONCILE_INTERVAL_SECONDS: '1',
    OPENRAILS_REDIRECT_WAIT_SECONDS: '3',
    RUST_LOG: 'warn',
    ...configEnv,
    ...env,
  };
  const child = spawn(BINARY, ['serve'], {
    cwd: ROOT,
    env: serverEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let exited = null;
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  child.on('exit', (code, signal) => { exited = { code, signal }; });
  const logs = () => `--- server stdout ---\n${stdout}\n--- server stderr ---\n${stderr}`;

  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const done = new Promise((r) => child.once('exit', r));
      const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await done;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const key = await waitFor(
      () => {
        if (exited) throw new Error(`the server exited (${JSON.stringify(exited)})\n${logs()}`);
        return stdout.match(/sk_test_[A-Za-z0-9]+/)?.[0];
      },
      { timeout: 30_000, message: 'the sk_test_ key on the server stdout' },
    );
    await waitFor(
      async () => {
        if (exited) throw new Error(`the server exited (${JSON.stringify(exited)})\n${logs()}`);
        try {
          return (await fetch(`${url}/readyz`)).status === 200;
        } catch {
          return false;
        }
      },
      { timeout: 30_000, message: `${url}/readyz` },
    );

    /** The merchant API with `apiKey`: JSON in and out; throws on a non-2xx answer. */
    const apiAs = (apiKey) => async (method, apiPath, body) => {
      const res = await fetch(`${url}${apiPath}`, {
        method,
        headers: {
          authorization: `Bearer ${apiKey}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`${method} ${apiPath} answered ${res.status}: ${text}`);
      return text ? JSON.parse(text) : null;
    };
    /** The merchant API with the sandbox key read at start. */
    const api = apiAs(key);

    /**
     * Runs the binary's command line (`keys create --environment production`, …) with the
     * server's own settings and database; resolves with its stdout, throws when it fails.
     */
    const cli = (...args) =>
      new Promise((resolve, reject) => {
        execFile(BINARY, args, { cwd: ROOT, env: serverEnv, timeout: 30_000 }, (err, out, errOut) => {
          if (err) reject(new Error(`${path.basename(BINARY)} ${args.join(' ')} failed: ${err.message}\n${errOut}`));
          else resolve(out);
        });
      });

    return { url, port, key, api, apiAs, cli, stop, logs, stdout: () => stdout };
  } catch (e) {
    await stop();
    throw e;
  }
}
