//! `copy-to`: every row of one database into another, empty one (SQLite to PostgreSQL and
//! back), streamed in batches so that memory stays flat, then verified table by table: row
//! counts and a SHA-256 of every row in key order, read again from both sides.
//!
//! The source is read inside one transaction (a snapshot on both backends), so a server still
//! writing to it cannot tear the copy; the target gets its migrations from this build first and
//! must hold no row. Tables are copied parents first, as their foreign keys ask.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};
use sqlx::pool::PoolConnection;
use sqlx::{Any, Row};

use super::{Backend, Db};

/// Values bound in one statement, at most: under SQLite's limit of 32,766 (PostgreSQL takes
/// 65,535). A batch is this many values' worth of rows, at most 1,000.
const VALUES_PER_BATCH: usize = 30_000;

/// One table as copied and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCopy {
    /// Its name.
    pub table: String,
    /// Rows in the source.
    pub source_rows: i64,
    /// Rows in the target after the copy.
    pub target_rows: i64,
    /// SHA-256 of the source's rows in key order, hex.
    pub source_sum: String,
    /// The same of the target's.
    pub target_sum: String,
}

impl TableCopy {
    /// Whether both sides hold the same rows.
    pub fn matches(&self) -> bool {
        self.source_rows == self.target_rows && self.source_sum == self.target_sum
    }
}

/// A value of the product's tables, which hold only text and 64-bit integers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    /// A NULL of an integer column (`true`) or a text one: PostgreSQL wants it typed.
    Null(bool),
    Int(i64),
    Text(String),
}

/// A table's shape: its columns (name, whether an integer) and its primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Shape {
    columns: Vec<(String, bool)>,
    key: Vec<String>,
}

/// Copies every row of `source` into `target` (migrated here, and refused unless empty) and
/// verifies both sides; `progress` hears of each table as it is done.
pub async fn copy_to(
    source: &Db,
    target: &Db,
    mut progress: impl FnMut(&TableCopy),
) -> anyhow::Result<Vec<TableCopy>> {
    if !source.pending_migrations().await?.is_empty() {
        bail!("the source database lacks migrations of this build: run `migrate` on it first");
    }
    target.migrate().await.context("migrating the target")?;
    let tables = copy_order(source).await?;
    let mut src = source
        .read
        .acquire()
        .await
        .context("connecting to the source")?;
    let mut dst = target
        .write
        .acquire()
        .await
        .context("connecting to the target")?;
    for table in &tables {
        let rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {}", quote(table)))
            .fetch_one(&mut *dst)
            .await
            .with_context(|| format!("reading the target's {table}"))?;
        if rows > 0 {
            bail!(
                "the target is not empty ({table} holds {rows} rows): copy into an empty database"
            );
        }
    }
    // One snapshot of the source for the whole copy and its checksums.
    let begin = match source.backend {
        Backend::Sqlite => "BEGIN",
        Backend::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
    };
    sqlx::query(begin).execute(&mut *src).await?;
    let mut report = Vec::with_capacity(tables.len());
    for table in &tables {
        let shape = shape_of(source, &mut src, table).await?;
        let target_shape = shape_of(target, &mut dst, table).await?;
        // The same columns, perhaps in another order (a column added later sits last on one
        // backend and in its place on the other); both sides are read in the source's order.
        let sorted = |s: &Shape| {
            let mut c = s.columns.clone();
            c.sort();
            c
        };
        if sorted(&shape) != sorted(&target_shape) || shape.key != target_shape.key {
            bail!("{table} has other columns in the target than in the source");
        }
        copy_table(&mut src, &mut dst, table, &shape).await?;
        let (source_rows, source_sum) = checksum(&mut src, table, &shape).await?;
        let (target_rows, target_sum) = checksum(&mut dst, table, &shape).await?;
        let done = TableCopy {
            table: table.clone(),
            source_rows,
            target_rows,
            source_sum,
            target_sum,
        };
        progress(&done);
        report.push(done);
    }
    sqlx::query("COMMIT").execute(&mut *src).await.ok();
    Ok(report)
}

