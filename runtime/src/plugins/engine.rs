//! One shared wasmtime engine: compiles components once per sha256, checks their API version
//! before anything runs, and builds a fresh, limited store for every invocation.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, InstancePre, Linker};
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig,
    ProfilingStrategy, Store, Trap, UpdateDeadline,
};

use super::bindings::{clock, config, erp_types, http, log, survey_types, tiering_types, types};
use super::error::PluginError;
use super::host::{Grants, HostState, RunLog};
use super::limits::{Limits, MAX_MEMORY_BYTES};

/// The WIT package versions this host can run.
pub const SUPPORTED_API_VERSIONS: &[&str] = &["0.1.0", "0.2.0", "0.3.0", "0.4.0"];
/// The custom section in which the SDK records the API version a plugin was built against.
pub const API_SECTION: &str = "rapport-plugin-api";
/// The custom section in which the SDK embeds the plugin's manifest (TOML).
pub const MANIFEST_SECTION: &str = "rapport-plugin-manifest";
/// Epoch granularity: deadlines are checked, and long calls yield to tokio, this often.
const EPOCH_TICK: Duration = Duration::from_millis(10);
/// Most plugin instances alive at once (pooling allocator slots).
const MAX_CONCURRENT_INSTANCES: u32 = 128;
/// Set (to anything) to have the engine describe compiled plugin code for `perf`.
pub const PERF_MAP_VARIABLE: &str = "RAPPORT_PLUGIN_PERF_MAP";

/// A compiled component and what the host learned about it.
#[derive(Clone)]
pub struct LoadedComponent {
    pub sha256: String,
    pub api_version: String,
    pub(crate) component: Component,
}

impl std::fmt::Debug for LoadedComponent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedComponent")
            .field("sha256", &self.sha256)
            .field("api_version", &self.api_version)
            .finish()
    }
}

/// The result of one call, with what the plugin logged and what it cost.
#[derive(Debug, Clone)]
pub struct Invocation<T> {
    pub outcome: Result<T, PluginError>,
    pub log: RunLog,
    pub duration: Duration,
    pub fuel_used: Option<u64>,
}

impl<T> Invocation<T> {
    /// Checks or converts a successful outcome, keeping the log and the costs of the call.
    pub fn and_then<U>(self, check: impl FnOnce(T) -> Result<U, PluginError>) -> Invocation<U> {
        Invocation {
            outcome: self.outcome.and_then(check),
            log: self.log,
            duration: self.duration,
            fuel_used: self.fuel_used,
        }
    }
}

pub struct PluginEngine {
    engine: Engine,
    pub(crate) linker: Linker<HostState>,
    compiled: Mutex<HashMap<String, Component>>,
    http: reqwest::Client,
    ticker_stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for PluginEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PluginEngine")
    }
}

