//! Customers and the 360° view.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::access::Access;
use super::audit;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use crate::domain::Id;
use crate::domain::access::{FieldAccess, Scope, SensitiveField, Visibility};
use crate::domain::customer::{
    Customer, CustomerFields, CustomerFilter, CustomerInput, CustomerPatch, CustomerSort,
    LifecycleStage,
};
use crate::domain::customer360::{self, Customer360, Section};
use crate::domain::handover::{HandoverChecklist, HandoverInput};
use crate::domain::masking;
use crate::domain::page::{Page, PageRequest};
use crate::domain::validation::ValidationErrors;
use crate::store::{begin_write, commit};
use crate::store::{customer_360, customers, handover, tenants};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_customers, create_customer))
        .routes(routes!(get_customer, update_customer, delete_customer))
        .routes(routes!(customer_360_view))
        .routes(routes!(hand_over))
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

/// List customers with filters, search, sort and cursor pagination. Only customers within the
/// caller's record scope appear; sensitive custom fields are omitted unless readable.
#[utoipa::path(get, path = "/customers", tag = "customers", security(("bearer" = [])), params(CustomerListQuery),
    responses((status = 200, body = Page<Customer>), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_customers(
    State(state): State<AppState>,
    access: Access,
    ApiQuery(query): ApiQuery<CustomerListQuery>,
) -> ApiResult<Json<Page<Customer>>> {
    let (filter, sort, page) = query.parse()?;
    let tenant_id = access.principal.tenant_id;
    let mut page = customers::list(
        &state.db,
        tenant_id,
        access.visibility(),
        &filter,
        sort,
        &page,
    )
    .await?;
    let masking = Masking::of(&state, &access).await?;
    for customer in &mut page.items {
        masking.customer(customer);
    }
    Ok(Json(page))
}

/// What the caller may see of sensitive fields, with the tenant's sensitive custom fields.
pub(crate) struct Masking {
    pub fields: FieldAccess,
    pub sensitive: Vec<String>,
}

impl Masking {
    /// Reads the tenant's schema only when the caller may not see or change everything.
    pub async fn of(state: &AppState, access: &Access) -> ApiResult<Masking> {
        let fields = access.fields();
        if Self::unrestricted(&fields) {
            return Ok(Masking {
                fields,
                sensitive: Vec::new(),
            });
        }
        let tenant = tenants::get(&state.db, access.principal.tenant_id).await?;
        Ok(Self::with_schema(
            fields,
            tenant.custom_field_schema.as_ref(),
        ))
    }

    /// For handlers that have already loaded the tenant's schema.
    pub fn with_schema(fields: FieldAccess, schema: Option<&Value>) -> Masking {
        let sensitive = if Self::unrestricted(&fields) {
            Vec::new()
        } else {
            masking::sensitive_custom_fields(schema)
        };
        Masking { fields, sensitive }
    }

    fn unrestricted(fields: &FieldAccess) -> bool {
        let custom = SensitiveField::CustomerSensitiveFields;
        fields.can_read(custom) && fields.writable.contains(&custom)
    }

    pub fn customer(&self, customer: &mut Customer) {
        masking::customer(customer, &self.fields, &self.sensitive);
    }
}

/// Refuses to give a customer an owner outside the caller's scope for the route's action.
async fn check_owner_in_scope(
    state: &AppState,
    access: &Access,
    owner_id: Option<Id>,
) -> ApiResult<()> {
    check_owner_within(state, access, owner_id, access.visibility()).await
}

/// Refuses an owner outside `reach`, for routes whose own permission is not the customers
/// scope that decides (e.g. creating a customer from a sync review).
pub(super) async fn check_owner_within(
    state: &AppState,
    access: &Access,
    owner_id: Option<Id>,
    reach: Visibility,
) -> ApiResult<()> {
    let tenant_id = access.principal.tenant_id;
    if customers::owner_within(&state.db, tenant_id, owner_id, reach).await? {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "owner_out_of_scope",
            "your scope does not reach customers owned by that user",
        ))
    }
}

