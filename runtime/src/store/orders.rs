//! Orders of a customer, unique per tenant on `(source, external_id)`.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use super::entity::order;
use super::{StoreError, StoreResult, customers, newest_first, parse_column, time_cursor};
use crate::domain::Id;
use crate::domain::money::Money;
use crate::domain::order::{Order, OrderFields};
use crate::domain::page::{Page, PageRequest};

pub const SORT: &str = "-ordered_at";

pub(crate) fn to_domain(row: order::Model) -> StoreResult<Order> {
    Ok(Order {
        status: parse_column("orders.status", &row.status)?,
        amount: Some(Money::from_storage(row.amount_e4, row.currency)),
        id: row.id,
        customer_id: row.customer_id,
        source: row.source,
        external_id: row.external_id,
        product: row.product,
        category: row.category,
        ordered_at: row.ordered_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn duplicate(error: sea_orm::DbErr) -> StoreError {
    StoreError::conflict_on_unique(
        error,
        "duplicate_order",
        "an order with this source and external_id already exists",
    )
}

pub async fn create(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    customer_id: Id,
    fields: OrderFields,
) -> StoreResult<Order> {
    customers::ensure_exists(db, tenant_id, customer_id).await?;
    let now = Utc::now();
    let status: &'static str = fields.status.into();
    let row = order::ActiveModel {
        tenant_id: Set(tenant_id),
        customer_id: Set(customer_id),
        amount_e4: Set(fields.amount.storage_units()),
        currency: Set(fields.amount.currency),
        source: Set(fields.source),
        external_id: Set(fields.external_id),
        product: Set(fields.product),
        category: Set(fields.category),
        ordered_at: Set(fields.ordered_at),
        status: Set(status.to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(duplicate)?;
    let announced =
        serde_json::json!({"customer_id": customer_id, "order_id": row.id, "status": row.status});
    super::events::append(db, tenant_id, "order.created", row.id, &announced).await?;
    to_domain(row)
}

async fn find(db: &impl ConnectionTrait, tenant_id: Id, id: Id) -> StoreResult<order::Model> {
    order::Entity::find_by_id(id)
        .filter(order::Column::TenantId.eq(tenant_id))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("order"))
}

pub async fn get(db: &impl ConnectionTrait, tenant_id: Id, id: Id) -> StoreResult<Order> {
    to_domain(find(db, tenant_id, id).await?)
}

pub async fn list(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    customer_id: Id,
    page: &PageRequest,
) -> StoreResult<Page<Order>> {
    customers::ensure_exists(db, tenant_id, customer_id).await?;
    let query = order::Entity::find()
        .filter(order::Column::TenantId.eq(tenant_id))
        .filter(order::Column::CustomerId.eq(customer_id));
    let rows = newest_first(query, order::Column::OrderedAt, order::Column::Id, page)?
        .all(db)
        .await?;
    let orders = rows
        .into_iter()
        .map(to_domain)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_rows(orders, page.limit, |o: &Order| {
        time_cursor(SORT, o.ordered_at, o.id)
    }))
}

pub async fn update(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    id: Id,
    fields: OrderFields,
) -> StoreResult<Order> {
    let mut row: order::ActiveModel = find(db, tenant_id, id).await?.into();
    let status: &'static str = fields.status.into();
    row.amount_e4 = Set(fields.amount.storage_units());
    row.currency = Set(fields.amount.currency);
    row.product = Set(fields.product);
    row.category = Set(fields.category);
    row.ordered_at = Set(fields.ordered_at);
    row.status = Set(status.to_owned());
    row.updated_at = Set(Utc::now());
    to_domain(row.update(db).await?)
}

pub async fn delete(db: &impl ConnectionTrait, tenant_id: Id, id: Id) -> StoreResult<()> {
    let result = order::Entity::delete_many()
        .filter(order::Column::Id.eq(id))
        .filter(order::Column::TenantId.eq(tenant_id))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        Err(StoreError::NotFound("order"))
    } else {
        Ok(())
    }
}
