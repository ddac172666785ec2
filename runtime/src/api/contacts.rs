//! Contacts of a customer.

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
use crate::domain::contact::{Contact, ContactInput, ContactPatch};
use crate::domain::identity::Principal;
use crate::domain::page::Page;
use crate::store::{contacts, tenants};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_contacts, create_contact))
        .routes(routes!(get_contact, update_contact, delete_contact))
}

#[utoipa::path(get, path = "/customers/{customer_id}/contacts", tag = "contacts", security(("bearer" = [])),
    params(("customer_id" = i64, Path), PageQuery),
    responses((status = 200, body = Page<Contact>), (status = 404, body = ErrorBody)))]
async fn list_contacts(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(customer_id): ApiPath<Id>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<Contact>>> {
    let page = query.parse(contacts::SORT)?;
    Ok(Json(
        contacts::list(&state.db, principal.tenant_id, customer_id, &page).await?,
    ))
}

/// Add a contact; phone numbers are normalised to E.164 in the tenant's default region.
#[utoipa::path(post, path = "/customers/{customer_id}/contacts", tag = "contacts", security(("bearer" = [])),
    params(("customer_id" = i64, Path)), request_body = ContactInput,
    responses((status = 201, body = Contact), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_contact(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(customer_id): ApiPath<Id>,
    ApiJson(input): ApiJson<ContactInput>,
) -> ApiResult<(StatusCode, Json<Contact>)> {
    let tenant = tenants::get(&state.db, principal.tenant_id).await?;
    let input = input.validate(&tenant.default_region)?;
    let contact = contacts::create(&state.db, principal.tenant_id, customer_id, input).await?;
    Ok((StatusCode::CREATED, Json(contact)))
}

#[utoipa::path(get, path = "/contacts/{id}", tag = "contacts", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = Contact), (status = 404, body = ErrorBody)))]
async fn get_contact(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<Contact>> {
    Ok(Json(
        contacts::get(&state.db, principal.tenant_id, id).await?,
    ))
}

#[utoipa::path(patch, path = "/contacts/{id}", tag = "contacts", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = ContactPatch,
    responses((status = 200, body = Contact), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_contact(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
    ApiJson(patch): ApiJson<ContactPatch>,
) -> ApiResult<Json<Contact>> {
    let current = contacts::get(&state.db, principal.tenant_id, id).await?;
    let tenant = tenants::get(&state.db, principal.tenant_id).await?;
    let input = patch.apply(&current, &tenant.default_region)?;
    Ok(Json(
        contacts::update(&state.db, principal.tenant_id, id, input).await?,
    ))
}

#[utoipa::path(delete, path = "/contacts/{id}", tag = "contacts", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_contact(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<StatusCode> {
    contacts::delete(&state.db, principal.tenant_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
