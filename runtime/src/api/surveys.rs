//! Surveys for staff: templates and their versions, the tenant's survey settings, campaigns
//! (periodic, or one-off manual sends), deliveries and responses, opt-outs, the satisfaction
//! KPIs, and the inbound endpoint where channels post answers they collected themselves.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::access::Access;
use super::audit;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use crate::domain::identity::Principal;
use crate::domain::plugin::PluginKind;
use crate::domain::service_kpi::Month;
use crate::domain::survey::{
    AnswerInput, Audience, Campaign, CampaignInput, DeliveryState, SurveyDelivery, SurveyResponse,
    SurveySettings, SurveyTemplate, TemplateInput, score_in_text,
};
use crate::domain::survey_delivery::InboundRequest;
use crate::domain::survey_kpi::{GroupBy, SurveyKpis, survey_kpis};
use crate::domain::{Id, ValidationErrors};
use crate::store::surveys::{self, DeliveryFilter};
use crate::store::{StoreError, begin_write, commit, customers};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_templates))
        .routes(routes!(template_versions, save_template))
        .routes(routes!(get_settings, save_settings))
        .routes(routes!(list_campaigns, create_campaign))
        .routes(routes!(get_campaign, delete_campaign))
        .routes(routes!(run_campaign))
        .routes(routes!(send_now))
        .routes(routes!(list_deliveries))
        .routes(routes!(list_responses))
        .routes(routes!(opt_out, opt_in))
        .routes(routes!(kpis))
        .routes(routes!(inbound))
}

/// The current version of each survey template (CSAT, NPS and CES are installed).
#[utoipa::path(get, path = "/surveys/templates", tag = "surveys", security(("bearer" = [])),
    responses((status = 200, body = [SurveyTemplate])))]
async fn list_templates(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Vec<SurveyTemplate>>> {
    Ok(Json(
        surveys::templates(&state.db, principal.tenant_id).await?,
    ))
}

/// Every version of a template, newest first.
#[utoipa::path(get, path = "/surveys/templates/{key}", tag = "surveys", security(("bearer" = [])),
    params(("key" = String, Path)),
    responses((status = 200, body = [SurveyTemplate]), (status = 404, body = ErrorBody)))]
async fn template_versions(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(key): ApiPath<String>,
) -> ApiResult<Json<Vec<SurveyTemplate>>> {
    Ok(Json(
        surveys::template_versions(&state.db, principal.tenant_id, &key).await?,
    ))
}

/// Saves a new version of a template (the first for a new key). Surveys already sent keep
/// the version they were sent with.
#[utoipa::path(put, path = "/surveys/templates/{key}", tag = "surveys", security(("bearer" = [])),
    params(("key" = String, Path)), request_body = TemplateInput,
    responses((status = 201, body = SurveyTemplate), (status = 422, body = ErrorBody)))]
async fn save_template(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(key): ApiPath<String>,
    ApiJson(input): ApiJson<TemplateInput>,
) -> ApiResult<(StatusCode, Json<SurveyTemplate>)> {
    let new = input.validate(&key)?;
    let tx = begin_write(&state.db).await?;
    let saved =
        surveys::save_template(&tx, principal.tenant_id, new, Some(principal.user_id)).await?;
    audit::record_change(
        &tx,
        &principal,
        "create",
        "survey_template",
        saved.id,
        None,
        Some(&saved),
    )
    .await?;
    commit(tx).await?;
    Ok((StatusCode::CREATED, Json(saved)))
}

/// Throttling, reminder, expiry, low-score thresholds and the after-resolution trigger.
#[utoipa::path(get, path = "/surveys/settings", tag = "surveys", security(("bearer" = [])),
    responses((status = 200, body = SurveySettings)))]
async fn get_settings(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<SurveySettings>> {
    Ok(Json(
        surveys::settings(&state.db, principal.tenant_id).await?,
    ))
}

#[utoipa::path(put, path = "/surveys/settings", tag = "surveys", security(("bearer" = [])),
    request_body = SurveySettings,
    responses((status = 200, body = SurveySettings), (status = 422, body = ErrorBody)))]
