//! Automation: the tenant's rules (CRUD and run-now), its recurring jobs, and the events feed
//! that reminders and notifications land in.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::audit;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use crate::automation;
use crate::domain::automation::{Event, Rule, RuleDefinition, RuleRunReport, Schedule};
use crate::domain::identity::Principal;
use crate::domain::{Id, ValidationErrors};
use crate::store::{self, begin_write, commit};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_rules, create_rule))
        .routes(routes!(get_rule, replace_rule, delete_rule))
        .routes(routes!(run_rule))
        .routes(routes!(list_schedules))
        .routes(routes!(configure_schedule))
        .routes(routes!(list_events))
}

/// The tenant's rules, the defaults from the seeds included.
#[utoipa::path(get, path = "/automation/rules", tag = "automation", security(("bearer" = [])),
    responses((status = 200, body = [Rule])))]
async fn list_rules(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Vec<Rule>>> {
    Ok(Json(
        store::automation::list(&state.db, principal.tenant_id).await?,
    ))
}

/// Create a rule: a trigger (`schedule` every N hours, or an `event`), conditions over the
/// customer's facts, and actions. A scheduled rule first runs at the next tick.
#[utoipa::path(post, path = "/automation/rules", tag = "automation", security(("bearer" = [])),
    request_body = RuleDefinition,
    responses((status = 201, body = Rule), (status = 422, body = ErrorBody)))]
async fn create_rule(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(input): ApiJson<RuleDefinition>,
) -> ApiResult<(StatusCode, Json<Rule>)> {
    let definition = input.validate()?;
    let tx = begin_write(&state.db).await?;
    let rule = store::automation::create(&tx, principal.tenant_id, None, definition).await?;
    let details = serde_json::to_value(&rule.definition).unwrap_or_default();
    audit::record_action(
        &tx,
        &principal,
        "create",
        "automation_rule",
        &rule.id.to_string(),
        details,
    )
    .await?;
    commit(tx).await?;
    Ok((StatusCode::CREATED, Json(rule)))
}

#[utoipa::path(get, path = "/automation/rules/{id}", tag = "automation", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = Rule), (status = 404, body = ErrorBody)))]
async fn get_rule(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<Rule>> {
    Ok(Json(
        store::automation::get(&state.db, principal.tenant_id, id).await?,
    ))
}

/// Replace a rule's definition (also how a default rule is tuned or disabled).
#[utoipa::path(put, path = "/automation/rules/{id}", tag = "automation", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = RuleDefinition,
    responses((status = 200, body = Rule), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn replace_rule(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
    ApiJson(input): ApiJson<RuleDefinition>,
) -> ApiResult<Json<Rule>> {
    let definition = input.validate()?;
    let tx = begin_write(&state.db).await?;
    let rule = store::automation::replace(&tx, principal.tenant_id, id, definition).await?;
    let details = serde_json::to_value(&rule.definition).unwrap_or_default();
    audit::record_action(
        &tx,
        &principal,
        "update",
        "automation_rule",
        &id.to_string(),
        details,
    )
    .await?;
    commit(tx).await?;
    Ok(Json(rule))
}

/// Delete a rule the tenant wrote; default rules answer 409 `default_rule` (disable them).
#[utoipa::path(delete, path = "/automation/rules/{id}", tag = "automation", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_rule(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<StatusCode> {
    let tx = begin_write(&state.db).await?;
    store::automation::delete(&tx, principal.tenant_id, id).await?;
    let details = serde_json::Value::Null;
    audit::record_action(
        &tx,
        &principal,
        "delete",
        "automation_rule",
        &id.to_string(),
        details,
    )
    .await?;
    commit(tx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Run a scheduled rule over every customer now. It fires only where it may: never twice
/// within its repeat window, never while its task for the customer is open.
#[utoipa::path(post, path = "/automation/rules/{id}/runs", tag = "automation", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = RuleRunReport), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn run_rule(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<RuleRunReport>> {
    let rule = store::automation::get(&state.db, principal.tenant_id, id).await?;
    if !automation::is_scheduled(&rule) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_scheduled",
            "event rules run when their event happens",
        ));
    }
    if !rule.definition.enabled {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "rule_disabled",
            "enable the rule first",
        ));
    }
    let report = automation::run_rule(&state.db, principal.tenant_id, &rule, Utc::now()).await?;
    Ok(Json(report))
}

/// The tenant's recurring jobs: `tiering` (nightly by default), `task-reminders`, and one
/// `rule:<id>` per scheduled rule, with their last run.
#[utoipa::path(get, path = "/automation/schedules", tag = "automation", security(("bearer" = [])),
    responses((status = 200, body = [Schedule])))]
async fn list_schedules(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Vec<Schedule>>> {
    Ok(Json(
        store::schedules::list(&state.db, principal.tenant_id).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleInput {
    /// 1–525,600 (a year).
    pub interval_minutes: Option<u32>,
    pub enabled: Option<bool>,
    /// When it runs next (e.g. now, to run it at the next tick).
    pub next_run_at: Option<DateTime<Utc>>,
}

/// Change a job's interval, switch it on or off, or move its next run.
#[utoipa::path(patch, path = "/automation/schedules/{job}", tag = "automation", security(("bearer" = [])),
    params(("job" = String, Path)), request_body = ScheduleInput,
    responses((status = 200, body = Schedule), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn configure_schedule(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(job): ApiPath<String>,
    ApiJson(input): ApiJson<ScheduleInput>,
) -> ApiResult<Json<Schedule>> {
    if input
        .interval_minutes
        .is_some_and(|minutes| !(1..=525_600).contains(&minutes))
    {
        return Err(ValidationErrors::single(
            "interval_minutes",
            "out_of_range",
            "interval_minutes must be between 1 and 525600",
        )
        .into());
    }
    let tx = begin_write(&state.db).await?;
    let schedule = store::schedules::configure(
        &tx,
        principal.tenant_id,
        &job,
        input.interval_minutes,
        input.enabled,
        input.next_run_at,
    )
    .await?;
    let details = serde_json::to_value(&schedule).unwrap_or_default();
    audit::record_action(&tx, &principal, "update", "schedule", &job, details).await?;
    commit(tx).await?;
    Ok(Json(schedule))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    /// e.g. `task.overdue`, `customer.tier_changed`, `automation.notification`.
    pub kind: String,
    /// Only events with a greater id (the last id seen).
    pub after: Option<Id>,
    /// 1–500, default 100.
    pub limit: Option<u64>,
}

/// The tenant's events of one kind, oldest first: what channels and integrations consume.
#[utoipa::path(get, path = "/automation/events", tag = "automation", security(("bearer" = [])),
    params(EventQuery), responses((status = 200, body = [Event]), (status = 422, body = ErrorBody)))]
async fn list_events(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<EventQuery>,
) -> ApiResult<Json<Vec<Event>>> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ValidationErrors::single("limit", "out_of_range", "limit is 1 to 500").into());
    }
    let events = store::events::of_kind(
        &state.db,
        principal.tenant_id,
        &query.kind,
        query.after.unwrap_or(0),
        limit,
    )
    .await?;
    Ok(Json(events))
}
