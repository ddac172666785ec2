//! Plugins: the platform's registry of installed versions, and each tenant's plugins (enable
//! with config and grants, upgrade, rollback, disable, run, run log).

use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::audit;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use crate::domain::ValidationErrors;
use crate::domain::identity::Principal;
use crate::domain::plugin::{
    EnablePlugin, InvokePlugin, PluginManifest, PluginRun, PluginVersion, TenantPlugin,
    UpgradePlugin,
};
use crate::registry::RegistryError;
use crate::store::plugins as rows;
use crate::store::{Transaction, begin_write, commit};

/// Components are bigger than ordinary bodies; base64 adds a third.
const MAX_INSTALL_BODY_BYTES: usize = 64 << 20;

pub fn router() -> OpenApiRouter<AppState> {
    let install = OpenApiRouter::new()
        .routes(routes!(list_plugins, install_plugin))
        .layer(DefaultBodyLimit::max(MAX_INSTALL_BODY_BYTES));
    OpenApiRouter::new()
        .merge(install)
        .routes(routes!(get_plugin_version))
        .routes(routes!(list_tenant_plugins))
        .routes(routes!(get_tenant_plugin, enable_tenant_plugin))
        .routes(routes!(upgrade_tenant_plugin))
        .routes(routes!(rollback_tenant_plugin))
        .routes(routes!(disable_tenant_plugin))
        .routes(routes!(invoke_tenant_plugin))
        .routes(routes!(list_plugin_runs))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallPlugin {
    /// The component (`.wasm`), base64-encoded.
    pub component: String,
    /// A sidecar manifest, for components that do not embed one.
    pub manifest: Option<PluginManifest>,
}

#[derive(Serialize, ToSchema)]
pub struct InstalledPlugin {
    pub plugin: PluginVersion,
    /// False when this exact component was already installed under this version.
    pub created: bool,
}

/// Installed plugin versions (any signed-in user; tenants pick from these).
#[utoipa::path(get, path = "/plugins", tag = "plugins", security(("bearer" = [])),
    responses((status = 200, body = [PluginVersion])))]
async fn list_plugins(
    State(state): State<AppState>,
    _principal: Principal,
) -> ApiResult<Json<Vec<PluginVersion>>> {
    Ok(Json(rows::list_versions(&state.db).await?))
}

/// Install a plugin version (platform admin). The API version is checked before anything runs.
#[utoipa::path(post, path = "/plugins", tag = "plugins", security(("bearer" = [])), request_body = InstallPlugin,
    responses((status = 201, body = InstalledPlugin), (status = 200, body = InstalledPlugin, description = "already installed"),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn install_plugin(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<InstallPlugin>,
) -> ApiResult<(StatusCode, Json<InstalledPlugin>)> {
    let bytes = STANDARD.decode(input.component.trim()).map_err(|_| {
        ValidationErrors::single(
            "component",
            "invalid_base64",
            "the component must be base64",
        )
    })?;
    let (plugin, created) = state
        .registry
        .install(&state.db, bytes, input.manifest)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(InstalledPlugin { plugin, created })))
}

/// One installed plugin version.
#[utoipa::path(get, path = "/plugins/{plugin_id}/versions/{version}", tag = "plugins", security(("bearer" = [])),
    params(("plugin_id" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = PluginVersion), (status = 404, body = ErrorBody)))]
async fn get_plugin_version(
    State(state): State<AppState>,
    _principal: Principal,
    ApiPath((plugin_id, version)): ApiPath<(String, String)>,
) -> ApiResult<Json<PluginVersion>> {
    Ok(Json(
        rows::get_version(&state.db, &plugin_id, &version).await?.0,
    ))
}

/// The caller's tenant's plugins (tenant admin).
#[utoipa::path(get, path = "/tenant/plugins", tag = "plugins", security(("bearer" = [])),
    responses((status = 200, body = [TenantPlugin]), (status = 403, body = ErrorBody)))]
async fn list_tenant_plugins(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Vec<TenantPlugin>>> {
    Ok(Json(
        state
            .registry
            .tenant_plugins(&state.db, principal.tenant_id)
            .await?,
    ))
}

/// One of the tenant's plugins; secrets appear by name only (tenant admin).
#[utoipa::path(get, path = "/tenant/plugins/{plugin_id}", tag = "plugins", security(("bearer" = [])),
    params(("plugin_id" = String, Path)),
    responses((status = 200, body = TenantPlugin), (status = 404, body = ErrorBody)))]
async fn get_tenant_plugin(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(plugin_id): ApiPath<String>,
) -> ApiResult<Json<TenantPlugin>> {
    Ok(Json(
        state
            .registry
            .tenant_plugin(&state.db, principal.tenant_id, &plugin_id)
            .await?,
    ))
}

