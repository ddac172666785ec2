//! The background worker of `rapport serve`: on every tick it hands new events to the
//! automation engine, runs the recurring jobs that are due (each under a lease, so one process
//! runs each occurrence even when several share the database), re-tiers the customers whose
//! debounce has settled, and checks the SLA of tickets whose next at-risk or due instant has
//! come. Every step is bounded, so one tick never runs away.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use futures_util::FutureExt;
use sea_orm::DatabaseConnection;
use tracing::Instrument;

use crate::automation;
use crate::registry::Registry;
use crate::store::schedules::{self, Claim, TASK_REMINDERS, TIERING};
use crate::store::{StoreError, StoreResult, begin_write, commit, events, tasks, tickets, tiering};
use crate::tiering as tier_job;

/// How the worker paces itself.
#[derive(Debug, Clone)]
pub struct JobOptions {
    pub tick: StdDuration,
    /// How long a claimed job stays leased to this process (longer than any job runs).
    pub lease: Duration,
    /// How long a customer's facts must settle after an event before it is re-tiered.
    pub debounce: Duration,
    /// Tasks due within this window get a `task.due_soon` event.
    pub due_soon: Duration,
    /// This process's name in leases and in `last_run_by`.
    pub owner: String,
    /// The base of survey response links when the tenant sets none, e.g.
    /// `https://crm.example.com`; `rapport serve` uses its own address.
    pub public_base_url: Option<String>,
    /// How scheduled ERP syncs identify themselves and hold their connector.
    pub sync: crate::sync::SyncOptions,
}

impl Default for JobOptions {
    fn default() -> Self {
        JobOptions {
            tick: StdDuration::from_secs(15),
            lease: Duration::minutes(30),
            debounce: Duration::seconds(60),
            due_soon: Duration::hours(24),
            owner: format!("{}-{}", hostname(), std::process::id()),
            public_base_url: None,
            sync: crate::sync::SyncOptions::default(),
        }
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "rapport".to_owned())
}

/// Events and re-tier requests handled per transaction.
const BATCH: u64 = 200;
/// Recurring jobs run per tick; the rest wait for the next tick.
const JOBS_PER_TICK: usize = 20;
/// Batches per step and tick, so a backlog drains over several ticks.
const BATCHES_PER_TICK: usize = 10;

/// Runs the worker until the returned handle is aborted or dropped with the runtime.
pub fn spawn(
    db: DatabaseConnection,
    registry: Arc<Registry>,
    options: JobOptions,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(options.tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            // A panic in one tick (a bug, or stored data no check foresaw) must not stop
            // background work for every tenant of the process: it is logged, and the next tick
            // runs; what it held in a transaction is rolled back, and its lease expires.
            if AssertUnwindSafe(tick(&db, &registry, &options))
                .catch_unwind()
                .await
                .is_err()
            {
                tracing::error!("a worker tick panicked; the worker goes on with the next tick");
            }
            if let Err(error) = crate::sync::start_due(&db, &registry, &options.sync).await {
                tracing::error!(%error, "starting scheduled ERP syncs failed");
            }
        }
    })
}

/// One round of everything due; errors are logged and retried on the next tick.
pub async fn tick(db: &DatabaseConnection, registry: &Registry, options: &JobOptions) {
    if let Err(error) = dispatch_events(db, options).await {
        tracing::error!(%error, "event dispatch failed");
    }
    // One job per claim, so that processes sharing the database share the due jobs too.
    for _ in 0..JOBS_PER_TICK {
        match schedules::claim_due(db, &options.owner, Utc::now(), options.lease, 1).await {
            Ok(claims) if claims.is_empty() => break,
            Ok(claims) => {
                for claim in claims {
                    run_claimed(db, registry, options, &claim).await;
                }
            }
            Err(error) => {
                tracing::error!(%error, "claiming due jobs failed");
                break;
            }
        }
    }
    if let Err(error) = retier_requested(db, registry).await {
        tracing::error!(%error, "re-tiering after events failed");
    }
    if let Err(error) = check_ticket_slas(db).await {
        tracing::error!(%error, "checking ticket SLAs failed");
    }
    if let Err(error) = crate::surveys::run_due_campaigns(db, Utc::now()).await {
        tracing::error!(%error, "running survey campaigns failed");
    }
    if let Err(error) = deliver_surveys(db, registry, options).await {
        tracing::error!(%error, "delivering surveys failed");
    }
}

/// Sends due surveys and reminders, a batch at a time.
async fn deliver_surveys(
    db: &DatabaseConnection,
    registry: &Registry,
    options: &JobOptions,
) -> StoreResult<()> {
    let base_url = options
        .public_base_url
        .as_deref()
        .unwrap_or("http://127.0.0.1:8080");
    for _ in 0..BATCHES_PER_TICK {
        let report =
            crate::surveys::dispatch_due(db, registry, base_url, Utc::now(), BATCH).await?;
        if report.handled() < BATCH {
            return Ok(());
        }
    }
    Ok(())
}

