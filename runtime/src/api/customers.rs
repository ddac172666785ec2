//! Customers and the 360° view.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use crate::domain::Id;
use crate::domain::customer::{
    Customer, CustomerFields, CustomerFilter, CustomerInput, CustomerPatch, CustomerSort,
    LifecycleStage,
};
use crate::domain::customer360::{self, Customer360};
use crate::domain::identity::Principal;
use crate::domain::page::{Page, PageRequest};
use crate::domain::validation::ValidationErrors;
use crate::store::{customer_360, customers, tenants};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_customers, create_customer))
        .routes(routes!(get_customer, update_customer, delete_customer))
        .routes(routes!(customer_360_view))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CustomerListQuery {
    /// Only customers carrying this tag.
    tag: Option<String>,
    tier: Option<String>,
    owner_id: Option<Id>,
    #[param(value_type = Option<String>, example = "customer")]
    stage: Option<LifecycleStage>,
    industry: Option<String>,
    /// Case-insensitive search in name and code.
    q: Option<String>,
    /// `code`, `name`, `created_at` (default) or `updated_at`; prefix `-` for descending.
    sort: Option<String>,
    /// 1–200, default 50.
    limit: Option<u64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

impl CustomerListQuery {
    fn parse(self) -> Result<(CustomerFilter, CustomerSort, PageRequest), ValidationErrors> {
        let sort: CustomerSort = self
            .sort
            .as_deref()
            .map_or(Ok(CustomerSort::default()), str::parse)?;
        let page = PageRequest::parse(self.limit, self.cursor.as_deref(), &sort.to_string())?;
        let non_blank =
            |text: Option<String>| text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
        let filter = CustomerFilter {
            tag: non_blank(self.tag),
            tier: non_blank(self.tier),
            owner_id: self.owner_id,
            stage: self.stage,
            industry: non_blank(self.industry),
            search: non_blank(self.q),
        };
        Ok((filter, sort, page))
    }
}

/// List customers with filters, search, sort and cursor pagination.
#[utoipa::path(get, path = "/customers", tag = "customers", security(("bearer" = [])), params(CustomerListQuery),
    responses((status = 200, body = Page<Customer>), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_customers(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<CustomerListQuery>,
) -> ApiResult<Json<Page<Customer>>> {
    let (filter, sort, page) = query.parse()?;
    Ok(Json(
        customers::list(&state.db, principal.tenant_id, &filter, sort, &page).await?,
    ))
}

#[utoipa::path(post, path = "/customers", tag = "customers", security(("bearer" = [])), request_body = CustomerInput,
    responses((status = 201, body = Customer), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_customer(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(input): ApiJson<CustomerInput>,
) -> ApiResult<(StatusCode, Json<Customer>)> {
    let tenant = tenants::get(&state.db, principal.tenant_id).await?;
    let fields = input.validate(tenant.custom_field_schema.as_ref())?;
    let customer = customers::create(&state.db, principal.tenant_id, fields).await?;
    Ok((StatusCode::CREATED, Json(customer)))
}

#[utoipa::path(get, path = "/customers/{id}", tag = "customers", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = Customer), (status = 404, body = ErrorBody)))]
async fn get_customer(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<Customer>> {
    Ok(Json(
        customers::get(&state.db, principal.tenant_id, id).await?,
    ))
}

/// Partial update; `tags` replaces the whole set.
#[utoipa::path(patch, path = "/customers/{id}", tag = "customers", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = CustomerPatch,
    responses((status = 200, body = Customer), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_customer(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
    ApiJson(patch): ApiJson<CustomerPatch>,
) -> ApiResult<Json<Customer>> {
    let current = customers::get(&state.db, principal.tenant_id, id).await?;
    let tenant = tenants::get(&state.db, principal.tenant_id).await?;
    let fields = patch.apply(
        CustomerFields::from(&current),
        tenant.custom_field_schema.as_ref(),
    )?;
    Ok(Json(
        customers::update(&state.db, principal.tenant_id, id, fields).await?,
    ))
}

/// Delete a customer with all its contacts, orders, interactions and satisfaction records.
#[utoipa::path(delete, path = "/customers/{id}", tag = "customers", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_customer(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<StatusCode> {
    customers::delete(&state.db, principal.tenant_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct View360Query {
    /// How many recent interactions to include: 1–100, default 10.
    interactions: Option<u64>,
}

/// Everything about one customer in one call: profile, contacts, recent interactions, order
/// statistics, days since last contact, satisfaction history, tags and tier.
#[utoipa::path(get, path = "/customers/{id}/360", tag = "customers", security(("bearer" = [])),
    params(("id" = i64, Path), View360Query),
    responses((status = 200, body = Customer360), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn customer_360_view(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
    ApiQuery(query): ApiQuery<View360Query>,
) -> ApiResult<Json<Customer360>> {
    let interactions = query
        .interactions
        .unwrap_or(customer360::DEFAULT_RECENT_INTERACTIONS);
    if !(1..=customer360::MAX_RECENT_INTERACTIONS).contains(&interactions) {
        return Err(ValidationErrors::single(
            "interactions",
            "out_of_range",
            "interactions must be between 1 and 100",
        )
        .into());
    }
    Ok(Json(
        customer_360::load(&state.db, principal.tenant_id, id, interactions, Utc::now()).await?,
    ))
}
