//! A small JSON-RPC client for an EVM chain: the five calls the `onchain` watcher needs, over
//! the product's own HTTP client (rustls with ring), each with a time-out. Errors say whether
//! waiting and asking again can help ([`RpcError::is_rate_limited`], [`RpcError::is_transient`]).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::domain::onchain::{ChainAddress, TokenUnits, Transfer, TransferState, transfer_topic};

/// What went wrong with a call.
#[derive(Debug)]
pub enum RpcError {
    /// The endpoint could not be reached, timed out, or answered 5xx.
    Unreachable(String),
    /// The endpoint asks us to slow down (HTTP 429, or a rate-limit error).
    RateLimited(String),
    /// The endpoint answered the call with an error.
    Refused {
        /// The JSON-RPC error code.
        code: i64,
        /// Its message.
        message: String,
    },
    /// The answer is not what the call returns.
    Malformed(String),
    /// The endpoint's answers contradict each other: a log that its transaction's receipt does
    /// not hold. Nothing of the step is counted; it is tried again.
    Inconsistent(String),
}

impl RpcError {
    /// Whether the endpoint asked us to slow down.
    pub fn is_rate_limited(&self) -> bool {
        matches!(self, RpcError::RateLimited(_))
    }

    /// Whether asking again later may succeed: the endpoint was unreachable or busy, or the
    /// range asked for is not there yet on the node that answered.
    pub fn is_transient(&self) -> bool {
        match self {
            RpcError::Unreachable(_) | RpcError::RateLimited(_) => true,
            RpcError::Refused { message, .. } => {
                let message = message.to_ascii_lowercase();
                message.contains("beyond current head") || message.contains("header not found")
            }
            // A node behind a load balancer may lag behind the one that gave the log.
            RpcError::Inconsistent(_) => true,
            RpcError::Malformed(_) => false,
        }
    }
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RpcError::Unreachable(e) => write!(f, "the RPC endpoint could not be reached: {e}"),
            RpcError::RateLimited(e) => write!(f, "the RPC endpoint is rate limiting: {e}"),
            RpcError::Refused { code, message } => {
                write!(f, "the RPC endpoint refused the call ({code}): {message}")
            }
            RpcError::Malformed(e) => write!(f, "the RPC endpoint answered something else: {e}"),
            RpcError::Inconsistent(e) => write!(
                f,
                "the RPC endpoint contradicts itself, nothing of it is counted: {e}"
            ),
        }
    }
}

impl std::error::Error for RpcError {}

/// An ERC-20 `Transfer` log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferLog {
    /// The transaction that made it.
    pub tx_hash: String,
    /// Its place among the block's logs.
    pub log_index: u64,
    /// The block it is in.
    pub block_number: u64,
    /// That block's hash.
    pub block_hash: String,
    /// Who sent the tokens.
    pub from: ChainAddress,
    /// Who received them.
    pub to: ChainAddress,
    /// How many units.
    pub value: TokenUnits,
}

impl TransferLog {
    /// The log as a transfer on `chain_id` of `token` to record, needing `confirmations`: one
    /// already that deep at `head` is confirmed at once. It pays and gives back nothing yet.
    pub fn recorded(
        &self,
        chain_id: u64,
        token: ChainAddress,
        confirmations: u64,
        head: u64,
    ) -> Transfer {
        let deep = (head + 1).saturating_sub(self.block_number) >= confirmations;
        Transfer {
            chain_id,
            tx_hash: self.tx_hash.clone(),
            log_index: self.log_index,
            token,
            from: self.from,
            to: self.to,
            units: self.value,
            block_number: self.block_number,
            block_hash: self.block_hash.clone(),
            payment_id: None,
            refund_id: None,
            state: if deep {
                TransferState::Confirmed
            } else {
                TransferState::Seen
            },
            confirmations,
        }
    }
}

/// Where a transaction was mined, from its receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The block it is in.
    pub block_number: u64,
    /// That block's hash.
    pub block_hash: String,
    /// Whether it succeeded (status 1).
    pub succeeded: bool,
    /// Its `Transfer` logs of the token asked about.
    pub transfers: Vec<TransferLog>,
}

/// A chain's JSON-RPC endpoint.
#[derive(Clone)]
pub struct RpcClient {
    url: String,
    http: reqwest::Client,
    /// Calls made, by every clone of this client.
    calls: Arc<AtomicU64>,
}

impl fmt::Debug for RpcClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry an API key: only its host is shown.
        let host = url::Url::parse(&self.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        f.debug_struct("RpcClient").field("host", &host).finish()
    }
}

#[derive(Deserialize)]
struct Answer {
    result: Option<Value>,
    error: Option<AnswerError>,
}

#[derive(Deserialize)]
struct AnswerError {
    code: i64,
    message: String,
}