/// The product's tables (not the migrations' own), parents before the tables that refer to
/// them.
async fn copy_order(db: &Db) -> anyhow::Result<Vec<String>> {
    let (tables, edges): (Vec<String>, Vec<(String, String)>) = match db.backend {
        Backend::Sqlite => (
            sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'table'
                   AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name",
            )
            .fetch_all(&db.read)
            .await?,
            sqlx::query_as(
                "SELECT m.name, f.\"table\" FROM sqlite_master m
                 JOIN pragma_foreign_key_list(m.name) f WHERE m.type = 'table'",
            )
            .fetch_all(&db.read)
            .await?,
        ),
        Backend::Postgres => (
            sqlx::query_scalar(
                "SELECT table_name::TEXT FROM information_schema.tables
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
                   AND table_name <> '_sqlx_migrations' ORDER BY table_name",
            )
            .fetch_all(&db.read)
            .await?,
            sqlx::query_as(
                "SELECT tc.table_name::TEXT, ccu.table_name::TEXT
                 FROM information_schema.table_constraints tc
                 JOIN information_schema.constraint_column_usage ccu
                   ON ccu.constraint_name = tc.constraint_name
                  AND ccu.constraint_schema = tc.constraint_schema
                 WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_schema = current_schema()",
            )
            .fetch_all(&db.read)
            .await?,
        ),
    };
    order_by_parents(tables, &edges)
}

/// `tables` sorted so that each comes after the tables it refers to (`edges`: child, parent).
fn order_by_parents(
    tables: Vec<String>,
    edges: &[(String, String)],
) -> anyhow::Result<Vec<String>> {
    let mut parents: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (child, parent) in edges {
        if child != parent {
            parents.entry(child).or_default().insert(parent);
        }
    }
    let mut done: Vec<String> = Vec::with_capacity(tables.len());
    let mut left = tables;
    while !left.is_empty() {
        let (ready, waiting): (Vec<String>, Vec<String>) = left.into_iter().partition(|t| {
            parents
                .get(t.as_str())
                .is_none_or(|ps| ps.iter().all(|p| done.iter().any(|d| d == p)))
        });
        if ready.is_empty() {
            bail!(
                "the tables' foreign keys form a cycle: {}",
                waiting.join(", ")
            );
        }
        done.extend(ready);
        left = waiting;
    }
    Ok(done)
}

async fn shape_of(db: &Db, conn: &mut PoolConnection<Any>, table: &str) -> anyhow::Result<Shape> {
    let (columns, key): (Vec<(String, String)>, Vec<String>) = match db.backend {
        Backend::Sqlite => (
            sqlx::query_as("SELECT name, type FROM pragma_table_info($1) ORDER BY cid")
                .bind(table)
                .fetch_all(&mut **conn)
                .await?,
            sqlx::query_scalar("SELECT name FROM pragma_table_info($1) WHERE pk > 0 ORDER BY pk")
                .bind(table)
                .fetch_all(&mut **conn)
                .await?,
        ),
        Backend::Postgres => (
            sqlx::query_as(
                "SELECT column_name::TEXT, data_type::TEXT FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = $1
                 ORDER BY ordinal_position",
            )
            .bind(table)
            .fetch_all(&mut **conn)
            .await?,
            sqlx::query_scalar(
                "SELECT k.column_name::TEXT FROM information_schema.table_constraints c
                 JOIN information_schema.key_column_usage k
                   ON k.constraint_name = c.constraint_name
                  AND k.constraint_schema = c.constraint_schema
                 WHERE c.constraint_type = 'PRIMARY KEY' AND c.table_schema = current_schema()
                   AND c.table_name = $1
                 ORDER BY k.ordinal_position",
            )
            .bind(table)
            .fetch_all(&mut **conn)
            .await?,
        ),
    };
    if key.is_empty() {
        bail!("{table} has no primary key: it cannot be copied in order");
    }
    let columns = columns
        .into_iter()
        .map(|(name, kind)| match kind.to_ascii_lowercase().as_str() {
            "bigint" | "integer" => Ok((name, true)),
            "text" => Ok((name, false)),
            other => {
                bail!("{table}.{name} is of type {other}: this build copies text and integers only")
            }
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Shape { columns, key })
}

/// Quotes an identifier.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Reads one batch of `table` in key order after `after` (the last key read).
async fn read_batch(
    conn: &mut PoolConnection<Any>,
    table: &str,
    shape: &Shape,
    after: Option<&[Value]>,
) -> anyhow::Result<Vec<Vec<Value>>> {
    let columns: Vec<String> = shape.columns.iter().map(|(c, _)| quote(c)).collect();
    let key: Vec<String> = shape.key.iter().map(|c| quote(c)).collect();
    let mut sql = format!("SELECT {} FROM {}", columns.join(", "), quote(table));
    if after.is_some() {
        let marks: Vec<String> = (1..=key.len()).map(|i| format!("${i}")).collect();
        sql.push_str(&format!(
            " WHERE ({}) > ({})",
            key.join(", "),
            marks.join(", ")
        ));
    }
    let batch = (VALUES_PER_BATCH / shape.columns.len().max(1)).clamp(1, 1_000);
    sql.push_str(&format!(" ORDER BY {} LIMIT {batch}", key.join(", ")));
    let mut query = sqlx::query(&sql);
    for value in after.unwrap_or_default() {
        query = bind(query, value);
    }
    let rows = query
        .fetch_all(&mut **conn)
        .await
        .with_context(|| format!("reading {table}"))?;
    rows.iter()
        .map(|row| {
            shape
                .columns
                .iter()
                .enumerate()
                .map(|(i, (name, integer))| {
                    let value = if *integer {
                        row.try_get::<Option<i64>, _>(i).map(|v| v.map(Value::Int))
                    } else {
                        row.try_get::<Option<String>, _>(i)
                            .map(|v| v.map(Value::Text))
                    };
                    value
                        .map(|v| v.unwrap_or(Value::Null(*integer)))
                        .with_context(|| format!("reading {table}.{name}"))
                })
                .collect()
        })
        .collect()
}

fn bind<'q>(
    query: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    value: &Value,
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
    match value {
        Value::Null(true) => query.bind(None::<i64>),
        Value::Null(false) => query.bind(None::<String>),
        Value::Int(n) => query.bind(*n),
        Value::Text(s) => query.bind(s.clone()),
    }
}

