//! Satisfaction records of a customer.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::access::Access;
use super::audit;
use super::children::{PageQuery, reach};
use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use crate::domain::Id;
use crate::domain::page::Page;
use crate::domain::satisfaction::{SatisfactionInput, SatisfactionPatch, SatisfactionRecord};
use crate::store::satisfaction;
use crate::store::{begin_write, commit};

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
    access: Access,
    ApiPath(customer_id): ApiPath<Id>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<SatisfactionRecord>>> {
    let page = query.parse(satisfaction::SORT)?;
    reach(&state, &access, customer_id).await?;
    Ok(Json(
        satisfaction::list(&state.db, access.principal.tenant_id, customer_id, &page).await?,
    ))
}

/// Record a CSAT (1–5), NPS (0–10) or CES (1–7) value.
#[utoipa::path(post, path = "/customers/{customer_id}/satisfaction", tag = "satisfaction", security(("bearer" = [])),
    params(("customer_id" = i64, Path)), request_body = SatisfactionInput,
    responses((status = 201, body = SatisfactionRecord), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_record(
    State(state): State<AppState>,
    access: Access,
    ApiPath(customer_id): ApiPath<Id>,
    ApiJson(input): ApiJson<SatisfactionInput>,
) -> ApiResult<(StatusCode, Json<SatisfactionRecord>)> {
    reach(&state, &access, customer_id).await?;
    let fields = input.validate(Utc::now())?;
    let tx = begin_write(&state.db).await?;
    let record = satisfaction::create(&tx, access.principal.tenant_id, customer_id, fields).await?;
    audit::record_change(
        &tx,
        &access.principal,
        "create",
        "satisfaction",
        record.id,
        None,
        Some(&record),
    )
    .await?;
    commit(tx).await?;
    Ok((StatusCode::CREATED, Json(record)))
}

#[utoipa::path(get, path = "/satisfaction/{id}", tag = "satisfaction", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = SatisfactionRecord), (status = 404, body = ErrorBody)))]
async fn get_record(
    State(state): State<AppState>,
    access: Access,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<SatisfactionRecord>> {
    let record = satisfaction::get(&state.db, access.principal.tenant_id, id).await?;
    reach(&state, &access, record.customer_id).await?;
    Ok(Json(record))
}

#[utoipa::path(patch, path = "/satisfaction/{id}", tag = "satisfaction", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = SatisfactionPatch,
    responses((status = 200, body = SatisfactionRecord), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_record(
    State(state): State<AppState>,
    access: Access,
    ApiPath(id): ApiPath<Id>,
    ApiJson(patch): ApiJson<SatisfactionPatch>,
) -> ApiResult<Json<SatisfactionRecord>> {
    let current = satisfaction::get(&state.db, access.principal.tenant_id, id).await?;
    reach(&state, &access, current.customer_id).await?;
    let fields = patch.apply(&current)?;
    let tx = begin_write(&state.db).await?;
    let updated = satisfaction::update(&tx, access.principal.tenant_id, id, fields).await?;
    audit::record_change(
        &tx,
        &access.principal,
        "update",
        "satisfaction",
        id,
        Some(&current),
        Some(&updated),
    )
    .await?;
    commit(tx).await?;
    Ok(Json(updated))
}

#[utoipa::path(delete, path = "/satisfaction/{id}", tag = "satisfaction", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_record(
    State(state): State<AppState>,
    access: Access,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<StatusCode> {
    let current = satisfaction::get(&state.db, access.principal.tenant_id, id).await?;
    reach(&state, &access, current.customer_id).await?;
    let tx = begin_write(&state.db).await?;
    satisfaction::delete(&tx, access.principal.tenant_id, id).await?;
    audit::record_change(
        &tx,
        &access.principal,
        "delete",
        "satisfaction",
        id,
        Some(&current),
        None,
    )
    .await?;
    commit(tx).await?;
    Ok(StatusCode::NO_CONTENT)
}
