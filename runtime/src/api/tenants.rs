//! Tenants: created by the platform admin; each tenant admin manages its own settings.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::audit;
use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath};
use crate::domain::Id;
use crate::domain::identity::{
    IssuedToken, Principal, Tenant, TenantInput, TenantSettingsPatch, User,
};
use crate::store::tenants;
use crate::store::{begin_write, commit};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tenants, create_tenant))
        .routes(routes!(get_tenant))
        .routes(routes!(get_own_tenant, update_own_tenant))
}

#[derive(Serialize, ToSchema)]
pub struct CreatedTenant {
    pub tenant: Tenant,
    pub admin: User,
    /// The admin's first token; shown only in this response.
    pub admin_token: IssuedToken,
}

/// List customer tenants (platform admin).
#[utoipa::path(get, path = "/tenants", tag = "tenants", security(("bearer" = [])),
    responses((status = 200, body = [Tenant]), (status = 403, body = ErrorBody)))]
async fn list_tenants(State(state): State<AppState>) -> ApiResult<Json<Vec<Tenant>>> {
    Ok(Json(tenants::list(&state.db).await?))
}

/// Create a tenant with its first administrator (platform admin).
#[utoipa::path(post, path = "/tenants", tag = "tenants", security(("bearer" = [])), request_body = TenantInput,
    responses((status = 201, body = CreatedTenant), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_tenant(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<TenantInput>,
) -> ApiResult<(StatusCode, Json<CreatedTenant>)> {
    let (fields, admin) = input.validate()?;
    let (tenant, admin, admin_token) = tenants::create_with_admin(&state.db, fields, admin).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedTenant {
            tenant,
            admin,
            admin_token,
        }),
    ))
}

/// Get one tenant (platform admin).
#[utoipa::path(get, path = "/tenants/{id}", tag = "tenants", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = Tenant), (status = 404, body = ErrorBody)))]
async fn get_tenant(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<Tenant>> {
    Ok(Json(tenants::get(&state.db, id).await?))
}

/// The caller's own tenant and its settings.
#[utoipa::path(get, path = "/tenant", tag = "tenants", security(("bearer" = [])), responses((status = 200, body = Tenant)))]
async fn get_own_tenant(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Tenant>> {
    Ok(Json(tenants::get(&state.db, principal.tenant_id).await?))
}

/// Update the caller's tenant settings, including the custom-field schema (tenant admin).
#[utoipa::path(patch, path = "/tenant", tag = "tenants", security(("bearer" = [])), request_body = TenantSettingsPatch,
    responses((status = 200, body = Tenant), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_own_tenant(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(patch): ApiJson<TenantSettingsPatch>,
) -> ApiResult<Json<Tenant>> {
    let current = tenants::get(&state.db, principal.tenant_id).await?;
    let fields = patch.apply(&current)?;
    let tx = begin_write(&state.db).await?;
    let updated = tenants::update_settings(&tx, principal.tenant_id, fields).await?;
    let id = principal.tenant_id;
    audit::record_change(
        &tx,
        &principal,
        "update",
        "tenant",
        id,
        Some(&current),
        Some(&updated),
    )
    .await?;
    commit(tx).await?;
    Ok(Json(updated))
}
