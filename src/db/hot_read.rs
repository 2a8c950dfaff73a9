//! The hottest reads on SQLite, done on the request's own thread: the checkout page's session
//! and its latest payment, and the API key of every merchant request. Through sqlx, every query is handed to its
//! connection's thread and the answer handed back: two context switches per request, which
//! profiles showed to be most of a page's cost. Each of these reads is one indexed lookup of
//! tens of microseconds, so it runs where the request runs, on a read-only connection kept per
//! thread. It caches nothing: outside a statement the connection holds no read transaction, so
//! in WAL mode each read sees every commit made before it, by any connection of any instance
//! (a key revoked by another instance is refused at once).

use std::cell::RefCell;
use std::time::Duration;

use anyhow::Context;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row};

use super::api_keys::KeyOwner;
use super::payments::PaymentRow;
use super::sessions::{SessionRow, SessionView};
use crate::domain::branding::MerchantBranding;
use crate::domain::{
    ApiKeyId, CustomerId, Environment, InvoiceId, LedgerStatus, MerchantId, PaymentId,
    PaymentStatus, ProviderState, RouteKind, SessionId, SessionStatus,
};

thread_local! {
    /// This thread's read-only connection, with the path of the database it is open on.
    static READER: RefCell<Option<(String, Connection)>> = const { RefCell::new(None) };
}

/// Runs `read` on this thread's read-only connection to the SQLite database at `path`.
fn with_reader<T>(
    path: &str,
    read: impl FnOnce(&Connection) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    READER.with(|cell| {
        let mut slot = cell.borrow_mut();
        let open = match slot.as_ref() {
            Some((open_path, connection)) if open_path == path => connection,
            _ => {
                let connection = Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .with_context(|| format!("opening {path} to read"))?;
                connection.busy_timeout(Duration::from_secs(10))?;
                &slot.insert((path.to_owned(), connection)).1
            }
        };
        read(open)
    })
}