impl RpcClient {
    /// A client of `url`, each call answered within `timeout`.
    pub fn new(url: &str, timeout: Duration) -> anyhow::Result<RpcClient> {
        crate::crypto::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| anyhow::anyhow!("building the RPC client: {e}"))?;
        Ok(RpcClient {
            url: url.to_owned(),
            http,
            calls: Arc::new(AtomicU64::new(0)),
        })
    }

    /// How many calls this client (and its clones) made.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    async fn call(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let response = self
            .http
            .post(&self.url)
            .json(&body)
            .send()
            .await
            .map_err(|e| RpcError::Unreachable(without_url(&e)))?;
        let status = response.status();
        if status.as_u16() == 429 {
            return Err(RpcError::RateLimited(format!("{method} answered 429")));
        }
        if status.is_server_error() {
            return Err(RpcError::Unreachable(format!("{method} answered {status}")));
        }
        let answer: Answer = response
            .json()
            .await
            .map_err(|e| RpcError::Malformed(format!("{method}: {}", without_url(&e))))?;
        if let Some(error) = answer.error {
            let lower = error.message.to_ascii_lowercase();
            if matches!(error.code, -32005 | -32029) || lower.contains("rate limit") {
                return Err(RpcError::RateLimited(error.message));
            }
            return Err(RpcError::Refused {
                code: error.code,
                message: error.message,
            });
        }
        Ok(answer.result.unwrap_or(Value::Null))
    }

    /// `eth_chainId`.
    pub async fn chain_id(&self) -> Result<u64, RpcError> {
        quantity(&self.call("eth_chainId", json!([])).await?, "eth_chainId")
    }

    /// `eth_blockNumber`: the head.
    pub async fn block_number(&self) -> Result<u64, RpcError> {
        quantity(
            &self.call("eth_blockNumber", json!([])).await?,
            "eth_blockNumber",
        )
    }

    /// The hash of block `number`, `None` when the node has no such block.
    pub async fn block_hash(&self, number: u64) -> Result<Option<String>, RpcError> {
        let block = self
            .call("eth_getBlockByNumber", json!([hex(number), false]))
            .await?;
        if block.is_null() {
            return Ok(None);
        }
        text(&block["hash"], "eth_getBlockByNumber").map(Some)
    }

    /// The `Transfer` logs of `token` to any of `to` in blocks `from..=to_block`.
    pub async fn transfers(
        &self,
        token: ChainAddress,
        to: &[ChainAddress],
        from: u64,
        to_block: u64,
    ) -> Result<Vec<TransferLog>, RpcError> {
        self.transfers_between(token, &[], to, from, to_block).await
    }

    /// The `Transfer` logs of `token` from any of `senders` (anyone when empty) to any of
    /// `to` in blocks `from..=to_block`.
    pub async fn transfers_between(
        &self,
        token: ChainAddress,
        senders: &[ChainAddress],
        to: &[ChainAddress],
        from: u64,
        to_block: u64,
    ) -> Result<Vec<TransferLog>, RpcError> {
        let recipients: Vec<String> = to.iter().map(|a| a.topic()).collect();
        let senders_topic = if senders.is_empty() {
            Value::Null
        } else {
            json!(senders.iter().map(|a| a.topic()).collect::<Vec<_>>())
        };
        let filter = json!({
            "address": token.lower(),
            "fromBlock": hex(from),
            "toBlock": hex(to_block),
            "topics": [transfer_topic(), senders_topic, recipients],
        });
        let logs = self.call("eth_getLogs", json!([filter])).await?;
        let logs = logs
            .as_array()
            .ok_or_else(|| RpcError::Malformed("eth_getLogs: not a list".into()))?;
        let mut found = Vec::with_capacity(logs.len());
        for log in logs {
            if log["removed"] == json!(true) {
                continue;
            }
            // The filter asked for these only: anything else is the endpoint's mistake.
            let Some(transfer) = token_transfer(log, token)? else {
                tracing::warn!(log = %log, "eth_getLogs answered a log of another contract or event; ignored");
                continue;
            };
            if !to.contains(&transfer.to)
                || !(senders.is_empty() || senders.contains(&transfer.from))
            {
                tracing::warn!(tx_hash = %transfer.tx_hash, from = %transfer.from, to = %transfer.to, "eth_getLogs answered a transfer between addresses not asked for; ignored");
                continue;
            }
            found.push(transfer);
        }
        Ok(found)
    }

    /// `eth_getTransactionReceipt`: where `tx_hash` was mined and its `Transfer` logs of
    /// `token`; `None` when it is not mined (any more).
    pub async fn receipt(
        &self,
        token: ChainAddress,
        tx_hash: &str,
    ) -> Result<Option<Receipt>, RpcError> {
        let receipt = self
            .call("eth_getTransactionReceipt", json!([tx_hash]))
            .await?;
        if receipt.is_null() {
            return Ok(None);
        }
        let mut transfers = Vec::new();
        for log in receipt["logs"].as_array().into_iter().flatten() {
            transfers.extend(token_transfer(log, token)?);
        }
        Ok(Some(Receipt {
            block_number: quantity(&receipt["blockNumber"], "eth_getTransactionReceipt")?,
            block_hash: text(&receipt["blockHash"], "eth_getTransactionReceipt")?,
            succeeded: receipt["status"].as_str() == Some("0x1"),
            transfers,
        }))
    }

    /// Checks `log` against its transaction's receipt: mined in the log's block, succeeded, and
    /// holding this very log. A log that fails this is not counted
    /// ([`RpcError::Inconsistent`]).
    pub async fn confirm(&self, token: ChainAddress, log: &TransferLog) -> Result<(), RpcError> {
        let inconsistent = |why: &str| {
            Err(RpcError::Inconsistent(format!(
                "eth_getLogs gave a transfer in {} (log {}, block {}) but {why}",
                log.tx_hash, log.log_index, log.block_number
            )))
        };
        let Some(receipt) = self.receipt(token, &log.tx_hash).await? else {
            return inconsistent("its receipt does not exist");
        };
        if receipt.block_hash != log.block_hash || receipt.block_number != log.block_number {
            return inconsistent("its receipt is in another block");
        }
        if !receipt.succeeded {
            return inconsistent("its transaction failed");
        }
        if !receipt.transfers.contains(log) {
            return inconsistent("its receipt does not hold that log");
        }
        Ok(())
    }

    /// The token's `decimals()`.
    pub async fn decimals(&self, token: ChainAddress) -> Result<u64, RpcError> {
        let call = json!({"to": token.lower(), "data": "0x313ce567"});
        let answer = self.call("eth_call", json!([call, "latest"])).await?;
        let digits = text(&answer, "eth_call decimals()")?;
        TokenUnits::from_hex(&digits)
            .and_then(|units| units.to_string().parse::<u64>().ok())
            .ok_or_else(|| RpcError::Malformed(format!("decimals() answered {digits}")))
    }
}

