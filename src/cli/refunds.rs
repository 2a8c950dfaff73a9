//! `openrails-checkout refunds create|confirm|list`: the refund API from the command line, on the
//! server's database and with its providers (a running server delivers the events).

use anyhow::{Context, bail};
use clap::Subcommand;

use super::{parse_environment, resolve_merchant};
use crate::config::Settings;
use crate::db::Db;
use crate::db::onchain::refund_transfers;
use crate::db::refunds::{RefundFilter, RefundRow, list_refunds};
use crate::domain::money::format_plain;
use crate::domain::onchain::{RefundTransfer, network_name};
use crate::domain::refund::RefundReason;
use crate::domain::time::iso_seconds;
use crate::domain::{Amount, Environment, Metadata};
use crate::lifecycle::onchain_refunds::{Confirming, confirm_refund_transfer};
use crate::lifecycle::refunds::{RefundAsk, Refunding, create_refund};
use crate::state::{AppState, SharedSecrets};

#[derive(Subcommand)]
pub enum RefundsAction {
    /// Refund a paid payment (pay_…): all that is left, or --amount.
    Create {
        payment: String,
        /// US dollars, e.g. 10.50 (default: all that is left).
        #[arg(long)]
        amount: Option<String>,
        /// requested_by_customer, duplicate, fraudulent or other.
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        note: Option<String>,
        /// A retry with the same key and request makes no second refund.
        #[arg(long)]
        idempotency_key: Option<String>,
        #[arg(long, default_value_t = Environment::Sandbox, value_parser = parse_environment)]
        environment: Environment,
        /// The merchant (default: the first one).
        #[arg(long)]
        merchant: Option<String>,
    },
    /// Confirm a refund on chain (action_required) with the transaction that sent it; the
    /// transaction is checked on chain.
    Confirm {
        refund: String,
        /// The transaction's hash, 0x and 64 hex digits.
        #[arg(long)]
        tx: String,
        #[arg(long, default_value_t = Environment::Sandbox, value_parser = parse_environment)]
        environment: Environment,
        #[arg(long)]
        merchant: Option<String>,
    },
    /// List refunds, newest first.
    List {
        /// Only this payment's.
        #[arg(long)]
        payment: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: i64,
        #[arg(long, default_value_t = Environment::Sandbox, value_parser = parse_environment)]
        environment: Environment,
        #[arg(long)]
        merchant: Option<String>,
    },
}

