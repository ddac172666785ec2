//! Tiering: run the tenant's tiering policy over every customer, and a customer's tier history.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::access::Access;
use super::audit;
use super::children::reach;
use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath};
use crate::domain::Id;
use crate::domain::identity::Principal;
use crate::domain::tiering::{
    TierChange, TierRunReport, TierServicePolicy, TierServicePolicyInput,
};
use crate::store::{self, begin_write, commit};
use crate::tiering;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(run_tiering))
        .routes(routes!(tier_history))
        .routes(routes!(list_service_policies))
        .routes(routes!(set_service_policy))
}

/// How the tenant serves each tier: revisit cadence and ticket targets, defaults included.
#[utoipa::path(get, path = "/tenant/tier-policies", tag = "tiering", security(("bearer" = [])),
    responses((status = 200, body = [TierServicePolicy])))]
async fn list_service_policies(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Vec<TierServicePolicy>>> {
    Ok(Json(
        store::tiering::service_policies(&state.db, principal.tenant_id).await?,
    ))
}

/// Set how the tenant serves one tier (any tier id its policies use).
#[utoipa::path(put, path = "/tenant/tier-policies/{tier}", tag = "tiering", security(("bearer" = [])),
    params(("tier" = String, Path)), request_body = TierServicePolicyInput,
    responses((status = 200, body = [TierServicePolicy]), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_service_policy(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(tier): ApiPath<String>,
    ApiJson(input): ApiJson<TierServicePolicyInput>,
) -> ApiResult<Json<Vec<TierServicePolicy>>> {
    let policy = input.validate(&tier)?;
    let tx = begin_write(&state.db).await?;
    store::tiering::set_service_policy(&tx, principal.tenant_id, &policy).await?;
    let details = serde_json::to_value(&policy).unwrap_or_default();
    audit::record_action(&tx, &principal, "update", "tier_policy", &tier, details).await?;
    commit(tx).await?;
    Ok(Json(
        store::tiering::service_policies(&state.db, principal.tenant_id).await?,
    ))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierRunInput {
    /// The tiering policy to run; the tenant's only enabled one when absent.
    pub plugin_id: Option<String>,
}

/// Re-tier every customer now with the tenant's tiering policy. Customers whose tier changes
/// get a history row and a `customer.tier_changed` event. A failing policy stops the run and
/// is reported in `error`; the customers it was deciding keep their tiers.
#[utoipa::path(post, path = "/tenant/tiering/runs", tag = "tiering", security(("bearer" = [])),
    request_body = TierRunInput,
    responses((status = 200, body = TierRunReport), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn run_tiering(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(input): ApiJson<TierRunInput>,
) -> ApiResult<Json<TierRunReport>> {
    let tenant_id = principal.tenant_id;
    let registry = &state.registry;
    let plugin_id =
        tiering::choose_policy(&state.db, registry, tenant_id, input.plugin_id.as_deref()).await?;
    let report = tiering::run(&state.db, registry, tenant_id, &plugin_id, |_, _| {}).await?;
    Ok(Json(report))
}

/// The customer's tier changes, newest first, each with the score, reasons and policy.
#[utoipa::path(get, path = "/customers/{id}/tier-history", tag = "tiering", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = [TierChange]), (status = 404, body = ErrorBody)))]
async fn tier_history(
    State(state): State<AppState>,
    access: Access,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<Vec<TierChange>>> {
    reach(&state, &access, id).await?;
    Ok(Json(
        store::tiering::history(&state.db, access.principal.tenant_id, id).await?,
    ))
}
