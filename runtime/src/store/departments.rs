//! Departments of a tenant.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set,
};

use super::entity::{department, user};
use super::{StoreError, StoreResult};
use crate::domain::Id;
use crate::domain::identity::{Department, DepartmentInput};

fn to_domain(row: department::Model) -> Department {
    Department {
        id: row.id,
        code: row.code,
        name: row.name,
        created_at: row.created_at,
    }
}

/// `input` must be validated.
pub async fn create(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    input: DepartmentInput,
) -> StoreResult<Department> {
    let row = department::ActiveModel {
        tenant_id: Set(tenant_id),
        code: Set(input.code),
        name: Set(input.name),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(|e| {
        StoreError::conflict_on_unique(
            e,
            "department_exists",
            "a department with this code already exists",
        )
    })?;
    Ok(to_domain(row))
}

pub async fn list(db: &impl ConnectionTrait, tenant_id: Id) -> StoreResult<Vec<Department>> {
    Ok(department::Entity::find()
        .filter(department::Column::TenantId.eq(tenant_id))
        .order_by_asc(department::Column::Code)
        .all(db)
        .await?
        .into_iter()
        .map(to_domain)
        .collect())
}

/// Fails with a validation error naming `department_id` when the tenant has no such department.
pub async fn ensure_exists(db: &impl ConnectionTrait, tenant_id: Id, id: Id) -> StoreResult<()> {
    let count = department::Entity::find_by_id(id)
        .filter(department::Column::TenantId.eq(tenant_id))
        .count(db)
        .await?;
    if count == 0 {
        return Err(crate::domain::ValidationErrors::single(
            "department_id",
            "unknown_department",
            "the tenant has no such department",
        )
        .into());
    }
    Ok(())
}

/// Deletes an empty department; one that still has users is a conflict.
pub async fn delete(db: &impl ConnectionTrait, tenant_id: Id, id: Id) -> StoreResult<()> {
    let row = department::Entity::find_by_id(id)
        .filter(department::Column::TenantId.eq(tenant_id))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("department"))?;
    let members = user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant_id))
        .filter(user::Column::DepartmentId.eq(id))
        .count(db)
        .await?;
    if members > 0 {
        return Err(StoreError::Conflict {
            code: "department_not_empty",
            message: format!("{members} users still belong to this department"),
        });
    }
    department::Entity::delete_by_id(row.id).exec(db).await?;
    Ok(())
}
