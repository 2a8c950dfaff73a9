//! A real local EVM chain for the onchain integration's tests: anvil (from the npm package
//! pinned in `tools/chain`, installed with `npm ci` when it is missing), on 127.0.0.1 and a port
//! of its own, with the test token's runtime placed at USDC's address on Base so the product
//! runs with its real configuration. Payments are real transactions signed by anvil's funded
//! accounts; blocks are mined on demand, reorganisations made with `anvil_reorg`.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use openrails_checkout::domain::onchain::USDC_BASE;
use serde_json::{Value, json};

/// The accounts anvil funds (from its default mnemonic).
pub const MERCHANT: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
pub const BUYER: &str = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
pub const OTHER_BUYER: &str = "0x90F79bf6EB2c4f870365E785982E1f101E93b906";
/// The first of them, which pays nothing in the tests: a merchant's derived address 0.
pub const ACCOUNT_0: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

/// The extended public key of the account `m/44'/60'/0'` of anvil's mnemonic ("test test …
/// junk"), as a wallet exports it: its receiving addresses `/0/i` are anvil's accounts, whose
/// keys anvil holds, so a test can spend what a derived address received.
pub const ACCOUNT_XPUB: &str = "xpub6Ce9NcJvTk36xtLSrJLZqE7wtgA5deCeYs7rSQtreh4cj6ByPtrg9sD7V2FNFLPnf8heNP3FGkeV9qwfzvZNSd54JoNXVsXFYSYwHsnJxqP";

fn tools() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tools/chain")
}

/// The anvil binary: `ANVIL_BIN`, or the one `npm ci` puts in `tools/chain` (installed now if
/// it is missing; once per test run).
fn anvil_binary() -> PathBuf {
    if let Ok(path) = std::env::var("ANVIL_BIN") {
        return PathBuf::from(path);
    }
    static INSTALL: Mutex<()> = Mutex::new(());
    let binary = tools().join("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if !binary.exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(tools())
            .status()
            .expect("running npm ci in tools/chain (is Node.js installed?)");
        assert!(status.success(), "npm ci in tools/chain failed");
    }
    assert!(binary.exists(), "no anvil at {}", binary.display());
    binary
}

/// The test token's runtime code, compiled from `tools/chain/TestUSDC.sol`.
fn token_runtime() -> String {
    let text = std::fs::read_to_string(tools().join("TestUSDC.json")).unwrap();
    let compiled: Value = serde_json::from_str(&text).unwrap();
    compiled["runtime"].as_str().unwrap().to_owned()
}

/// A local chain; stopped when dropped.
pub struct Chain {
    child: Child,
    /// `http://127.0.0.1:<port>`
    pub url: String,
    pub chain_id: u64,
    client: reqwest::Client,
}

