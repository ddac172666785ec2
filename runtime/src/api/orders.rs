//! Orders of a customer.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::children::PageQuery;
use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use crate::domain::Id;
use crate::domain::identity::Principal;
use crate::domain::order::{Order, OrderInput, OrderPatch};
use crate::domain::page::Page;
use crate::store::orders;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_orders, create_order))
        .routes(routes!(get_order, update_order, delete_order))
}

/// Orders of a customer, newest first.
#[utoipa::path(get, path = "/customers/{customer_id}/orders", tag = "orders", security(("bearer" = [])),
    params(("customer_id" = i64, Path), PageQuery),
    responses((status = 200, body = Page<Order>), (status = 404, body = ErrorBody)))]
async fn list_orders(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(customer_id): ApiPath<Id>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<Order>>> {
    let page = query.parse(orders::SORT)?;
    Ok(Json(
        orders::list(&state.db, principal.tenant_id, customer_id, &page).await?,
    ))
}

/// Record an order; `(source, external_id)` is unique per tenant.
#[utoipa::path(post, path = "/customers/{customer_id}/orders", tag = "orders", security(("bearer" = [])),
    params(("customer_id" = i64, Path)), request_body = OrderInput,
    responses((status = 201, body = Order), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_order(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(customer_id): ApiPath<Id>,
    ApiJson(input): ApiJson<OrderInput>,
) -> ApiResult<(StatusCode, Json<Order>)> {
    let order = orders::create(
        &state.db,
        principal.tenant_id,
        customer_id,
        input.validate()?,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(order)))
}

#[utoipa::path(get, path = "/orders/{id}", tag = "orders", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = Order), (status = 404, body = ErrorBody)))]
async fn get_order(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<Order>> {
    Ok(Json(orders::get(&state.db, principal.tenant_id, id).await?))
}

#[utoipa::path(patch, path = "/orders/{id}", tag = "orders", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = OrderPatch,
    responses((status = 200, body = Order), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_order(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
    ApiJson(patch): ApiJson<OrderPatch>,
) -> ApiResult<Json<Order>> {
    let current = orders::get(&state.db, principal.tenant_id, id).await?;
    let fields = patch.apply(&current)?;
    Ok(Json(
        orders::update(&state.db, principal.tenant_id, id, fields).await?,
    ))
}

#[utoipa::path(delete, path = "/orders/{id}", tag = "orders", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_order(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<StatusCode> {
    orders::delete(&state.db, principal.tenant_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
