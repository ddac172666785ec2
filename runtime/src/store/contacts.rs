//! Contacts of a customer. At most one is primary: marking one primary unmarks the others.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionSession, TransactionTrait,
};

use super::entity::contact;
use super::{StoreError, StoreResult, begin_write, customers};
use crate::domain::Id;
use crate::domain::contact::{Contact, ContactInput};
use crate::domain::page::{Cursor, Page, PageRequest};

/// Contacts list in creation order; the cursor carries the last id.
pub const SORT: &str = "id";

fn to_domain(row: contact::Model) -> Contact {
    Contact {
        id: row.id,
        customer_id: row.customer_id,
        name: row.name,
        title: row.title,
        phone: row.phone,
        email: row.email,
        wechat_id: row.wechat_id,
        is_primary: row.is_primary,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

async fn clear_primary(db: &impl ConnectionTrait, customer_id: Id) -> StoreResult<()> {
    contact::Entity::update_many()
        .col_expr(contact::Column::IsPrimary, Expr::value(false))
        .filter(contact::Column::CustomerId.eq(customer_id))
        .exec(db)
        .await?;
    Ok(())
}

/// `input` must be validated.
pub async fn create(
    db: &impl TransactionTrait,
    tenant_id: Id,
    customer_id: Id,
    input: ContactInput,
) -> StoreResult<Contact> {
    let tx = begin_write(db).await?;
    customers::ensure_exists(&tx, tenant_id, customer_id).await?;
    if input.is_primary {
        clear_primary(&tx, customer_id).await?;
    }
    let now = Utc::now();
    let row = contact::ActiveModel {
        tenant_id: Set(tenant_id),
        customer_id: Set(customer_id),
        name: Set(input.name),
        title: Set(input.title),
        phone: Set(input.phone),
        email: Set(input.email),
        wechat_id: Set(input.wechat_id),
        is_primary: Set(input.is_primary),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&tx)
    .await?;
    customers::refresh_quality_flags(&tx, tenant_id, customer_id).await?;
    tx.commit().await?;
    Ok(to_domain(row))
}

async fn find(db: &impl ConnectionTrait, tenant_id: Id, id: Id) -> StoreResult<contact::Model> {
    contact::Entity::find_by_id(id)
        .filter(contact::Column::TenantId.eq(tenant_id))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("contact"))
}

pub async fn get(db: &impl ConnectionTrait, tenant_id: Id, id: Id) -> StoreResult<Contact> {
    Ok(to_domain(find(db, tenant_id, id).await?))
}

pub async fn list(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    customer_id: Id,
    page: &PageRequest,
) -> StoreResult<Page<Contact>> {
    customers::ensure_exists(db, tenant_id, customer_id).await?;
    let mut query = contact::Entity::find().filter(contact::Column::CustomerId.eq(customer_id));
    if let Some(cursor) = &page.after {
        query = query.filter(contact::Column::Id.gt(cursor.id));
    }
    let rows = query
        .order_by_asc(contact::Column::Id)
        .limit(page.limit + 1)
        .all(db)
        .await?;
    let contacts = rows.into_iter().map(to_domain).collect();
    Ok(Page::from_rows(contacts, page.limit, |c: &Contact| {
        Cursor {
            sort: SORT.into(),
            value: String::new(),
            id: c.id,
        }
    }))
}

/// All contacts of a customer, primary first (for the 360° view).
pub async fn all_of_customer(
    db: &impl ConnectionTrait,
    customer_id: Id,
    max: u64,
) -> StoreResult<Vec<Contact>> {
    Ok(contact::Entity::find()
        .filter(contact::Column::CustomerId.eq(customer_id))
        .order_by_desc(contact::Column::IsPrimary)
        .order_by_asc(contact::Column::Id)
        .limit(max)
        .all(db)
        .await?
        .into_iter()
        .map(to_domain)
        .collect())
}

pub async fn update(
    db: &impl TransactionTrait,
    tenant_id: Id,
    id: Id,
    input: ContactInput,
) -> StoreResult<Contact> {
    let tx = begin_write(db).await?;
    let current = find(&tx, tenant_id, id).await?;
    if input.is_primary && !current.is_primary {
        clear_primary(&tx, current.customer_id).await?;
    }
    let mut row: contact::ActiveModel = current.into();
    row.name = Set(input.name);
    row.title = Set(input.title);
    row.phone = Set(input.phone);
    row.email = Set(input.email);
    row.wechat_id = Set(input.wechat_id);
    row.is_primary = Set(input.is_primary);
    row.updated_at = Set(Utc::now());
    let row = row.update(&tx).await?;
    tx.commit().await?;
    Ok(to_domain(row))
}

pub async fn delete(db: &impl TransactionTrait, tenant_id: Id, id: Id) -> StoreResult<()> {
    let tx = begin_write(db).await?;
    let current = find(&tx, tenant_id, id).await?;
    contact::Entity::delete_by_id(id).exec(&tx).await?;
    customers::refresh_quality_flags(&tx, tenant_id, current.customer_id).await?;
    tx.commit().await?;
    Ok(())
}
