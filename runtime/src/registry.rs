//! The plugin registry as a service: installs components, keeps each tenant's configuration of
//! a plugin (secrets sealed), and runs a tenant's plugin with exactly the grants it has,
//! recording every run in the run log and in the metrics.
//!
//! It sits between the API and the lower layers: it uses the store for rows, the plugin host
//! for running components and [`crate::secrets`] for encryption; the API maps its one error
//! type onto HTTP.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use chrono::Utc;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use sea_orm::{ConnectionTrait, TransactionSession, TransactionTrait};
use serde_json::Value;

use crate::domain::plugin::{
    EnablePlugin, PluginManifest, PluginRun, PluginVersion, TenantPlugin, check_granted_hosts,
    config_text, split_config,
};
use crate::domain::{Id, ValidationErrors};
use crate::plugins::{
    AnyPlugin, Grants, Invocation, KindLimits, Limits, LoadedComponent, PluginEngine, PluginError,
};
use crate::secrets::{SecretBox, SecretError};
use crate::store::entity::tenant_plugin;
use crate::store::plugins::{self as rows, NewRun, TenantPluginState};
use crate::store::{StoreError, begin_write};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    /// The component itself is refused at install (not a component, wrong API version, wrong
    /// world for its declared kind).
    #[error(transparent)]
    Component(PluginError),
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("plugin engine: {0}")]
    Engine(PluginError),
}

pub type RegistryResult<T> = Result<T, RegistryError>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    tenant_id: i64,
    plugin: String,
    export: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginLabels {
    tenant_id: i64,
    plugin: String,
}

/// Per plugin and tenant: calls by outcome, call durations, fuel used.
#[derive(Debug, Clone)]
pub struct PluginMetrics {
    calls: Family<CallLabels, Counter>,
    durations: Family<PluginLabels, Histogram>,
    fuel: Family<PluginLabels, Counter>,
}

impl PluginMetrics {
    fn new() -> PluginMetrics {
        PluginMetrics {
            calls: Family::default(),
            durations: Family::new_with_constructor(|| {
                Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
                    0.0001, 2.0, 18,
                ))
            }),
            fuel: Family::default(),
        }
    }

    /// Adds the families to an application's metrics registry.
    pub fn register(&self, registry: &mut prometheus_client::registry::Registry) {
        registry.register(
            "plugin_calls",
            "Plugin invocations by tenant, plugin, export and outcome (ok or error code)",
            self.calls.clone(),
        );
        registry.register(
            "plugin_call_duration_seconds",
            "Plugin invocation wall-clock time by tenant and plugin",
            self.durations.clone(),
        );
        registry.register(
            "plugin_fuel_used",
            "Wasm fuel consumed by plugin invocations (metered on every call, budget or not)",
            self.fuel.clone(),
        );
    }

    fn observe(&self, tenant_id: Id, run: &NewRun) {
        let plugin = run.plugin_id.clone();
        self.calls
            .get_or_create(&CallLabels {
                tenant_id,
                plugin: plugin.clone(),
                export: run.export.clone(),
                outcome: run.outcome.clone(),
            })
            .inc();
        let labels = PluginLabels { tenant_id, plugin };
        self.durations
            .get_or_create(&labels)
            .observe(run.duration_us as f64 / 1e6);
        if let Some(fuel) = run.fuel_used {
            self.fuel.get_or_create(&labels).inc_by(fuel);
        }
    }
}

/// What [`Registry::invoke`] returns: the recorded run and, on success, the export's output.
#[derive(Debug, Clone)]
pub struct InvokeOutcome {
    pub run: PluginRun,
    pub output: Option<Value>,
}

/// A tenant's plugin ready for one call.
struct ReadyPlugin {
    plugin: Arc<AnyPlugin>,
    grants: Arc<Grants>,
    limits: Limits,
    kind: crate::domain::plugin::PluginKind,
    plugin_id: String,
    version: String,
}

/// A tenant's tiering policy, resolved for the batches of one run.
pub struct TieringSession<'r> {
    registry: &'r Registry,
    tenant_id: Id,
    ready: ReadyPlugin,
}

