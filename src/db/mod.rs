//! Storage. Every statement is written once, in SQL that both SQLite and PostgreSQL accept, and
//! run through sqlx's `Any` driver; the schema keeps to TEXT and BIGINT columns so rows decode
//! the same way from both. Timestamps are BIGINT Unix milliseconds, money BIGINT cents.
//!
//! SQLite allows one writer at a time, so on SQLite writes go through a pool of exactly one
//! connection (no lock contention inside a process) and transactions start with
//! `BEGIN IMMEDIATE` (no deadlock between processes sharing the file).

#![deny(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]

pub mod accounts;
pub mod api_keys;
pub mod backup;
pub mod card_declines;
mod codec;
pub mod copy;
pub mod customers;
pub mod dashboard;
pub mod emails;
pub mod events;
mod hot_read;
pub mod installation;
pub mod invoices;
pub mod merchants;
pub mod metrics;
pub mod onchain;
pub mod payments;
pub mod refunds;
pub mod sandbox_ledger;
pub mod session_writer;
pub mod sessions;
pub mod webhook_deliveries;
pub mod webhook_endpoints;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Connection, Executor, Transaction};

/// How long a request waits for a database connection by default before it is answered
/// `503` (see [`is_unavailable`]): an unreachable database must not hold every request for
/// long.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// Which database the pools talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One SQLite file, with a single-connection write pool.
    Sqlite,
    /// A PostgreSQL server, one pool for reads and writes.
    Postgres,
}

/// The connection pools. On PostgreSQL `read` and `write` are the same pool.
#[derive(Debug, Clone)]
pub struct Db {
    /// For reads; on SQLite several connections that never wait for the writer.
    pub read: AnyPool,
    /// For writes and transactions; on SQLite exactly one connection.
    pub write: AnyPool,
    /// Which database this is.
    pub backend: Backend,
    /// The SQLite file, when on SQLite.
    sqlite_path: Option<String>,
}

/// Opens (creating) and exclusively locks `path` until the returned file is dropped.
fn lock_file(path: &str) -> anyhow::Result<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("opening the lock file {path}"))?;
    file.lock().with_context(|| format!("locking {path}"))?;
    Ok(file)
}

/// Connection options without sqlx's own slow-statement warnings: they print a statement's
/// whole text (a batch insert's thousands of placeholders), and each request's time is in
/// its own log line already.
fn quiet(options: AnyConnectOptions) -> AnyConnectOptions {
    use sqlx::ConnectOptions;
    options.log_slow_statements(log::LevelFilter::Off, Duration::from_secs(1))
}

