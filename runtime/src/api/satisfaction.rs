//! Satisfaction records of a customer.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::children::PageQuery;
use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use crate::domain::Id;
use crate::domain::identity::Principal;
use crate::domain::page::Page;
use crate::domain::satisfaction::{SatisfactionInput, SatisfactionPatch, SatisfactionRecord};
use crate::store::satisfaction;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_records, create_record))
        .routes(routes!(get_record, update_record, delete_record))
}

/// The customer's satisfaction history, newest first.
#[utoipa::path(get, path = "/customers/{customer_id}/satisfaction", tag = "satisfaction", security(("bearer" = [])),
    params(("customer_id" = i64, Path), PageQuery),
    responses((status = 200, body = Page<SatisfactionRecord>), (status = 404, body = ErrorBody)))]
async fn list_records(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(customer_id): ApiPath<Id>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<SatisfactionRecord>>> {
    let page = query.parse(satisfaction::SORT)?;
    Ok(Json(
        satisfaction::list(&state.db, principal.tenant_id, customer_id, &page).await?,
    ))
}

/// Record a CSAT (1–5), NPS (0–10) or CES (1–7) value.
#[utoipa::path(post, path = "/customers/{customer_id}/satisfaction", tag = "satisfaction", security(("bearer" = [])),
    params(("customer_id" = i64, Path)), request_body = SatisfactionInput,
    responses((status = 201, body = SatisfactionRecord), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_record(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(customer_id): ApiPath<Id>,
    ApiJson(input): ApiJson<SatisfactionInput>,
) -> ApiResult<(StatusCode, Json<SatisfactionRecord>)> {
    let fields = input.validate(Utc::now())?;
    let record = satisfaction::create(&state.db, principal.tenant_id, customer_id, fields).await?;
    Ok((StatusCode::CREATED, Json(record)))
}

#[utoipa::path(get, path = "/satisfaction/{id}", tag = "satisfaction", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = SatisfactionRecord), (status = 404, body = ErrorBody)))]
async fn get_record(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<SatisfactionRecord>> {
    Ok(Json(
        satisfaction::get(&state.db, principal.tenant_id, id).await?,
    ))
}

#[utoipa::path(patch, path = "/satisfaction/{id}", tag = "satisfaction", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = SatisfactionPatch,
    responses((status = 200, body = SatisfactionRecord), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_record(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
    ApiJson(patch): ApiJson<SatisfactionPatch>,
) -> ApiResult<Json<SatisfactionRecord>> {
    let current = satisfaction::get(&state.db, principal.tenant_id, id).await?;
    let fields = patch.apply(&current)?;
    Ok(Json(
        satisfaction::update(&state.db, principal.tenant_id, id, fields).await?,
    ))
}

#[utoipa::path(delete, path = "/satisfaction/{id}", tag = "satisfaction", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_record(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<StatusCode> {
    satisfaction::delete(&state.db, principal.tenant_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