impl TieringSession<'_> {
    /// Evaluates one batch; the call is recorded with [`Self::record`], which lets a tier run
    /// record it in the transaction that writes the batch's tiers instead of taking the
    /// database's write lock once more per batch.
    pub async fn decide(
        &self,
        batch: &[crate::domain::tiering::CustomerFacts],
    ) -> RegistryResult<(
        PendingRun,
        Result<Vec<crate::domain::tiering::TierDecision>, PluginError>,
    )> {
        let AnyPlugin::Tiering(policy) = self.ready.plugin.as_ref() else {
            return Err(RegistryError::Conflict {
                code: "not_a_tiering_policy",
                message: format!("{} is a {}", self.ready.plugin_id, self.ready.kind),
            });
        };
        let started_at = Utc::now();
        let invocation = policy
            .evaluate(batch, self.ready.grants.clone(), &self.ready.limits)
            .await;
        let run = self
            .registry
            .new_run(&self.ready, "evaluate", started_at, &invocation);
        Ok((PendingRun(run), invocation.outcome))
    }

    /// Appends a decided batch's call to the run log (and the plugin metrics).
    pub async fn record(
        &self,
        db: &impl ConnectionTrait,
        PendingRun(run): PendingRun,
    ) -> RegistryResult<PluginRun> {
        self.registry.metrics.observe(self.tenant_id, &run);
        Ok(rows::record_run(db, self.tenant_id, run).await?)
    }

    /// The version of the policy this session runs.
    pub fn version(&self) -> &str {
        &self.ready.version
    }

    /// The policy this session runs.
    pub fn plugin_id(&self) -> &str {
        &self.ready.plugin_id
    }

    pub fn tenant_id(&self) -> Id {
        self.tenant_id
    }
}

/// A plugin call that is not in the run log yet.
pub struct PendingRun(NewRun);

/// A tenant's survey channel, resolved once for a batch of deliveries.
pub struct SurveySession<'r> {
    registry: &'r Registry,
    tenant_id: Id,
    ready: ReadyPlugin,
}

impl SurveySession<'_> {
    /// Sends one delivery. Every call counts in the plugin metrics; only failures are written
    /// to the run log, because a busy channel sends thousands of surveys a minute and the
    /// delivery rows already record each success.
    pub async fn send(
        &self,
        db: &impl ConnectionTrait,
        delivery: &crate::domain::survey_delivery::Delivery,
    ) -> RegistryResult<Result<crate::domain::survey_delivery::Receipt, PluginError>> {
        let AnyPlugin::Survey(channel) = self.ready.plugin.as_ref() else {
            return Err(not_a_channel(&self.ready));
        };
        let started_at = Utc::now();
        let invocation = channel
            .send(delivery, self.ready.grants.clone(), &self.ready.limits)
            .await;
        if invocation.outcome.is_ok() {
            let run = self
                .registry
                .new_run(&self.ready, "send", started_at, &invocation);
            self.registry.metrics.observe(self.tenant_id, &run);
            return Ok(invocation.outcome);
        }
        let (_, outcome) = self
            .registry
            .record(
                db,
                self.tenant_id,
                &self.ready,
                "send",
                started_at,
                invocation,
            )
            .await?;
        Ok(outcome)
    }

    /// Parses a request received on the channel's inbound endpoint, recorded in the run log.
    pub async fn parse_inbound(
        &self,
        db: &impl ConnectionTrait,
        request: &crate::domain::survey_delivery::InboundRequest,
    ) -> RegistryResult<Result<Vec<crate::domain::survey_delivery::InboundAnswer>, PluginError>>
    {
        let AnyPlugin::Survey(channel) = self.ready.plugin.as_ref() else {
            return Err(not_a_channel(&self.ready));
        };
        let started_at = Utc::now();
        let invocation = channel
            .parse_inbound(request, self.ready.grants.clone(), &self.ready.limits)
            .await;
        let (_, outcome) = self
            .registry
            .record(
                db,
                self.tenant_id,
                &self.ready,
                "parse-inbound",
                started_at,
                invocation,
            )
            .await?;
        Ok(outcome)
    }
}