impl Drop for PluginEngine {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

fn host_error(error: impl std::fmt::Display) -> PluginError {
    PluginError::Host(error.to_string())
}

fn engine_config() -> Config {
    let mut pooling = PoolingAllocationConfig::default();
    pooling
        .total_component_instances(MAX_CONCURRENT_INSTANCES)
        .total_core_instances(MAX_CONCURRENT_INSTANCES * 4)
        .total_memories(MAX_CONCURRENT_INSTANCES * 2)
        .total_tables(MAX_CONCURRENT_INSTANCES * 4)
        .total_stacks(MAX_CONCURRENT_INSTANCES)
        .max_memories_per_component(4)
        .max_tables_per_component(8)
        .max_memory_size(MAX_MEMORY_BYTES)
        // A fresh instance per call must be cheap: resetting a slot by scanning for dirtied
        // pages, keeping the first MiB of memory and 256 KiB of fiber stack mapped, and batching
        // decommits took instantiation from 15.0 to 9.6 us (benches/plugin_calls.rs). Memory is
        // still reset and a slot is reused only after its decommit, so nothing survives a call.
        .linear_memory_keep_resident(1 << 20)
        .table_keep_resident(1 << 20)
        .async_stack_keep_resident(256 << 10)
        .decommit_batch_size(64)
        .pagemap_scan(Enabled::Auto);
    let mut config = Config::new();
    config
        .epoch_interruption(true)
        .consume_fuel(true)
        .max_wasm_stack(512 << 10)
        // A 4 GiB reservation per memory (address space only; the pool's 256 slots take 1 TiB
        // of the 128 TiB) lets compiled code skip the bounds check on every load and store:
        // with a 256 MiB reservation each access was checked explicitly.
        .memory_reservation(1 << 32)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    // `perf` can then name the plugins' compiled functions (written to /tmp/perf-PID.map).
    if std::env::var_os(PERF_MAP_VARIABLE).is_some() {
        config.profiler(ProfilingStrategy::PerfMap);
    }
    config
}

impl PluginEngine {
    /// An engine whose compiled code is also cached on disk in `cache_dir` when given.
    pub fn new(cache_dir: Option<&std::path::Path>) -> Result<Arc<PluginEngine>, PluginError> {
        let mut config = engine_config();
        if let Some(dir) = cache_dir {
            let mut cache_config = wasmtime::CacheConfig::new();
            cache_config.with_directory(dir);
            config.cache(Some(
                wasmtime::Cache::new(cache_config).map_err(host_error)?,
            ));
        }
        let engine = Engine::new(&config).map_err(host_error)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(host_error)?;
        add_plugin_interfaces(&mut linker).map_err(host_error)?;
        let ticker_stop = Arc::new(AtomicBool::new(false));
        spawn_epoch_ticker(engine.clone(), ticker_stop.clone());
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(host_error)?;
        Ok(Arc::new(PluginEngine {
            engine,
            linker,
            compiled: Mutex::new(HashMap::new()),
            http,
            ticker_stop,
        }))
    }

    /// Checks the API version recorded in the component, then compiles it (once per content hash).
    pub fn load(&self, bytes: &[u8]) -> Result<LoadedComponent, PluginError> {
        let api_version = api_version(bytes)?;
        if !SUPPORTED_API_VERSIONS.contains(&api_version.as_str()) {
            return Err(PluginError::IncompatibleApi {
                found: api_version,
                supported: SUPPORTED_API_VERSIONS.join(", "),
            });
        }
        let sha256 = hex::encode(Sha256::digest(bytes));
        let mut compiled = self.compiled.lock().map_err(host_error)?;
        let component = match compiled.get(&sha256) {
            Some(component) => component.clone(),
            None => {
                let component = Component::new(&self.engine, bytes)
                    .map_err(|error| PluginError::InvalidComponent(format!("{error:#}")))?;
                compiled.insert(sha256.clone(), component.clone());
                component
            }
        };
        Ok(LoadedComponent {
            sha256,
            api_version,
            component,
        })
    }

    /// Links a component once for repeated instantiation, typed as `world` by `typed` (a
    /// bindgen `…Pre::new`); a component that does not implement the world is refused.
    pub(crate) fn link<P>(
        &self,
        component: &LoadedComponent,
        world: &str,
        typed: impl FnOnce(InstancePre<HostState>) -> wasmtime::Result<P>,
    ) -> Result<P, PluginError> {
        let pre = self
            .linker
            .instantiate_pre(&component.component)
            .map_err(|error| PluginError::InvalidComponent(format!("{error:#}")))?;
        typed(pre)
            .map_err(|error| PluginError::InvalidComponent(format!("not a {world}: {error:#}")))
    }

    /// A fresh store for one invocation: the sandbox, the memory cap, fuel and the deadline.
    pub(crate) fn new_store(&self, limits: &Limits, grants: Arc<Grants>) -> Store<HostState> {
        let mut store = Store::new(
            &self.engine,
            HostState::new(limits, grants, self.http.clone()),
        );
        store.limiter(|state| &mut state.memory);
        store
            .set_fuel(limits.fuel_budget())
            .expect("fuel is enabled on this engine");
        let deadline = Instant::now() + limits.deadline;
        store.set_epoch_deadline(1);
        // Yielding at every tick keeps a busy plugin from holding a tokio worker; the deadline
        // turns into a trap.
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        store
    }

