//! Webhook endpoints' secrets as the worker and the start-up use them: which secrets sign a
//! delivery, and sealing every stored secret with the current key.

use anyhow::Context;

use crate::crypto::secret_box::{EncryptionKeys, SecretError};
use crate::db::Db;
use crate::db::webhook_endpoints::{StoredSecrets, list_stored_secrets, replace_stored_secrets};
use crate::domain::WebhookEndpointId;

/// The secrets a delivery signs with at `now_ms`: the current one, and the previous one until
/// `previous_expires_at`.
pub fn signing_secrets(
    keys: &EncryptionKeys,
    endpoint_id: &WebhookEndpointId,
    current: &str,
    previous: Option<&str>,
    previous_expires_at: Option<i64>,
    now_ms: i64,
) -> Result<Vec<String>, SecretError> {
    let mut secrets = vec![keys.open(endpoint_id.as_str(), current)?];
    if let (Some(previous), Some(until)) = (previous, previous_expires_at)
        && now_ms < until
    {
        secrets.push(keys.open(endpoint_id.as_str(), previous)?);
    }
    Ok(secrets)
}

/// Checks that every stored webhook secret opens with `keys`, and stores again, sealed with the
/// current key, each one that is plain or sealed with an older key. Returns how many endpoints
/// were rewritten. Fails, naming the endpoint, when one does not open: the server must not
/// start and sign with garbage. Says once, as a warning, when secrets stay in plain text.
pub async fn reseal_all(db: &Db, keys: &EncryptionKeys) -> anyhow::Result<u64> {
    let mut rewritten = 0;
    for row in list_stored_secrets(&db.read).await? {
        let open = |stored: &str| {
            keys.open(row.id.as_str(), stored)
                .with_context(|| format!("reading the secret of webhook endpoint {}", row.id))
        };
        let secret = open(&row.secret)?;
        let previous = row.previous_secret.as_deref().map(open).transpose()?;
        let up_to_date =
            keys.is_current(&row.secret) && row.previous_secret.iter().all(|p| keys.is_current(p));
        if up_to_date || !keys.is_configured() {
            continue;
        }
        let new = StoredSecrets {
            id: row.id.clone(),
            secret: keys.seal(row.id.as_str(), &secret)?,
            previous_secret: previous
                .map(|p| keys.seal(row.id.as_str(), &p))
                .transpose()?,
        };
        // Compare-and-set: a rotation meanwhile (another instance) wins, already sealed.
        if replace_stored_secrets(&db.write, &row, &new).await? {
            rewritten += 1;
        }
    }
    match keys.current_id() {
        None => tracing::warn!(
            "OPENRAILS_ENCRYPTION_KEY is not set: webhook secrets are stored in plain text"
        ),
        Some(key_id) if rewritten > 0 => tracing::info!(
            key.id = key_id,
            endpoints = rewritten,
            "webhook secrets encrypted with the current key"
        ),
        Some(_) => {}
    }
    Ok(rewritten)
}
