//! The ERP sync engine: runs a tenant's connector plugin stream by stream, page by page, and
//! imports each page with its cursor in one transaction (`store::sync`), so that a run stopped
//! at any point — error, lost lease, `kill -9` — resumes from the last committed page with no
//! record lost or imported twice.
//!
//! A run claims the connector's lease (one run per connector across all processes), reads the
//! connector's spec, then each stream from its committed cursor: customer streams first, so
//! that orders find their customers. The next page is read while the current one is written.
//! Reads wait for the connector's rate limit (kept by the registry, so every run of the
//! process shares it); a retryable error is tried again with
//! exponential backoff, any other ends the run with the connector's code and message in the
//! run history. The worker starts scheduled runs (`start_due`); the API and
//! `rapport sync run` start runs on demand.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

use chrono::{Duration, Utc};
use sea_orm::DatabaseConnection;

use crate::domain::Id;
use crate::domain::erp_records::{ExternalRecord, Page, ReadRequest, RecordKind};
use crate::domain::sync::{RunError, RunOutcome, RunTrigger, StreamCounts, SyncRun, SyncSettings};
use crate::plugins::PluginError;
use crate::registry::{ErpSession, Registry, RegistryError};
use crate::store::sync::{self as rows, PageTarget, StartedRun};
use crate::store::{StoreError, begin_write};

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How runs of this process identify themselves and hold their connector.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// This process's name, in leases and in each run's `run_by`.
    pub owner: String,
    /// How long a connector stays claimed without a committed page; a process that died
    /// blocks its connector this long. Renewed with every page.
    pub lease: Duration,
    /// When customers whose orders changed are re-tiered, after their last page.
    pub retier_delay: Duration,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            owner: format!(
                "{}-{}",
                std::env::var("HOSTNAME").unwrap_or_else(|_| "rapport".to_owned()),
                std::process::id()
            ),
            lease: Duration::minutes(2),
            retier_delay: Duration::seconds(60),
        }
    }
}

/// What a run reports as it goes: the stream and its counts so far.
#[derive(Debug, Clone)]
pub struct Progress {
    pub stream: String,
    pub counts: StreamCounts,
}

/// Called after every committed page.
pub type OnProgress<'a> = &'a (dyn Fn(&Progress) + Send + Sync);

