//! Merchant accounts.

use anyhow::Context;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, FromRow, Row};

use crate::domain::MerchantId;
use crate::domain::branding::{BrandingUpdate, MerchantBranding};

/// A merchant's name, if the merchant exists.
pub async fn merchant_name<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: &MerchantId,
) -> anyhow::Result<Option<String>> {
    sqlx::query_scalar("SELECT name FROM merchants WHERE id = $1")
        .bind(id)
        .fetch_optional(executor)
        .await
        .context("reading a merchant's name")
}

/// Creates a merchant.
pub async fn insert_merchant<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: &MerchantId,
    name: &str,
    now_ms: i64,
) -> anyhow::Result<()> {
    sqlx::query("INSERT INTO merchants (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(id.as_str())
        .bind(name)
        .bind(now_ms)
        .execute(executor)
        .await
        .context("inserting a merchant")?;
    Ok(())
}

/// The oldest merchant: the one a single-merchant installation uses.
pub async fn first_merchant<'e, E: Executor<'e, Database = Any>>(
    executor: E,
) -> anyhow::Result<Option<MerchantId>> {
    sqlx::query_scalar("SELECT id FROM merchants ORDER BY id LIMIT 1")
        .fetch_optional(executor)
        .await
        .context("reading the first merchant")
}

/// Reads the branding columns (`BRANDING_COLUMNS`) of a merchant row.
impl<'r> FromRow<'r, AnyRow> for MerchantBranding {
    fn from_row(row: &'r AnyRow) -> Result<MerchantBranding, sqlx::Error> {
        Ok(MerchantBranding {
            display_name: row.try_get("display_name")?,
            brand_color: row.try_get("brand_color")?,
            button_shape: row.try_get("button_shape")?,
            logo_type: row.try_get("logo_type")?,
            note: row.try_get("note")?,
            default_language: row.try_get("default_language")?,
            branding_updated_at: row.try_get("branding_updated_at")?,
        })
    }
}

/// The columns [`MerchantBranding`] is read from.
pub const BRANDING_COLUMNS: &str = "display_name, brand_color, button_shape, logo_type, note, \
    default_language, branding_updated_at";

/// A merchant's branding as stored; `None` when there is no such merchant.
pub async fn get_branding<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: &MerchantId,
) -> anyhow::Result<Option<MerchantBranding>> {
    sqlx::query_as(&format!(
        "SELECT {BRANDING_COLUMNS} FROM merchants WHERE id = $1"
    ))
    .bind(id.as_str())
    .fetch_optional(executor)
    .await
    .context("reading a merchant's branding")
}

/// Applies `update` in one transaction: writes each part it changes (a new logo writes its
/// content type and data together) and stamps `branding_updated_at` with `now_ms`.
pub async fn update_branding(
    db: &super::Db,
    id: &MerchantId,
    update: &BrandingUpdate,
    now_ms: i64,
) -> anyhow::Result<()> {
    let mut tx = db.begin().await?;
    let mut changes: Vec<(&'static str, Option<String>)> = Vec::new();
    let text_parts = [
        ("display_name", &update.display_name),
        ("brand_color", &update.brand_color),
        ("button_shape", &update.button_shape),
        ("note", &update.note),
        ("default_language", &update.default_language),
    ];
    for (column, change) in text_parts {
        if let Some(value) = change {
            changes.push((column, value.clone()));
        }
    }
    if let Some(logo) = &update.logo {
        let (kind, data) = match logo {
            Some((kind, data)) => (Some(kind.clone()), Some(data.clone())),
            None => (None, None),
        };
        changes.push(("logo_type", kind));
        changes.push(("logo_base64", data));
    }
    for (column, value) in changes {
        // `column` comes from the fixed list above, never from input.
        let sql =
            format!("UPDATE merchants SET {column} = $1, branding_updated_at = $2 WHERE id = $3");
        sqlx::query(&sql)
            .bind(value)
            .bind(now_ms)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .context("updating branding")?;
    }
    tx.commit().await.context("committing branding")?;
    Ok(())
}

/// The stored logo: (content type, base64).
pub async fn get_logo<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: &MerchantId,
) -> anyhow::Result<Option<(String, String)>> {
    let row: Option<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT logo_type, logo_base64 FROM merchants WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(executor)
            .await
            .context("reading a logo")?;
    Ok(row.and_then(|(kind, data)| Some((kind?, data?))))
}
