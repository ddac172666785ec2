//! The `rapport` command line: `serve`, `migrate`, `tier`, `sync` and `plugin`. The binary is a
//! thin shell over [`main`], so that tests can build the very same program.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::domain::plugin::PluginManifest;
use crate::jobs::JobOptions;
use crate::plugins::harness::{Fixture, run_fixture};
use crate::plugins::{KindLimits, PluginEngine};
use crate::registry::RegistryError;
use crate::server::{self, ServeOptions};
use crate::store;
use crate::telemetry::{self, LogFormat};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "rapport",
    version,
    about = "Rapport: a CRM runtime for customer satisfaction"
)]
struct Cli {
    /// Log output format.
    #[arg(long, global = true, env = "RAPPORT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct StoreArgs {
    /// `sqlite://…` or `postgres://…`; defaults to the embedded SQLite file in the data directory.
    #[arg(long, global = true, env = "RAPPORT_DATABASE_URL")]
    database_url: Option<String>,
    /// Where the embedded database and generated files live, and where an operator puts
    /// `plugin-limits.toml` (per-kind plugin limits; `RAPPORT_PLUGIN_LIMITS` names another file).
    #[arg(
        long,
        global = true,
        env = "RAPPORT_DATA_DIR",
        default_value = "rapport-data"
    )]
    data_dir: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate the store and serve the HTTP API.
    Serve {
        #[arg(long, env = "RAPPORT_BIND", default_value = "127.0.0.1:8080")]
        bind: SocketAddr,
        #[command(flatten)]
        store: StoreArgs,
        /// Create a demo tenant with realistic data and print its admin token.
        #[arg(long)]
        demo: bool,
        /// E-mail of the platform admin created on first start.
        #[arg(
            long,
            env = "RAPPORT_BOOTSTRAP_EMAIL",
            default_value = "admin@rapport.local"
        )]
        bootstrap_email: String,
        /// Use this secret as the platform admin's first token instead of a random one.
        #[arg(long, env = "RAPPORT_BOOTSTRAP_TOKEN", hide_env_values = true)]
        bootstrap_token: Option<String>,
        /// How often the background worker looks for due jobs and new events, in
        /// milliseconds; 0 turns the worker off (another process runs it).
        #[arg(long, env = "RAPPORT_JOB_TICK_MS", default_value_t = 15_000)]
        job_tick_ms: u64,
        /// Seconds a customer's facts must settle after an event before it is re-tiered.
        #[arg(long, env = "RAPPORT_TIER_DEBOUNCE_SECONDS", default_value_t = 60)]
        tier_debounce_seconds: u32,
        /// Seconds an ERP connector stays claimed by this process without a committed page;
        /// after a crash, its syncs resume once this has passed.
        #[arg(long, env = "RAPPORT_SYNC_LEASE_SECONDS", default_value_t = 120,
            value_parser = clap::value_parser!(u32).range(1..))]
        sync_lease_seconds: u32,
    },
    /// Apply, revert or list schema migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Install plugins into the registry, or run one locally against a fixture.
    Plugin {
        #[command(subcommand)]
        action: PluginAction,
    },
    /// Tiering: re-tier customers with the tenant's tiering policy.
    Tier {
        #[command(subcommand)]
        action: TierAction,
    },
    /// ERP sync: run a tenant's connector now.
    Sync {
        #[command(subcommand)]
        action: SyncAction,
    },
}

#[derive(Subcommand)]
enum SyncAction {
    /// Sync one ERP connector of a tenant now, resuming from its committed cursors, with a
    /// progress bar; prints the run as the history records it. Exits 1 when the run failed.
    Run {
        /// The connector plugin's id, e.g. `rapport.odoo-connector`.
        connector: String,
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// Seconds the connector stays claimed without a committed page, should this process
        /// die; a run started meanwhile is refused.
        #[arg(long, env = "RAPPORT_SYNC_LEASE_SECONDS", default_value_t = 120,
            value_parser = clap::value_parser!(u32).range(1..))]
        lease_seconds: u32,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand)]
enum TierAction {
    /// Re-tier every customer of a tenant now, with a progress bar; prints the run's report.
    Run {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The tiering policy; the tenant's only enabled one when absent.
        #[arg(long)]
        plugin: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand)]
