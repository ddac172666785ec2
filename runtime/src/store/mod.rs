//! Persistence: sea-orm entities plus one service module per aggregate.
//!
//! Service functions take `&impl ConnectionTrait` (or `TransactionTrait` when they need a
//! transaction) and a tenant id, so they compose inside a caller's transaction and can never
//! forget the tenant boundary. They return domain types and [`StoreError`].

pub mod access;
pub mod audit;
pub mod automation;
mod bulk;
pub mod casbin_adapter;
pub mod contacts;
pub mod customer_360;
pub mod customers;
pub mod departments;
pub mod entity;
pub mod events;
pub mod handover;
pub mod interactions;
mod json_rows;
pub mod knowledge;
pub mod orders;
pub mod plugins;
pub mod satisfaction;
pub mod schedules;
pub mod service_settings;
pub mod sessions;
pub mod surveys;
pub mod sync;
pub mod tasks;
pub mod tenants;
pub mod tickets;
pub mod tiering;
pub mod tokens;
pub mod users;

use std::path::Path;
use std::time::Duration;

use rapport_migrations::Migrator;
use rapport_migrations::sea_orm_migration::MigratorTrait;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DbErr, SqlErr, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};

use crate::domain::ValidationErrors;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist *for this tenant*; rows of other tenants are indistinguishable.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    /// A stored value no longer parses: a bug or a manual edit, never the caller's fault.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("database: {0}")]
    Database(#[from] DbErr),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// Maps a unique-constraint violation to a conflict the caller can act on.
    pub fn conflict_on_unique(error: DbErr, code: &'static str, message: &str) -> StoreError {
        match error.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::Conflict {
                code,
                message: message.to_owned(),
            },
            _ => StoreError::Database(error),
        }
    }
}

/// Parses a stored enum column.
pub(crate) fn parse_column<T: std::str::FromStr>(column: &str, value: &str) -> StoreResult<T> {
    value
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("{column} = {value:?}")))
}

/// The default embedded database inside a data directory.
pub fn sqlite_url(data_dir: &Path) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("rapport.db").display()
    )
}

/// Opens a pool on SQLite (WAL, foreign keys on) or PostgreSQL, chosen by the URL scheme.
pub async fn connect(url: &str) -> StoreResult<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(if url.starts_with("sqlite:") { 8 } else { 16 })
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|sqlite| {
            sqlite
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                // 64 MiB per connection at most (the default is 2 MiB): bulk imports touch
                // index pages all over the orders table, and every page SQLite cannot keep is
                // read back from the OS and written out again before the commit.
                .pragma("cache_size", "-65536")
                // Checkpoint every 64 MiB of WAL instead of every 4 MiB: a page rewritten by
                // many commits in between is copied into the database (and synced) once.
                .pragma("wal_autocheckpoint", "16384")
                // Pages are read straight from the OS's file cache instead of copied out of it
                // by a read call each; address space only, shared by every connection.
                .pragma("mmap_size", "1073741824")
                // Sorts, GROUP BYs and IN lists build temporary b-trees: in memory they cost
                // no temporary file.
                .pragma("temp_store", "MEMORY")
                // The connection's thread runs ahead of the task reading its rows: with room
                // for a few hundred rows, a page of results costs a few wake-ups, not one a row.
                .row_buffer_size(512)
        });
    Ok(Database::connect(options).await?)
}

pub async fn migrate_up(db: &DatabaseConnection) -> StoreResult<()> {
    Ok(Migrator::up(db, None).await?)
}

pub async fn migrate_down(db: &DatabaseConnection, steps: u32) -> StoreResult<()> {
    Ok(Migrator::down(db, Some(steps)).await?)
}

/// `(name, applied)` for every known migration, in order.
pub async fn migration_status(db: &DatabaseConnection) -> StoreResult<Vec<(String, bool)>> {
    let pending: Vec<String> = Migrator::get_pending_migrations(db)
        .await?
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    Ok(Migrator::migrations()
        .iter()
        .map(|m| (m.name().to_owned(), !pending.iter().any(|p| p == m.name())))
        .collect())
}

/// What API code needs to name a connection or transaction it passes through to services,
/// without reaching into sea-orm itself.
pub use sea_orm::{ConnectionTrait as Connection, DatabaseTransaction as Transaction};

/// Commits a transaction from [`begin_write`].
pub async fn commit(tx: Transaction) -> StoreResult<()> {
    Ok(tx.commit().await?)
}

/// Starts a transaction that will write. On SQLite it takes the write lock up front
/// (`BEGIN IMMEDIATE`), so two writers queue on the busy timeout instead of one failing when it
/// upgrades a read lock; PostgreSQL ignores the mode.
pub async fn begin_write<C: TransactionTrait>(db: &C) -> StoreResult<C::Transaction> {
    let options = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    };
    Ok(db.begin_with_options(options).await?)
}

/// Orders a child list newest first on `(time, id)` and applies the page's keyset cursor, whose
/// value is the RFC 3339 time of the last row seen. Fetches one row more than the page holds.
pub(crate) fn newest_first<E: sea_orm::EntityTrait>(
    query: sea_orm::Select<E>,
    time: E::Column,
    id: E::Column,
    page: &crate::domain::page::PageRequest,
) -> StoreResult<sea_orm::Select<E>> {
    use sea_orm::{ColumnTrait, Condition, QueryFilter, QueryOrder, QuerySelect};
    let query = match &page.after {
        Some(cursor) => {
            let at = chrono::DateTime::parse_from_rfc3339(&cursor.value)
                .map_err(|_| {
                    ValidationErrors::single("cursor", "invalid_cursor", "the cursor is malformed")
                })?
                .with_timezone(&chrono::Utc);
            query.filter(
                Condition::any()
                    .add(time.lt(at))
                    .add(Condition::all().add(time.eq(at)).add(id.lt(cursor.id))),
            )
        }
        None => query,
    };
    Ok(query
        .order_by_desc(time)
        .order_by_desc(id)
        .limit(page.limit + 1))
}

/// The cursor of a row in a [`newest_first`] list.
pub(crate) fn time_cursor(
    sort: &str,
    at: chrono::DateTime<chrono::Utc>,
    id: crate::domain::Id,
) -> crate::domain::page::Cursor {
    crate::domain::page::Cursor {
        sort: sort.to_owned(),
        value: at.to_rfc3339(),
        id,
    }
}