impl Drop for Chain {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A 32-byte ABI word of an address or a number (hex digits without `0x`).
fn word(hex: &str) -> String {
    format!("{:0>64}", hex.trim_start_matches("0x").to_lowercase())
}

impl Chain {
    /// A fresh chain with id `chain_id` (blocks mined when a transaction comes, or on demand),
    /// the test token at USDC's address.
    pub async fn start(chain_id: u64) -> Chain {
        let mut child = Command::new(anvil_binary())
            .args(["--host", "127.0.0.1", "--port", "0", "--chain-id"])
            .arg(chain_id.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting anvil");
        let stdout = child.stdout.take().unwrap();
        let (found, port) = std::sync::mpsc::channel();
        // Reads the port, then keeps draining anvil's log so it never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut found = Some(found);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(address) = line.strip_prefix("Listening on ")
                    && let Some(found) = found.take()
                {
                    let _ = found.send(address.trim().to_owned());
                }
            }
        });
        let address = port
            .recv_timeout(Duration::from_secs(30))
            .expect("anvil did not say where it listens");
        openrails_checkout::crypto::install_crypto_provider();
        let chain = Chain {
            child,
            url: format!("http://{address}"),
            chain_id,
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
        };
        chain
            .rpc("anvil_setCode", json!([USDC_BASE, token_runtime()]))
            .await;
        chain
    }

    /// A JSON-RPC call that must succeed; its result.
    pub async fn rpc(&self, method: &str, params: Value) -> Value {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let answer: Value = self
            .client
            .post(&self.url)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(answer.get("error").is_none(), "{method} failed: {answer}");
        answer["result"].clone()
    }

    /// A transaction from `from` (one of anvil's funded, unlocked accounts, so anvil signs it)
    /// to `to` with `data`; its hash, once it is mined and succeeded. (Anvil answers
    /// `eth_sendTransaction` when the transaction is in its pool and mines it a moment later: on
    /// a busy machine the receipt is not there yet when the answer comes.)
    async fn send(&self, from: &str, to: &str, data: String) -> String {
        let tx = self
            .rpc(
                "eth_sendTransaction",
                json!([{"from": from, "to": to, "data": data}]),
            )
            .await;
        let tx = tx.as_str().unwrap().to_owned();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let receipt = self.rpc("eth_getTransactionReceipt", json!([tx])).await;
            if !receipt.is_null() {
                assert_eq!(
                    receipt["status"], "0x1",
                    "the transaction reverted: {receipt}"
                );
                return tx;
            }
            assert!(Instant::now() < deadline, "{tx} was never mined");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Mints `units` of the token to `to` (mined in a block of its own).
    pub async fn mint(&self, to: &str, units: u64) {
        self.mint_of(USDC_BASE, to, units).await;
    }

    /// `from` transfers `units` of the token to `to`; the transaction's hash. Mined at once.
    pub async fn transfer(&self, from: &str, to: &str, units: u64) -> String {
        self.transfer_of(USDC_BASE, from, to, units).await
    }

    /// Places another token (the same code) at `token`.
    pub async fn place_token(&self, token: &str) {
        self.rpc("anvil_setCode", json!([token, token_runtime()]))
            .await;
    }

    /// Mints `units` of `token` to `to`.
    pub async fn mint_of(&self, token: &str, to: &str, units: u64) {
        let data = format!("0x40c10f19{}{}", word(to), word(&format!("{units:x}")));
        self.send(MERCHANT, token, data).await;
    }

    /// `from` transfers `units` of `token` to `to`; the transaction's hash.
    pub async fn transfer_of(&self, token: &str, from: &str, to: &str, units: u64) -> String {
        let data = format!("0xa9059cbb{}{}", word(to), word(&format!("{units:x}")));
        self.send(from, token, data).await
    }

    /// The token balance of `owner`.
    pub async fn balance(&self, owner: &str) -> u64 {
        let data = format!("0x70a08231{}", word(owner));
        let answer = self
            .rpc(
                "eth_call",
                json!([{"to": USDC_BASE, "data": data}, "latest"]),
            )
            .await;
        u64::from_str_radix(answer.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
    }

    /// Mines `n` empty blocks.
    pub async fn mine(&self, n: u64) {
        self.rpc("anvil_mine", json!([format!("0x{n:x}")])).await;
    }

    /// The block `tx` is in, `None` when it is in none (any more).
    pub async fn block_of(&self, tx: &str) -> Option<u64> {
        let receipt = self.rpc("eth_getTransactionReceipt", json!([tx])).await;
        receipt["blockNumber"]
            .as_str()
            .map(|n| u64::from_str_radix(n.trim_start_matches("0x"), 16).unwrap())
    }

    /// Replaces the last `depth` blocks with as many empty ones: every transaction in them
    /// leaves the chain.
    pub async fn reorg(&self, depth: u64) {
        self.rpc("anvil_reorg", json!([depth, []])).await;
    }

    /// Waits until `check` holds, asking every 50 ms, for at most `within`.
    pub async fn until<F, Fut>(within: Duration, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + within;
        while !check().await {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
