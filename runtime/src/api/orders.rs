//! Orders of a customer.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::access::Access;
use super::audit;
use super::children::{PageQuery, reach};
use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use crate::domain::Id;
use crate::domain::access::SensitiveField;
use crate::domain::masking;
use crate::domain::order::{Order, OrderInput, OrderPatch};
use crate::domain::page::Page;
use crate::store::orders;
use crate::store::{begin_write, commit};

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
    access: Access,
    ApiPath(customer_id): ApiPath<Id>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<Order>>> {
    let page = query.parse(orders::SORT)?;
    reach(&state, &access, customer_id).await?;
    let mut page = orders::list(&state.db, access.principal.tenant_id, customer_id, &page).await?;
    let fields = access.fields();
    for order in &mut page.items {
        masking::order(order, &fields);
    }
    Ok(Json(page))
}

/// Record an order; `(source, external_id)` is unique per tenant.
#[utoipa::path(post, path = "/customers/{customer_id}/orders", tag = "orders", security(("bearer" = [])),
    params(("customer_id" = i64, Path)), request_body = OrderInput,
    responses((status = 201, body = Order), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_order(
    State(state): State<AppState>,
    access: Access,
    ApiPath(customer_id): ApiPath<Id>,
    ApiJson(input): ApiJson<OrderInput>,
) -> ApiResult<(StatusCode, Json<Order>)> {
    reach(&state, &access, customer_id).await?;
    let fields = access.fields();
    fields.check_write(SensitiveField::OrderAmount)?;
    let tenant_id = access.principal.tenant_id;
    let tx = begin_write(&state.db).await?;
    let mut order = orders::create(&tx, tenant_id, customer_id, input.validate()?).await?;
    audit::record_change(
        &tx,
        &access.principal,
        "create",
        "order",
        order.id,
        None,
        Some(&order),
    )
    .await?;
    commit(tx).await?;
    masking::order(&mut order, &fields);
    Ok((StatusCode::CREATED, Json(order)))
}

#[utoipa::path(get, path = "/orders/{id}", tag = "orders", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = Order), (status = 404, body = ErrorBody)))]
async fn get_order(
    State(state): State<AppState>,
    access: Access,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<Order>> {
    let mut order = orders::get(&state.db, access.principal.tenant_id, id).await?;
    reach(&state, &access, order.customer_id).await?;
    masking::order(&mut order, &access.fields());
    Ok(Json(order))
}

#[utoipa::path(patch, path = "/orders/{id}", tag = "orders", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = OrderPatch,
    responses((status = 200, body = Order), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_order(
    State(state): State<AppState>,
    access: Access,
    ApiPath(id): ApiPath<Id>,
    ApiJson(patch): ApiJson<OrderPatch>,
) -> ApiResult<Json<Order>> {
    let current = orders::get(&state.db, access.principal.tenant_id, id).await?;
    reach(&state, &access, current.customer_id).await?;
    let field_access = access.fields();
    if patch.amount.is_some() {
        field_access.check_write(SensitiveField::OrderAmount)?;
    }
    let fields = patch.apply(&current)?;
    let tx = begin_write(&state.db).await?;
    let mut updated = orders::update(&tx, access.principal.tenant_id, id, fields).await?;
    audit::record_change(
        &tx,
        &access.principal,
        "update",
        "order",
        id,
        Some(&current),
        Some(&updated),
    )
    .await?;
    commit(tx).await?;
    masking::order(&mut updated, &field_access);
    Ok(Json(updated))
}

#[utoipa::path(delete, path = "/orders/{id}", tag = "orders", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_order(
    State(state): State<AppState>,
    access: Access,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<StatusCode> {
    let current = orders::get(&state.db, access.principal.tenant_id, id).await?;
    reach(&state, &access, current.customer_id).await?;
    let tx = begin_write(&state.db).await?;
    orders::delete(&tx, access.principal.tenant_id, id).await?;
    audit::record_change(
        &tx,
        &access.principal,
        "delete",
        "order",
        id,
        Some(&current),
        None,
    )
    .await?;
    commit(tx).await?;
    Ok(StatusCode::NO_CONTENT)
}