enum PluginAction {
    /// Install a component (`.wasm`) into the registry, as the platform admin would over the API.
    Install {
        /// The component file.
        file: PathBuf,
        /// A sidecar manifest (TOML), for components that do not embed one.
        #[arg(long)]
        manifest: Option<PathBuf>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Run one export of a component against a JSON fixture, without a server, with the limits
    /// the server applies. Prints the report (with the limits applied) as JSON; exits 1 when
    /// the plugin failed.
    Test {
        /// The component file.
        file: PathBuf,
        /// `{"export": "...", "input": ..., "config": {...}, "secret_keys": [...], "allowed_hosts": [...]}`
        #[arg(long)]
        input: PathBuf,
        /// An operator's plugin-limits.toml to run under instead of the kind's defaults.
        #[arg(long, env = server::PLUGIN_LIMITS_VARIABLE)]
        limits: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum MigrateAction {
    /// Apply all pending migrations.
    Up,
    /// Revert the last `steps` migrations.
    Down {
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List migrations and whether each is applied.
    Status,
}

/// Parses the arguments and runs the command; the process exit code is the result.
#[tokio::main]
pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log_format);
    let outcome = match cli.command {
        Command::Serve {
            bind,
            store,
            demo,
            bootstrap_email,
            bootstrap_token,
            job_tick_ms,
            tier_debounce_seconds,
            sync_lease_seconds,
        } => {
            let debounce = chrono::Duration::seconds(tier_debounce_seconds.into());
            let sync = crate::sync::SyncOptions {
                lease: chrono::Duration::seconds(sync_lease_seconds.into()),
                retier_delay: debounce,
                ..Default::default()
            };
            let jobs = (job_tick_ms > 0).then(|| JobOptions {
                tick: std::time::Duration::from_millis(job_tick_ms),
                debounce,
                sync: sync.clone(),
                ..JobOptions::default()
            });
            let options = ServeOptions {
                bind,
                database_url: store.database_url,
                data_dir: store.data_dir,
                demo,
                bootstrap_email,
                bootstrap_token,
                jobs,
                sync,
            };
            server::serve(options).await.map_err(|e| e.to_string())
        }
        Command::Migrate { action, store } => migrate(action, store).await,
        Command::Plugin { action } => plugin(action).await,
        Command::Tier {
            action:
                TierAction::Run {
                    tenant,
                    plugin,
                    store,
                },
        } => tier_run(&tenant, plugin.as_deref(), store).await,
        Command::Sync {
            action:
                SyncAction::Run {
                    connector,
                    tenant,
                    lease_seconds,
                    store,
                },
        } => sync_run(&connector, &tenant, lease_seconds, store).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(action: MigrateAction, args: StoreArgs) -> Result<(), String> {
    let url = server::resolve_database_url(args.database_url.as_deref(), &args.data_dir)
        .map_err(|e| e.to_string())?;
    let db = store::connect(&url).await.map_err(|e| e.to_string())?;
    match action {
        MigrateAction::Up => store::migrate_up(&db).await.map_err(|e| e.to_string())?,
        MigrateAction::Down { steps } => store::migrate_down(&db, steps)
            .await
            .map_err(|e| e.to_string())?,
        MigrateAction::Status => {
            for (name, applied) in store::migration_status(&db)
                .await
                .map_err(|e| e.to_string())?
            {
                println!("{} {name}", if applied { "applied" } else { "pending" });
            }
        }
    }
    Ok(())
}

async fn plugin(action: PluginAction) -> Result<(), String> {
    match action {
        PluginAction::Install {
            file,
            manifest,
            store,
        } => install_plugin(file, manifest, store).await,
        PluginAction::Test {
            file,
            input,
            limits,
        } => test_plugin(file, input, limits).await,
    }
}

fn read_file(path: &std::path::Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|error| format!("{}: {error}", path.display()))
}

async fn install_plugin(
    file: PathBuf,
    manifest: Option<PathBuf>,
    args: StoreArgs,
) -> Result<(), String> {
    let bytes = read_file(&file)?;
    let sidecar = match manifest {
        Some(path) => {
            let text = String::from_utf8(read_file(&path)?)
                .map_err(|_| format!("{}: not UTF-8", path.display()))?;
            Some(PluginManifest::from_toml(&text).map_err(|errors| describe(&errors))?)
        }
        None => None,
    };
    let url = server::resolve_database_url(args.database_url.as_deref(), &args.data_dir)
        .map_err(|e| e.to_string())?;
    let db = server::open_store(&url).await.map_err(|e| e.to_string())?;
    let registry = server::registry(&args.data_dir).map_err(|e| e.to_string())?;
    let (version, created) = registry
        .install(&db, bytes, sidecar)
        .await
        .map_err(|error| match error {
            RegistryError::Invalid(errors) => describe(&errors),
            other => other.to_string(),
        })?;
    println!(
        "{} {} {} ({}, sha256 {})",
        if created {
            "installed"
        } else {
            "already installed:"
        },
        version.plugin_id,
        version.version,
        version.kind,
        version.component_sha256
    );
    Ok(())
}

fn describe(errors: &crate::domain::ValidationErrors) -> String {
    errors
        .0
        .iter()
        .map(|error| format!("{}: {}", error.field, error.message))
        .collect::<Vec<_>>()
        .join("; ")
}

async fn test_plugin(file: PathBuf, input: PathBuf, limits: Option<PathBuf>) -> Result<(), String> {
    let bytes = read_file(&file)?;
    let fixture: Fixture = serde_json::from_slice(&read_file(&input)?)
        .map_err(|error| format!("{}: {error}", input.display()))?;
    let limits = match limits {
        Some(path) => server::read_plugin_limits(&path).map_err(|e| e.to_string())?,
        None => KindLimits::default(),
    };
    let engine = PluginEngine::new(None).map_err(|e| e.to_string())?;
    let report = run_fixture(engine, &bytes, &fixture, &limits)
        .await
        .map_err(|e| e.to_string())?;
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    println!("{text}");
    if report.error.is_some() {
        return Err("the plugin call failed (see the report above)".into());
    }
    Ok(())
}

async fn tier_run(slug: &str, plugin: Option<&str>, args: StoreArgs) -> Result<(), String> {
    let url = server::resolve_database_url(args.database_url.as_deref(), &args.data_dir)
        .map_err(|e| e.to_string())?;
    let db = server::open_store(&url).await.map_err(|e| e.to_string())?;
    let registry = server::registry(&args.data_dir).map_err(|e| e.to_string())?;
    let tenant = store::tenants::find_by_slug(&db, slug)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no tenant {slug:?}"))?;
    let plugin_id = crate::tiering::choose_policy(&db, &registry, tenant.id, plugin)
        .await
        .map_err(|e| e.to_string())?;
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {msg} [{bar:40}] {pos}/{len} customers ({per_sec}, {eta} left)",
        )
        .map_err(|e| e.to_string())?
        .progress_chars("=> "),
    );
    bar.set_message(plugin_id.clone());
    let report = crate::tiering::run(&db, &registry, tenant.id, &plugin_id, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .await
    .map_err(|e| e.to_string())?;
    bar.finish();
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    println!("{text}");
    match report.error {
        Some(error) => Err(format!("the tiering policy failed: {}", error.message)),
        None => Ok(()),
    }
}

async fn sync_run(
    connector: &str,
    slug: &str,
    lease_seconds: u32,
    args: StoreArgs,
) -> Result<(), String> {
    let url = server::resolve_database_url(args.database_url.as_deref(), &args.data_dir)
        .map_err(|e| e.to_string())?;
    let db = server::open_store(&url).await.map_err(|e| e.to_string())?;
    let registry = server::registry(&args.data_dir).map_err(|e| e.to_string())?;
    let tenant = store::tenants::find_by_slug(&db, slug)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no tenant {slug:?}"))?;
    let options = crate::sync::SyncOptions {
        lease: chrono::Duration::seconds(lease_seconds.into()),
        ..Default::default()
    };
    // The ERP does not say how many records are left, so the bar counts what was imported.
    let bar = indicatif::ProgressBar::new_spinner().with_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {msg} {pos} records ({per_sec}, {elapsed})",
        )
        .map_err(|e| e.to_string())?,
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let show = |progress: &crate::sync::Progress| {
        bar.set_message(format!(
            "{connector} {}: {} pages,",
            progress.stream, progress.counts.pages
        ));
        bar.set_position(progress.counts.records_read as u64);
    };
    let run = crate::sync::run_connector(
        &db,
        &registry,
        tenant.id,
        connector,
        crate::domain::sync::RunTrigger::Cli,
        &options,
        &show,
    )
    .await
    .map_err(|e| e.to_string())?;
    bar.finish();
    let text = serde_json::to_string_pretty(&run).map_err(|e| e.to_string())?;
    println!("{text}");
    match run.error {
        Some(error) => Err(format!(
            "the sync failed: {} ({})",
            error.message, error.code
        )),
        None => Ok(()),
    }
}
