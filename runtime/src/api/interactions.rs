//! Interactions with a customer.

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
use crate::domain::interaction::{Interaction, InteractionInput, InteractionPatch};
use crate::domain::page::Page;
use crate::store::interactions;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_interactions, create_interaction))
        .routes(routes!(
            get_interaction,
            update_interaction,
            delete_interaction
        ))
}

/// Interactions of a customer, newest first.
#[utoipa::path(get, path = "/customers/{customer_id}/interactions", tag = "interactions", security(("bearer" = [])),
    params(("customer_id" = i64, Path), PageQuery),
    responses((status = 200, body = Page<Interaction>), (status = 404, body = ErrorBody)))]
async fn list_interactions(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(customer_id): ApiPath<Id>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<Interaction>>> {
    let page = query.parse(interactions::SORT)?;
    Ok(Json(
        interactions::list(&state.db, principal.tenant_id, customer_id, &page).await?,
    ))
}

/// Log an interaction; the caller is recorded as its author.
#[utoipa::path(post, path = "/customers/{customer_id}/interactions", tag = "interactions", security(("bearer" = [])),
    params(("customer_id" = i64, Path)), request_body = InteractionInput,
    responses((status = 201, body = Interaction), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_interaction(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(customer_id): ApiPath<Id>,
    ApiJson(input): ApiJson<InteractionInput>,
) -> ApiResult<(StatusCode, Json<Interaction>)> {
    let fields = input.validate(Utc::now())?;
    let interaction = interactions::create(
        &state.db,
        principal.tenant_id,
        customer_id,
        principal.user_id,
        fields,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(interaction)))
}

#[utoipa::path(get, path = "/interactions/{id}", tag = "interactions", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = Interaction), (status = 404, body = ErrorBody)))]
async fn get_interaction(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<Interaction>> {
    Ok(Json(
        interactions::get(&state.db, principal.tenant_id, id).await?,
    ))
}

#[utoipa::path(patch, path = "/interactions/{id}", tag = "interactions", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = InteractionPatch,
    responses((status = 200, body = Interaction), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_interaction(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
    ApiJson(patch): ApiJson<InteractionPatch>,
) -> ApiResult<Json<Interaction>> {
    let current = interactions::get(&state.db, principal.tenant_id, id).await?;
    let fields = patch.apply(&current, Utc::now())?;
    Ok(Json(
        interactions::update(&state.db, principal.tenant_id, id, fields).await?,
    ))
}

#[utoipa::path(delete, path = "/interactions/{id}", tag = "interactions", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_interaction(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<StatusCode> {
    interactions::delete(&state.db, principal.tenant_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
