//! Backups of the SQLite database and restores from them. A backup is `VACUUM INTO` a new
//! file: one read transaction, so the copy is a consistent snapshot while the server keeps
//! writing (WAL readers never block the writer, and buyers never wait). Every backup and
//! every restore is verified: `PRAGMA integrity_check`, the foreign keys, the schema version
//! and each table's row count.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use sqlx::{AnyConnection, Connection};

use super::Db;

/// What a verified copy holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// The newest migration applied to it.
    pub schema_version: i64,
    /// Every table with its row count, by name.
    pub tables: Vec<(String, i64)>,
}

impl Report {
    /// The report as the command line prints it.
    pub fn describe(&self) -> String {
        let mut out = format!(
            "{}: {} bytes, integrity ok, foreign keys ok, schema version {}\n",
            self.path.display(),
            self.bytes,
            self.schema_version
        );
        let width = self.tables.iter().map(|(t, _)| t.len()).max().unwrap_or(0);
        for (table, rows) in &self.tables {
            out.push_str(&format!("  {table:<width$}  {rows:>10} rows\n"));
        }
        out
    }
}

/// The SQLite file a `DATABASE_URL` names; `None` for PostgreSQL.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// Copies the running database `db` into `target`, a new file, and verifies the copy.
pub async fn backup(db: &Db, target: &Path) -> anyhow::Result<Report> {
    if target.exists() {
        bail!(
            "{} exists already: a backup never overwrites a file",
            target.display()
        );
    }
    let text = target
        .to_str()
        .context("the backup's path is not valid UTF-8")?;
    sqlx::query("VACUUM INTO $1")
        .bind(text)
        .execute(&db.read)
        .await
        .context("copying the database (VACUUM INTO)")?;
    sync_file_and_folder(target)?;
    inspect(target).await
}

/// Verifies the SQLite file at `path` without changing it: its integrity, its foreign keys,
/// its schema version and its tables' row counts.
pub async fn inspect(path: &Path) -> anyhow::Result<Report> {
    sqlx::any::install_default_drivers();
    let text = path.to_str().context("the path is not valid UTF-8")?;
    if !path.is_file() {
        bail!("{text} is not a file");
    }
    let mut conn = AnyConnection::connect(&format!("sqlite://{text}?mode=ro"))
        .await
        .with_context(|| format!("opening {text}"))?;
    let integrity: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await
        .with_context(|| format!("{text} is not a SQLite database"))?;
    if integrity != ["ok"] {
        bail!(
            "{text} is damaged: {}",
            integrity.into_iter().take(5).collect::<Vec<_>>().join("; ")
        );
    }
    let broken: Vec<String> = sqlx::query_scalar("SELECT \"table\" FROM pragma_foreign_key_check")
        .fetch_all(&mut conn)
        .await
        .context("checking foreign keys")?;
    if !broken.is_empty() {
        bail!(
            "{text} has rows whose foreign keys point nowhere, in {}",
            broken.join(", ")
        );
    }
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
         ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await
    .context("listing tables")?;
    if !names.iter().any(|n| n == "_sqlx_migrations") {
        bail!("{text} is not a database of this product (it has no migrations table)");
    }
    let schema_version: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_one(&mut conn)
            .await
            .context("reading the schema version")?;
    let mut tables = Vec::with_capacity(names.len());
    for name in names {
        let quoted = name.replace('"', "\"\"");
        let rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM \"{quoted}\""))
            .fetch_one(&mut conn)
            .await
            .with_context(|| format!("counting {name}"))?;
        tables.push((name, rows));
    }
    conn.close().await.ok();
    Ok(Report {
        path: path.to_owned(),
        bytes: std::fs::metadata(path)?.len(),
        schema_version: schema_version.unwrap_or(0),
        tables,
    })
}

/// Restores the backup `file` as the database `target`, whose folder must be empty (or not
/// exist yet): verified first, refused when a newer build made it (`latest_known` is the
/// newest migration this build knows), written beside the target and renamed into place, and
/// verified again.
pub async fn restore(file: &Path, target: &Path, latest_known: i64) -> anyhow::Result<Report> {
    let backup = inspect(file).await?;
    if backup.schema_version > latest_known {
        bail!(
            "{} was made by a newer build (migration {}; this build knows up to {latest_known}): \
             restore it with that build or a newer one",
            file.display(),
            backup.schema_version
        );
    }
    let folder = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    if folder.exists() {
        let found: Vec<String> = std::fs::read_dir(&folder)
            .with_context(|| format!("reading {}", folder.display()))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        if !found.is_empty() {
            bail!(
                "the data folder {} is not empty ({}): restore into an empty folder, then point \
                 DATABASE_URL at it",
                folder.display(),
                found.join(", ")
            );
        }
    } else {
        std::fs::create_dir_all(&folder)
            .with_context(|| format!("creating {}", folder.display()))?;
    }
    let partial = target.with_extension("restoring");
    std::fs::copy(file, &partial)
        .with_context(|| format!("copying {} to {}", file.display(), partial.display()))?;
    std::fs::File::open(&partial)?.sync_all()?;
    std::fs::rename(&partial, target)
        .with_context(|| format!("moving into {}", target.display()))?;
    sync_file_and_folder(target)?;
    let restored = inspect(target).await?;
    if restored.tables != backup.tables {
        bail!(
            "the restored database does not hold what the backup holds; {} is left for inspection",
            target.display()
        );
    }
    Ok(restored)
}

/// Flushes `path` and the folder that names it to disk.
fn sync_file_and_folder(path: &Path) -> anyhow::Result<()> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("syncing {}", path.display()))?;
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::File::open(folder)
            .and_then(|f| f.sync_all())
            .with_context(|| format!("syncing {}", folder.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sqlite_file_comes_from_the_url() {
        assert_eq!(
            sqlite_file("sqlite://data/openrails.db"),
            Some(PathBuf::from("data/openrails.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:/var/lib/o.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/o.db"))
        );
        assert_eq!(sqlite_file("postgres://u@h/db"), None);
        assert_eq!(sqlite_file("sqlite::memory:"), None);
    }
}
