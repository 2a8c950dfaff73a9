//! `openrails-checkout branding set|show`.

use anyhow::{Context, bail};
use base64::Engine;
use clap::Subcommand;
use serde_json::{Map, Value};

use super::resolve_merchant;
use crate::config::Settings;
use crate::db::Db;
use crate::db::merchants::{get_branding, update_branding};
use crate::domain::branding::Branding;
use crate::domain::branding::logo_type_for_path;
use crate::domain::branding::parse_update;
use crate::domain::input::RawObject;
use crate::domain::time::now_ms;
use crate::i18n::Catalogs;

#[derive(Subcommand)]
pub enum BrandingAction {
    /// Change the branding; give only what changes, "" to clear a part.
    Set {
        #[arg(long)]
        display_name: Option<String>,
        /// #rrggbb
        #[arg(long)]
        color: Option<String>,
        /// rounded, pill or square
        #[arg(long)]
        shape: Option<String>,
        /// A PNG, JPEG, WebP or SVG file of at most 64 KiB
        #[arg(long)]
        logo: Option<String>,
        #[arg(long)]
        note: Option<String>,
        /// en, es or pt-BR
        #[arg(long)]
        language: Option<String>,
        #[arg(long)]
        merchant: Option<String>,
    },
    /// Show the branding.
    Show {
        #[arg(long)]
        merchant: Option<String>,
    },
}

pub async fn run(settings: Settings, action: BrandingAction) -> anyhow::Result<()> {
    let db = Db::connect(&settings.database_url, 1).await?;
    db.migrate().await?;
    let catalogs = Catalogs::load(&settings.locales_dir)?;
    let merchant = match &action {
        BrandingAction::Set { merchant, .. } | BrandingAction::Show { merchant } => {
            merchant.clone()
        }
    };
    let merchant_id = resolve_merchant(&db, &settings, merchant).await?;
    if let BrandingAction::Set {
        display_name,
        color,
        shape,
        logo,
        note,
        language,
        ..
    } = action
    {
        let mut fields = Map::new();
        let mut put = |name: &str, value: Option<String>| {
            if let Some(v) = value {
                fields.insert(
                    name.to_owned(),
                    if v.is_empty() {
                        Value::Null
                    } else {
                        Value::String(v)
                    },
                );
            }
        };
        put("displayName", display_name);
        put("brandColor", color);
        put("buttonShape", shape);
        put("note", note);
        put("defaultLanguage", language);
        if let Some(path) = logo {
            if path.is_empty() {
                fields.insert("logo".into(), Value::Null);
            } else {
                let kind = logo_type_for_path(&path)
                    .context("--logo must be a .png, .jpg, .webp or .svg file")?;
                let bytes = std::fs::read(&path).with_context(|| format!("reading {path}"))?;
                let data = base64::engine::general_purpose::STANDARD.encode(bytes);
                fields.insert(
                    "logo".into(),
                    Value::String(format!("data:{kind};base64,{data}")),
                );
            }
        }
        let body = RawObject::parse(Value::Object(fields).to_string().as_bytes())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let (update, issues) = parse_update(&body, &catalogs.codes());
        if !issues.is_empty() {
            let text: Vec<String> = issues
                .iter()
                .map(|i| format!("{} {}", i.field, i.message))
                .collect();
            bail!("{}", text.join("; "));
        }
        update_branding(&db, &merchant_id, &update, now_ms()).await?;
    }
    let row = get_branding(&db.read, &merchant_id)
        .await?
        .unwrap_or_default();
    println!(
        "{}",
        serde_json::to_string_pretty(&Branding::from_row(row, merchant_id.as_str()))?
    );
    db.close().await;
    Ok(())
}