/// A reqwest error without the request's URL (which may carry an API key).
fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "the endpoint");
    }
    if e.is_timeout() {
        text = format!("timed out: {text}");
    }
    text
}

fn hex(n: u64) -> String {
    format!("0x{n:x}")
}

fn text(value: &Value, call: &str) -> Result<String, RpcError> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| RpcError::Malformed(format!("{call}: expected a string, got {value}")))
}

fn quantity(value: &Value, call: &str) -> Result<u64, RpcError> {
    let digits = text(value, call)?;
    u64::from_str_radix(digits.trim_start_matches("0x"), 16)
        .map_err(|_| RpcError::Malformed(format!("{call}: {digits:?} is not a quantity")))
}

/// The `Transfer` log of `token` in `log`, `None` when it is a log of another contract or
/// event.
fn token_transfer(log: &Value, token: ChainAddress) -> Result<Option<TransferLog>, RpcError> {
    let malformed = |what: &str| RpcError::Malformed(format!("a log without {what}"));
    let topics = log["topics"]
        .as_array()
        .ok_or_else(|| malformed("topics"))?;
    let contract = log["address"]
        .as_str()
        .and_then(|a| ChainAddress::parse(a).ok());
    let event = topics
        .first()
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase);
    if contract != Some(token) || event.as_deref() != Some(transfer_topic().as_str()) {
        return Ok(None);
    }
    let topic = |i: usize| {
        topics
            .get(i)
            .and_then(Value::as_str)
            .and_then(ChainAddress::from_topic)
            .ok_or_else(|| malformed("a from and a to address"))
    };
    Ok(Some(TransferLog {
        tx_hash: text(&log["transactionHash"], "a log")?,
        log_index: quantity(&log["logIndex"], "a log")?,
        block_number: quantity(&log["blockNumber"], "a log")?,
        block_hash: text(&log["blockHash"], "a log")?,
        from: topic(1)?,
        to: topic(2)?,
        value: log["data"]
            .as_str()
            .and_then(TokenUnits::from_hex)
            .ok_or_else(|| malformed("a value"))?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::onchain::USDC_BASE;

    fn log(contract: &str, event: &str) -> Value {
        let buyer = ChainAddress::parse("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC").unwrap();
        let merchant = ChainAddress::parse("0x70997970C51812dc3A010C7d01b50e0d17dc79C8").unwrap();
        json!({
            "address": contract,
            "topics": [event, buyer.topic(), merchant.topic()],
            "data": format!("0x{:064x}", 116_000_123u64),
            "blockNumber": "0x2", "blockHash": format!("0x{}", "cd".repeat(32)),
            "transactionHash": format!("0x{}", "ab".repeat(32)), "logIndex": "0x1",
        })
    }

    #[test]
    fn only_the_tokens_transfer_logs_are_read() {
        let usdc = ChainAddress::parse(USDC_BASE).unwrap();
        let read = token_transfer(&log(&USDC_BASE.to_lowercase(), &transfer_topic()), usdc)
            .unwrap()
            .expect("a transfer");
        assert_eq!(read.value, TokenUnits::new(116_000_123));
        assert_eq!((read.block_number, read.log_index), (2, 1));
        let other = "0x1111111111111111111111111111111111111111";
        assert_eq!(
            token_transfer(&log(other, &transfer_topic()), usdc).unwrap(),
            None
        );
        let approval = "0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925";
        assert_eq!(
            token_transfer(&log(USDC_BASE, approval), usdc).unwrap(),
            None
        );
        let mut broken = log(USDC_BASE, &transfer_topic());
        broken["data"] = json!("0xzz");
        assert!(token_transfer(&broken, usdc).is_err());
    }
}
