//! The tier job: reads customers' facts page by page, runs the tenant's tiering policy on each
//! page through the plugin host, and writes the decisions back (tier, score, reasons; history
//! and a `customer.tier_changed` event only when the tier changes).
//!
//! Each page is one plugin call and one write transaction. A failing call ends the run with
//! the plugin's error: that page's customers keep their previous tiers, pages before it stay
//! written, and the failure is in the report and the plugin run log.

use std::time::Instant;

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use tokio::sync::mpsc;

use crate::domain::Id;
use crate::domain::plugin::PluginKind;
use crate::domain::tiering::{
    CustomerFacts, PageWritten, TierDecision, TierRunError, TierRunReport,
};
use crate::plugins::PluginError;
use crate::registry::{PendingRun, Registry, RegistryError, RegistryResult, TieringSession};
use crate::store::{begin_write, commit, customers, tenants, tiering};

/// Customers per plugin call.
pub const BATCH: u64 = 2000;

/// The tiering policy to run: `requested`, which must be an enabled tiering plugin of the
/// tenant, or else the tenant's only enabled one.
pub async fn choose_policy(
    db: &DatabaseConnection,
    registry: &Registry,
    tenant_id: Id,
    requested: Option<&str>,
) -> RegistryResult<String> {
    let enabled: Vec<String> = registry
        .tenant_plugins(db, tenant_id)
        .await?
        .into_iter()
        .filter(|p| p.enabled && p.kind == PluginKind::TieringPolicy)
        .map(|p| p.plugin_id)
        .collect();
    match (requested, enabled.as_slice()) {
        (Some(id), _) if enabled.iter().any(|e| e == id) => Ok(id.to_owned()),
        (Some(id), _) => Err(RegistryError::Conflict {
            code: "no_tiering_policy",
            message: format!("{id} is not an enabled tiering policy of this tenant"),
        }),
        (None, [only]) => Ok(only.clone()),
        (None, []) => Err(RegistryError::Conflict {
            code: "no_tiering_policy",
            message: "the tenant has no enabled tiering policy; enable one first".to_owned(),
        }),
        (None, several) => Err(RegistryError::Conflict {
            code: "tiering_policy_ambiguous",
            message: format!(
                "several tiering policies are enabled ({}); name one",
                several.join(", ")
            ),
        }),
    }
}

/// Re-tiers every customer of the tenant with `plugin_id`; `progress(done, total)` is called
/// after each page. A reader task reads the next pages' facts while this one evaluates and
/// writes the current page (one transaction per page, on another pooled connection). Writing
/// a page while evaluating the next as well was slower: on two cores the three stages only
/// competed for them.
pub async fn run(
    db: &DatabaseConnection,
    registry: &Registry,
    tenant_id: Id,
    plugin_id: &str,
    mut progress: impl FnMut(u64, u64),
) -> RegistryResult<TierRunReport> {
    let tenant = tenants::get(db, tenant_id).await?;
    let total = customers::count(db, tenant_id).await?;
    let now = Utc::now();
    let mut report = TierRunReport::new(plugin_id);
    let session = registry.tiering_session(db, tenant_id, plugin_id).await?;
    let mut pages = read_ahead(db.clone(), tenant_id, tenant.default_currency, now);
    while let Some(page) = pages.recv().await {
        let (facts, seconds) = page?;
        report.timings.facts_seconds += seconds;
        if facts.is_empty() {
            break;
        }
        if !evaluate_page(db, &session, tenant_id, &facts, now, &mut report).await? {
            break;
        }
        progress(report.evaluated, total);
    }
    Ok(report)
}

/// Pages of facts the reader may have ready before the job takes them.
const READ_AHEAD: usize = 2;

/// Reads the tenant's customers' facts page by page, in id order, on a task of its own; it
/// stops after the last page, after an error (which it passes on), or when the receiver is
/// dropped.
fn read_ahead(
    db: DatabaseConnection,
    tenant_id: Id,
    currency: String,
    now: DateTime<Utc>,
) -> mpsc::Receiver<RegistryResult<(Vec<CustomerFacts>, f64)>> {
    let (pages, receiver) = mpsc::channel(READ_AHEAD);
    tokio::spawn(async move {
        let mut after = 0;
        loop {
            let page = next_page(&db, tenant_id, &currency, after, now).await;
            let last = match &page {
                Ok((facts, _)) => facts.last().map(|last| last.customer_id),
                Err(_) => None,
            };
            if pages.send(page).await.is_err() {
                return;
            }
            match last {
                Some(last) => after = last,
                None => return,
            }
        }
    });
    receiver
}