/// The key of `row`.
fn key_of(shape: &Shape, row: &[Value]) -> Vec<Value> {
    shape
        .key
        .iter()
        .map(|k| {
            let i = shape.columns.iter().position(|(c, _)| c == k).unwrap_or(0);
            row[i].clone()
        })
        .collect()
}

async fn copy_table(
    src: &mut PoolConnection<Any>,
    dst: &mut PoolConnection<Any>,
    table: &str,
    shape: &Shape,
) -> anyhow::Result<()> {
    let columns: Vec<String> = shape.columns.iter().map(|(c, _)| quote(c)).collect();
    let width = columns.len();
    let mut after: Option<Vec<Value>> = None;
    loop {
        let rows = read_batch(src, table, shape, after.as_deref()).await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = Some(key_of(shape, last));
        let values: Vec<String> = (0..rows.len())
            .map(|r| {
                let marks: Vec<String> =
                    (1..=width).map(|c| format!("${}", r * width + c)).collect();
                format!("({})", marks.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO {} ({}) VALUES {}",
            quote(table),
            columns.join(", "),
            values.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for row in &rows {
            for value in row {
                query = bind(query, value);
            }
        }
        query
            .execute(&mut **dst)
            .await
            .with_context(|| format!("writing {table}"))?;
    }
}

/// How many rows `table` holds and a SHA-256 of them all in key order, each row's values in
/// the order of their columns' names.
async fn checksum(
    conn: &mut PoolConnection<Any>,
    table: &str,
    shape: &Shape,
) -> anyhow::Result<(i64, String)> {
    // Columns by name, so that the sum is the same whatever order a backend keeps them in.
    let mut order: Vec<usize> = (0..shape.columns.len()).collect();
    order.sort_by(|a, b| shape.columns[*a].0.cmp(&shape.columns[*b].0));
    let mut hasher = Sha256::new();
    let mut rows = 0i64;
    let mut after: Option<Vec<Value>> = None;
    loop {
        let batch = read_batch(conn, table, shape, after.as_deref()).await?;
        let Some(last) = batch.last() else {
            break;
        };
        after = Some(key_of(shape, last));
        for row in &batch {
            rows += 1;
            for value in order.iter().map(|i| &row[*i]) {
                match value {
                    Value::Null(_) => hasher.update(b"N;"),
                    Value::Int(n) => hasher.update(format!("I{n};")),
                    Value::Text(s) => {
                        hasher.update(format!("T{}:", s.len()));
                        hasher.update(s.as_bytes());
                    }
                }
            }
            hasher.update(b"\n");
        }
    }
    let sum = const_hex::encode(hasher.finalize());
    Ok((rows, sum))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_come_before_the_tables_that_refer_to_them() {
        let tables = ["payments", "merchants", "checkout_sessions", "customers"]
            .map(String::from)
            .to_vec();
        let edges = [
            ("payments", "checkout_sessions"),
            ("payments", "customers"),
            ("checkout_sessions", "customers"),
            ("customers", "merchants"),
            ("checkout_sessions", "merchants"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()));
        assert_eq!(
            order_by_parents(tables, &edges).unwrap(),
            ["merchants", "customers", "checkout_sessions", "payments"]
        );
        let cycle = [("a", "b"), ("b", "a")].map(|(a, b)| (a.to_owned(), b.to_owned()));
        assert!(order_by_parents(vec!["a".into(), "b".into()], &cycle).is_err());
    }
}