async fn save_settings(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(input): ApiJson<SurveySettings>,
) -> ApiResult<Json<SurveySettings>> {
    let settings = input.validate()?;
    if let Some(trigger) = &settings.after_ticket_resolved {
        check_channel(
            &state,
            principal.tenant_id,
            &trigger.channel,
            "after_ticket_resolved.channel",
        )
        .await?;
    }
    let tx = begin_write(&state.db).await?;
    let before = surveys::settings(&tx, principal.tenant_id).await?;
    surveys::save_settings(&tx, principal.tenant_id, &settings).await?;
    audit::record_change(
        &tx,
        &principal,
        "update",
        "survey_settings",
        principal.tenant_id,
        Some(&before),
        Some(&settings),
    )
    .await?;
    commit(tx).await?;
    Ok(Json(settings))
}

/// A channel must be a survey-channel plugin the tenant enabled.
async fn check_channel(
    state: &AppState,
    tenant_id: Id,
    channel: &str,
    field: &str,
) -> ApiResult<()> {
    let plugin = state
        .registry
        .tenant_plugin(&state.db, tenant_id, channel)
        .await
        .ok();
    match plugin {
        Some(plugin) if plugin.enabled && plugin.kind == PluginKind::SurveyChannel => Ok(()),
        _ => Err(ValidationErrors::single(
            field,
            "unknown_channel",
            "not a survey-channel plugin enabled for this tenant",
        )
        .into()),
    }
}

#[utoipa::path(get, path = "/surveys/campaigns", tag = "surveys", security(("bearer" = [])),
    responses((status = 200, body = [Campaign])))]
async fn list_campaigns(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Vec<Campaign>>> {
    Ok(Json(
        surveys::campaigns(&state.db, principal.tenant_id).await?,
    ))
}

/// A campaign sends a template to an audience by tier, tag or list, once or every few months
/// (3 for quarterly). The worker runs it at `starts_at` (now when absent).
#[utoipa::path(post, path = "/surveys/campaigns", tag = "surveys", security(("bearer" = [])),
    request_body = CampaignInput,
    responses((status = 201, body = Campaign), (status = 422, body = ErrorBody)))]
async fn create_campaign(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(input): ApiJson<CampaignInput>,
) -> ApiResult<(StatusCode, Json<Campaign>)> {
    let new = input.validate(Utc::now())?;
    check_channel(&state, principal.tenant_id, &new.channel, "channel").await?;
    let tx = begin_write(&state.db).await?;
    let campaign =
        surveys::create_campaign(&tx, principal.tenant_id, new, principal.user_id).await?;
    audit::record_change(
        &tx,
        &principal,
        "create",
        "survey_campaign",
        campaign.id,
        None,
        Some(&campaign),
    )
    .await?;
    commit(tx).await?;
    Ok((StatusCode::CREATED, Json(campaign)))
}