/// A write transaction, as [`Db::begin`] starts it.
pub type Tx = Transaction<'static, Any>;

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// The newest SQLite migration this build knows.
pub fn sqlite_latest_known() -> i64 {
    SQLITE_MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Every SQLite migration this build knows: (version, description).
pub fn sqlite_migrations() -> Vec<(i64, String)> {
    SQLITE_MIGRATOR
        .iter()
        .map(|m| (m.version, m.description.to_string()))
        .collect()
}

impl Db {
    /// Opens the database named by `url` (`sqlite://…` or `postgres://…`). A SQLite file and
    /// its folder are created when missing.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Db> {
        Self::connect_with(url, max_connections, DEFAULT_ACQUIRE_TIMEOUT).await
    }

    /// Like [`Db::connect`], waiting at most `acquire_timeout` for a PostgreSQL connection.
    pub async fn connect_with(
        url: &str,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> anyhow::Result<Db> {
        sqlx::any::install_default_drivers();
        if url.starts_with("sqlite:") {
            Self::connect_sqlite(url, max_connections).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = quiet(AnyConnectOptions::from_str(url).context("parsing DATABASE_URL")?);
            let pool = AnyPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(acquire_timeout)
                .connect_with(options)
                .await
                .context("connecting to PostgreSQL")?;
            Ok(Db {
                read: pool.clone(),
                write: pool,
                backend: Backend::Postgres,
                sqlite_path: None,
            })
        } else {
            anyhow::bail!("DATABASE_URL must start with sqlite:// or postgres://")
        }
    }

    async fn connect_sqlite(url: &str, max_connections: u32) -> anyhow::Result<Db> {
        let path = url
            .trim_start_matches("sqlite://")
            .trim_start_matches("sqlite:");
        let path = path.split('?').next().unwrap_or_default();
        if path.is_empty() || path == ":memory:" {
            anyhow::bail!("SQLite needs a file path, e.g. sqlite://data/openrails.db");
        }
        if let Some(dir) = Path::new(path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the database folder {}", dir.display()))?;
        }
        let full = if url.contains('?') {
            url.to_owned()
        } else {
            format!("{url}?mode=rwc")
        };
        let options = quiet(AnyConnectOptions::from_str(&full).context("parsing DATABASE_URL")?);
        // WAL with synchronous=FULL: a commit is fsynced to the WAL before it is acknowledged,
        // so it survives a crash of the process, of the machine, a power loss or the disk
        // turning read-only (NORMAL would lose the commits since the last checkpoint). Group
        // commit (session_writer) spreads the cost of the sync over a whole batch.
        // A file on local disk needs no liveness ping before each use (sqlx's default), which
        // would cost a round trip to the connection's thread on every query. But a connection
        // still inside a transaction when it is handed out is wedged: when a COMMIT fails
        // (disk full, I/O error) SQLite may roll the transaction back itself, sqlx's ROLLBACK
        // then fails and the connection keeps counting a transaction that no longer exists,
        // refusing every later `BEGIN`. Such a connection is closed and a fresh one opened.
        let pool_options = || {
            AnyPoolOptions::new()
                .test_before_acquire(false)
                .before_acquire(|conn, _meta| {
                    Box::pin(async move { Ok(!conn.is_in_transaction()) })
                })
                .after_connect(|conn, _meta| {
                    Box::pin(async move {
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = FULL").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        Ok(())
                    })
                })
        };
        let write = pool_options()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await
            .context("opening the SQLite database")?;
        let read = pool_options()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .context("opening the SQLite database")?;
        Ok(Db {
            read,
            write,
            backend: Backend::Sqlite,
            sqlite_path: Some(path.to_owned()),
        })
    }

    /// The SQLite database file, when the database is one.
    pub fn sqlite_file(&self) -> Option<&str> {
        self.sqlite_path.as_deref()
    }

    /// Pools that never connect unless used: for work that must not touch a database (the
    /// preview export renders pages from fixtures).
    pub fn unconnected() -> anyhow::Result<Db> {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .connect_lazy("sqlite::memory:")
            .context("creating an unconnected pool")?;
        Ok(Db {
            read: pool.clone(),
            write: pool,
            backend: Backend::Sqlite,
            sqlite_path: None,
        })
    }

    fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATOR,
            Backend::Postgres => &POSTGRES_MIGRATOR,
        }
    }

    /// The newest migration this build knows, for this backend.
    pub fn latest_known(&self) -> i64 {
        self.migrator().iter().map(|m| m.version).max().unwrap_or(0)
    }

    /// The versions of the migrations applied so far (none on a new database).
    pub async fn applied_versions(&self) -> anyhow::Result<Vec<i64>> {
        let exists = match self.backend {
            Backend::Sqlite => {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
            }
            Backend::Postgres => {
                "SELECT COUNT(*) FROM information_schema.tables
                 WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'"
            }
        };
        let tables: i64 = sqlx::query_scalar(exists)
            .fetch_one(&self.read)
            .await
            .context("looking for the migrations table")?;
        if tables == 0 {
            return Ok(Vec::new());
        }
        sqlx::query_scalar(
            "SELECT version FROM _sqlx_migrations WHERE success = TRUE ORDER BY version",
        )
        .fetch_all(&self.read)
        .await
        .context("reading applied migrations")
    }

    /// The migrations this build would apply: (version, description), oldest first.
    pub async fn pending_migrations(&self) -> anyhow::Result<Vec<(i64, String)>> {
        let applied = self.applied_versions().await?;
        Ok(self
            .migrator()
            .iter()
            .filter(|m| !applied.contains(&m.version))
            .map(|m| (m.version, m.description.to_string()))
            .collect())
    }

    /// Refuses a database that a newer build migrated: this build does not know its tables.
    pub async fn refuse_newer(&self) -> anyhow::Result<()> {
        let newest = self
            .applied_versions()
            .await?
            .into_iter()
            .max()
            .unwrap_or(0);
        let known = self.latest_known();
        if newest > known {
            anyhow::bail!(
                "the database was migrated by a newer build (migration {newest}; this build knows \
                 up to {known}): run that build or a newer one, or restore a backup made before \
                 the upgrade"
            );
        }
        Ok(())
    }

    /// Applies pending migrations for this backend; refuses a database a newer build migrated.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        self.refuse_newer().await?;
        let migrator = self.migrator();
        // sqlx locks PostgreSQL while migrating, but not SQLite: processes starting together
        // on a new file would race to create the same tables. A lock file serialises them.
        let _lock = match &self.sqlite_path {
            Some(path) => Some(lock_file(&format!("{path}.migrate-lock"))?),
            None => None,
        };
        migrator
            .run(&self.write)
            .await
            .context("applying database migrations")
    }

    /// Whether every migration this build knows has been applied.
    pub async fn migrations_applied(&self) -> anyhow::Result<bool> {
        let latest = self.latest_known();
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_one(&self.read)
                .await
                .context("reading applied migrations")?;
        Ok(applied.unwrap_or(0) >= latest)
    }

    /// Starts a write transaction.
    pub async fn begin(&self) -> anyhow::Result<Tx> {
        let tx = match self.backend {
            Backend::Sqlite => self.write.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.write.begin().await,
        };
        tx.context("starting a database transaction")
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.read).await.is_ok()
    }

    /// Whether a write commits: a database that answers reads but cannot write (a full disk,
    /// a read-only file system) cannot take payments, so readiness asks for this too.
    pub async fn write_probe(&self) -> anyhow::Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO app_state (key, value) VALUES ('readiness_probe', $1)
             ON CONFLICT (key) DO UPDATE SET value = $1",
        )
        .bind(crate::domain::time::now_ms().to_string())
        .execute(&mut *tx)
        .await
        .context("writing the readiness probe")?;
        tx.commit().await.context("committing the readiness probe")
    }

    /// Closes both pools, waiting for connections in use to come back.
    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

