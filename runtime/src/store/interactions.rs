//! Interactions with a customer, newest first.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use super::entity::interaction;
use super::{StoreError, StoreResult, customers, newest_first, parse_column, time_cursor};
use crate::domain::Id;
use crate::domain::interaction::{Interaction, InteractionFields};
use crate::domain::page::{Page, PageRequest};

pub const SORT: &str = "-occurred_at";

fn to_domain(row: interaction::Model) -> StoreResult<Interaction> {
    Ok(Interaction {
        channel: parse_column("interactions.channel", &row.channel)?,
        id: row.id,
        customer_id: row.customer_id,
        occurred_at: row.occurred_at,
        summary: row.summary,
        feedback: row.feedback,
        logged_by: row.logged_by,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

pub async fn create(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    customer_id: Id,
    logged_by: Id,
    fields: InteractionFields,
) -> StoreResult<Interaction> {
    customers::ensure_exists(db, tenant_id, customer_id).await?;
    let now = Utc::now();
    let channel: &'static str = fields.channel.into();
    let row = interaction::ActiveModel {
        tenant_id: Set(tenant_id),
        customer_id: Set(customer_id),
        channel: Set(channel.to_owned()),
        occurred_at: Set(fields.occurred_at),
        summary: Set(fields.summary),
        feedback: Set(fields.feedback),
        logged_by: Set(Some(logged_by)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let announced = serde_json::json!({"customer_id": customer_id, "interaction_id": row.id, "channel": row.channel});
    super::events::append(db, tenant_id, "interaction.recorded", row.id, &announced).await?;
    to_domain(row)
}

async fn find(db: &impl ConnectionTrait, tenant_id: Id, id: Id) -> StoreResult<interaction::Model> {
    interaction::Entity::find_by_id(id)
        .filter(interaction::Column::TenantId.eq(tenant_id))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("interaction"))
}

pub async fn get(db: &impl ConnectionTrait, tenant_id: Id, id: Id) -> StoreResult<Interaction> {
    to_domain(find(db, tenant_id, id).await?)
}

pub async fn list(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    customer_id: Id,
    page: &PageRequest,
) -> StoreResult<Page<Interaction>> {
    customers::ensure_exists(db, tenant_id, customer_id).await?;
    let query = interaction::Entity::find().filter(interaction::Column::CustomerId.eq(customer_id));
    let rows = newest_first(
        query,
        interaction::Column::OccurredAt,
        interaction::Column::Id,
        page,
    )?
    .all(db)
    .await?;
    let items = rows
        .into_iter()
        .map(to_domain)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_rows(items, page.limit, |i: &Interaction| {
        time_cursor(SORT, i.occurred_at, i.id)
    }))
}

/// The latest `max` interactions of a customer (for the 360° view).
pub async fn latest_of_customer(
    db: &impl ConnectionTrait,
    customer_id: Id,
    max: u64,
) -> StoreResult<Vec<Interaction>> {
    interaction::Entity::find()
        .filter(interaction::Column::CustomerId.eq(customer_id))
        .order_by_desc(interaction::Column::OccurredAt)
        .order_by_desc(interaction::Column::Id)
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
    fields: InteractionFields,
) -> StoreResult<Interaction> {
    let mut row: interaction::ActiveModel = find(db, tenant_id, id).await?.into();
    let channel: &'static str = fields.channel.into();
    row.channel = Set(channel.to_owned());
    row.occurred_at = Set(fields.occurred_at);
    row.summary = Set(fields.summary);
    row.feedback = Set(fields.feedback);
    row.updated_at = Set(Utc::now());
    to_domain(row.update(db).await?)
}

pub async fn delete(db: &impl ConnectionTrait, tenant_id: Id, id: Id) -> StoreResult<()> {
    let result = interaction::Entity::delete_many()
        .filter(interaction::Column::Id.eq(id))
        .filter(interaction::Column::TenantId.eq(tenant_id))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        Err(StoreError::NotFound("interaction"))
    } else {
        Ok(())
    }
}