/// Claims the connector and records a new run; refused while it runs elsewhere.
pub async fn begin(
    db: &DatabaseConnection,
    tenant_id: Id,
    plugin_id: &str,
    trigger: RunTrigger,
    options: &SyncOptions,
) -> Result<StartedRun, SyncError> {
    let now = Utc::now();
    let tx = begin_write(db).await?;
    let run = rows::start_run(
        &tx,
        tenant_id,
        plugin_id,
        trigger,
        &options.owner,
        now + options.lease,
        now,
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(run)
}

/// Runs a claimed connector to the end of its streams or to its first final error, records
/// how it ended and releases the connector. Returns the run as the history shows it.
pub async fn execute(
    db: &DatabaseConnection,
    registry: &Registry,
    run: &StartedRun,
    options: &SyncOptions,
    progress: OnProgress<'_>,
) -> Result<SyncRun, SyncError> {
    let retries = AtomicI32::new(0);
    let engine = Engine {
        db,
        run,
        options,
        retries: &retries,
    };
    let reads_per_minute = Some(run.settings.reads_per_minute);
    let session = registry
        .erp_session(db, run.tenant_id, &run.plugin_id, reads_per_minute)
        .await;
    let failure = match session {
        Ok(session) => engine.all_streams(&session, progress).await.err(),
        Err(error) => Some(Failure::from_registry(error)),
    };
    let (outcome, error) = match &failure {
        None => (RunOutcome::Succeeded, None),
        Some(failure) => (failure.outcome, Some(&failure.error)),
    };
    let tx = begin_write(db).await?;
    rows::finish_run(
        &tx,
        run,
        outcome,
        error,
        retries.load(Ordering::Relaxed),
        Utc::now(),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(rows::get_run(db, run.tenant_id, run.run_id).await?)
}

/// Begins and executes one run.
pub async fn run_connector(
    db: &DatabaseConnection,
    registry: &Registry,
    tenant_id: Id,
    plugin_id: &str,
    trigger: RunTrigger,
    options: &SyncOptions,
    progress: OnProgress<'_>,
) -> Result<SyncRun, SyncError> {
    let run = begin(db, tenant_id, plugin_id, trigger, options).await?;
    execute(db, registry, &run, options, progress).await
}

/// Starts the scheduled runs that are due, each in its own task; returns how many started.
pub async fn start_due(
    db: &DatabaseConnection,
    registry: &Arc<Registry>,
    options: &SyncOptions,
) -> Result<usize, SyncError> {
    let mut started = 0;
    for (tenant_id, plugin_id) in rows::due_connectors(db, Utc::now(), 20).await? {
        let run = match begin(db, tenant_id, &plugin_id, RunTrigger::Schedule, options).await {
            Ok(run) => run,
            // Another process claimed it between the query and the claim.
            Err(SyncError::Store(StoreError::Conflict { .. })) => continue,
            Err(error) => return Err(error),
        };
        spawn_execute(db.clone(), registry.clone(), run, options.clone());
        started += 1;
    }
    Ok(started)
}

/// Executes a begun run in the background, logging how it ended.
pub fn spawn_execute(
    db: DatabaseConnection,
    registry: Arc<Registry>,
    run: StartedRun,
    options: SyncOptions,
) {
    tokio::spawn(async move {
        match execute(&db, &registry, &run, &options, &|_| {}).await {
            Ok(report) => tracing::info!(
                tenant_id = run.tenant_id,
                plugin = %run.plugin_id,
                run_id = run.run_id,
                outcome = ?report.outcome,
                "sync run finished"
            ),
            Err(error) => tracing::error!(
                tenant_id = run.tenant_id,
                plugin = %run.plugin_id,
                run_id = run.run_id,
                %error,
                "sync run could not be recorded"
            ),
        }
    });
}

/// Why a run stopped early, as its history shows it.
#[derive(Debug)]
struct Failure {
    outcome: RunOutcome,
    error: RunError,
}

impl Failure {
    fn failed(code: impl Into<String>, message: impl Into<String>) -> Failure {
        Failure {
            outcome: RunOutcome::Failed,
            error: RunError {
                code: code.into(),
                message: message.into(),
            },
        }
    }

    /// The connector's own code (`bad-credentials`) when it reported one, else the host's.
    fn from_plugin(error: PluginError) -> Failure {
        match &error {
            PluginError::Reported { code, message, .. } => Failure::failed(code, message),
            other => Failure::failed(other.code(), other.to_string()),
        }
    }

    fn from_registry(error: RegistryError) -> Failure {
        match error {
            RegistryError::Conflict { code, message } => Failure::failed(code, message),
            RegistryError::Store(StoreError::NotFound(what)) => {
                Failure::failed("plugin_not_enabled", format!("{what} not found"))
            }
            other => {
                tracing::error!(error = %other, "sync run: plugin registry failed");
                Failure::failed("internal", "the server failed; see its log")
            }
        }
    }

    fn from_store(error: StoreError) -> Failure {
        match error {
            StoreError::Conflict {
                code: "lease_lost",
                message,
            } => Failure {
                outcome: RunOutcome::Interrupted,
                error: RunError {
                    code: "lease_lost".into(),
                    message,
                },
            },
            other => {
                tracing::error!(error = %other, "sync run: storing a page failed");
                Failure::failed("internal", "the server failed to store a page; see its log")
            }
        }
    }
}

struct Engine<'a> {
    db: &'a DatabaseConnection,
    run: &'a StartedRun,
    options: &'a SyncOptions,
    retries: &'a AtomicI32,
}

impl Engine<'_> {
    fn settings(&self) -> &SyncSettings {
        &self.run.settings
    }

    async fn all_streams(
        &self,
        session: &ErpSession<'_>,
        progress: OnProgress<'_>,
    ) -> Result<(), Failure> {
        let spec = self.with_retries(|| session.spec(self.db)).await?;
        let mut streams = spec.streams;
        // Customers first, so that the orders read next find them linked.
        streams.sort_by_key(|stream| stream.kind != RecordKind::Customer);
        for stream in streams {
            self.one_stream(session, &stream.name, progress).await?;
        }
        Ok(())
    }

    async fn one_stream(
        &self,
        session: &ErpSession<'_>,
        stream: &str,
        progress: OnProgress<'_>,
    ) -> Result<(), Failure> {
        let run_stream_id = rows::start_stream(self.db, self.run, stream, Utc::now())
            .await
            .map_err(Failure::from_store)?;
        let result = self.pages(session, stream, run_stream_id, progress).await;
        let (outcome, error) = match &result {
            Ok(()) => (RunOutcome::Succeeded, None),
            Err(failure) => (failure.outcome, Some(&failure.error)),
        };
        rows::finish_stream(self.db, run_stream_id, outcome, error, Utc::now())
            .await
            .map_err(Failure::from_store)?;
        result
    }

    /// Reads the stream from its committed cursor to its end; page `n + 1` is read while page
    /// `n` is written.
    async fn pages(
        &self,
        session: &ErpSession<'_>,
        stream: &str,
        run_stream_id: Id,
        progress: OnProgress<'_>,
    ) -> Result<(), Failure> {
        let mut cursor = rows::stream_cursor(self.db, self.run.connector_id, stream)
            .await
            .map_err(Failure::from_store)?;
        let mut total = StreamCounts::default();
        let mut page = self.read(session, stream, cursor.clone()).await?;
        loop {
            // An empty page may hand back no cursor: where we stand stays where we resume.
            let next_cursor = page.next_cursor.clone().or_else(|| cursor.clone());
            if page.has_more && next_cursor == cursor {
                return Err(Failure::failed(
                    "connector_stalled",
                    format!("the connector announced more of {stream} but its cursor did not move"),
                ));
            }
            let has_more = page.has_more;
            let write = self.write(
                stream,
                run_stream_id,
                page,
                next_cursor.as_deref(),
                !has_more,
            );
            let (counts, next) = if has_more {
                let (written, next) =
                    tokio::join!(write, self.read(session, stream, next_cursor.clone()));
                (written?, Some(next?))
            } else {
                (write.await?, None)
            };
            total.add(&counts);
            progress(&Progress {
                stream: stream.to_owned(),
                counts: total,
            });
            cursor = next_cursor;
            match next {
                Some(next) => page = next,
                None => return Ok(()),
            }
        }
    }

    /// Imports one page with its cursor, in one transaction, on a task of its own: the next
    /// page's read runs the plugin on this task meanwhile, and the database work must not wait
    /// for the plugin's turn to be polled.
    async fn write(
        &self,
        stream: &str,
        run_stream_id: Id,
        page: Page,
        cursor: Option<&str>,
        stream_finished: bool,
    ) -> Result<StreamCounts, Failure> {
        let write = PageWrite {
            db: self.db.clone(),
            run: self.run.clone(),
            stream: stream.to_owned(),
            run_stream_id,
            cursor: cursor.map(str::to_owned),
            stream_finished,
            lease: self.options.lease,
            retier_delay: self.options.retier_delay,
        };
        match tokio::spawn(write.commit(page)).await {
            Ok(written) => written.map_err(Failure::from_store),
            Err(error) => {
                tracing::error!(%error, "sync run: the page import task failed");
                Err(Failure::failed(
                    "internal",
                    "the server failed to store a page; see its log",
                ))
            }
        }
    }

    async fn read(
        &self,
        session: &ErpSession<'_>,
        stream: &str,
        cursor: Option<String>,
    ) -> Result<Page, Failure> {
        let request = ReadRequest {
            stream: stream.to_owned(),
            cursor,
            page_size: self.settings().page_size,
        };
        self.with_retries(|| session.read(self.db, &request)).await
    }

    /// Tries `call` until it succeeds, fails for good, or used up the attempts; before each
    /// wait the lease is extended past it, so a slow ERP does not cost the connector.
    async fn with_retries<T, F, Fut>(&self, mut call: F) -> Result<T, Failure>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Result<T, PluginError>, RegistryError>>,
    {
        let attempts = self.settings().max_attempts.max(1);
        let mut attempt = 1;
        loop {
            let error = match call().await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(error)) => error,
                Err(error) => return Err(Failure::from_registry(error)),
            };
            if !error.is_retryable() || attempt >= attempts {
                return Err(Failure::from_plugin(error));
            }
            attempt += 1;
            self.retries.fetch_add(1, Ordering::Relaxed);
            let delay = self.settings().retry_delay(attempt);
            let until = Utc::now()
                + self.options.lease
                + Duration::from_std(delay).unwrap_or(Duration::minutes(5));
            rows::renew_lease(self.db, self.run.connector_id, &self.run.lease_owner, until)
                .await
                .map_err(Failure::from_store)?;
            tokio::time::sleep(delay).await;
        }
    }
}

