//! Users of a tenant.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set, TransactionSession, TransactionTrait,
};

use super::entity::user;
use super::{StoreError, StoreResult, access, begin_write, departments};
use crate::domain::Id;
use crate::domain::access::DEFAULT_ROLE;
use crate::domain::identity::{User, UserInput, UserPatch};

/// A user row with its roles, which live in casbin grouping lines.
pub(crate) fn to_domain(row: user::Model, roles: Vec<String>) -> User {
    User {
        id: row.id,
        email: row.email,
        display_name: row.display_name,
        roles,
        department_id: row.department_id,
        active: row.active,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

pub(crate) async fn with_roles(db: &impl ConnectionTrait, row: user::Model) -> StoreResult<User> {
    let roles = access::roles_of(db, row.tenant_id, row.id).await?;
    Ok(to_domain(row, roles))
}

/// `input` must be validated. The role must exist in the tenant; the department too.
pub async fn create(
    db: &impl TransactionTrait,
    tenant_id: Id,
    input: UserInput,
) -> StoreResult<User> {
    let tx = begin_write(db).await?;
    let user = insert(&tx, tenant_id, input).await?;
    tx.commit().await?;
    Ok(user)
}

async fn insert(db: &impl ConnectionTrait, tenant_id: Id, input: UserInput) -> StoreResult<User> {
    if let Some(department_id) = input.department_id {
        departments::ensure_exists(db, tenant_id, department_id).await?;
    }
    let now = Utc::now();
    let row = user::ActiveModel {
        tenant_id: Set(tenant_id),
        email: Set(input.email),
        display_name: Set(input.display_name),
        department_id: Set(input.department_id),
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
    let role = input.role.unwrap_or_else(|| DEFAULT_ROLE.to_owned());
    access::assign_in(db, tenant_id, row.id, &role).await?;
    with_roles(db, row).await
}

async fn find(db: &impl ConnectionTrait, tenant_id: Id, id: Id) -> StoreResult<user::Model> {
    user::Entity::find_by_id(id)
        .filter(user::Column::TenantId.eq(tenant_id))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("user"))
}

pub async fn get(db: &impl ConnectionTrait, tenant_id: Id, id: Id) -> StoreResult<User> {
    with_roles(db, find(db, tenant_id, id).await?).await
}

pub async fn list(db: &impl ConnectionTrait, tenant_id: Id) -> StoreResult<Vec<User>> {
    let mut roles = access::roles_by_user(db, tenant_id, None).await?;
    Ok(user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant_id))
        .order_by_asc(user::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|row| {
            let user_roles = roles.remove(&row.id).unwrap_or_default();
            to_domain(row, user_roles)
        })
        .collect())
}

/// The department of a user of the tenant (`None` when they have none).
pub async fn department_of(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    user_id: Id,
) -> StoreResult<Option<Id>> {
    Ok(find(db, tenant_id, user_id).await?.department_id)
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
    if let Some(department_id) = patch.department_id {
        if let Some(department_id) = department_id {
            departments::ensure_exists(db, tenant_id, department_id).await?;
        }
        row.department_id = Set(department_id);
    }
    if let Some(active) = patch.active {
        row.active = Set(active);
    }
    if patch.active == Some(false) {
        // Reactivation must not revive the sessions the user had.
        super::sessions::end_sessions_of(db, tenant_id, id, None).await?;
    }
    row.updated_at = Set(Utc::now());
    with_roles(db, row.update(db).await?).await
}

/// Deactivates a user (a handover's former owner), ending their sessions as
/// [`update`] does.
pub async fn deactivate(db: &impl ConnectionTrait, tenant_id: Id, id: Id) -> StoreResult<()> {
    user::Entity::update_many()
        .col_expr(user::Column::Active, Expr::value(false))
        .filter(user::Column::Id.eq(id))
        .filter(user::Column::TenantId.eq(tenant_id))
        .exec(db)
        .await?;
    super::sessions::end_sessions_of(db, tenant_id, id, None).await
}
