//! Satisfaction records of a customer: the satisfaction history.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use super::entity::satisfaction_record;
use super::{StoreError, StoreResult, customers, newest_first, parse_column, time_cursor};
use crate::domain::Id;
use crate::domain::page::{Page, PageRequest};
use crate::domain::satisfaction::{SatisfactionFields, SatisfactionRecord};

pub const SORT: &str = "-recorded_at";

fn to_domain(row: satisfaction_record::Model) -> StoreResult<SatisfactionRecord> {
    Ok(SatisfactionRecord {
        kind: parse_column("satisfaction_records.kind", &row.kind)?,
        id: row.id,
        customer_id: row.customer_id,
        value: row.value,
        source: row.source,
        note: row.note,
        recorded_at: row.recorded_at,
        created_at: row.created_at,
    })
}

pub async fn create(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    customer_id: Id,
    fields: SatisfactionFields,
) -> StoreResult<SatisfactionRecord> {
    customers::ensure_exists(db, tenant_id, customer_id).await?;
    let kind: &'static str = fields.kind.into();
    let row = satisfaction_record::ActiveModel {
        tenant_id: Set(tenant_id),
        customer_id: Set(customer_id),
        kind: Set(kind.to_owned()),
        value: Set(fields.value),
        source: Set(fields.source),
        note: Set(fields.note),
        recorded_at: Set(fields.recorded_at),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let announced = serde_json::json!({"customer_id": customer_id, "record_id": row.id, "kind": row.kind, "value": row.value});
    super::events::append(db, tenant_id, "satisfaction.recorded", row.id, &announced).await?;
    to_domain(row)
}

async fn find(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    id: Id,
) -> StoreResult<satisfaction_record::Model> {
    satisfaction_record::Entity::find_by_id(id)
        .filter(satisfaction_record::Column::TenantId.eq(tenant_id))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("satisfaction record"))
}

pub async fn get(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    id: Id,
) -> StoreResult<SatisfactionRecord> {
    to_domain(find(db, tenant_id, id).await?)
}

pub async fn list(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    customer_id: Id,
    page: &PageRequest,
) -> StoreResult<Page<SatisfactionRecord>> {
    customers::ensure_exists(db, tenant_id, customer_id).await?;
    let query = satisfaction_record::Entity::find()
        .filter(satisfaction_record::Column::CustomerId.eq(customer_id));
    let rows = newest_first(
        query,
        satisfaction_record::Column::RecordedAt,
        satisfaction_record::Column::Id,
        page,
    )?
    .all(db)
    .await?;
    let items = rows
        .into_iter()
        .map(to_domain)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_rows(
        items,
        page.limit,
        |r: &SatisfactionRecord| time_cursor(SORT, r.recorded_at, r.id),
    ))
}

/// The latest `max` records of a customer (for the 360° view).
pub async fn latest_of_customer(
    db: &impl ConnectionTrait,
    customer_id: Id,
    max: u64,
) -> StoreResult<Vec<SatisfactionRecord>> {
    satisfaction_record::Entity::find()
        .filter(satisfaction_record::Column::CustomerId.eq(customer_id))
        .order_by_desc(satisfaction_record::Column::RecordedAt)
        .order_by_desc(satisfaction_record::Column::Id)
        .limit(max)
        .all(db)
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}

pub async fn update(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    id: Id,
    fields: SatisfactionFields,
) -> StoreResult<SatisfactionRecord> {
    let mut row: satisfaction_record::ActiveModel = find(db, tenant_id, id).await?.into();
    row.value = Set(fields.value);
    row.note = Set(fields.note);
    row.recorded_at = Set(fields.recorded_at);
    to_domain(row.update(db).await?)
}

pub async fn delete(db: &impl ConnectionTrait, tenant_id: Id, id: Id) -> StoreResult<()> {
    let result = satisfaction_record::Entity::delete_many()
        .filter(satisfaction_record::Column::Id.eq(id))
        .filter(satisfaction_record::Column::TenantId.eq(tenant_id))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        Err(StoreError::NotFound("satisfaction record"))
    } else {
        Ok(())
    }
}