/// Whether an error means the database cannot serve right now (unreachable, out of
/// connections, out of disk, read-only, failing I/O) rather than that the request was wrong or
/// the code has a bug: such requests are answered `503` with `Retry-After`.
pub fn is_unavailable(err: &anyhow::Error) -> bool {
    let through_sqlx = err
        .chain()
        .filter_map(|cause| cause.downcast_ref::<sqlx::Error>())
        .any(|e| match e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|code| unavailable_code(&code)),
            _ => false,
        });
    // The hot paths' own SQLite connections (`hot_read`, the session writer).
    let direct = err
        .chain()
        .filter_map(|cause| cause.downcast_ref::<rusqlite::Error>())
        .any(|e| match e {
            rusqlite::Error::SqliteFailure(failure, _) => {
                unavailable_code(&failure.extended_code.to_string())
            }
            _ => false,
        });
    through_sqlx || direct
}

/// PostgreSQL SQLSTATEs (always five characters) and SQLite result codes (decimal, at most
/// four digits; the low byte is the primary code) that say the server cannot work rather than
/// that the statement is wrong.
fn unavailable_code(code: &str) -> bool {
    if code.len() == 5 {
        // 08: connection exception; 53: insufficient resources (disk full, out of memory, too
        // many connections); 57P: operator intervention (shutdown); 58: system error (I/O).
        return ["08", "53", "57P", "58"]
            .iter()
            .any(|class| code.starts_with(class));
    }
    // SQLITE_BUSY 5, SQLITE_LOCKED 6, SQLITE_NOMEM 7, SQLITE_READONLY 8, SQLITE_IOERR 10,
    // SQLITE_FULL 13, SQLITE_CANTOPEN 14, SQLITE_PROTOCOL 15
    code.parse::<i64>()
        .is_ok_and(|n| matches!(n & 0xff, 5..=8 | 10 | 13..=15))
}

