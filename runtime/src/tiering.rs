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

use crate::domain::Id;
use crate::domain::plugin::PluginKind;
use crate::domain::tiering::{CustomerFacts, TierRunError, TierRunReport};
use crate::registry::{Registry, RegistryError, RegistryResult, TieringSession};
use crate::store::{begin_write, commit, customers, tenants, tiering};

/// Customers per plugin call.
pub const BATCH: u64 = 500;

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
/// after each page. The next page's facts are read while the current page is evaluated and
/// written: reads and the write transaction use different pooled connections. (Evaluating a
/// page while the previous one is written as well was slower on two cores: the three stages
/// then only competed for them.)
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
    let currency = tenant.default_currency.as_str();
    let mut report = TierRunReport::new(plugin_id);
    let session = registry.tiering_session(db, tenant_id, plugin_id).await?;
    let (mut facts, seconds) = next_page(db, tenant_id, currency, 0, now).await?;
    report.timings.facts_seconds += seconds;
    while let Some(after) = facts.last().map(|last| last.customer_id) {
        let mut page_report = TierRunReport::new(plugin_id);
        let (next, evaluated) = tokio::join!(
            next_page(db, tenant_id, currency, after, now),
            evaluate_page(db, &session, tenant_id, &facts, now, &mut page_report),
        );
        report.absorb(page_report);
        if !evaluated? {
            break;
        }
        progress(report.evaluated, total);
        let (next, seconds) = next?;
        report.timings.facts_seconds += seconds;
        facts = next;
    }
    Ok(report)
}

/// One plugin call, then one write transaction with the page's tiers and the record of the
/// call (recorded on its own, the call took SQLite's write lock once more per page). Returns
/// `false` when the plugin failed: the failure is recorded and in the report, and the page's
/// customers keep their tiers.
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
    let decisions = match outcome {
        Ok(decisions) => decisions,
        Err(error) => {
            let run = session.record(db, pending).await?;
            let plugin_id = report.plugin_id.as_str();
            tracing::warn!(tenant_id, plugin_id, %error, "tiering policy failed; run stopped");
            report.error = Some(TierRunError {
                code: error.code().to_owned(),
                message: error.to_string(),
                run_id: run.id,
            });
            return Ok(false);
        }
    };
    let started = Instant::now();
    let tx = begin_write(db).await?;
    let plugin = (report.plugin_id.as_str(), session.version());
    report.changed += tiering::apply(&tx, tenant_id, &decisions, plugin, now).await?;
    session.record(&tx, pending).await?;
    commit(tx).await?;
    report.timings.write_seconds += started.elapsed().as_secs_f64();
    report.evaluated += decisions.len() as u64;
    Ok(true)
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
