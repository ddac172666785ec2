//! Users of a tenant.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set,
};

use super::entity::user;
use super::{StoreError, StoreResult, parse_column};
use crate::domain::Id;
use crate::domain::identity::{Role, User, UserInput, UserPatch};

pub(crate) fn to_domain(row: user::Model) -> StoreResult<User> {
    Ok(User {
        role: parse_column("users.role", &row.role)?,
        id: row.id,
        email: row.email,
        display_name: row.display_name,
        active: row.active,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// `input` must be validated; its role defaults to member.
pub async fn create(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    input: UserInput,
) -> StoreResult<User> {
    let now = Utc::now();
    let role: &'static str = input.role.unwrap_or(Role::Member).into();
    let row = user::ActiveModel {
        tenant_id: Set(tenant_id),
        email: Set(input.email),
        display_name: Set(input.display_name),
        role: Set(role.to_owned()),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(|e| {
        StoreError::conflict_on_unique(
            e,
            "email_taken",
            "a user with this e-mail already exists in the tenant",
        )
    })?;
    to_domain(row)
}

async fn find(db: &impl ConnectionTrait, tenant_id: Id, id: Id) -> StoreResult<user::Model> {
    user::Entity::find_by_id(id)
        .filter(user::Column::TenantId.eq(tenant_id))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("user"))
}

pub async fn get(db: &impl ConnectionTrait, tenant_id: Id, id: Id) -> StoreResult<User> {
    to_domain(find(db, tenant_id, id).await?)
}

pub async fn list(db: &impl ConnectionTrait, tenant_id: Id) -> StoreResult<Vec<User>> {
    user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant_id))
        .order_by_asc(user::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}

/// True when `user_id` is a user of the tenant (active or not): owners must be colleagues.
pub async fn belongs_to_tenant(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    user_id: Id,
) -> StoreResult<bool> {
    let count = user::Entity::find_by_id(user_id)
        .filter(user::Column::TenantId.eq(tenant_id))
        .count(db)
        .await?;
    Ok(count > 0)
}

pub async fn update(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    id: Id,
    patch: UserPatch,
) -> StoreResult<User> {
    let current = find(db, tenant_id, id).await?;
    let mut row: user::ActiveModel = current.into();
    if let Some(name) = patch.display_name {
        row.display_name = Set(name);
    }
    if let Some(role) = patch.role {
        let role: &'static str = role.into();
        row.role = Set(role.to_owned());
    }
    if let Some(active) = patch.active {
        row.active = Set(active);
    }
    row.updated_at = Set(Utc::now());
    to_domain(row.update(db).await?)
}