/// `($first, $first+1, …), (…), …`: `rows` tuples of `columns` numbered placeholders, for a
/// multi-row `VALUES` or an `IN` list. (sqlx's `QueryBuilder` would write `?` placeholders,
/// which PostgreSQL refuses through the `Any` driver.)
pub(crate) fn placeholders(rows: usize, columns: usize, first: usize) -> String {
    let tuple = |row: usize| {
        let numbers: Vec<String> = (0..columns)
            .map(|c| format!("${}", first + row * columns + c))
            .collect();
        format!("({})", numbers.join(", "))
    };
    (0..rows).map(tuple).collect::<Vec<_>>().join(", ")
}

/// How many columns a comma-separated column list names.
pub(crate) fn count_columns(list: &str) -> usize {
    list.split(',').count()
}

/// Builds the list queries: a fixed head whose two first parameters are the merchant and the
/// environment, optional `AND column op $n` filters, newest first, and a limit.
pub(crate) struct ListQuery {
    sql: String,
    values: Vec<String>,
}

impl ListQuery {
    pub(crate) fn new(head: &str) -> ListQuery {
        ListQuery {
            sql: head.to_owned(),
            values: Vec::new(),
        }
    }

    /// Adds `AND <column_and_op> $n` when `value` is present.
    pub(crate) fn filter(&mut self, column_and_op: &str, value: Option<String>) {
        if let Some(value) = value {
            self.values.push(value);
            let n = self.values.len() + 2;
            self.sql.push_str(&format!(" AND {column_and_op} ${n}"));
        }
    }

    /// Runs the query for one merchant and environment: newest first, a page of `page_size`
    /// rows and one more, which only tells that there are more (`hasMore`).
    pub(crate) async fn fetch<'e, E, R>(
        mut self,
        executor: E,
        merchant_id: &crate::domain::MerchantId,
        environment: crate::domain::Environment,
        page_size: i64,
    ) -> Result<Vec<R>, sqlx::Error>
    where
        E: Executor<'e, Database = Any>,
        R: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
    {
        self.sql.push_str(&format!(
            " ORDER BY id DESC LIMIT {}",
            page_size.clamp(1, 1000) + 1
        ));
        let mut query = sqlx::query_as(&self.sql)
            .bind(merchant_id)
            .bind(environment);
        for value in self.values {
            query = query.bind(value);
        }
        query.fetch_all(executor).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_number_every_column_of_every_row() {
        assert_eq!(super::placeholders(2, 3, 1), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(super::placeholders(1, 2, 3), "($3, $4)");
        assert_eq!(super::count_columns("id, a,\n b"), 3);
    }

    #[test]
    fn unavailable_codes_are_told_from_mistakes_on_both_backends() {
        for code in [
            "13", "10", "522", "8", "5", "08006", "53100", "57P01", "58030",
        ] {
            assert!(super::unavailable_code(code), "{code}");
        }
        for code in [
            "19", "2067", "1555", "1", "23505", "40001", "42P01", "22P02",
        ] {
            assert!(!super::unavailable_code(code), "{code}");
        }
    }

    #[test]
    fn a_full_disk_met_by_the_hot_paths_own_connections_is_unavailable_too() {
        let failure = |code: i32| {
            anyhow::Error::new(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(code),
                None,
            ))
            .context("committing new sessions")
        };
        assert!(super::is_unavailable(&failure(rusqlite::ffi::SQLITE_FULL)));
        assert!(super::is_unavailable(&failure(
            rusqlite::ffi::SQLITE_IOERR_WRITE
        )));
        assert!(!super::is_unavailable(&failure(
            rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
        )));
    }
}
