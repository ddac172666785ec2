//! ERP sync: a tenant's connector settings and schedule, runs on demand and their history,
//! each stream's cursor, the credentials check, and the review queue of records the sync could
//! not place.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::access::Access;
use super::audit;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use crate::domain::Id;
use crate::domain::access::Scope;
use crate::domain::identity::Principal;
use crate::domain::plugin::{PluginKind, PluginRun};
use crate::domain::sync::{
    ReviewItem, ReviewKind, ReviewResolution, ReviewStatus, RunTrigger, SyncConnector, SyncRun,
    SyncSettings,
};
use crate::store::{self, begin_write, commit};
use crate::sync::{self as engine, SyncError};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_connectors))
        .routes(routes!(get_connector, put_connector))
        .routes(routes!(start_run))
        .routes(routes!(check_connector))
        .routes(routes!(list_runs))
        .routes(routes!(get_run))
        .routes(routes!(list_reviews))
        .routes(routes!(get_review))
        .routes(routes!(resolve_review))
}

impl From<SyncError> for ApiError {
    fn from(error: SyncError) -> Self {
        match error {
            SyncError::Store(error) => error.into(),
        }
    }
}

/// The tenant's ERP connectors with their settings, schedule and stream cursors.
#[utoipa::path(get, path = "/sync/connectors", tag = "sync", security(("bearer" = [])),
    responses((status = 200, body = [SyncConnector])))]
async fn list_connectors(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Vec<SyncConnector>>> {
    Ok(Json(
        store::sync::list_connectors(&state.db, principal.tenant_id).await?,
    ))
}

/// One connector: settings, next scheduled run, whether it runs now, and per stream the
/// current cursor and last success.
#[utoipa::path(get, path = "/sync/connectors/{plugin_id}", tag = "sync", security(("bearer" = [])),
    params(("plugin_id" = String, Path)),
    responses((status = 200, body = SyncConnector), (status = 404, body = ErrorBody)))]
async fn get_connector(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(plugin_id): ApiPath<String>,
) -> ApiResult<Json<SyncConnector>> {
    Ok(Json(
        store::sync::get_connector(&state.db, principal.tenant_id, &plugin_id).await?,
    ))
}

/// Set how the tenant syncs one of its enabled ERP connector plugins: source, schedule, page
/// size, rate limit, retries, the matching rule and what happens to unmatched customers.
#[utoipa::path(put, path = "/sync/connectors/{plugin_id}", tag = "sync", security(("bearer" = [])),
    params(("plugin_id" = String, Path)), request_body = SyncSettings,
    responses((status = 200, body = SyncConnector), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_connector(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(plugin_id): ApiPath<String>,
    ApiJson(settings): ApiJson<SyncSettings>,
) -> ApiResult<Json<SyncConnector>> {
    let settings = settings.validate()?;
    let plugin = state
        .registry
        .tenant_plugin(&state.db, principal.tenant_id, &plugin_id)
        .await?;
    if plugin.kind != PluginKind::ErpConnector {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_an_erp_connector",
            format!("{plugin_id} is a {}", plugin.kind),
        ));
    }
    let tx = begin_write(&state.db).await?;
    let connector =
        store::sync::put_connector(&tx, principal.tenant_id, &plugin_id, settings).await?;
    let details = serde_json::to_value(&connector.settings).unwrap_or_default();
    audit::record_action(
        &tx,
        &principal,
        "update",
        "sync_connector",
        &plugin_id,
        details,
    )
    .await?;
    commit(tx).await?;
    Ok(Json(connector))
}

