//! The tenant's service settings (business calendar, SLA policies, routing rules) and the monthly
//! service KPIs.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::access::Access;
use super::audit;
use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use crate::domain::Id;
use crate::domain::identity::Principal;
use crate::domain::service_kpi::{Month, ServiceKpis, service_kpis};
use crate::domain::sla::BusinessCalendarSpec;
use crate::domain::ticket::{RoutingRule, RoutingRuleInput, SlaPolicy, SlaPolicyInput};
use crate::store::{begin_write, commit, service_settings, tickets};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_calendar, set_calendar))
        .routes(routes!(list_policies, create_policy))
        .routes(routes!(get_policy, replace_policy, delete_policy))
        .routes(routes!(list_routing_rules, create_routing_rule))
        .routes(routes!(
            get_routing_rule,
            replace_routing_rule,
            delete_routing_rule
        ))
        .routes(routes!(kpis))
}

/// The business calendar SLA clocks count on: time zone, weekly hours, holidays. Office hours
/// (Mon–Fri 09:00–18:00 UTC) until the tenant sets one.
#[utoipa::path(get, path = "/service/calendar", tag = "service", security(("bearer" = [])),
    responses((status = 200, body = BusinessCalendarSpec)))]
async fn get_calendar(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<BusinessCalendarSpec>> {
    let calendar = service_settings::calendar(&state.db, principal.tenant_id).await?;
    Ok(Json(calendar.spec()))
}

/// Replace the business calendar. Open tickets move their deadlines at their next change or
/// scheduler check.
#[utoipa::path(put, path = "/service/calendar", tag = "service", security(("bearer" = [])),
    request_body = BusinessCalendarSpec,
    responses((status = 200, body = BusinessCalendarSpec), (status = 422, body = ErrorBody)))]
async fn set_calendar(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(spec): ApiJson<BusinessCalendarSpec>,
) -> ApiResult<Json<BusinessCalendarSpec>> {
    let calendar = spec.validate()?;
    let tx = begin_write(&state.db).await?;
    service_settings::set_calendar(&tx, principal.tenant_id, &calendar).await?;
    let shown = calendar.spec();
    let details = serde_json::to_value(&shown).unwrap_or_default();
    audit::record_action(
        &tx,
        &principal,
        "update",
        "business_calendar",
        principal.tenant_id,
        details,
    )
    .await?;
    commit(tx).await?;
    Ok(Json(shown))
}

/// SLA policies. A ticket runs on the most specific policy matching its type, priority and
/// customer tier (criteria left `null` match anything); with no match it has no SLA.
#[utoipa::path(get, path = "/service/sla-policies", tag = "service", security(("bearer" = [])),
    responses((status = 200, body = [SlaPolicy])))]
async fn list_policies(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Vec<SlaPolicy>>> {
    Ok(Json(
        service_settings::policies(&state.db, principal.tenant_id).await?,
    ))
}

#[utoipa::path(post, path = "/service/sla-policies", tag = "service", security(("bearer" = [])),
    request_body = SlaPolicyInput,
    responses((status = 201, body = SlaPolicy), (status = 422, body = ErrorBody)))]
async fn create_policy(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(input): ApiJson<SlaPolicyInput>,
) -> ApiResult<(StatusCode, Json<SlaPolicy>)> {
    let fields = input.validate()?;
    let tx = begin_write(&state.db).await?;
    let policy = service_settings::create_policy(&tx, principal.tenant_id, fields).await?;
    audit::record_change(
        &tx,
        &principal,
        "create",
        "sla_policy",
        policy.id,
        None,
        Some(&policy),
    )
    .await?;
    commit(tx).await?;
    Ok((StatusCode::CREATED, Json(policy)))
}

