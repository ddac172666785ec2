//! The plugin registry's rows: content-addressed components, installed versions with their
//! manifests, each tenant's use of a plugin, and the run log.

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use super::entity::{plugin_component, plugin_run, plugin_version, tenant_plugin};
use super::{StoreError, StoreResult, parse_column};
use crate::domain::Id;
use crate::domain::plugin::{PluginManifest, PluginRun, PluginVersion};

/// How many runs per tenant and plugin the log keeps; older ones are pruned on write.
pub const RUNS_KEPT: u64 = 200;

/// Stores a component under its hash; storing the same bytes twice is a no-op.
pub async fn save_component(
    db: &impl ConnectionTrait,
    sha256: &str,
    bytes: &[u8],
) -> StoreResult<()> {
    let row = plugin_component::ActiveModel {
        sha256: Set(sha256.to_owned()),
        size_bytes: Set(bytes.len() as i64),
        bytes: Set(bytes.to_vec()),
        created_at: Set(Utc::now()),
    };
    plugin_component::Entity::insert(row)
        .on_conflict(
            OnConflict::column(plugin_component::Column::Sha256)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub async fn component_bytes(db: &impl ConnectionTrait, sha256: &str) -> StoreResult<Vec<u8>> {
    plugin_component::Entity::find_by_id(sha256.to_owned())
        .one(db)
        .await?
        .map(|row| row.bytes)
        .ok_or(StoreError::NotFound("plugin component"))
}

fn to_version(row: plugin_version::Model) -> StoreResult<(PluginVersion, PluginManifest)> {
    let manifest: PluginManifest = serde_json::from_str(&row.manifest)
        .map_err(|error| StoreError::Corrupt(format!("plugin manifest: {error}")))?;
    let version = PluginVersion {
        plugin_id: row.plugin_id,
        version: row.version,
        vendor: row.vendor,
        kind: parse_column("plugin_versions.kind", &row.kind)?,
        api_version: row.api_version,
        description: manifest.description.clone(),
        http_hosts: manifest.http_hosts.clone(),
        config_schema: manifest.config_schema.clone(),
        component_sha256: row.component_sha256,
        installed_at: row.installed_at,
    };
    Ok((version, manifest))
}

/// Registers a version. Re-installing the identical component is idempotent (`false`); the same
/// id and version with different bytes is a conflict, because versions are immutable.
pub async fn insert_version(
    db: &impl ConnectionTrait,
    manifest: &PluginManifest,
    sha256: &str,
) -> StoreResult<(PluginVersion, bool)> {
    if let Some((existing, _)) = find_version(db, &manifest.id, &manifest.version).await? {
        if existing.component_sha256 == sha256 {
            return Ok((existing, false));
        }
        return Err(version_exists(manifest));
    }
    let manifest_json =
        serde_json::to_string(manifest).map_err(|error| StoreError::Corrupt(error.to_string()))?;
    let row = plugin_version::ActiveModel {
        plugin_id: Set(manifest.id.clone()),
        version: Set(manifest.version.clone()),
        vendor: Set(manifest.vendor.clone()),
        kind: Set(manifest.kind.to_string()),
        api_version: Set(manifest.api_version.clone()),
        manifest: Set(manifest_json),
        component_sha256: Set(sha256.to_owned()),
        installed_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(|error| match error.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => version_exists(manifest),
        _ => StoreError::Database(error),
    })?;
    Ok((to_version(row)?.0, true))
}

fn version_exists(manifest: &PluginManifest) -> StoreError {
    StoreError::Conflict {
        code: "version_exists",
        message: format!(
            "{} {} is already installed with a different component; publish a new version",
            manifest.id, manifest.version
        ),
    }
}

pub async fn find_version(
    db: &impl ConnectionTrait,
    plugin_id: &str,
    version: &str,
) -> StoreResult<Option<(PluginVersion, PluginManifest)>> {
    plugin_version::Entity::find()
        .filter(plugin_version::Column::PluginId.eq(plugin_id))
        .filter(plugin_version::Column::Version.eq(version))
        .one(db)
        .await?
        .map(to_version)
        .transpose()
}

/// The version, or `NotFound("plugin version")`.
pub async fn get_version(
    db: &impl ConnectionTrait,
    plugin_id: &str,
    version: &str,
) -> StoreResult<(PluginVersion, PluginManifest)> {
    find_version(db, plugin_id, version)
        .await?
        .ok_or(StoreError::NotFound("plugin version"))
}

/// Every installed version, by plugin id then install order.
pub async fn list_versions(db: &impl ConnectionTrait) -> StoreResult<Vec<PluginVersion>> {
    plugin_version::Entity::find()
        .order_by_asc(plugin_version::Column::PluginId)
        .order_by_asc(plugin_version::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|row| to_version(row).map(|(version, _)| version))
        .collect()
}

/// A tenant's row for a plugin, if the tenant ever enabled it.
pub async fn find_tenant_plugin(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    plugin_id: &str,
) -> StoreResult<Option<tenant_plugin::Model>> {
    Ok(tenant_plugin::Entity::find()
        .filter(tenant_plugin::Column::TenantId.eq(tenant_id))
        .filter(tenant_plugin::Column::PluginId.eq(plugin_id))
        .one(db)
        .await?)
}

pub async fn list_tenant_plugins(
    db: &impl ConnectionTrait,
    tenant_id: Id,
) -> StoreResult<Vec<tenant_plugin::Model>> {
    Ok(tenant_plugin::Entity::find()
        .filter(tenant_plugin::Column::TenantId.eq(tenant_id))
        .order_by_asc(tenant_plugin::Column::PluginId)
        .all(db)
        .await?)
}

/// The state a tenant's plugin row is written with.
#[derive(Debug, Clone)]
pub struct TenantPluginState {
    pub version: String,
    pub previous_version: Option<String>,
    pub enabled: bool,
    pub config: serde_json::Map<String, serde_json::Value>,
    pub sealed_secrets: Option<String>,
    pub granted_hosts: Vec<String>,
}

/// Creates or replaces the tenant's row for `plugin_id`.
pub async fn save_tenant_plugin(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    plugin_id: &str,
    state: TenantPluginState,
) -> StoreResult<tenant_plugin::Model> {
    let now = Utc::now();
    let config = serde_json::Value::Object(state.config).to_string();
    let hosts = serde_json::to_string(&state.granted_hosts)
        .map_err(|error| StoreError::Corrupt(error.to_string()))?;
    let existing = find_tenant_plugin(db, tenant_id, plugin_id).await?;
    let is_new = existing.is_none();
    let mut row: tenant_plugin::ActiveModel = match existing {
        Some(row) => row.into(),
        None => tenant_plugin::ActiveModel {
            tenant_id: Set(tenant_id),
            plugin_id: Set(plugin_id.to_owned()),
            created_at: Set(now),
            ..Default::default()
        },
    };
    row.version = Set(state.version);
    row.previous_version = Set(state.previous_version);
    row.enabled = Set(state.enabled);
    row.config = Set(config);
    row.sealed_secrets = Set(state.sealed_secrets);
    row.granted_hosts = Set(hosts);
    row.updated_at = Set(now);
    Ok(if is_new {
        row.insert(db).await?
    } else {
        row.update(db).await?
    })
}

/// Decodes the JSON columns of a tenant's plugin row.
pub fn tenant_plugin_state(row: &tenant_plugin::Model) -> StoreResult<TenantPluginState> {
    let corrupt = |column: &str, error: serde_json::Error| {
        StoreError::Corrupt(format!("tenant_plugins.{column}: {error}"))
    };
    Ok(TenantPluginState {
        version: row.version.clone(),
        previous_version: row.previous_version.clone(),
        enabled: row.enabled,
        config: serde_json::from_str(&row.config).map_err(|e| corrupt("config", e))?,
        sealed_secrets: row.sealed_secrets.clone(),
        granted_hosts: serde_json::from_str(&row.granted_hosts)
            .map_err(|e| corrupt("granted_hosts", e))?,
    })
}

/// What one invocation left behind, to append to the run log.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub plugin_id: String,
    pub version: String,
    pub export: String,
    pub started_at: chrono::DateTime<Utc>,
    pub duration_us: i64,
    pub outcome: String,
    pub error: Option<String>,
    pub fuel_used: Option<u64>,
    pub log: serde_json::Value,
}

fn to_run(row: plugin_run::Model) -> StoreResult<PluginRun> {
    Ok(PluginRun {
        id: row.id,
        plugin_id: row.plugin_id,
        version: row.version,
        export: row.export,
        started_at: row.started_at,
        duration_ms: row.duration_us as f64 / 1000.0,
        outcome: row.outcome,
        error: row.error,
        fuel_used: row.fuel_used.map(|fuel| fuel as u64),
        log: serde_json::from_str(&row.log)
            .map_err(|error| StoreError::Corrupt(format!("plugin_runs.log: {error}")))?,
    })
}

/// Appends a run and prunes the tenant's log for that plugin to the newest [`RUNS_KEPT`].
pub async fn record_run(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    run: NewRun,
) -> StoreResult<PluginRun> {
    let row = plugin_run::ActiveModel {
        tenant_id: Set(tenant_id),
        plugin_id: Set(run.plugin_id.clone()),
        version: Set(run.version),
        export: Set(run.export),
        started_at: Set(run.started_at),
        duration_us: Set(run.duration_us),
        outcome: Set(run.outcome),
        error: Set(run.error),
        fuel_used: Set(run.fuel_used.map(|fuel| fuel.min(i64::MAX as u64) as i64)),
        log: Set(run.log.to_string()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    prune_runs(db, tenant_id, &run.plugin_id).await?;
    to_run(row)
}

async fn prune_runs(db: &impl ConnectionTrait, tenant_id: Id, plugin_id: &str) -> StoreResult<()> {
    let oldest_kept: Option<i64> = plugin_run::Entity::find()
        .select_only()
        .column(plugin_run::Column::Id)
        .filter(plugin_run::Column::TenantId.eq(tenant_id))
        .filter(plugin_run::Column::PluginId.eq(plugin_id))
        .order_by_desc(plugin_run::Column::Id)
        .offset(RUNS_KEPT - 1)
        .limit(1)
        .into_tuple()
        .one(db)
        .await?;
    if let Some(oldest_kept) = oldest_kept {
        plugin_run::Entity::delete_many()
            .filter(plugin_run::Column::TenantId.eq(tenant_id))
            .filter(plugin_run::Column::PluginId.eq(plugin_id))
            .filter(plugin_run::Column::Id.lt(oldest_kept))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// The tenant's most recent runs of a plugin, newest first.
pub async fn list_runs(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    plugin_id: &str,
    limit: u64,
) -> StoreResult<Vec<PluginRun>> {
    plugin_run::Entity::find()
        .filter(plugin_run::Column::TenantId.eq(tenant_id))
        .filter(plugin_run::Column::PluginId.eq(plugin_id))
        .order_by_desc(plugin_run::Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(to_run)
        .collect()
}
