//! Start-up: open the store, migrate, bootstrap the platform admin, optionally load the demo,
//! then serve HTTP until a shutdown signal.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;

use crate::api::{self, AppState};
use crate::demo;
use crate::jobs::JobOptions;
use crate::plugins::KindLimits;
use crate::registry::Registry;
use crate::secrets::{SecretBox, SecretError};
use crate::store::{self, StoreError, tenants};

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server stopped: {0}")]
    Serve(std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("cannot use the plugin limits in {path}: {message}")]
    PluginLimits { path: PathBuf, message: String },
}

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub bind: SocketAddr,
    pub database_url: Option<String>,
    pub data_dir: PathBuf,
    pub demo: bool,
    pub bootstrap_email: String,
    pub bootstrap_token: Option<String>,
    /// The background worker's pacing; `None` runs no worker in this process.
    pub jobs: Option<JobOptions>,
    /// How syncs started through the API hold their connector.
    pub sync: crate::sync::SyncOptions,
}

/// The database URL to use: the explicit one, else the embedded SQLite file in `data_dir`
/// (creating the directory).
pub fn resolve_database_url(
    database_url: Option<&str>,
    data_dir: &Path,
) -> Result<String, ServerError> {
    if let Some(url) = database_url {
        return Ok(url.to_owned());
    }
    std::fs::create_dir_all(data_dir).map_err(|source| ServerError::DataDir {
        path: data_dir.to_owned(),
        source,
    })?;
    Ok(store::sqlite_url(data_dir))
}

/// Connects and applies pending migrations.
pub async fn open_store(database_url: &str) -> Result<DatabaseConnection, ServerError> {
    let db = store::connect(database_url).await?;
    store::migrate_up(&db).await?;
    store::access::seed_all_tenants(&db).await?;
    store::schedules::ensure_jobs_everywhere(&db).await?;
    store::automation::install_defaults_everywhere(&db).await?;
    store::service_settings::install_default_policies_everywhere(&db).await?;
    store::surveys::install_default_templates_everywhere(&db).await?;
    Ok(db)
}

/// Serves the API on `listener` until `shutdown` completes, then drains in-flight requests.
pub async fn serve_on(
    listener: TcpListener,
    db: DatabaseConnection,
    registry: Arc<Registry>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    serve_state(listener, AppState::new(db, registry), shutdown).await
}

/// Serves the API of `state` on `listener` until `shutdown` completes.
pub async fn serve_state(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let app = api::app(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(ServerError::Serve)
}

/// `rapport serve`.
pub async fn serve(options: ServeOptions) -> Result<(), ServerError> {
    std::fs::create_dir_all(&options.data_dir).map_err(|source| ServerError::DataDir {
        path: options.data_dir.clone(),
        source,
    })?;
    let url = resolve_database_url(options.database_url.as_deref(), &options.data_dir)?;
    let db = open_store(&url).await?;
    if let Some(issued) = tenants::ensure_platform(
        &db,
        &options.bootstrap_email,
        options.bootstrap_token.clone(),
    )
    .await?
    {
        if options.bootstrap_token.is_some() {
            println!(
                "Platform admin {} created with the token from RAPPORT_BOOTSTRAP_TOKEN.",
                options.bootstrap_email
            );
        } else {
            println!(
                "Platform admin {} created. Its token is shown only this once:",
                options.bootstrap_email
            );
            println!("\n    {}\n", issued.secret);
        }
    }
    if options.demo {
        let demo = demo::ensure_demo_tenant(&db, &options.data_dir).await?;
        if let Some(summary) = &demo.summary {
            println!(
                "Demo tenant created: {} customers, {} contacts, {} orders, {} interactions, {} satisfaction records.",
                summary.customers,
                summary.contacts,
                summary.orders,
                summary.interactions,
                summary.satisfaction_records
            );
        }
        println!(
            "Demo admin token (also in {}):",
            options.data_dir.join(demo::TOKEN_FILE).display()
        );
        println!("\n    {}\n", demo.admin_token.secret);
    }
    let listener = TcpListener::bind(options.bind)
        .await
        .map_err(|source| ServerError::Bind {
            addr: options.bind,
            source,
        })?;
    let addr = listener.local_addr().map_err(ServerError::Serve)?;
    println!("Rapport listening on http://{addr} (API docs at http://{addr}/docs)");
    tracing::info!(%addr, "listening");
    let registry = registry(&options.data_dir)?;
    let worker = options.jobs.clone().map(|mut jobs| {
        jobs.public_base_url
            .get_or_insert_with(|| format!("http://{addr}"));
        crate::jobs::spawn(db.clone(), registry.clone(), jobs)
    });
    let mut state = AppState::new(db, registry);
    state.sync = options.sync.clone();
    let served = serve_state(listener, state, shutdown_signal()).await;
    if let Some(worker) = worker {
        worker.abort();
    }
    served
}

/// The operator's file of per-kind plugin limits: `RAPPORT_PLUGIN_LIMITS`, else
/// `plugin-limits.toml` in the data directory.
pub const PLUGIN_LIMITS_VARIABLE: &str = "RAPPORT_PLUGIN_LIMITS";
const PLUGIN_LIMITS_FILE: &str = "plugin-limits.toml";

/// The plugin registry of a server whose data lives in `data_dir`: the secret key from there
/// (or `RAPPORT_SECRET_KEY`), compiled plugins cached under `plugin-cache/`, and each kind's
/// limits with the operator's overrides, when there is a limits file.
pub fn registry(data_dir: &Path) -> Result<Arc<Registry>, ServerError> {
    let secrets = SecretBox::load_or_create(data_dir)?;
    let cache = Some(data_dir.join("plugin-cache"));
    Ok(Registry::with_limits(
        secrets,
        cache,
        plugin_limits(data_dir)?,
    ))
}

/// The defaults when no file is named and the data directory has none; a file that is named
/// but missing, unreadable or wrong stops the start rather than running with other limits.
fn plugin_limits(data_dir: &Path) -> Result<KindLimits, ServerError> {
    let (path, named) = match std::env::var_os(PLUGIN_LIMITS_VARIABLE) {
        Some(path) => (PathBuf::from(path), true),
        None => (data_dir.join(PLUGIN_LIMITS_FILE), false),
    };
    if !named && matches!(path.try_exists(), Ok(false)) {
        return Ok(KindLimits::default());
    }
    read_plugin_limits(&path)
}

/// An operator's limits file at `path`; missing, unreadable or wrong is an error naming it.
pub fn read_plugin_limits(path: &Path) -> Result<KindLimits, ServerError> {
    let refused = |message: String| ServerError::PluginLimits {
        path: path.to_owned(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|error| refused(error.to_string()))?;
    KindLimits::parse(&text).map_err(refused)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
