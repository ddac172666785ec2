//! The events outbox: domain events written in the transaction of the change they announce,
//! and handed out once to the automation dispatcher.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{LockBehavior, LockType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde_json::Value;

use super::StoreResult;
use super::entity::event;
use crate::domain::Id;
use crate::domain::automation::Event;

fn to_domain(row: event::Model) -> Event {
    Event {
        id: row.id,
        tenant_id: row.tenant_id,
        kind: row.kind,
        subject_id: row.subject_id.and_then(|id| id.parse().ok()),
        // Payloads are written by this module from JSON values; an unreadable one is kept as null.
        payload: serde_json::from_str(&row.payload).unwrap_or(Value::Null),
        occurred_at: row.occurred_at,
    }
}

/// A new outbox row about `subject_id` (a customer, a task, …).
pub(crate) fn new_event(
    tenant_id: Id,
    kind: &str,
    subject_id: Id,
    payload: &Value,
    now: DateTime<Utc>,
) -> event::ActiveModel {
    event::ActiveModel {
        tenant_id: Set(tenant_id),
        kind: Set(kind.to_owned()),
        subject_id: Set(Some(subject_id.to_string())),
        payload: Set(payload.to_string()),
        occurred_at: Set(now),
        ..Default::default()
    }
}

/// Appends one event; call it inside the transaction of the change.
pub async fn append(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    kind: &str,
    subject_id: Id,
    payload: &Value,
) -> StoreResult<()> {
    new_event(tenant_id, kind, subject_id, payload, Utc::now())
        .insert(db)
        .await?;
    Ok(())
}

/// Up to `limit` events no dispatcher has handled, oldest first. On PostgreSQL the rows stay
/// locked for the caller's transaction and other dispatchers skip them, so two processes never
/// handle the same event; SQLite has one writer at a time, which gives the same guarantee.
pub async fn claim_unhandled(db: &impl ConnectionTrait, limit: u64) -> StoreResult<Vec<Event>> {
    let mut query = event::Entity::find()
        .filter(event::Column::HandledAt.is_null())
        .order_by_asc(event::Column::Id)
        .limit(limit);
    if db.get_database_backend() == DbBackend::Postgres {
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    Ok(query.all(db).await?.into_iter().map(to_domain).collect())
}

/// Marks events handled (in the transaction that claimed them).
pub async fn mark_handled(db: &impl ConnectionTrait, ids: Vec<Id>) -> StoreResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    event::Entity::update_many()
        .col_expr(
            event::Column::HandledAt,
            sea_orm::sea_query::Expr::value(Utc::now()),
        )
        .filter(event::Column::Id.is_in(ids))
        .exec(db)
        .await?;
    Ok(())
}

/// A tenant's events of `kind` after the id `after`, oldest first, at most `limit`.
pub async fn of_kind(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    kind: &str,
    after: Id,
    limit: u64,
) -> StoreResult<Vec<Event>> {
    Ok(event::Entity::find()
        .filter(event::Column::TenantId.eq(tenant_id))
        .filter(event::Column::Kind.eq(kind))
        .filter(event::Column::Id.gt(after))
        .order_by_asc(event::Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(to_domain)
        .collect())
}