pub async fn run(settings: Settings, action: RefundsAction) -> anyhow::Result<()> {
    let db = Db::connect(&settings.database_url, 2).await?;
    db.migrate().await?;
    match action {
        RefundsAction::Create {
            payment,
            amount,
            reason,
            note,
            idempotency_key,
            environment,
            merchant,
        } => {
            let merchant = resolve_merchant(&db, &settings, merchant).await?;
            let amount_cents = match amount {
                None => None,
                Some(text) => Some(
                    Amount::parse_json(&text, settings.max_amount_cents())
                        .map_err(|e| anyhow::anyhow!("--amount {e}"))?
                        .cents(),
                ),
            };
            let reason = match reason {
                None => None,
                Some(word) => Some(RefundReason::parse(&word).with_context(
                    || "--reason must be requested_by_customer, duplicate, fraudulent or other",
                )?),
            };
            let ask = RefundAsk::new(
                amount_cents,
                reason,
                note,
                idempotency_key,
                Metadata::default(),
            );
            settings.validate()?;
            let secrets = SharedSecrets::load(&db).await?;
            let public_url = settings.public_url_for(&settings.bind);
            let state = AppState::new(settings, db, secrets, public_url)?;
            let refunding =
                create_refund(state.lifecycle(), &merchant, environment, &payment, ask).await?;
            match refunding {
                Refunding::Created(row) | Refunding::Replayed(row) => {
                    println!("{}", line(&row));
                    if let Some(transfer) =
                        refund_transfers(&state.db.read, &[&row.id]).await?.pop()
                    {
                        print!("{}", instructions(&transfer));
                    }
                }
                Refunding::KeyReused { key, refund } => {
                    bail!("--idempotency-key {key:?} was used for another request ({refund})")
                }
                Refunding::NoPayment => bail!("no payment {payment} in {environment}"),
                Refunding::NotPaid(status) => {
                    bail!("only paid payments can be refunded; {payment} is {status}")
                }
                Refunding::NotSupported(provider) => {
                    bail!("payments through {provider} cannot be refunded here yet")
                }
                Refunding::Exceeds { left_cents } => bail!(
                    "more than is left to refund: at most {} can be refunded",
                    format_plain(left_cents)
                ),
                Refunding::NothingLeft => bail!("{payment} is refunded already"),
            }
        }
        RefundsAction::Confirm {
            refund,
            tx,
            environment,
            merchant,
        } => {
            let merchant = resolve_merchant(&db, &settings, merchant).await?;
            let tx = tx.trim().to_ascii_lowercase();
            if !(tx.len() == 66
                && tx.starts_with("0x")
                && tx[2..].bytes().all(|b| b.is_ascii_hexdigit()))
            {
                bail!("--tx must be a transaction hash: 0x and 64 hex digits");
            }
            settings.validate()?;
            let secrets = SharedSecrets::load(&db).await?;
            let public_url = settings.public_url_for(&settings.bind);
            let state = AppState::new(settings, db, secrets, public_url)?;
            let confirming =
                confirm_refund_transfer(state.lifecycle(), &merchant, environment, &refund, &tx)
                    .await?;
            match confirming {
                Confirming::Confirmed(row) => println!("{}", line(&row)),
                Confirming::NoRefund => bail!("no refund {refund} in {environment}"),
                Confirming::NotOnchain => bail!("{refund} is not a refund on chain"),
                Confirming::NotAwaiting(status) => {
                    bail!("{refund} is {status}: it awaits no transfer")
                }
                Confirming::NotMined => bail!("the chain has no mined transaction {tx}"),
                Confirming::Reverted => bail!("{tx} failed on chain"),
                Confirming::NoMatch(awaited) => bail!(
                    "{tx} holds no transfer of exactly {} to {}",
                    awaited.amount(),
                    awaited.to.checksummed()
                ),
                Confirming::Unconfirmed { depth, needed } => {
                    bail!("the transfer is in {depth} of the {needed} blocks it needs; try again")
                }
                Confirming::UsedElsewhere => {
                    bail!("that transfer pays a payment or gave back another refund")
                }
                Confirming::ChainUnavailable(why) => bail!("the chain could not be asked: {why}"),
            }
        }
        RefundsAction::List {
            payment,
            limit,
            environment,
            merchant,
        } => {
            let merchant = resolve_merchant(&db, &settings, merchant).await?;
            let filter = RefundFilter {
                payment_id: payment,
                limit: limit.clamp(1, 100),
                ..RefundFilter::default()
            };
            let mut rows = list_refunds(&db.read, &merchant, environment, &filter).await?;
            rows.truncate(filter.limit as usize);
            if rows.is_empty() {
                println!("no refunds");
            }
            for row in rows {
                println!("{}", line(&row));
            }
        }
    }
    Ok(())
}

/// `re_…  succeeded  119.72 USD  pay_…  2026-12-04T12:00:00Z  requested_by_customer`
fn line(row: &RefundRow) -> String {
    format!(
        "{}  {}  {} {}  {}  {}  {}{}",
        row.id,
        row.status,
        format_plain(row.amount_cents),
        row.currency,
        row.payment_id,
        iso_seconds(row.created_at),
        row.reason.map_or("-", RefundReason::as_str),
        row.failure_code
            .as_deref()
            .map(|c| format!("  ({c})"))
            .unwrap_or_default(),
    )
}

/// What the merchant sends to give a payment on chain back, with the request as a QR code a
/// wallet can scan from the terminal.
fn instructions(t: &RefundTransfer) -> String {
    let qr = qrcode::QrCode::new(t.uri().as_bytes())
        .map(|code| {
            // Light modules drawn, dark ones left blank: dark-on-light once a terminal's usual
            // dark background shows through, as a wallet's camera expects.
            code.render::<qrcode::render::unicode::Dense1x2>()
                .dark_color(qrcode::render::unicode::Dense1x2::Light)
                .light_color(qrcode::render::unicode::Dense1x2::Dark)
                .quiet_zone(true)
                .build()
        })
        .unwrap_or_default();
    format!(
        "Send it from your own wallet (the server holds no key):\n  \
         network  {} (chain {})\n  token    {}\n  from     {}\n  to       {}\n  amount   {} (exactly)\n  request  {}\n\
         It succeeds once the transfer has {} confirmation(s); sent from another address, confirm it with\n  \
         openrails-checkout refunds confirm {} --tx <hash>\n{qr}\n",
        network_name(t.chain_id),
        t.chain_id,
        t.token.checksummed(),
        t.from.checksummed(),
        t.to.checksummed(),
        t.amount(),
        t.uri(),
        t.confirmations,
        t.refund_id,
    )
}