/// Warns about tickets whose SLA is at risk and escalates breached ones, a batch per
/// transaction, so that each state change happens once even with several workers.
async fn check_ticket_slas(db: &DatabaseConnection) -> StoreResult<()> {
    for _ in 0..BATCHES_PER_TICK {
        let tx = begin_write(db).await?;
        let checked = tickets::sweep_sla(&tx, Utc::now(), BATCH).await?;
        commit(tx).await?;
        if checked < BATCH as usize {
            return Ok(());
        }
    }
    Ok(())
}

async fn dispatch_events(db: &DatabaseConnection, options: &JobOptions) -> StoreResult<()> {
    for _ in 0..BATCHES_PER_TICK {
        let tx = begin_write(db).await?;
        let batch = events::claim_unhandled(&tx, BATCH).await?;
        if batch.is_empty() {
            return Ok(());
        }
        let now = Utc::now();
        for event in &batch {
            match automation::handle_event(&tx, event, options.debounce, now).await {
                Ok(_) => {}
                // A failed statement may have aborted the transaction: retry the batch later.
                Err(error @ StoreError::Database(_)) => return Err(error),
                // The event cannot be acted on (e.g. nobody to assign a task to): retrying
                // would fail alike and hold up every later event, so it is logged and passed.
                Err(error) => {
                    tracing::warn!(event_id = event.id, kind = %event.kind, %error, "event not acted on")
                }
            }
        }
        events::mark_handled(&tx, batch.iter().map(|e| e.id).collect()).await?;
        commit(tx).await?;
    }
    Ok(())
}

async fn run_claimed(
    db: &DatabaseConnection,
    registry: &Registry,
    options: &JobOptions,
    claim: &Claim,
) {
    let span = tracing::info_span!("job", tenant_id = claim.tenant_id, job = %claim.job);
    let outcome = match run_job(db, registry, options, claim).instrument(span).await {
        Ok(outcome) => outcome,
        Err(error) => {
            tracing::error!(tenant_id = claim.tenant_id, job = %claim.job, %error, "job failed");
            format!("failed: {error}")
        }
    };
    tracing::info!(tenant_id = claim.tenant_id, job = %claim.job, %outcome, "job finished");
    match schedules::complete(db, claim, &options.owner, &outcome, Utc::now()).await {
        Ok(true) => {}
        Ok(false) => tracing::warn!("the job's lease expired before it finished"),
        Err(error) => tracing::error!(%error, "recording the job's end failed"),
    }
}

async fn run_job(
    db: &DatabaseConnection,
    registry: &Registry,
    options: &JobOptions,
    claim: &Claim,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let tenant_id = claim.tenant_id;
    if let Some(rule_id) = claim.job.strip_prefix("rule:") {
        let rule_id = rule_id.parse()?;
        let rule = crate::store::automation::get(db, tenant_id, rule_id).await?;
        let report = automation::run_rule(db, tenant_id, &rule, Utc::now()).await?;
        let failed = match report.failed {
            0 => String::new(),
            n => format!(", failed {n}"),
        };
        return Ok(format!(
            "evaluated {}, fired {}, skipped {}{failed}",
            report.evaluated, report.fired, report.skipped
        ));
    }
    match claim.job.as_str() {
        TIERING => {
            let plugin = tier_job::choose_policy(db, registry, tenant_id, None).await?;
            let report = tier_job::run(db, registry, tenant_id, &plugin, |_, _| {}).await?;
            Ok(match report.error {
                Some(error) => format!("failed: {} ({})", error.message, error.code),
                None => format!("evaluated {}, changed {}", report.evaluated, report.changed),
            })
        }
        TASK_REMINDERS => {
            let tx = begin_write(db).await?;
            let (soon, overdue) =
                tasks::remind(&tx, tenant_id, Utc::now(), options.due_soon).await?;
            commit(tx).await?;
            Ok(format!("due soon {soon}, overdue {overdue}"))
        }
        other => Err(format!("unknown job {other}").into()),
    }
}

/// Re-tiers customers whose re-tier requests are due, a tenant per batch. A tenant without one
/// enabled tiering policy drops its requests: the next full run covers them.
async fn retier_requested(db: &DatabaseConnection, registry: &Registry) -> StoreResult<()> {
    for _ in 0..BATCHES_PER_TICK {
        let tx = begin_write(db).await?;
        let taken = tiering::take_due_requests(&tx, Utc::now(), BATCH).await?;
        commit(tx).await?;
        let Some((tenant_id, customers)) = taken else {
            return Ok(());
        };
        let plugin = match tier_job::choose_policy(db, registry, tenant_id, None).await {
            Ok(plugin) => plugin,
            Err(error) => {
                tracing::info!(tenant_id, %error, "no tiering policy to re-tier with");
                continue;
            }
        };
        match tier_job::run_for(db, registry, tenant_id, &plugin, &customers).await {
            Ok(report) if report.error.is_some() => {
                tracing::warn!(tenant_id, error = ?report.error, "incremental re-tier failed");
            }
            Ok(_) => {}
            Err(error) => tracing::error!(tenant_id, %error, "incremental re-tier failed"),
        }
    }
    Ok(())
}