/// A tenant's ERP connector, resolved once for the reads of one sync run.
pub struct ErpSession<'r> {
    registry: &'r Registry,
    tenant_id: Id,
    ready: ReadyPlugin,
    limiter: Option<Arc<governor::DefaultDirectRateLimiter>>,
}

impl ErpSession<'_> {
    fn connector(&self) -> &crate::plugins::ErpPlugin {
        match self.ready.plugin.as_ref() {
            AnyPlugin::Erp(connector) => connector,
            _ => unreachable!("erp_session checks the kind"),
        }
    }

    /// The version of the connector this session runs.
    pub fn version(&self) -> &str {
        &self.ready.version
    }

    /// The connector's streams and schema; recorded in the run log when it fails.
    pub async fn spec(
        &self,
        db: &impl ConnectionTrait,
    ) -> RegistryResult<Result<crate::domain::erp_records::ConnectorSpec, PluginError>> {
        let started_at = Utc::now();
        let invocation = self
            .connector()
            .spec(self.ready.grants.clone(), &self.ready.limits)
            .await;
        self.outcome(db, "spec", started_at, invocation).await
    }

    /// Checks the configuration and credentials against the ERP; always recorded.
    pub async fn check(
        &self,
        db: &impl ConnectionTrait,
    ) -> RegistryResult<(PluginRun, Result<(), PluginError>)> {
        let started_at = Utc::now();
        let invocation = self
            .connector()
            .check(self.ready.grants.clone(), &self.ready.limits)
            .await;
        self.registry
            .record(
                db,
                self.tenant_id,
                &self.ready,
                "check",
                started_at,
                invocation,
            )
            .await
    }

    /// Reads one page once the connector's rate limit allows. Every read counts in the plugin
    /// metrics; only failed ones are written to the run log, since the sync run's history
    /// counts every page.
    pub async fn read(
        &self,
        db: &impl ConnectionTrait,
        request: &crate::domain::erp_records::ReadRequest,
    ) -> RegistryResult<Result<crate::domain::erp_records::Page, PluginError>> {
        if let Some(limiter) = &self.limiter {
            limiter.until_ready().await;
        }
        let started_at = Utc::now();
        let invocation = self
            .connector()
            .read(request, self.ready.grants.clone(), &self.ready.limits)
            .await;
        self.outcome(db, "read", started_at, invocation).await
    }

    async fn outcome<T>(
        &self,
        db: &impl ConnectionTrait,
        export: &str,
        started_at: chrono::DateTime<Utc>,
        invocation: Invocation<T>,
    ) -> RegistryResult<Result<T, PluginError>> {
        if invocation.outcome.is_ok() {
            let run = self
                .registry
                .new_run(&self.ready, export, started_at, &invocation);
            self.registry.metrics.observe(self.tenant_id, &run);
            return Ok(invocation.outcome);
        }
        let (_, outcome) = self
            .registry
            .record(
                db,
                self.tenant_id,
                &self.ready,
                export,
                started_at,
                invocation,
            )
            .await?;
        Ok(outcome)
    }
}

fn not_a_channel(ready: &ReadyPlugin) -> RegistryError {
    RegistryError::Conflict {
        code: "not_a_survey_channel",
        message: format!("{} is a {}", ready.plugin_id, ready.kind),
    }
}

pub struct Registry {
    engine: Mutex<Option<Arc<PluginEngine>>>,
    cache_dir: Option<std::path::PathBuf>,
    secrets: SecretBox,
    pub metrics: PluginMetrics,
    /// Plugins ready to run, by component hash: linked once, instantiated per call.
    ready: Mutex<HashMap<String, Arc<AnyPlugin>>>,
    /// Each ERP connector's read rate limiter, by tenant and plugin.
    erp_limiters: Mutex<HashMap<(Id, String), ErpLimiter>>,
    /// What one call of each plugin kind may consume.
    limits: KindLimits,
}

type ErpLimiter = (
    std::num::NonZeroU32,
    Arc<governor::DefaultDirectRateLimiter>,
);

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Registry")
    }
}

impl Registry {
    /// A registry whose engine starts on first use, caching compiled code in `cache_dir`.
    pub fn new(secrets: SecretBox, cache_dir: Option<std::path::PathBuf>) -> Arc<Registry> {
        Registry::with_limits(secrets, cache_dir, KindLimits::default())
    }

