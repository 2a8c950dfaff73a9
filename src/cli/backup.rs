//! `migrate [--dry-run]`, `backup <file>`, `restore <file>` and `copy-to <url>`.

use std::path::Path;

use anyhow::{Context, bail};

use crate::config::Settings;
use crate::db::backup::{self, sqlite_file};
use crate::db::copy;
use crate::db::{Db, sqlite_latest_known, sqlite_migrations};

/// Applies the migrations, or with `dry_run` lists those that would be applied.
pub async fn migrate(settings: Settings, dry_run: bool) -> anyhow::Result<()> {
    if !dry_run {
        let db = Db::connect(&settings.database_url, 1).await?;
        let pending = db.pending_migrations().await?;
        db.migrate().await?;
        println!(
            "migrations applied: {} new, schema version {}",
            pending.len(),
            db.latest_known()
        );
        return Ok(());
    }
    // A dry run creates nothing, not even the SQLite file.
    let pending = match sqlite_file(&settings.database_url) {
        Some(path) if !path.exists() => {
            println!("{} does not exist yet: it would be created", path.display());
            sqlite_migrations()
        }
        _ => {
            let db = Db::connect(&settings.database_url, 1).await?;
            db.refuse_newer().await?;
            db.pending_migrations().await?
        }
    };
    if pending.is_empty() {
        println!("nothing to do: every migration this build knows is applied");
    } else {
        println!("{} migration(s) would be applied:", pending.len());
        for (version, description) in pending {
            println!("  {version:04}  {description}");
        }
    }
    Ok(())
}

/// Copies the running SQLite database into `file` and verifies the copy.
pub async fn backup(settings: Settings, file: &Path) -> anyhow::Result<()> {
    let Some(source) = sqlite_file(&settings.database_url) else {
        bail!(
            "backup copies a SQLite database; for PostgreSQL use pg_dump (see the README's \
             \"Backups\")"
        );
    };
    if !source.exists() {
        bail!("{} does not exist: nothing to back up", source.display());
    }
    let db = Db::connect(&settings.database_url, 1).await?;
    let report = backup::backup(&db, file)
        .await
        .with_context(|| format!("backing up {} into {}", source.display(), file.display()))?;
    print!("backup written and verified: {}", report.describe());
    Ok(())
}

/// Restores `file` as the SQLite database `DATABASE_URL` names.
pub async fn restore(settings: Settings, file: &Path) -> anyhow::Result<()> {
    let Some(target) = sqlite_file(&settings.database_url) else {
        bail!(
            "restore writes a SQLite database; for PostgreSQL use pg_restore, or restore into \
             SQLite and then `copy-to` (see the README's \"Backups\")"
        );
    };
    let report = backup::restore(file, &target, sqlite_latest_known()).await?;
    print!("restored and verified: {}", report.describe());
    println!("start the server to apply this build's newer migrations, if any");
    Ok(())
}

/// Copies every row of the database `DATABASE_URL` names into the empty database `url`, and
/// verifies each table's row count and checksum on both sides.
pub async fn copy_to(settings: Settings, url: &str) -> anyhow::Result<()> {
    if url == settings.database_url {
        bail!("the target is the source: name another database");
    }
    let source = Db::connect(&settings.database_url, 2).await?;
    let target = Db::connect(url, 2)
        .await
        .with_context(|| format!("opening the target {}", without_password(url)))?;
    println!(
        "copying {} into {}",
        without_password(&settings.database_url),
        without_password(url)
    );
    let report = copy::copy_to(&source, &target, |t| {
        println!(
            "  {:<22} {:>10} rows  sha256 {}…  {}",
            t.table,
            t.target_rows,
            &t.target_sum[..16],
            if t.matches() { "match" } else { "DIFFERS" }
        );
    })
    .await?;
    let differ: Vec<&str> = report
        .iter()
        .filter(|t| !t.matches())
        .map(|t| t.table.as_str())
        .collect();
    if !differ.is_empty() {
        bail!(
            "the copy differs from the source in {}: do not switch to it",
            differ.join(", ")
        );
    }
    let rows: i64 = report.iter().map(|t| t.target_rows).sum();
    println!(
        "copied and verified: {} tables, {rows} rows; every table's row count and checksum match",
        report.len()
    );
    Ok(())
}

/// `url` with its password, if any, left out.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((user, host)) => {
            let user = user.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_owned(),
    }
}
