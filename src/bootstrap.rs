//! First start: an empty database gets a merchant and a sandbox key, exactly once even when
//! several instances start together on one PostgreSQL.

use anyhow::Context;

use crate::db::Db;
use crate::db::api_keys::create_api_key;
use crate::db::installation::claim_installation_fact;
use crate::db::merchants::insert_merchant;
use crate::domain::time::now_ms;
use crate::domain::{Environment, MerchantId};

/// A merchant created with its first key; the secret is shown once and never stored.
pub struct FirstMerchant {
    pub merchant_id: MerchantId,
    pub name: String,
    pub sandbox_key: String,
}

/// Creates the first merchant and a sandbox key unless this installation already has them.
pub async fn ensure_first_merchant(db: &Db, name: &str) -> anyhow::Result<Option<FirstMerchant>> {
    let now = now_ms();
    let mut tx = db.begin().await?;
    if !claim_installation_fact(&mut *tx, "first_merchant", &now.to_string()).await? {
        return Ok(None);
    }
    let merchant_id = MerchantId::generate();
    insert_merchant(&mut *tx, &merchant_id, name, now).await?;
    let (_, secret) = create_api_key(
        &mut *tx,
        &merchant_id,
        Environment::Sandbox,
        "first start",
        now,
    )
    .await?;
    tx.commit().await.context("committing the first merchant")?;
    Ok(Some(FirstMerchant {
        merchant_id,
        name: name.to_owned(),
        sandbox_key: secret,
    }))
}

/// The text printed once on first start: the key and a ready-to-paste request.
pub fn welcome_text(first: &FirstMerchant, public_url: &str) -> String {
    format!(
        r#"
Created merchant "{name}" ({id}) and its sandbox API key. It is shown only this once:

    {key}

Create your first checkout session:

curl {url}/api/gateway/sessions \
  -H "Authorization: Bearer {key}" \
  -H "Content-Type: application/json" \
  -d '{{
    "product": "Creator plan",
    "amount": 116,
    "customer": "buyer@example.com",
    "preferredRoute": "card",
    "redirectUrl": "https://merchant.example/success?order=ord_284",
    "metadata": {{
      "order_id": "ord_284"
    }}
  }}'
"#,
        name = first.name,
        id = first.merchant_id,
        key = first.sandbox_key,
        url = public_url,
    )
}