/// One page's import, owning what it needs so it can run on its own task.
struct PageWrite {
    db: DatabaseConnection,
    run: StartedRun,
    stream: String,
    run_stream_id: Id,
    cursor: Option<String>,
    stream_finished: bool,
    lease: Duration,
    retier_delay: Duration,
}

impl PageWrite {
    async fn commit(self, page: Page) -> Result<StreamCounts, StoreError> {
        let now = Utc::now();
        let target = PageTarget {
            run: &self.run,
            run_stream_id: self.run_stream_id,
            stream: &self.stream,
            lease_until: now + self.lease,
            now,
            retier_at: now + self.retier_delay,
        };
        let mut customers = Vec::new();
        let mut orders = Vec::new();
        for record in page.records {
            match record {
                ExternalRecord::Customer(c) => customers.push(c),
                ExternalRecord::Order(o) => orders.push(o),
            }
        }
        let tx = begin_write(&self.db).await?;
        // First, so the page holds the connector's row (and is refused if the lease moved to
        // another process) before it reads anything it decides on.
        let lease = &self.run.lease_owner;
        rows::renew_lease(&tx, self.run.connector_id, lease, target.lease_until).await?;
        let mut counts = StreamCounts {
            pages: 1,
            ..Default::default()
        };
        if !customers.is_empty() {
            let mut applied = rows::apply_customers(&tx, &target, customers).await?;
            applied.pages = 0;
            counts.add(&applied);
        }
        if !orders.is_empty() {
            let mut applied = rows::apply_orders(&tx, &target, orders).await?;
            applied.pages = 0;
            counts.add(&applied);
        }
        let cursor = self.cursor.as_deref();
        rows::commit_page(&tx, &target, cursor, &counts, self.stream_finished).await?;
        tx.commit().await?;
        Ok(counts)
    }
}
