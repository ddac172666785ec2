//! The append-only audit log. There is no update or delete here, by design.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use super::entity::audit_entry;
use super::{StoreError, StoreResult};
use crate::domain::Id;
use crate::domain::audit::{AuditEntry, AuditFilter, NewAuditEntry};
use crate::domain::page::{Cursor, Page, PageRequest};

/// Newest first; the cursor carries the last id.
pub const SORT: &str = "-id";

pub async fn append(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    entry: NewAuditEntry,
) -> StoreResult<()> {
    audit_entry::ActiveModel {
        tenant_id: Set(tenant_id),
        actor_id: Set(entry.actor_id),
        action: Set(entry.action.to_owned()),
        entity: Set(entry.entity.to_owned()),
        entity_id: Set(entry.entity_id),
        changes: Set(entry.changes.map(|changes| changes.to_string())),
        occurred_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

fn to_domain(row: audit_entry::Model) -> StoreResult<AuditEntry> {
    let changes = row
        .changes
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|_| StoreError::Corrupt(format!("audit_entries.changes of {}", row.id)))?;
    Ok(AuditEntry {
        id: row.id,
        actor_id: row.actor_id,
        action: row.action,
        entity: row.entity,
        entity_id: row.entity_id,
        changes,
        occurred_at: row.occurred_at,
    })
}

pub async fn list(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    filter: &AuditFilter,
    page: &PageRequest,
) -> StoreResult<Page<AuditEntry>> {
    let mut query = audit_entry::Entity::find().filter(audit_entry::Column::TenantId.eq(tenant_id));
    if let Some(actor_id) = filter.actor_id {
        query = query.filter(audit_entry::Column::ActorId.eq(actor_id));
    }
    if let Some(action) = &filter.action {
        query = query.filter(audit_entry::Column::Action.eq(action.as_str()));
    }
    if let Some(entity) = &filter.entity {
        query = query.filter(audit_entry::Column::Entity.eq(entity.as_str()));
    }
    if let Some(entity_id) = &filter.entity_id {
        query = query.filter(audit_entry::Column::EntityId.eq(entity_id.as_str()));
    }
    if let Some(since) = filter.since {
        query = query.filter(audit_entry::Column::OccurredAt.gte(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(audit_entry::Column::OccurredAt.lt(until));
    }
    if let Some(after) = &page.after {
        query = query.filter(audit_entry::Column::Id.lt(after.id));
    }
    let rows = query
        .order_by_desc(audit_entry::Column::Id)
        .limit(page.limit + 1)
        .all(db)
        .await?
        .into_iter()
        .map(to_domain)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_rows(rows, page.limit, |entry| Cursor {
        sort: SORT.to_owned(),
        value: entry.id.to_string(),
        id: entry.id,
    }))
}
