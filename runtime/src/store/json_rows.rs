//! Reads all rows of a query as one JSON array that the database builds itself.
//!
//! The SQLite driver hands rows over one at a time from its worker thread, and a tier run
//! reads millions of small aggregate rows: the handover (a channel send, a wake-up and a
//! copy of every value per row) cost about as much CPU as SQLite's own work. One JSON value
//! per query is one handover, and serde decodes it by column name.

use sea_orm::sea_query::SelectStatement;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde::de::DeserializeOwned;

use super::{StoreError, StoreResult};

/// The rows of `query`, each decoded from an object of `columns` (the query's result column
/// names, which must match the fields of `T`).
pub(crate) async fn fetch<T: DeserializeOwned>(
    db: &impl ConnectionTrait,
    query: &SelectStatement,
    columns: &[&str],
) -> StoreResult<Vec<T>> {
    let backend = db.get_database_backend();
    let inner = backend.build(query);
    let fields: Vec<String> = columns
        .iter()
        .map(|column| format!("'{column}', r.\"{column}\""))
        .collect();
    let fields = fields.join(", ");
    let rows = match backend {
        DbBackend::Postgres => {
            format!("COALESCE(json_agg(json_build_object({fields})), '[]'::json)::text")
        }
        _ => format!("json_group_array(json_object({fields}))"),
    };
    let sql = format!("SELECT {rows} AS \"rows\" FROM ({}) AS r", inner.sql);
    let statement = Statement {
        sql,
        values: inner.values,
        db_backend: backend,
    };
    let Some(row) = db.query_one_raw(statement).await? else {
        return Ok(Vec::new());
    };
    let text: String = row.try_get("", "rows")?;
    serde_json::from_str(&text)
        .map_err(|error| StoreError::Corrupt(format!("rows of a query as JSON: {error}")))
}