/// Start a sync now. Answers at once with the run, which goes on in the background; 409
/// `sync_running` while one runs, `connector_paused` when paused.
#[utoipa::path(post, path = "/sync/connectors/{plugin_id}/runs", tag = "sync", security(("bearer" = [])),
    params(("plugin_id" = String, Path)),
    responses((status = 202, body = SyncRun), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn start_run(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(plugin_id): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<SyncRun>)> {
    let run = engine::begin(
        &state.db,
        principal.tenant_id,
        &plugin_id,
        RunTrigger::Manual,
        &state.sync,
    )
    .await?;
    let view = store::sync::get_run(&state.db, principal.tenant_id, run.run_id).await?;
    engine::spawn_execute(
        state.db.clone(),
        state.registry.clone(),
        run,
        state.sync.clone(),
    );
    Ok((StatusCode::ACCEPTED, Json(view)))
}

/// Check the connector's configuration and credentials against the ERP. The recorded plugin
/// run says whether it passed (`outcome` `ok`) or why not (e.g. `bad-credentials`).
#[utoipa::path(post, path = "/sync/connectors/{plugin_id}/check", tag = "sync", security(("bearer" = [])),
    params(("plugin_id" = String, Path)),
    responses((status = 200, body = PluginRun), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn check_connector(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(plugin_id): ApiPath<String>,
) -> ApiResult<Json<PluginRun>> {
    // The check is one call; it does not wait for the sync's rate limit.
    let session = state
        .registry
        .erp_session(&state.db, principal.tenant_id, &plugin_id, None)
        .await?;
    let (run, _) = session.check(&state.db).await?;
    Ok(Json(run))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RunQuery {
    /// Only this connector's runs.
    pub plugin_id: Option<String>,
    /// Runs older than this run id (the last id of the previous page).
    pub before: Option<Id>,
    /// 1–100, default 20.
    pub limit: Option<u64>,
}

fn limit(requested: Option<u64>) -> ApiResult<u64> {
    match requested.unwrap_or(20) {
        limit @ 1..=100 => Ok(limit),
        _ => Err(crate::domain::ValidationErrors::single("limit", "out_of_range", "1–100").into()),
    }
}

/// Sync runs, newest first: per run its trigger, outcome, error and retries, and per stream
/// the pages, records read, inserted, updated, unchanged and unmatched, and the duration.
#[utoipa::path(get, path = "/sync/runs", tag = "sync", security(("bearer" = [])),
    params(RunQuery), responses((status = 200, body = [SyncRun]), (status = 422, body = ErrorBody)))]
async fn list_runs(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<RunQuery>,
) -> ApiResult<Json<Vec<SyncRun>>> {
    let limit = limit(query.limit)?;
    Ok(Json(
        store::sync::list_runs(
            &state.db,
            principal.tenant_id,
            query.plugin_id.as_deref(),
            query.before,
            limit,
        )
        .await?,
    ))
}

/// One sync run.
#[utoipa::path(get, path = "/sync/runs/{id}", tag = "sync", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = SyncRun), (status = 404, body = ErrorBody)))]
async fn get_run(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<SyncRun>> {
    Ok(Json(
        store::sync::get_run(&state.db, principal.tenant_id, id).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReviewQuery {
    /// Default `pending`.
    pub status: Option<ReviewStatus>,
    pub kind: Option<ReviewKind>,
    /// Entries after this id (the last id of the previous page).
    pub after: Option<Id>,
    /// 1–100, default 20.
    pub limit: Option<u64>,
}

/// The review queue, oldest first: synced records that matched no customer, several, or
/// belong to an unlinked customer, or cannot be stored as they are.
#[utoipa::path(get, path = "/sync/reviews", tag = "sync", security(("bearer" = [])),
    params(ReviewQuery), responses((status = 200, body = [ReviewItem]), (status = 422, body = ErrorBody)))]
async fn list_reviews(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<ReviewQuery>,
) -> ApiResult<Json<Vec<ReviewItem>>> {
    let limit = limit(query.limit)?;
    Ok(Json(
        store::sync::list_reviews(
            &state.db,
            principal.tenant_id,
            Some(query.status.unwrap_or(ReviewStatus::Pending)),
            query.kind,
            query.after,
            limit,
        )
        .await?,
    ))
}

/// One review entry with the record as the connector read it.
#[utoipa::path(get, path = "/sync/reviews/{id}", tag = "sync", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = ReviewItem), (status = 404, body = ErrorBody)))]
async fn get_review(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<ReviewItem>> {
    Ok(Json(
        store::sync::get_review(&state.db, principal.tenant_id, id).await?,
    ))
}

/// Linking a record writes the source's orders and facts into an existing customer, and
/// creating one names its owner: a resolution may do either only within the caller's own reach
/// over customers, as the customer routes allow (an out-of-reach customer reads as missing).
/// Without `all` scope a created customer's owner defaults to the caller, as on `POST
/// /customers`.
async fn within_customer_reach(
    state: &AppState,
    access: &Access,
    resolution: &mut ReviewResolution,
) -> ApiResult<()> {
    let tenant_id = access.principal.tenant_id;
    let scope = |action: &str| {
        access.scope_of("customers", action).ok_or_else(|| {
            ApiError::forbidden(format!(
                "this resolution needs the customers:{action} permission"
            ))
        })
    };
    match resolution {
        ReviewResolution::Link { customer_id } => {
            let reach = access.visibility_for(scope("update")?);
            store::customers::ensure_visible(&state.db, tenant_id, *customer_id, reach).await?;
        }
        ReviewResolution::Create { owner_id, .. } => {
            let scope = scope("create")?;
            if owner_id.is_none() && scope != Scope::All {
                *owner_id = Some(access.principal.user_id);
            }
            let reach = access.visibility_for(scope);
            super::customers::check_owner_within(state, access, *owner_id, reach).await?;
        }
        ReviewResolution::Dismiss => {}
    }
    Ok(())
}

/// Resolve a pending entry: `{"action":"link","customer_id":…}` links the external customer to
/// an existing one, `{"action":"create"}` creates a customer from it, `{"action":"dismiss"}`
/// drops it. Orders waiting for the customer are imported with the link.
#[utoipa::path(post, path = "/sync/reviews/{id}/resolution", tag = "sync", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = ReviewResolution,
    responses((status = 200, body = ReviewItem), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn resolve_review(
    State(state): State<AppState>,
    access: Access,
    ApiPath(id): ApiPath<Id>,
    ApiJson(mut resolution): ApiJson<ReviewResolution>,
) -> ApiResult<Json<ReviewItem>> {
    within_customer_reach(&state, &access, &mut resolution).await?;
    let principal = &access.principal;
    let tx = begin_write(&state.db).await?;
    let item =
        store::sync::resolve_review(&tx, principal.tenant_id, id, resolution, principal.user_id)
            .await?;
    let details = serde_json::json!({"status": item.status, "customer_id": item.customer_id});
    audit::record_action(
        &tx,
        principal,
        "update",
        "sync_review",
        &id.to_string(),
        details,
    )
    .await?;
    commit(tx).await?;
    Ok(Json(item))
}