/// One plugin call, then one write transaction with the page's tiers. Returns `false` when
/// the plugin failed: the failure is recorded and in the report, and the page's customers
/// keep their tiers.
async fn evaluate_page(
    db: &DatabaseConnection,
    session: &TieringSession<'_>,
    tenant_id: Id,
    facts: &[CustomerFacts],
    now: DateTime<Utc>,
    report: &mut TierRunReport,
) -> RegistryResult<bool> {
    if facts.is_empty() {
        return Ok(true);
    }
    let started = Instant::now();
    let (pending, outcome) = session.decide(facts).await?;
    report.timings.plugin_seconds += started.elapsed().as_secs_f64();
    report.plugin_version = session.version().to_owned();
    report.batches += 1;
    match outcome {
        Ok(decisions) => {
            let written = write_page(db, session, tenant_id, &decisions, pending, now);
            report.add_written(written.await?);
            Ok(true)
        }
        Err(error) => {
            record_failure(db, session, pending, error, report).await?;
            Ok(false)
        }
    }
}

/// A failed call ends the run: it is recorded and in the report, and the page's customers
/// keep their tiers.
async fn record_failure(
    db: &DatabaseConnection,
    session: &TieringSession<'_>,
    pending: PendingRun,
    error: PluginError,
    report: &mut TierRunReport,
) -> RegistryResult<()> {
    let run = session.record(db, pending).await?;
    let plugin_id = report.plugin_id.as_str();
    tracing::warn!(tenant_id = session.tenant_id(), plugin_id, %error, "tiering policy failed; run stopped");
    report.error = Some(TierRunError {
        code: error.code().to_owned(),
        message: error.to_string(),
        run_id: run.id,
    });
    Ok(())
}

/// One write transaction with a page's tiers and the record of its call (recorded on its own,
/// the call took SQLite's write lock once more per page).
async fn write_page(
    db: &DatabaseConnection,
    session: &TieringSession<'_>,
    tenant_id: Id,
    decisions: &[TierDecision],
    pending: PendingRun,
    now: DateTime<Utc>,
) -> RegistryResult<PageWritten> {
    let started = Instant::now();
    let tx = begin_write(db).await?;
    let plugin = (session.plugin_id(), session.version());
    let changed = tiering::apply(&tx, tenant_id, decisions, plugin, now).await?;
    session.record(&tx, pending).await?;
    commit(tx).await?;
    Ok(PageWritten {
        evaluated: decisions.len() as u64,
        changed,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The facts of the page after `after`, and the seconds it took to read them.
async fn next_page(
    db: &DatabaseConnection,
    tenant_id: Id,
    currency: &str,
    after: Id,
    now: DateTime<Utc>,
) -> RegistryResult<(Vec<CustomerFacts>, f64)> {
    let started = Instant::now();
    let page = tiering::subjects_page(db, tenant_id, after, BATCH).await?;
    let facts = tiering::facts_of(db, tenant_id, currency, page, now).await?;
    Ok((facts, started.elapsed().as_secs_f64()))
}

/// Re-tiers the tenant's customers among `customer_ids` (what events asked for).
pub async fn run_for(
    db: &DatabaseConnection,
    registry: &Registry,
    tenant_id: Id,
    plugin_id: &str,
    customer_ids: &[Id],
) -> RegistryResult<TierRunReport> {
    let tenant = tenants::get(db, tenant_id).await?;
    let now = Utc::now();
    let mut report = TierRunReport::new(plugin_id);
    let session = registry.tiering_session(db, tenant_id, plugin_id).await?;
    for chunk in customer_ids.chunks(BATCH as usize) {
        let rows = tiering::subjects_by_id(db, tenant_id, chunk).await?;
        let facts = tiering::facts_of(db, tenant_id, &tenant.default_currency, rows, now).await?;
        if !evaluate_page(db, &session, tenant_id, &facts, now, &mut report).await? {
            break;
        }
    }
    Ok(report)
}
