//! The `rapport` command line: `serve` and `migrate`. The binary is a thin shell over
//! [`main`], so that tests can build the very same program.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

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
    /// Where the embedded database and generated files live.
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
    },
    /// Apply, revert or list schema migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
        #[command(flatten)]
        store: StoreArgs,
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
        } => {
            let options = ServeOptions {
                bind,
                database_url: store.database_url,
                data_dir: store.data_dir,
                demo,
                bootstrap_email,
                bootstrap_token,
            };
            server::serve(options).await.map_err(|e| e.to_string())
        }
        Command::Migrate { action, store } => migrate(action, store).await,
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
