//! Role and permission administration: roles with their grants, role assignments, and the
//! effective permissions of a user. Every change applies to the next request on every replica.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::audit;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath};
use crate::domain::Id;
use crate::domain::access::{EffectivePermissions, Permission, Role, RoleInput};
use crate::domain::identity::Principal;
use crate::domain::validation::ValidationErrors;
use crate::store::{access, users};
use crate::store::{begin_write, commit};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_roles, create_role))
        .routes(routes!(get_role, delete_role))
        .routes(routes!(grant_permission, revoke_permission))
        .routes(routes!(assign_role, unassign_role))
        .routes(routes!(effective_permissions))
}

fn parse_permission(text: &str) -> ApiResult<Permission> {
    let permission: Permission = text.parse().map_err(|message: String| {
        ValidationErrors::single("permission", "invalid_permission", message)
    })?;
    if permission.is_platform() {
        return Err(ValidationErrors::single(
            "permission",
            "platform_permission",
            "platform permissions belong to the platform administrator only",
        )
        .into());
    }
    Ok(permission)
}

/// Every role of the tenant with its permissions.
#[utoipa::path(get, path = "/roles", tag = "roles", security(("bearer" = [])),
    responses((status = 200, body = [Role]), (status = 403, body = ErrorBody)))]
async fn list_roles(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Vec<Role>>> {
    Ok(Json(
        access::list_roles(&state.db, principal.tenant_id).await?,
    ))
}

/// Create a custom role, optionally with its first permissions.
#[utoipa::path(post, path = "/roles", tag = "roles", security(("bearer" = [])), request_body = RoleInput,
    responses((status = 201, body = Role), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_role(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(input): ApiJson<RoleInput>,
) -> ApiResult<(StatusCode, Json<Role>)> {
    let input = input.validate()?;
    let tx = begin_write(&state.db).await?;
    let role = access::create_role(&tx, principal.tenant_id, input).await?;
    audit::record_action(
        &tx,
        &principal,
        "create",
        "role",
        &role.name,
        json!({"permissions": role.permissions}),
    )
    .await?;
    commit(tx).await?;
    Ok((StatusCode::CREATED, Json(role)))
}

#[utoipa::path(get, path = "/roles/{name}", tag = "roles", security(("bearer" = [])), params(("name" = String, Path)),
    responses((status = 200, body = Role), (status = 404, body = ErrorBody)))]
async fn get_role(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Role>> {
    Ok(Json(
        access::get_role(&state.db, principal.tenant_id, &name).await?,
    ))
}

/// Delete a custom role; its members lose it. Built-in roles cannot be deleted (409).
#[utoipa::path(delete, path = "/roles/{name}", tag = "roles", security(("bearer" = [])), params(("name" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_role(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let tx = begin_write(&state.db).await?;
    access::delete_role(&tx, principal.tenant_id, &name).await?;
    audit::record_action(&tx, &principal, "delete", "role", &name, json!({})).await?;
    commit(tx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Grants (`action` = `grant`) or revokes a permission of a role, with its audit entry, in one
/// transaction.
async fn change_permission(
    state: &AppState,
    principal: &Principal,
    role: &str,
    permission: &str,
    action: &'static str,
) -> ApiResult<Json<Role>> {
    let permission = parse_permission(permission)?;
    let tx = begin_write(&state.db).await?;
    let tenant_id = principal.tenant_id;
    let changed = if action == "grant" {
        access::grant(&tx, tenant_id, role, &permission).await?
    } else {
        access::revoke(&tx, tenant_id, role, &permission).await?
    };
    let details = json!({"permission": permission.to_string()});
    audit::record_action(&tx, principal, action, "role", role, details).await?;
    commit(tx).await?;
    Ok(Json(changed))
}

/// Grant a permission (e.g. `customers:read:team`, `contact.phone:read`) to a role.
#[utoipa::path(put, path = "/roles/{name}/permissions/{permission}", tag = "roles", security(("bearer" = [])),
    params(("name" = String, Path), ("permission" = String, Path)),
    responses((status = 200, body = Role), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn grant_permission(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((name, permission)): ApiPath<(String, String)>,
) -> ApiResult<Json<Role>> {
    change_permission(&state, &principal, &name, &permission, "grant").await
}

#[utoipa::path(delete, path = "/roles/{name}/permissions/{permission}", tag = "roles", security(("bearer" = [])),
    params(("name" = String, Path), ("permission" = String, Path)),
    responses((status = 200, body = Role), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn revoke_permission(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((name, permission)): ApiPath<(String, String)>,
) -> ApiResult<Json<Role>> {
    change_permission(&state, &principal, &name, &permission, "revoke").await
}

/// Give a user a role.
#[utoipa::path(put, path = "/users/{id}/roles/{role}", tag = "roles", security(("bearer" = [])),
    params(("id" = i64, Path), ("role" = String, Path)),
    responses((status = 200, body = EffectivePermissions), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn assign_role(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((id, role)): ApiPath<(Id, String)>,
) -> ApiResult<Json<EffectivePermissions>> {
    users::get(&state.db, principal.tenant_id, id).await?;
    let tx = begin_write(&state.db).await?;
    access::assign(&tx, principal.tenant_id, id, &role).await?;
    audit::record_action(&tx, &principal, "assign", "user", id, json!({"role": role})).await?;
    commit(tx).await?;
    Ok(Json(
        access::effective_permissions(&state.db, principal.tenant_id, id).await?,
    ))
}

/// Take a role from a user. Admins cannot take `tenant-admin` from themselves.
#[utoipa::path(delete, path = "/users/{id}/roles/{role}", tag = "roles", security(("bearer" = [])),
    params(("id" = i64, Path), ("role" = String, Path)),
    responses((status = 200, body = EffectivePermissions), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn unassign_role(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((id, role)): ApiPath<(Id, String)>,
) -> ApiResult<Json<EffectivePermissions>> {
    users::get(&state.db, principal.tenant_id, id).await?;
    if id == principal.user_id && role == crate::domain::access::TENANT_ADMIN {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "self_lockout",
            "you cannot take tenant-admin from yourself",
        ));
    }
    let tx = begin_write(&state.db).await?;
    access::unassign(&tx, principal.tenant_id, id, &role).await?;
    audit::record_action(
        &tx,
        &principal,
        "unassign",
        "user",
        id,
        json!({"role": role}),
    )
    .await?;
    commit(tx).await?;
    Ok(Json(
        access::effective_permissions(&state.db, principal.tenant_id, id).await?,
    ))
}

/// A user's roles and the union of their permissions.
#[utoipa::path(get, path = "/users/{id}/permissions", tag = "roles", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = EffectivePermissions), (status = 404, body = ErrorBody)))]
async fn effective_permissions(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<EffectivePermissions>> {
    users::get(&state.db, principal.tenant_id, id).await?;
    Ok(Json(
        access::effective_permissions(&state.db, principal.tenant_id, id).await?,
    ))
}
