//! Departments of the tenant.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::audit;
use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath};
use crate::domain::Id;
use crate::domain::identity::{Department, DepartmentInput, Principal};
use crate::store::departments;
use crate::store::{begin_write, commit};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_departments, create_department))
        .routes(routes!(delete_department))
}

#[utoipa::path(get, path = "/departments", tag = "departments", security(("bearer" = [])),
    responses((status = 200, body = [Department])))]
async fn list_departments(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Vec<Department>>> {
    Ok(Json(
        departments::list(&state.db, principal.tenant_id).await?,
    ))
}

/// Add a department; users join it through `PATCH /users/{id}` with `department_id`.
#[utoipa::path(post, path = "/departments", tag = "departments", security(("bearer" = [])), request_body = DepartmentInput,
    responses((status = 201, body = Department), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_department(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(input): ApiJson<DepartmentInput>,
) -> ApiResult<(StatusCode, Json<Department>)> {
    let tx = begin_write(&state.db).await?;
    let department = departments::create(&tx, principal.tenant_id, input.validate()?).await?;
    audit::record_action(
        &tx,
        &principal,
        "create",
        "department",
        department.id,
        json!({"code": department.code}),
    )
    .await?;
    commit(tx).await?;
    Ok((StatusCode::CREATED, Json(department)))
}

/// Delete an empty department (409 while users belong to it).
#[utoipa::path(delete, path = "/departments/{id}", tag = "departments", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_department(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<StatusCode> {
    let tx = begin_write(&state.db).await?;
    departments::delete(&tx, principal.tenant_id, id).await?;
    audit::record_action(&tx, &principal, "delete", "department", id, json!({})).await?;
    commit(tx).await?;
    Ok(StatusCode::NO_CONTENT)
}
