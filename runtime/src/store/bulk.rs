//! Multi-row `INSERT`s written by hand rather than through `insert_many`: a bulk write spends
//! much of its time outside the database building sea-orm's per-row models and expressions.

use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};

use super::StoreResult;

/// Inserts `values.len() / columns.len()` rows into `table`, one statement; `values` holds the
/// rows one after the other, each in the order of `columns`. Parameters are positional (`?`)
/// on SQLite, which looks numbered ones up by name with one linear scan per parameter.
pub(crate) async fn insert_rows(
    db: &impl ConnectionTrait,
    table: &str,
    columns: &[&str],
    values: Vec<Value>,
) -> StoreResult<()> {
    debug_assert_eq!(values.len() % columns.len(), 0, "whole rows only");
    if values.is_empty() {
        return Ok(());
    }
    let backend = db.get_database_backend();
    let width = columns.len();
    let tuples: Vec<String> = (0..values.len() / width)
        .map(|row| {
            let marks: Vec<String> = (1..=width)
                .map(|column| match backend {
                    DbBackend::Postgres => format!("${}", row * width + column),
                    _ => "?".to_owned(),
                })
                .collect();
            format!("({})", marks.join(", "))
        })
        .collect();
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES {}",
        columns.join(", "),
        tuples.join(", ")
    );
    db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(())
}