    /// Runs `call` on a fresh store within the limits and reports the outcome with its log.
    pub(crate) async fn invoke<T>(
        &self,
        limits: &Limits,
        grants: Arc<Grants>,
        call: impl AsyncFnOnce(&mut Store<HostState>) -> wasmtime::Result<Result<T, PluginError>>,
    ) -> Invocation<T> {
        let started = Instant::now();
        let mut store = self.new_store(limits, grants);
        // The epoch deadline stops wasm; this backstop also bounds time spent in host calls.
        let backstop = limits.deadline + Duration::from_secs(1);
        let outcome = match tokio::time::timeout(backstop, call(&mut store)).await {
            Err(_) => Err(PluginError::Timeout(limits.deadline)),
            Ok(Ok(outcome)) => outcome,
            Ok(Err(error)) => Err(classify(&error, &store, limits)),
        };
        let fuel_used = store
            .get_fuel()
            .ok()
            .map(|left| limits.fuel_budget() - left);
        let log = store.data_mut().take_log();
        Invocation {
            outcome,
            log,
            duration: started.elapsed(),
            fuel_used,
        }
    }
}

/// Registers every interface of the WIT package once: the host services and each world's type
/// interfaces. A world's own `add_to_linker` would also define the shared services, so linking
/// two worlds that way fails with duplicate definitions; one linker for all kinds lets a
/// component of any world link, and lets the harness find out which world it implements.
fn add_plugin_interfaces(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    fn state(state: &mut HostState) -> &mut HostState {
        state
    }
    types::add_to_linker::<HostState, HasSelf<HostState>>(linker, state)?;
    log::add_to_linker::<HostState, HasSelf<HostState>>(linker, state)?;
    config::add_to_linker::<HostState, HasSelf<HostState>>(linker, state)?;
    http::add_to_linker::<HostState, HasSelf<HostState>>(linker, state)?;
    clock::add_to_linker::<HostState, HasSelf<HostState>>(linker, state)?;
    // Type-only interfaces still have to exist as (empty) instances: components import them.
    tiering_types::add_to_linker::<HostState, HasSelf<HostState>>(linker, state)?;
    survey_types::add_to_linker::<HostState, HasSelf<HostState>>(linker, state)?;
    erp_types::add_to_linker::<HostState, HasSelf<HostState>>(linker, state)?;
    super::shims::add_to_linker(linker)?;
    Ok(())
}

fn spawn_epoch_ticker(engine: Engine, stop: Arc<AtomicBool>) {
    std::thread::Builder::new()
        .name("plugin-epoch".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        })
        .expect("spawn the epoch ticker thread");
}

/// Turns a wasmtime failure into the typed error it stands for.
fn classify(error: &wasmtime::Error, store: &Store<HostState>, limits: &Limits) -> PluginError {
    if store.data().memory.exceeded {
        return PluginError::MemoryLimit(limits.memory_bytes);
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => PluginError::FuelExhausted(limits.fuel_budget()),
        Some(Trap::Interrupt) => PluginError::Timeout(limits.deadline),
        Some(Trap::StackOverflow) => PluginError::StackOverflow,
        Some(trap) => PluginError::Trap(trap.to_string()),
        None => PluginError::Trap(format!("{error:#}")),
    }
}

/// The API version the SDK recorded in the component's `rapport-plugin-api` custom section.
fn api_version(bytes: &[u8]) -> Result<String, PluginError> {
    let section = custom_section(bytes, API_SECTION)?.ok_or_else(|| {
        PluginError::InvalidComponent(format!(
            "no `{API_SECTION}` section: build the plugin with rapport-sdk's export macro"
        ))
    })?;
    String::from_utf8(section)
        .map_err(|_| PluginError::InvalidComponent("the API version section is not UTF-8".into()))
}

/// The manifest (TOML text) the SDK embedded as the `rapport-plugin-manifest` section, if any.
pub fn embedded_manifest(bytes: &[u8]) -> Result<Option<String>, PluginError> {
    custom_section(bytes, MANIFEST_SECTION)?
        .map(|section| {
            String::from_utf8(section).map_err(|_| {
                PluginError::InvalidComponent("the manifest section is not UTF-8".into())
            })
        })
        .transpose()
}

/// The contents of the first custom section called `name`, in the component or a module in it.
fn custom_section(bytes: &[u8], name: &str) -> Result<Option<Vec<u8>>, PluginError> {
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|error| PluginError::InvalidComponent(error.to_string()))?;
        if let wasmparser::Payload::CustomSection(section) = payload
            && section.name() == name
        {
            return Ok(Some(section.data().to_vec()));
        }
    }
    Ok(None)
}