#[utoipa::path(get, path = "/service/sla-policies/{id}", tag = "service", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = SlaPolicy), (status = 404, body = ErrorBody)))]
async fn get_policy(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<SlaPolicy>> {
    Ok(Json(
        service_settings::policy(&state.db, principal.tenant_id, id).await?,
    ))
}

#[utoipa::path(put, path = "/service/sla-policies/{id}", tag = "service", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = SlaPolicyInput,
    responses((status = 200, body = SlaPolicy), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn replace_policy(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
    ApiJson(input): ApiJson<SlaPolicyInput>,
) -> ApiResult<Json<SlaPolicy>> {
    let fields = input.validate()?;
    let tx = begin_write(&state.db).await?;
    let before = service_settings::policy(&tx, principal.tenant_id, id).await?;
    let policy = service_settings::update_policy(&tx, principal.tenant_id, id, fields).await?;
    audit::record_change(
        &tx,
        &principal,
        "update",
        "sla_policy",
        id,
        Some(&before),
        Some(&policy),
    )
    .await?;
    commit(tx).await?;
    Ok(Json(policy))
}

/// Delete a policy no open ticket runs on (409 `policy_in_use` otherwise).
#[utoipa::path(delete, path = "/service/sla-policies/{id}", tag = "service", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_policy(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<StatusCode> {
    let tx = begin_write(&state.db).await?;
    let before = service_settings::policy(&tx, principal.tenant_id, id).await?;
    service_settings::delete_policy(&tx, principal.tenant_id, id).await?;
    audit::record_change(
        &tx,
        &principal,
        "delete",
        "sla_policy",
        id,
        Some(&before),
        None,
    )
    .await?;
    commit(tx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Routing rules, in the order they are tried: the first whose type, category and customer tier
/// match sends a new ticket to its department, assigned round-robin or to the least loaded
/// active member.
#[utoipa::path(get, path = "/service/routing-rules", tag = "service", security(("bearer" = [])),
    responses((status = 200, body = [RoutingRule])))]
async fn list_routing_rules(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Vec<RoutingRule>>> {
    Ok(Json(
        service_settings::routing_rules(&state.db, principal.tenant_id).await?,
    ))
}

#[utoipa::path(post, path = "/service/routing-rules", tag = "service", security(("bearer" = [])),
    request_body = RoutingRuleInput,
    responses((status = 201, body = RoutingRule), (status = 422, body = ErrorBody)))]
async fn create_routing_rule(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(input): ApiJson<RoutingRuleInput>,
) -> ApiResult<(StatusCode, Json<RoutingRule>)> {
    let fields = input.validate()?;
    let tx = begin_write(&state.db).await?;
    let rule = service_settings::create_rule(&tx, principal.tenant_id, fields).await?;
    audit::record_change(
        &tx,
        &principal,
        "create",
        "routing_rule",
        rule.id,
        None,
        Some(&rule),
    )
    .await?;
    commit(tx).await?;
    Ok((StatusCode::CREATED, Json(rule)))
}

#[utoipa::path(get, path = "/service/routing-rules/{id}", tag = "service", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = RoutingRule), (status = 404, body = ErrorBody)))]
async fn get_routing_rule(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<RoutingRule>> {
    Ok(Json(
        service_settings::routing_rule(&state.db, principal.tenant_id, id).await?,
    ))
}

#[utoipa::path(put, path = "/service/routing-rules/{id}", tag = "service", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = RoutingRuleInput,
    responses((status = 200, body = RoutingRule), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn replace_routing_rule(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
    ApiJson(input): ApiJson<RoutingRuleInput>,
) -> ApiResult<Json<RoutingRule>> {
    let fields = input.validate()?;
    let tx = begin_write(&state.db).await?;
    let before = service_settings::routing_rule(&tx, principal.tenant_id, id).await?;
    let rule = service_settings::update_rule(&tx, principal.tenant_id, id, fields).await?;
    audit::record_change(
        &tx,
        &principal,
        "update",
        "routing_rule",
        id,
        Some(&before),
        Some(&rule),
    )
    .await?;
    commit(tx).await?;
    Ok(Json(rule))
}

#[utoipa::path(delete, path = "/service/routing-rules/{id}", tag = "service", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_routing_rule(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<StatusCode> {
    let tx = begin_write(&state.db).await?;
    let before = service_settings::routing_rule(&tx, principal.tenant_id, id).await?;
    service_settings::delete_rule(&tx, principal.tenant_id, id).await?;
    audit::record_change(
        &tx,
        &principal,
        "delete",
        "routing_rule",
        id,
        Some(&before),
        None,
    )
    .await?;
    commit(tx).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct KpiQuery {
    /// `YYYY-MM` (UTC); the current month when absent.
    month: Option<String>,
}

/// Service KPIs of a month next to the month before: complaint on-time resolution rate, mean
/// hours to first response and to resolution, requirement resolution rate, and the backlog by
/// department and assignee. Only tickets within your `tickets:read` scope count.
#[utoipa::path(get, path = "/service/kpis", tag = "service", security(("bearer" = [])), params(KpiQuery),
    responses((status = 200, body = ServiceKpis), (status = 422, body = ErrorBody)))]
async fn kpis(
    State(state): State<AppState>,
    access: Access,
    ApiQuery(query): ApiQuery<KpiQuery>,
) -> ApiResult<Json<ServiceKpis>> {
    let month = Month::requested(query.month.as_deref(), Utc::now())?;
    let facts = tickets::kpi_facts(
        &state.db,
        access.principal.tenant_id,
        access.visibility(),
        month.previous().start(),
        month.end(),
    )
    .await?;
    Ok(Json(service_kpis(month, &facts)))
}