#[utoipa::path(get, path = "/surveys/campaigns/{id}", tag = "surveys", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = Campaign), (status = 404, body = ErrorBody)))]
async fn get_campaign(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<Campaign>> {
    Ok(Json(
        surveys::campaign(&state.db, principal.tenant_id, id).await?,
    ))
}

/// Stops a campaign; surveys it already queued still go out.
#[utoipa::path(delete, path = "/surveys/campaigns/{id}", tag = "surveys", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_campaign(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<StatusCode> {
    let tx = begin_write(&state.db).await?;
    let before = surveys::campaign(&tx, principal.tenant_id, id).await?;
    surveys::delete_campaign(&tx, principal.tenant_id, id).await?;
    audit::record_change(
        &tx,
        &principal,
        "delete",
        "survey_campaign",
        id,
        Some(&before),
        None::<&Campaign>,
    )
    .await?;
    commit(tx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Runs a campaign now: queues its surveys (throttling and opt-outs honoured) and reports what
/// happened to each customer of the audience.
#[utoipa::path(post, path = "/surveys/campaigns/{id}/run", tag = "surveys", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = Campaign), (status = 404, body = ErrorBody)))]
async fn run_campaign(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<Campaign>> {
    let tx = begin_write(&state.db).await?;
    let campaign = surveys::run_campaign(&tx, principal.tenant_id, id, Utc::now()).await?;
    commit(tx).await?;
    Ok(Json(campaign))
}

/// A manual send to listed customers.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendInput {
    template_key: String,
    channel: String,
    customer_ids: Vec<Id>,
}

/// Sends a survey to customers you can see, now: a one-off campaign run at once.
#[utoipa::path(post, path = "/surveys/send", tag = "surveys", security(("bearer" = [])),
    request_body = SendInput,
    responses((status = 201, body = Campaign), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn send_now(
    State(state): State<AppState>,
    access: Access,
    ApiJson(input): ApiJson<SendInput>,
) -> ApiResult<(StatusCode, Json<Campaign>)> {
    let principal = &access.principal;
    let now = Utc::now();
    let new = CampaignInput {
        name: format!("Manual send {}", now.format("%Y-%m-%d %H:%M")),
        template_key: input.template_key,
        channel: input.channel,
        audience: Audience {
            customer_ids: input.customer_ids,
            ..Audience::default()
        },
        every_months: None,
        starts_at: Some(now),
    }
    .validate(now)?;
    check_channel(&state, principal.tenant_id, &new.channel, "channel").await?;
    let tx = begin_write(&state.db).await?;
    for customer_id in &new.audience.customer_ids {
        customers::ensure_visible(&tx, principal.tenant_id, *customer_id, access.visibility())
            .await?;
    }
    let campaign =
        surveys::create_campaign(&tx, principal.tenant_id, new, principal.user_id).await?;
    let campaign = surveys::run_campaign(&tx, principal.tenant_id, campaign.id, now).await?;
    commit(tx).await?;
    Ok((StatusCode::CREATED, Json(campaign)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    customer_id: Option<Id>,
    campaign_id: Option<Id>,
    ticket_id: Option<Id>,
    state: Option<DeliveryState>,
    /// 1–500, default 100.
    limit: Option<u64>,
}

fn limit(value: Option<u64>) -> ApiResult<u64> {
    match value.unwrap_or(100) {
        limit @ 1..=500 => Ok(limit),
        _ => Err(ValidationErrors::single("limit", "out_of_range", "limit is 1–500").into()),
    }
}

/// Deliveries of customers within your scope, newest first.
#[utoipa::path(get, path = "/surveys/deliveries", tag = "surveys", security(("bearer" = [])),
    params(DeliveryQuery), responses((status = 200, body = [SurveyDelivery]), (status = 422, body = ErrorBody)))]
async fn list_deliveries(
    State(state): State<AppState>,
    access: Access,
    ApiQuery(query): ApiQuery<DeliveryQuery>,
) -> ApiResult<Json<Vec<SurveyDelivery>>> {
    let limit = limit(query.limit)?;
    let filter = DeliveryFilter {
        customer_id: query.customer_id,
        campaign_id: query.campaign_id,
        ticket_id: query.ticket_id,
        state: query.state,
    };
    let tenant_id = access.principal.tenant_id;
    Ok(Json(
        surveys::deliveries(&state.db, tenant_id, access.visibility(), &filter, limit).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ResponseQuery {
    customer_id: Option<Id>,
    /// 1–500, default 100.
    limit: Option<u64>,
}

/// Responses of customers within your scope, newest first.
#[utoipa::path(get, path = "/surveys/responses", tag = "surveys", security(("bearer" = [])),
    params(ResponseQuery), responses((status = 200, body = [SurveyResponse]), (status = 422, body = ErrorBody)))]
async fn list_responses(
    State(state): State<AppState>,
    access: Access,
    ApiQuery(query): ApiQuery<ResponseQuery>,
) -> ApiResult<Json<Vec<SurveyResponse>>> {
    let limit = limit(query.limit)?;
    let tenant_id = access.principal.tenant_id;
    Ok(Json(
        surveys::responses(
            &state.db,
            tenant_id,
            access.visibility(),
            query.customer_id,
            limit,
        )
        .await?,
    ))
}

async fn contact_in_scope(state: &AppState, access: &Access, contact_id: Id) -> ApiResult<()> {
    let contact =
        crate::store::contacts::get(&state.db, access.principal.tenant_id, contact_id).await?;
    customers::ensure_visible(
        &state.db,
        access.principal.tenant_id,
        contact.customer_id,
        access.visibility(),
    )
    .await?;
    Ok(())
}

/// Records that a contact wants no more surveys.
#[utoipa::path(put, path = "/surveys/opt-outs/{contact_id}", tag = "surveys", security(("bearer" = [])),
    params(("contact_id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn opt_out(
    State(state): State<AppState>,
    access: Access,
    ApiPath(contact_id): ApiPath<Id>,
) -> ApiResult<StatusCode> {
    contact_in_scope(&state, &access, contact_id).await?;
    surveys::opt_out(&state.db, access.principal.tenant_id, contact_id, "staff").await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lets a contact receive surveys again.
#[utoipa::path(delete, path = "/surveys/opt-outs/{contact_id}", tag = "surveys", security(("bearer" = [])),
    params(("contact_id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn opt_in(
    State(state): State<AppState>,
    access: Access,
    ApiPath(contact_id): ApiPath<Id>,
) -> ApiResult<StatusCode> {
    contact_in_scope(&state, &access, contact_id).await?;
    surveys::opt_in(&state.db, access.principal.tenant_id, contact_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct KpiQuery {
    /// `YYYY-MM`; the current month when absent.
    month: Option<String>,
    group_by: Option<GroupBy>,
}

/// CSAT % (share of 4–5), NPS (% 9–10 minus % 0–6), CES mean, dimension means and response
/// rate for a month next to the month before, overall and by tier, owner or department. Only
/// customers within your `surveys:read` scope count.
#[utoipa::path(get, path = "/surveys/kpis", tag = "surveys", security(("bearer" = [])), params(KpiQuery),
    responses((status = 200, body = SurveyKpis), (status = 422, body = ErrorBody)))]
async fn kpis(
    State(state): State<AppState>,
    access: Access,
    ApiQuery(query): ApiQuery<KpiQuery>,
) -> ApiResult<Json<SurveyKpis>> {
    let month = Month::requested(query.month.as_deref(), Utc::now())?;
    let (responses, deliveries) = surveys::kpi_facts(
        &state.db,
        access.principal.tenant_id,
        access.visibility(),
        month.previous().start(),
        month.end(),
    )
    .await?;
    Ok(Json(survey_kpis(
        month,
        query.group_by,
        &responses,
        &deliveries,
    )))
}

/// What an inbound call did with each answer the channel parsed.
#[derive(Debug, Serialize, ToSchema)]
pub struct InboundReport {
    pub recorded: u64,
    /// No open survey matched, the text held no score, or the answer was refused.
    pub ignored: u64,
}

/// Where a survey channel posts what it received (e.g. SMS replies, signed webhooks). The
/// channel's `parse-inbound` checks the request (signatures are the channel's job); answers are
/// matched only to this tenant's open surveys sent over this channel.
#[utoipa::path(post, path = "/surveys/inbound/{tenant_id}/{channel}", tag = "surveys",
    params(("tenant_id" = i64, Path), ("channel" = String, Path)),
    request_body(content = String, description = "whatever the channel's sender posts", content_type = "application/octet-stream"),
    responses((status = 200, body = InboundReport), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn inbound(
    State(state): State<AppState>,
    ApiPath((tenant_id, channel)): ApiPath<(Id, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<InboundReport>> {
    let session = state
        .registry
        .survey_session(&state.db, tenant_id, &channel)
        .await
        .map_err(|_| ApiError::from(StoreError::NotFound("survey channel")))?;
    let request = InboundRequest {
        headers: headers
            .iter()
            .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_owned())))
            .collect(),
        body: body.to_vec(),
    };
    let answers = session
        .parse_inbound(&state.db, &request)
        .await?
        .map_err(|error| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "inbound_refused",
                format!("the channel refused the request: {error}"),
            )
        })?;
    let mut report = InboundReport {
        recorded: 0,
        ignored: 0,
    };
    for answer in answers {
        let tx = begin_write(&state.db).await?;
        let row = match &answer.delivery_id {
            Some(id) => surveys::by_channel_id(&tx, tenant_id, &channel, id).await?,
            None => surveys::open_by_phone(&tx, tenant_id, &channel, &answer.sender).await?,
        };
        let recorded = match (row, score_in_text(&answer.text)) {
            (Some(row), Some(score)) => {
                let now = Utc::now();
                let opened = surveys::open_row(&tx, row, now).await?;
                let input = AnswerInput {
                    score,
                    ..AnswerInput::default()
                };
                match input.validate(&opened.template) {
                    Ok(checked) if opened.closed.is_none() => {
                        match surveys::answer(&tx, &opened, checked, &channel, now).await {
                            Ok(_) => true,
                            // The sender retries on a 5xx; a refused answer is only ignored.
                            Err(error @ StoreError::Database(_)) => return Err(error.into()),
                            Err(_) => false,
                        }
                    }
                    _ => false,
                }
            }
            _ => false,
        };
        if recorded {
            commit(tx).await?;
            report.recorded += 1;
        } else {
            report.ignored += 1;
        }
    }
    Ok(Json(report))
}