/// Create a customer. Without `all` scope the owner defaults to the caller and must be within
/// the caller's scope.
#[utoipa::path(post, path = "/customers", tag = "customers", security(("bearer" = [])), request_body = CustomerInput,
    responses((status = 201, body = Customer), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_customer(
    State(state): State<AppState>,
    access: Access,
    ApiJson(input): ApiJson<CustomerInput>,
) -> ApiResult<(StatusCode, Json<Customer>)> {
    let principal = &access.principal;
    let tenant = tenants::get(&state.db, principal.tenant_id).await?;
    let mut fields = input.validate(tenant.custom_field_schema.as_ref())?;
    if fields.owner_id.is_none() && access.scope != Some(Scope::All) {
        fields.owner_id = Some(principal.user_id);
    }
    check_owner_in_scope(&state, &access, fields.owner_id).await?;
    let masking = Masking::with_schema(access.fields(), tenant.custom_field_schema.as_ref());
    fields.custom_fields = masking::merge_custom_fields(
        fields.custom_fields,
        &Value::Null,
        &masking.fields,
        &masking.sensitive,
    )?;
    let tx = begin_write(&state.db).await?;
    let mut customer = customers::create(&tx, principal.tenant_id, fields).await?;
    audit::record_change(
        &tx,
        principal,
        "create",
        "customer",
        customer.id,
        None,
        Some(&customer),
    )
    .await?;
    commit(tx).await?;
    masking.customer(&mut customer);
    Ok((StatusCode::CREATED, Json(customer)))
}

#[utoipa::path(get, path = "/customers/{id}", tag = "customers", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = Customer), (status = 404, body = ErrorBody)))]
async fn get_customer(
    State(state): State<AppState>,
    access: Access,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<Customer>> {
    let tenant_id = access.principal.tenant_id;
    customers::ensure_visible(&state.db, tenant_id, id, access.visibility()).await?;
    let mut customer = customers::get(&state.db, tenant_id, id).await?;
    Masking::of(&state, &access).await?.customer(&mut customer);
    Ok(Json(customer))
}

/// Partial update; `tags` replaces the whole set.
#[utoipa::path(patch, path = "/customers/{id}", tag = "customers", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = CustomerPatch,
    responses((status = 200, body = Customer), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_customer(
    State(state): State<AppState>,
    access: Access,
    ApiPath(id): ApiPath<Id>,
    ApiJson(patch): ApiJson<CustomerPatch>,
) -> ApiResult<Json<Customer>> {
    let principal = &access.principal;
    customers::ensure_visible(&state.db, principal.tenant_id, id, access.visibility()).await?;
    let current = customers::get(&state.db, principal.tenant_id, id).await?;
    let tenant = tenants::get(&state.db, principal.tenant_id).await?;
    let mut fields = patch.apply(
        CustomerFields::from(&current),
        tenant.custom_field_schema.as_ref(),
    )?;
    if fields.owner_id != current.owner_id {
        check_owner_in_scope(&state, &access, fields.owner_id).await?;
    }
    let masking = Masking::with_schema(access.fields(), tenant.custom_field_schema.as_ref());
    fields.custom_fields = masking::merge_custom_fields(
        fields.custom_fields,
        &current.custom_fields,
        &masking.fields,
        &masking.sensitive,
    )?;
    let tx = begin_write(&state.db).await?;
    let mut customer = customers::update(&tx, principal.tenant_id, id, fields).await?;
    audit::record_change(
        &tx,
        principal,
        "update",
        "customer",
        id,
        Some(&current),
        Some(&customer),
    )
    .await?;
    commit(tx).await?;
    masking.customer(&mut customer);
    Ok(Json(customer))
}

/// Delete a customer with all its contacts, orders, interactions and satisfaction records.
#[utoipa::path(delete, path = "/customers/{id}", tag = "customers", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_customer(
    State(state): State<AppState>,
    access: Access,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<StatusCode> {
    let principal = &access.principal;
    customers::ensure_visible(&state.db, principal.tenant_id, id, access.visibility()).await?;
    let current = customers::get(&state.db, principal.tenant_id, id).await?;
    let tx = begin_write(&state.db).await?;
    customers::delete(&tx, principal.tenant_id, id).await?;
    audit::record_change(
        &tx,
        principal,
        "delete",
        "customer",
        id,
        Some(&current),
        None,
    )
    .await?;
    commit(tx).await?;
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
/// statistics, days since last contact, satisfaction history, tags and tier. A part the caller
/// may not read through its own routes is left empty and named in `withheld`.
#[utoipa::path(get, path = "/customers/{id}/360", tag = "customers", security(("bearer" = [])),
    params(("id" = i64, Path), View360Query),
    responses((status = 200, body = Customer360), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn customer_360_view(
    State(state): State<AppState>,
    access: Access,
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
    let tenant_id = access.principal.tenant_id;
    let visibility = access.visibility();
    let mut view = customer_360::load(
        &state.db,
        tenant_id,
        id,
        visibility,
        interactions,
        Utc::now(),
    )
    .await?;
    withhold_unreadable_sections(&state, &access, &mut view).await?;
    let masking = Masking::of(&state, &access).await?;
    masking::customer_360(&mut view, &masking.fields, &masking.sensitive);
    Ok(Json(view))
}

/// `customers:read` shows the profile; each other part of the view needs its own `read` grant
/// in a scope that reaches this customer, as its own routes do. A scope at least as wide as the
/// `customers:read` one that found the customer reaches it without asking the database.
async fn withhold_unreadable_sections(
    state: &AppState,
    access: &Access,
    view: &mut Customer360,
) -> ApiResult<()> {
    let tenant_id = access.principal.tenant_id;
    let owner = view.profile.owner_id;
    for section in Section::ALL {
        let readable = match access.scope_of(section.resource(), "read") {
            None => false,
            Some(scope) if Some(scope) >= access.scope => true,
            Some(scope) => {
                let reach = access.visibility_for(scope);
                customers::owner_within(&state.db, tenant_id, owner, reach).await?
            }
        };
        if !readable {
            view.withhold(section);
        }
    }
    Ok(())
}

/// Hand customers of one owner over to another, in one transaction: all of the owner's
/// customers within your scope, or only the named ones. Both owners must be within your scope,
/// and deactivating the former owner needs `users:update` and every permission they hold, as
/// deactivating any user does.
/// Returns the checklist of what moved, with each customer's last interaction.
#[utoipa::path(post, path = "/handovers", tag = "customers", security(("bearer" = [])), request_body = HandoverInput,
    responses((status = 200, body = HandoverChecklist), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn hand_over(
    State(state): State<AppState>,
    access: Access,
    ApiJson(input): ApiJson<HandoverInput>,
) -> ApiResult<Json<HandoverChecklist>> {
    let input = input.validate()?;
    // The former owner's open tasks and account go with a handover, so a scoped caller may
    // only hand over someone within reach, and only a user administrator may lock them out.
    check_owner_in_scope(&state, &access, Some(input.from_user_id)).await?;
    check_owner_in_scope(&state, &access, Some(input.to_user_id)).await?;
    if input.deactivate_from_user {
        if input.from_user_id == access.principal.user_id {
            return Err(ValidationErrors::single(
                "deactivate_from_user",
                "self_lockout",
                "you cannot deactivate yourself",
            )
            .into());
        }
        if !access.may("users", "update") {
            return Err(ApiError::forbidden(
                "deactivating the former owner needs the users:update permission",
            ));
        }
        super::users::check_manages(&state, &access, input.from_user_id).await?;
    }
    let principal = &access.principal;
    let tx = begin_write(&state.db).await?;
    let checklist =
        handover::hand_over(&tx, principal.tenant_id, access.visibility(), &input).await?;
    let moved: Vec<Id> = checklist
        .customers
        .iter()
        .map(|item| item.customer_id)
        .collect();
    let details = serde_json::json!({
        "to_user_id": input.to_user_id,
        "customer_ids": moved,
        "from_user_deactivated": input.deactivate_from_user,
    });
    audit::record_action(
        &tx,
        principal,
        "handover",
        "user",
        input.from_user_id,
        details,
    )
    .await?;
    commit(tx).await?;
    Ok(Json(checklist))
}
