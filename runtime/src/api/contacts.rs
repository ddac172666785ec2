//! Contacts of a customer.

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
use crate::domain::contact::{Contact, ContactInput, ContactPatch};
use crate::domain::masking;
use crate::domain::page::Page;
use crate::store::{begin_write, commit};
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
    access: Access,
    ApiPath(customer_id): ApiPath<Id>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<Contact>>> {
    let page = query.parse(contacts::SORT)?;
    reach(&state, &access, customer_id).await?;
    let mut page =
        contacts::list(&state.db, access.principal.tenant_id, customer_id, &page).await?;
    let fields = access.fields();
    for contact in &mut page.items {
        masking::contact(contact, &fields);
    }
    Ok(Json(page))
}

/// Add a contact; phone numbers are normalised to E.164 in the tenant's default region.
#[utoipa::path(post, path = "/customers/{customer_id}/contacts", tag = "contacts", security(("bearer" = [])),
    params(("customer_id" = i64, Path)), request_body = ContactInput,
    responses((status = 201, body = Contact), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_contact(
    State(state): State<AppState>,
    access: Access,
    ApiPath(customer_id): ApiPath<Id>,
    ApiJson(input): ApiJson<ContactInput>,
) -> ApiResult<(StatusCode, Json<Contact>)> {
    reach(&state, &access, customer_id).await?;
    let fields = access.fields();
    masking::check_contact_input(&input, &fields)?;
    let tenant = tenants::get(&state.db, access.principal.tenant_id).await?;
    let input = input.validate(&tenant.default_region)?;
    let tx = begin_write(&state.db).await?;
    let mut contact = contacts::create(&tx, access.principal.tenant_id, customer_id, input).await?;
    audit::record_change(
        &tx,
        &access.principal,
        "create",
        "contact",
        contact.id,
        None,
        Some(&contact),
    )
    .await?;
    commit(tx).await?;
    masking::contact(&mut contact, &fields);
    Ok((StatusCode::CREATED, Json(contact)))
}

#[utoipa::path(get, path = "/contacts/{id}", tag = "contacts", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = Contact), (status = 404, body = ErrorBody)))]
async fn get_contact(
    State(state): State<AppState>,
    access: Access,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<Contact>> {
    let mut contact = contacts::get(&state.db, access.principal.tenant_id, id).await?;
    reach(&state, &access, contact.customer_id).await?;
    masking::contact(&mut contact, &access.fields());
    Ok(Json(contact))
}

#[utoipa::path(patch, path = "/contacts/{id}", tag = "contacts", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = ContactPatch,
    responses((status = 200, body = Contact), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_contact(
    State(state): State<AppState>,
    access: Access,
    ApiPath(id): ApiPath<Id>,
    ApiJson(patch): ApiJson<ContactPatch>,
) -> ApiResult<Json<Contact>> {
    let current = contacts::get(&state.db, access.principal.tenant_id, id).await?;
    reach(&state, &access, current.customer_id).await?;
    let fields = access.fields();
    masking::check_contact_patch(&patch, &fields)?;
    let tenant = tenants::get(&state.db, access.principal.tenant_id).await?;
    let input = patch.apply(&current, &tenant.default_region)?;
    let tx = begin_write(&state.db).await?;
    let mut updated = contacts::update(&tx, access.principal.tenant_id, id, input).await?;
    audit::record_change(
        &tx,
        &access.principal,
        "update",
        "contact",
        id,
        Some(&current),
        Some(&updated),
    )
    .await?;
    commit(tx).await?;
    masking::contact(&mut updated, &fields);
    Ok(Json(updated))
}

#[utoipa::path(delete, path = "/contacts/{id}", tag = "contacts", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_contact(
    State(state): State<AppState>,
    access: Access,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<StatusCode> {
    let current = contacts::get(&state.db, access.principal.tenant_id, id).await?;
    reach(&state, &access, current.customer_id).await?;
    let tx = begin_write(&state.db).await?;
    contacts::delete(&tx, access.principal.tenant_id, id).await?;
    audit::record_change(
        &tx,
        &access.principal,
        "delete",
        "contact",
        id,
        Some(&current),
        None,
    )
    .await?;
    commit(tx).await?;
    Ok(StatusCode::NO_CONTENT)
}