/// The one row `sql` finds for `key`, decoded, read on this thread's connection; `what` names
/// it in errors.
fn read_one<T>(
    path: &str,
    sql: &str,
    key: &str,
    what: &str,
    decode: fn(&Row<'_>) -> anyhow::Result<T>,
) -> anyhow::Result<Option<T>> {
    with_reader(path, |connection| {
        let mut statement = connection
            .prepare_cached(sql)
            .with_context(|| format!("preparing the read of {what}"))?;
        let found = statement
            .query_row([key], |row| Ok(decode(row)))
            .optional()
            .with_context(|| format!("reading {what}"))?;
        found.transpose()
    })
}

/// The session `id` with its merchant's name and branding (`sql`: the query of
/// [`super::sessions::get_session_view`], its columns in that order).
pub fn session_view(path: &str, sql: &str, id: &SessionId) -> anyhow::Result<Option<SessionView>> {
    read_one(path, sql, id.as_str(), "a session for its page", decode)
}

/// The session's latest payment (`sql`: the query of
/// [`super::payments::get_payment_by_session`], its columns in `payments::COLUMNS` order).
pub fn latest_payment(
    path: &str,
    sql: &str,
    session: &SessionId,
) -> anyhow::Result<Option<PaymentRow>> {
    read_one(
        path,
        sql,
        session.as_str(),
        "a session's payment",
        decode_payment,
    )
}

fn decode_payment(row: &Row<'_>) -> anyhow::Result<PaymentRow> {
    Ok(PaymentRow {
        id: PaymentId::from_trusted(row.get(0)?),
        session_id: SessionId::from_trusted(row.get(1)?),
        merchant_id: MerchantId::from_trusted(row.get(2)?),
        environment: text_enum(row, 3, Environment::parse)?,
        customer_id: CustomerId::from_trusted(row.get(4)?),
        attempt: row.get(5)?,
        invoice_id: InvoiceId::from_trusted(row.get(6)?),
        route_id: row.get(7)?,
        route_kind: text_enum(row, 8, RouteKind::parse)?,
        provider: row.get(9)?,
        amount_cents: row.get(10)?,
        buyer_fee_cents: row.get(11)?,
        gateway_fee_cents: row.get(12)?,
        merchant_net_cents: row.get(13)?,
        total_cents: row.get(14)?,
        currency: row.get(15)?,
        status: text_enum(row, 16, PaymentStatus::parse)?,
        ledger_status: text_enum(row, 17, LedgerStatus::parse)?,
        provider_state: text_enum(row, 18, ProviderState::parse)?,
        provider_ref: row.get(19)?,
        provider_data: row.get(20)?,
        card_brand: row.get(21)?,
        card_last4: row.get(22)?,
        tx_hash: row.get(23)?,
        failure_code: row.get(24)?,
        failure_message: row.get(25)?,
        provider_deadline: row.get(26)?,
        next_poll_at: row.get(27)?,
        created_at: row.get(28)?,
        updated_at: row.get(29)?,
        refund_reserved_cents: row.get(30)?,
        refunded_cents: row.get(31)?,
        language: row.get(32)?,
    })
}

/// Who the unrevoked API key with this hash (`hash_key`) stands for (`sql`: the query of
/// [`super::api_keys::find_key_owner`]).
pub fn key_owner(path: &str, sql: &str, key_hash: &str) -> anyhow::Result<Option<KeyOwner>> {
    read_one(path, sql, key_hash, "an API key", |row| {
        Ok(KeyOwner {
            key_id: ApiKeyId::from_trusted(row.get(0)?),
            merchant_id: MerchantId::from_trusted(row.get(1)?),
            environment: text_enum(row, 2, Environment::parse)?,
        })
    })
}

fn text_enum<T>(row: &Row<'_>, i: usize, parse: fn(&str) -> Option<T>) -> anyhow::Result<T> {
    let word: String = row.get(i)?;
    parse(&word).with_context(|| format!("column {i} holds {word:?}, which is not a known value"))
}

fn decode(row: &Row<'_>) -> anyhow::Result<SessionView> {
    let preferred: Option<String> = row.get(9)?;
    let session = SessionRow {
        id: SessionId::from_trusted(row.get(0)?),
        merchant_id: MerchantId::from_trusted(row.get(1)?),
        environment: text_enum(row, 2, Environment::parse)?,
        customer_id: CustomerId::from_trusted(row.get(3)?),
        customer_email: row.get(4)?,
        product: row.get(5)?,
        amount_cents: row.get(6)?,
        currency: row.get(7)?,
        status: text_enum(row, 8, SessionStatus::parse)?,
        preferred_route: match preferred {
            Some(kind) => Some(
                RouteKind::parse(&kind).with_context(|| format!("{kind:?} is not a route kind"))?,
            ),
            None => None,
        },
        route_id: row.get(10)?,
        redirect_url: row.get(11)?,
        metadata: row.get(12)?,
        client_reference_id: row.get(13)?,
        idempotency_key: row.get(14)?,
        request_hash: row.get(15)?,
        payment_id: row
            .get::<_, Option<String>>(16)?
            .map(PaymentId::from_trusted),
        expires_at: row.get(17)?,
        created_at: row.get(18)?,
        updated_at: row.get(19)?,
        opened_at: row.get(20)?,
        sent_back_at: row.get(21)?,
        receipts: row.get(22)?,
        receipt_copy_to: row.get(23)?,
    };
    Ok(SessionView {
        session,
        merchant_name: row.get(24)?,
        branding: MerchantBranding {
            display_name: row.get(25)?,
            brand_color: row.get(26)?,
            button_shape: row.get(27)?,
            logo_type: row.get(28)?,
            note: row.get(29)?,
            default_language: row.get(30)?,
            branding_updated_at: row.get(31)?,
        },
        cards_closed: false,
    })
}
