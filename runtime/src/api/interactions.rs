//! Interactions with a customer.

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
use crate::domain::interaction::{Interaction, InteractionInput, InteractionPatch};
use crate::domain::page::Page;
use crate::store::interactions;
use crate::store::{begin_write, commit};

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
    access: Access,
    ApiPath(customer_id): ApiPath<Id>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<Interaction>>> {
    let page = query.parse(interactions::SORT)?;
    reach(&state, &access, customer_id).await?;
    Ok(Json(
        interactions::list(&state.db, access.principal.tenant_id, customer_id, &page).await?,
    ))
}

/// Log an interaction; the caller is recorded as its author.
#[utoipa::path(post, path = "/customers/{customer_id}/interactions", tag = "interactions", security(("bearer" = [])),
    params(("customer_id" = i64, Path)), request_body = InteractionInput,
    responses((status = 201, body = Interaction), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_interaction(
    State(state): State<AppState>,
    access: Access,
    ApiPath(customer_id): ApiPath<Id>,
    ApiJson(input): ApiJson<InteractionInput>,
) -> ApiResult<(StatusCode, Json<Interaction>)> {
    reach(&state, &access, customer_id).await?;
    let fields = input.validate(Utc::now())?;
    let tx = begin_write(&state.db).await?;
    let interaction = interactions::create(
        &tx,
        access.principal.tenant_id,
        customer_id,
        access.principal.user_id,
        fields,
    )
    .await?;
    let id = interaction.id;
    audit::record_change(
        &tx,
        &access.principal,
        "create",
        "interaction",
        id,
        None,
        Some(&interaction),
    )
    .await?;
    commit(tx).await?;
    Ok((StatusCode::CREATED, Json(interaction)))
}

#[utoipa::path(get, path = "/interactions/{id}", tag = "interactions", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = Interaction), (status = 404, body = ErrorBody)))]
async fn get_interaction(
    State(state): State<AppState>,
    access: Access,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<Interaction>> {
    let interaction = interactions::get(&state.db, access.principal.tenant_id, id).await?;
    reach(&state, &access, interaction.customer_id).await?;
    Ok(Json(interaction))
}

#[utoipa::path(patch, path = "/interactions/{id}", tag = "interactions", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = InteractionPatch,
    responses((status = 200, body = Interaction), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_interaction(
    State(state): State<AppState>,
    access: Access,
    ApiPath(id): ApiPath<Id>,
    ApiJson(patch): ApiJson<InteractionPatch>,
) -> ApiResult<Json<Interaction>> {
    let current = interactions::get(&state.db, access.principal.tenant_id, id).await?;
    reach(&state, &access, current.customer_id).await?;
    let fields = patch.apply(&current, Utc::now())?;
    let tx = begin_write(&state.db).await?;
    let updated = interactions::update(&tx, access.principal.tenant_id, id, fields).await?;
    audit::record_change(
        &tx,
        &access.principal,
        "update",
        "interaction",
        id,
        Some(&current),
        Some(&updated),
    )
    .await?;
    commit(tx).await?;
    Ok(Json(updated))
}

#[utoipa::path(delete, path = "/interactions/{id}", tag = "interactions", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_interaction(
    State(state): State<AppState>,
    access: Access,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<StatusCode> {
    let current = interactions::get(&state.db, access.principal.tenant_id, id).await?;
    reach(&state, &access, current.customer_id).await?;
    let tx = begin_write(&state.db).await?;
    interactions::delete(&tx, access.principal.tenant_id, id).await?;
    audit::record_change(
        &tx,
        &access.principal,
        "delete",
        "interaction",
        id,
        Some(&current),
        None,
    )
    .await?;
    commit(tx).await?;
    Ok(StatusCode::NO_CONTENT)
}
