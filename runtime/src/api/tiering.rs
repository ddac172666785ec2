//! Tiering: run the tenant's tiering policy over every customer, and a customer's tier history.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::access::Access;
use super::children::reach;
use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath};
use crate::domain::Id;
use crate::domain::identity::Principal;
use crate::domain::tiering::{TierChange, TierRunReport};
use crate::store;
use crate::tiering;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(run_tiering))
        .routes(routes!(tier_history))
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