    /// As [`Registry::new`], each plugin kind's calls held to `limits`.
    pub fn with_limits(
        secrets: SecretBox,
        cache_dir: Option<std::path::PathBuf>,
        limits: KindLimits,
    ) -> Arc<Registry> {
        Arc::new(Registry {
            engine: Mutex::new(None),
            cache_dir,
            secrets,
            metrics: PluginMetrics::new(),
            ready: Mutex::new(HashMap::new()),
            erp_limiters: Mutex::new(HashMap::new()),
            limits,
        })
    }

    fn engine(&self) -> RegistryResult<Arc<PluginEngine>> {
        let mut engine = self.engine.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(engine) = engine.as_ref() {
            return Ok(engine.clone());
        }
        let started =
            PluginEngine::new(self.cache_dir.as_deref()).map_err(RegistryError::Engine)?;
        *engine = Some(started.clone());
        Ok(started)
    }

    /// Compiles off the async workers: compilation takes CPU for up to seconds.
    async fn compile(&self, bytes: Arc<Vec<u8>>) -> RegistryResult<LoadedComponent> {
        let engine = self.engine()?;
        tokio::task::spawn_blocking(move || engine.load(&bytes))
            .await
            .map_err(|error| RegistryError::Engine(PluginError::Host(error.to_string())))?
            .map_err(RegistryError::Component)
    }

    /// Installs a component: checks its API version, reads its manifest (embedded, or the
    /// sidecar), checks that it implements the world of its kind, and stores both. Returns the
    /// version and whether it is new.
    pub async fn install(
        &self,
        db: &(impl ConnectionTrait + TransactionTrait),
        bytes: Vec<u8>,
        sidecar: Option<PluginManifest>,
    ) -> RegistryResult<(PluginVersion, bool)> {
        let manifest = match sidecar {
            Some(manifest) => manifest.validate()?,
            None => embedded_manifest(&bytes)?,
        };
        let bytes = Arc::new(bytes);
        let component = self.compile(bytes.clone()).await?;
        if manifest.api_version != component.api_version {
            return Err(ValidationErrors::single(
                "manifest.api_version",
                "api_version_mismatch",
                format!(
                    "the manifest says {} but the component was built against {}",
                    manifest.api_version, component.api_version
                ),
            )
            .into());
        }
        let plugin = AnyPlugin::new(self.engine()?, &component, manifest.kind)
            .map_err(RegistryError::Component)?;
        self.remember(&component.sha256, plugin);
        let transaction = begin_write(db).await?;
        rows::save_component(&transaction, &component.sha256, &bytes).await?;
        let installed = rows::insert_version(&transaction, &manifest, &component.sha256).await?;
        transaction.commit().await.map_err(StoreError::from)?;
        Ok(installed)
    }

    fn remember(&self, sha256: &str, plugin: AnyPlugin) -> Arc<AnyPlugin> {
        let plugin = Arc::new(plugin);
        self.ready
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(sha256.to_owned(), plugin.clone());
        plugin
    }