/// Enable a plugin version with its configuration and HTTP grants, or change them (tenant admin).
#[utoipa::path(put, path = "/tenant/plugins/{plugin_id}", tag = "plugins", security(("bearer" = [])),
    params(("plugin_id" = String, Path)), request_body = EnablePlugin,
    responses((status = 200, body = TenantPlugin), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn enable_tenant_plugin(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(plugin_id): ApiPath<String>,
    ApiJson(input): ApiJson<EnablePlugin>,
) -> ApiResult<Json<TenantPlugin>> {
    let tx = begin_write(&state.db).await?;
    let keys: Vec<String> = input.config.keys().cloned().collect();
    let view = state
        .registry
        .enable(&tx, principal.tenant_id, &plugin_id, input)
        .await?;
    let details =
        json!({"version": view.version, "config_keys": keys, "granted_hosts": view.granted_hosts});
    audit::record_action(
        &tx,
        &principal,
        "enable",
        "tenant_plugin",
        &plugin_id,
        details,
    )
    .await?;
    commit(tx).await?;
    Ok(Json(view))
}

/// Move the plugin to another installed version, keeping its configuration (tenant admin).
#[utoipa::path(post, path = "/tenant/plugins/{plugin_id}/upgrade", tag = "plugins", security(("bearer" = [])),
    params(("plugin_id" = String, Path)), request_body = UpgradePlugin,
    responses((status = 200, body = TenantPlugin), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn upgrade_tenant_plugin(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(plugin_id): ApiPath<String>,
    ApiJson(input): ApiJson<UpgradePlugin>,
) -> ApiResult<Json<TenantPlugin>> {
    let registry = &state.registry;
    let tenant_id = principal.tenant_id;
    version_change(&state, &principal, "upgrade", &plugin_id, async |tx| {
        registry
            .upgrade(tx, tenant_id, &plugin_id, &input.version)
            .await
    })
    .await
}

/// Return to the version before the last upgrade (tenant admin).
#[utoipa::path(post, path = "/tenant/plugins/{plugin_id}/rollback", tag = "plugins", security(("bearer" = [])),
    params(("plugin_id" = String, Path)),
    responses((status = 200, body = TenantPlugin), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn rollback_tenant_plugin(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(plugin_id): ApiPath<String>,
) -> ApiResult<Json<TenantPlugin>> {
    let registry = &state.registry;
    let tenant_id = principal.tenant_id;
    version_change(&state, &principal, "rollback", &plugin_id, async |tx| {
        registry.rollback(tx, tenant_id, &plugin_id).await
    })
    .await
}

/// Turn the plugin off; its configuration is kept (tenant admin).
#[utoipa::path(post, path = "/tenant/plugins/{plugin_id}/disable", tag = "plugins", security(("bearer" = [])),
    params(("plugin_id" = String, Path)),
    responses((status = 200, body = TenantPlugin), (status = 404, body = ErrorBody)))]
async fn disable_tenant_plugin(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(plugin_id): ApiPath<String>,
) -> ApiResult<Json<TenantPlugin>> {
    let registry = &state.registry;
    let tenant_id = principal.tenant_id;
    version_change(&state, &principal, "disable", &plugin_id, async |tx| {
        registry.disable(tx, tenant_id, &plugin_id).await
    })
    .await
}

/// Runs an upgrade, rollback or disable and its audit entry in one transaction.
async fn version_change(
    state: &AppState,
    principal: &Principal,
    action: &'static str,
    plugin_id: &str,
    change: impl AsyncFnOnce(&Transaction) -> Result<TenantPlugin, RegistryError>,
) -> ApiResult<Json<TenantPlugin>> {
    let tx = begin_write(&state.db).await?;
    let view = change(&tx).await?;
    let details = json!({"version": view.version, "enabled": view.enabled});
    audit::record_action(&tx, principal, action, "tenant_plugin", plugin_id, details).await?;
    commit(tx).await?;
    Ok(Json(view))
}

#[derive(Serialize, ToSchema)]
pub struct InvokeResult {
    /// The recorded run: outcome, duration, error and the plugin's (redacted) log.
    pub run: PluginRun,
    /// The export's result when the run succeeded.
    #[schema(value_type = Option<Object>)]
    pub output: Option<Value>,
}

/// Run one export of the plugin with the tenant's configuration and grants (tenant admin).
/// A plugin failure is a recorded run with its error code, not an HTTP error.
#[utoipa::path(post, path = "/tenant/plugins/{plugin_id}/invoke", tag = "plugins", security(("bearer" = [])),
    params(("plugin_id" = String, Path)), request_body = InvokePlugin,
    responses((status = 200, body = InvokeResult), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn invoke_tenant_plugin(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(plugin_id): ApiPath<String>,
    ApiJson(input): ApiJson<InvokePlugin>,
) -> ApiResult<Json<InvokeResult>> {
    let outcome = state
        .registry
        .invoke(
            &state.db,
            principal.tenant_id,
            &plugin_id,
            &input.export,
            &input.input,
        )
        .await?;
    Ok(Json(InvokeResult {
        run: outcome.run,
        output: outcome.output,
    }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RunsQuery {
    /// How many recent runs, 1 to 200 (default 50).
    pub limit: Option<u64>,
}

/// The plugin's recent runs for this tenant, newest first (tenant admin).
#[utoipa::path(get, path = "/tenant/plugins/{plugin_id}/runs", tag = "plugins", security(("bearer" = [])),
    params(("plugin_id" = String, Path), RunsQuery),
    responses((status = 200, body = [PluginRun]), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_plugin_runs(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(plugin_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<RunsQuery>,
) -> ApiResult<Json<Vec<PluginRun>>> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=rows::RUNS_KEPT).contains(&limit) {
        return Err(ApiError::from(ValidationErrors::single(
            "limit",
            "out_of_range",
            format!("limit must be between 1 and {}", rows::RUNS_KEPT),
        )));
    }
    // Only existence matters here: no need to load the version or open the secrets.
    rows::find_tenant_plugin(&state.db, principal.tenant_id, &plugin_id)
        .await?
        .ok_or(ApiError::not_found("tenant plugin"))?;
    Ok(Json(
        rows::list_runs(&state.db, principal.tenant_id, &plugin_id, limit).await?,
    ))
}