    /// The runnable plugin for an installed version, loading it from the store on a miss.
    async fn ready(
        &self,
        db: &impl ConnectionTrait,
        version: &PluginVersion,
    ) -> RegistryResult<Arc<AnyPlugin>> {
        let cached = self
            .ready
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&version.component_sha256)
            .cloned();
        if let Some(plugin) = cached {
            return Ok(plugin);
        }
        let bytes = rows::component_bytes(db, &version.component_sha256).await?;
        let component = self.compile(Arc::new(bytes)).await?;
        let plugin = AnyPlugin::new(self.engine()?, &component, version.kind)
            .map_err(RegistryError::Component)?;
        Ok(self.remember(&version.component_sha256, plugin))
    }

    /// Enables or reconfigures a plugin for a tenant at the given version. A secret left out of
    /// `input.config` keeps its stored value; moving to another version remembers the old one
    /// for rollback.
    pub async fn enable(
        &self,
        db: &(impl ConnectionTrait + TransactionTrait),
        tenant_id: Id,
        plugin_id: &str,
        input: EnablePlugin,
    ) -> RegistryResult<TenantPlugin> {
        let transaction = begin_write(db).await?;
        let (_, manifest) = rows::get_version(&transaction, plugin_id, &input.version).await?;
        let granted_hosts = check_granted_hosts(&manifest, &input.granted_hosts)?;
        let existing = rows::find_tenant_plugin(&transaction, tenant_id, plugin_id).await?;
        let mut config = input.config;
        if let Some(row) = &existing {
            for (key, value) in self.open_secrets(row)? {
                config.entry(key).or_insert(Value::String(value));
            }
        }
        let previous_version = previous_after_move(existing.as_ref(), &input.version);
        let state = self.sealed_state(
            tenant_id,
            &manifest,
            config,
            granted_hosts,
            (input.version, previous_version),
        )?;
        let row = rows::save_tenant_plugin(&transaction, tenant_id, plugin_id, state).await?;
        transaction.commit().await.map_err(StoreError::from)?;
        self.view(&manifest, &row)
    }

    /// Moves an enabled plugin to another installed version, keeping its configuration, which
    /// must satisfy the new version's schema.
    pub async fn upgrade(
        &self,
        db: &(impl ConnectionTrait + TransactionTrait),
        tenant_id: Id,
        plugin_id: &str,
        version: &str,
    ) -> RegistryResult<TenantPlugin> {
        let transaction = begin_write(db).await?;
        let row = self.tenant_row(&transaction, tenant_id, plugin_id).await?;
        if row.version == version {
            return Err(RegistryError::Conflict {
                code: "already_at_version",
                message: format!("{plugin_id} is already at {version}"),
            });
        }
        let moved = self.move_to(&transaction, row, version).await?;
        transaction.commit().await.map_err(StoreError::from)?;
        Ok(moved)
    }

    /// Returns to the version before the last upgrade.
    pub async fn rollback(
        &self,
        db: &(impl ConnectionTrait + TransactionTrait),
        tenant_id: Id,
        plugin_id: &str,
    ) -> RegistryResult<TenantPlugin> {
        let transaction = begin_write(db).await?;
        let row = self.tenant_row(&transaction, tenant_id, plugin_id).await?;
        let previous = row
            .previous_version
            .clone()
            .ok_or(RegistryError::Conflict {
                code: "nothing_to_roll_back",
                message: format!("{plugin_id} has no earlier version to return to"),
            })?;
        let moved = self.move_to(&transaction, row, &previous).await?;
        transaction.commit().await.map_err(StoreError::from)?;
        Ok(moved)
    }

    async fn move_to(
        &self,
        db: &impl ConnectionTrait,
        row: tenant_plugin::Model,
        version: &str,
    ) -> RegistryResult<TenantPlugin> {
        let (_, manifest) = rows::get_version(db, &row.plugin_id, version).await?;
        let state = rows::tenant_plugin_state(&row)?;
        let mut config = state.config;
        config.extend(
            self.open_secrets(&row)?
                .into_iter()
                .map(|(key, value)| (key, Value::String(value))),
        );
        let granted = check_granted_hosts(&manifest, &state.granted_hosts).map_err(|_| {
            RegistryError::Conflict {
                code: "grants_not_requested",
                message: format!(
                    "{} {version} no longer requests every host this tenant granted; re-enable it with new grants",
                    row.plugin_id
                ),
            }
        })?;
        let state = self.sealed_state(
            row.tenant_id,
            &manifest,
            config,
            granted,
            (version.to_owned(), Some(row.version.clone())),
        )?;
        let saved = rows::save_tenant_plugin(db, row.tenant_id, &row.plugin_id, state).await?;
        self.view(&manifest, &saved)
    }

    /// Turns a plugin off for the tenant; its configuration stays for a later enable.
    pub async fn disable(
        &self,
        db: &(impl ConnectionTrait + TransactionTrait),
        tenant_id: Id,
        plugin_id: &str,
    ) -> RegistryResult<TenantPlugin> {
        let transaction = begin_write(db).await?;
        let row = self.tenant_row(&transaction, tenant_id, plugin_id).await?;
        let mut state = rows::tenant_plugin_state(&row)?;
        state.enabled = false;
        let row = rows::save_tenant_plugin(&transaction, tenant_id, plugin_id, state).await?;
        transaction.commit().await.map_err(StoreError::from)?;
        self.describe(db, &row).await
    }

    pub async fn tenant_plugin(
        &self,
        db: &impl ConnectionTrait,
        tenant_id: Id,
        plugin_id: &str,
    ) -> RegistryResult<TenantPlugin> {
        let row = self.tenant_row(db, tenant_id, plugin_id).await?;
        self.describe(db, &row).await
    }

    pub async fn tenant_plugins(
        &self,
        db: &impl ConnectionTrait,
        tenant_id: Id,
    ) -> RegistryResult<Vec<TenantPlugin>> {
        let mut views = Vec::new();
        for row in rows::list_tenant_plugins(db, tenant_id).await? {
            views.push(self.describe(db, &row).await?);
        }
        Ok(views)
    }

    /// Runs `export` of the tenant's enabled plugin with its configuration and grants, and
    /// records the run whatever its outcome.
    pub async fn invoke(
        &self,
        db: &impl ConnectionTrait,
        tenant_id: Id,
        plugin_id: &str,
        export: &str,
        input: &Value,
    ) -> RegistryResult<InvokeOutcome> {
        let ready = self.ready_for_tenant(db, tenant_id, plugin_id).await?;
        let started_at = Utc::now();
        let invocation = ready
            .plugin
            .call_json(export, input, ready.grants.clone(), &ready.limits)
            .await;
        let (run, output) = self
            .record(db, tenant_id, &ready, export, started_at, invocation)
            .await?;
        Ok(InvokeOutcome {
            run,
            output: output.ok(),
        })
    }

    /// The tenant's tiering policy resolved once (version, grants, limits) for every batch of
    /// one run: a run is a snapshot of the tenant's configuration, and resolving it per batch
    /// cost more than the policy itself on large tenants.
    pub async fn tiering_session(
        &self,
        db: &impl ConnectionTrait,
        tenant_id: Id,
        plugin_id: &str,
    ) -> RegistryResult<TieringSession<'_>> {
        let ready = self.ready_for_tenant(db, tenant_id, plugin_id).await?;
        if !matches!(ready.plugin.as_ref(), AnyPlugin::Tiering(_)) {
            return Err(RegistryError::Conflict {
                code: "not_a_tiering_policy",
                message: format!("{plugin_id} is a {}", ready.kind),
            });
        }
        Ok(TieringSession {
            registry: self,
            tenant_id,
            ready,
        })
    }

    /// The tenant's enabled survey channel `plugin_id`, resolved once for many deliveries.
    pub async fn survey_session(
        &self,
        db: &impl ConnectionTrait,
        tenant_id: Id,
        plugin_id: &str,
    ) -> RegistryResult<SurveySession<'_>> {
        let ready = self.ready_for_tenant(db, tenant_id, plugin_id).await?;
        if !matches!(ready.plugin.as_ref(), AnyPlugin::Survey(_)) {
            return Err(not_a_channel(&ready));
        }
        Ok(SurveySession {
            registry: self,
            tenant_id,
            ready,
        })
    }

    /// The tenant's enabled ERP connector `plugin_id`, resolved once for a sync run, its reads
    /// limited to `reads_per_minute` across every session of this registry (none: unlimited,
    /// for a one-off call such as a credentials check).
    pub async fn erp_session(
        &self,
        db: &impl ConnectionTrait,
        tenant_id: Id,
        plugin_id: &str,
        reads_per_minute: Option<u32>,
    ) -> RegistryResult<ErpSession<'_>> {
        let ready = self.ready_for_tenant(db, tenant_id, plugin_id).await?;
        if !matches!(ready.plugin.as_ref(), AnyPlugin::Erp(_)) {
            return Err(RegistryError::Conflict {
                code: "not_an_erp_connector",
                message: format!("{plugin_id} is a {}", ready.kind),
            });
        }
        Ok(ErpSession {
            limiter: reads_per_minute.map(|rate| self.erp_limiter(tenant_id, plugin_id, rate)),
            registry: self,
            tenant_id,
            ready,
        })
    }

    /// The connector's rate limiter: `reads_per_minute`, in bursts of at most a second's worth;
    /// replaced when the rate changes.
    fn erp_limiter(
        &self,
        tenant_id: Id,
        plugin_id: &str,
        reads_per_minute: u32,
    ) -> Arc<governor::DefaultDirectRateLimiter> {
        use std::num::NonZeroU32;
        let per_minute = NonZeroU32::new(reads_per_minute).unwrap_or(NonZeroU32::MIN);
        let mut limiters = self.erp_limiters.lock().unwrap_or_else(|e| e.into_inner());
        let key = (tenant_id, plugin_id.to_owned());
        match limiters.get(&key) {
            Some((rate, limiter)) if *rate == per_minute => limiter.clone(),
            _ => {
                let burst = NonZeroU32::new(per_minute.get() / 60).unwrap_or(NonZeroU32::MIN);
                let quota = governor::Quota::per_minute(per_minute).allow_burst(burst);
                let limiter = Arc::new(governor::RateLimiter::direct(quota));
                limiters.insert(key, (per_minute, limiter.clone()));
                limiter
            }
        }
    }

    /// The tenant's enabled plugin, loaded, with its grants and its kind's limits.
    async fn ready_for_tenant(
        &self,
        db: &impl ConnectionTrait,
        tenant_id: Id,
        plugin_id: &str,
    ) -> RegistryResult<ReadyPlugin> {
        let row = self.tenant_row(db, tenant_id, plugin_id).await?;
        if !row.enabled {
            return Err(RegistryError::Conflict {
                code: "plugin_disabled",
                message: format!("{plugin_id} is disabled for this tenant"),
            });
        }
        let (version, manifest) = rows::get_version(db, plugin_id, &row.version).await?;
        Ok(ReadyPlugin {
            plugin: self.ready(db, &version).await?,
            grants: Arc::new(self.grants(&manifest, &row)?),
            limits: self.limits.for_kind(manifest.kind),
            kind: manifest.kind,
            plugin_id: row.plugin_id,
            version: row.version,
        })
    }

    /// Records a finished call in the run log and the plugin metrics, whatever its outcome.
    async fn record<T>(
        &self,
        db: &impl ConnectionTrait,
        tenant_id: Id,
        ready: &ReadyPlugin,
        export: &str,
        started_at: chrono::DateTime<Utc>,
        invocation: Invocation<T>,
    ) -> RegistryResult<(PluginRun, Result<T, PluginError>)> {
        let run = self.new_run(ready, export, started_at, &invocation);
        self.metrics.observe(tenant_id, &run);
        let run = rows::record_run(db, tenant_id, run).await?;
        Ok((run, invocation.outcome))
    }

    fn new_run<T>(
        &self,
        ready: &ReadyPlugin,
        export: &str,
        started_at: chrono::DateTime<Utc>,
        invocation: &Invocation<T>,
    ) -> NewRun {
        let (outcome, error) = match &invocation.outcome {
            Ok(_) => ("ok".to_owned(), None),
            Err(error) => (error.code().to_owned(), Some(error.to_string())),
        };
        NewRun {
            plugin_id: ready.plugin_id.clone(),
            version: ready.version.clone(),
            export: export.to_owned(),
            started_at,
            duration_us: invocation.duration.as_micros().min(i64::MAX as u128) as i64,
            outcome,
            error,
            fuel_used: invocation.fuel_used,
            log: serde_json::to_value(&invocation.log).unwrap_or(Value::Null),
        }
    }

    async fn tenant_row(
        &self,
        db: &impl ConnectionTrait,
        tenant_id: Id,
        plugin_id: &str,
    ) -> RegistryResult<tenant_plugin::Model> {
        rows::find_tenant_plugin(db, tenant_id, plugin_id)
            .await?
            .ok_or(RegistryError::Store(StoreError::NotFound("tenant plugin")))
    }

    async fn describe(
        &self,
        db: &impl ConnectionTrait,
        row: &tenant_plugin::Model,
    ) -> RegistryResult<TenantPlugin> {
        let (_, manifest) = rows::get_version(db, &row.plugin_id, &row.version).await?;
        self.view(&manifest, row)
    }

    fn view(
        &self,
        manifest: &PluginManifest,
        row: &tenant_plugin::Model,
    ) -> RegistryResult<TenantPlugin> {
        let state = rows::tenant_plugin_state(row)?;
        let secrets_set = self.open_secrets(row)?.into_keys().collect();
        let effective_hosts = effective_hosts(manifest, &state.granted_hosts);
        Ok(TenantPlugin {
            plugin_id: row.plugin_id.clone(),
            kind: manifest.kind,
            version: state.version,
            previous_version: state.previous_version,
            enabled: state.enabled,
            config: state.config,
            secrets_set,
            granted_hosts: state.granted_hosts,
            effective_hosts,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }

    /// Validates the whole configuration, then seals its secret part for this row.
    fn sealed_state(
        &self,
        tenant_id: Id,
        manifest: &PluginManifest,
        config: serde_json::Map<String, Value>,
        granted_hosts: Vec<String>,
        (version, previous_version): (String, Option<String>),
    ) -> RegistryResult<TenantPluginState> {
        manifest.validate_config(&config)?;
        let split = split_config(manifest, config);
        let sealed_secrets = if split.secrets.is_empty() {
            None
        } else {
            let plaintext = serde_json::to_vec(&split.secrets)
                .map_err(|error| StoreError::Corrupt(error.to_string()))?;
            Some(
                self.secrets
                    .seal(&plaintext, &secret_context(tenant_id, &manifest.id)),
            )
        };
        Ok(TenantPluginState {
            version,
            previous_version,
            enabled: true,
            config: split.plain,
            sealed_secrets,
            granted_hosts,
        })
    }

    fn open_secrets(
        &self,
        row: &tenant_plugin::Model,
    ) -> RegistryResult<std::collections::BTreeMap<String, String>> {
        let Some(sealed) = &row.sealed_secrets else {
            return Ok(Default::default());
        };
        let plaintext = self
            .secrets
            .open(sealed, &secret_context(row.tenant_id, &row.plugin_id))?;
        serde_json::from_slice(&plaintext)
            .map_err(|error| StoreError::Corrupt(format!("sealed secrets: {error}")).into())
    }

    /// The plugin's view of the world: config (secrets decrypted), secret keys for redaction,
    /// and the hosts both requested and granted.
    fn grants(
        &self,
        manifest: &PluginManifest,
        row: &tenant_plugin::Model,
    ) -> RegistryResult<Grants> {
        let state = rows::tenant_plugin_state(row)?;
        let secrets = self.open_secrets(row)?;
        let mut config: HashMap<String, String> = state
            .config
            .iter()
            .map(|(key, value)| (key.clone(), config_text(value)))
            .collect();
        let secret_keys: HashSet<String> = secrets.keys().cloned().collect();
        config.extend(secrets);
        Ok(Grants {
            config,
            secret_keys,
            allowed_hosts: effective_hosts(manifest, &state.granted_hosts)
                .into_iter()
                .collect(),
        })
    }
}

/// The associated data binding sealed secrets to their tenant and plugin.
fn secret_context(tenant_id: Id, plugin_id: &str) -> String {
    format!("tenant-plugin:{tenant_id}:{plugin_id}")
}

/// On enable: a move to another version remembers the current one; staying keeps the old
/// rollback target.
fn previous_after_move(existing: Option<&tenant_plugin::Model>, version: &str) -> Option<String> {
    let row = existing?;
    if row.version == version {
        row.previous_version.clone()
    } else {
        Some(row.version.clone())
    }
}

fn effective_hosts(manifest: &PluginManifest, granted: &[String]) -> Vec<String> {
    granted
        .iter()
        .filter(|host| manifest.http_hosts.contains(host))
        .cloned()
        .collect()
}

fn embedded_manifest(bytes: &[u8]) -> RegistryResult<PluginManifest> {
    let text = crate::plugins::embedded_manifest(bytes)
        .map_err(RegistryError::Component)?
        .ok_or_else(|| {
            ValidationErrors::single(
                "manifest",
                "manifest_missing",
                "the component embeds no manifest; build it with the SDK's `manifest = ...` export option or send a sidecar manifest",
            )
        })?;
    Ok(PluginManifest::from_toml(&text)?)
}
