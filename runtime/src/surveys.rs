//! The survey worker's half: hands queued deliveries to their tenant's survey-channel plugin
//! (many in flight at once, each tenant's channel resolved once per batch), records each
//! outcome (sent, retry later, failed), sends the one reminder, and runs due campaigns.
//!
//! Claiming and recording are separate short transactions around the plugin calls, so no
//! database lock is held while a channel talks to the network. A claimed delivery is leased to
//! this worker; the channel gets the same delivery id on any resend to recognise duplicates.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;
use sea_orm::DatabaseConnection;

use crate::domain::Id;
use crate::registry::Registry;
use crate::store::surveys::{self, Claimed, SendResult, Step};
use crate::store::{StoreResult, begin_write, commit};

/// Channel calls in flight at once, across tenants.
const IN_FLIGHT: usize = 64;

/// What one dispatch round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DispatchReport {
    pub sent: u64,
    pub reminded: u64,
    pub retrying: u64,
    pub failed: u64,
}

impl DispatchReport {
    pub fn handled(&self) -> u64 {
        self.sent + self.reminded + self.retrying + self.failed
    }
}

/// Claims up to `limit` due deliveries, sends them and records the outcomes.
pub async fn dispatch_due(
    db: &DatabaseConnection,
    registry: &Registry,
    base_url: &str,
    now: DateTime<Utc>,
    limit: u64,
) -> StoreResult<DispatchReport> {
    let tx = begin_write(db).await?;
    let claimed = surveys::claim_due(&tx, now, limit, base_url).await?;
    commit(tx).await?;
    let mut by_channel: BTreeMap<(Id, String), Vec<Claimed>> = BTreeMap::new();
    for claim in claimed {
        by_channel
            .entry((claim.tenant_id, claim.channel.clone()))
            .or_default()
            .push(claim);
    }
    let mut report = DispatchReport::default();
    // Each channel's outcomes are recorded as soon as its sends finish, in their own
    // transaction, so a failure elsewhere cannot undo the record of surveys already sent.
    for ((tenant_id, channel), claims) in by_channel {
        let outcomes = send_all(db, registry, tenant_id, &channel, claims).await?;
        let reminder_after = surveys::settings(db, tenant_id).await?.reminder_after();
        let tx = begin_write(db).await?;
        for (claim, result) in &outcomes {
            surveys::record_send(&tx, claim, result, reminder_after, Utc::now()).await?;
            tally(&mut report, claim, result);
        }
        commit(tx).await?;
    }
    Ok(report)
}

fn tally(report: &mut DispatchReport, claim: &Claimed, result: &SendResult) {
    let counter = match (claim.step, result) {
        (Step::Remind, _) => &mut report.reminded,
        (Step::Send, SendResult::Sent { .. }) => &mut report.sent,
        (Step::Send, SendResult::Retryable(_))
            if crate::domain::survey::retries_after(claim.attempts + 1) =>
        {
            &mut report.retrying
        }
        (Step::Send, _) => &mut report.failed,
    };
    *counter += 1;
}

async fn send_all(
    db: &DatabaseConnection,
    registry: &Registry,
    tenant_id: Id,
    channel: &str,
    claims: Vec<Claimed>,
) -> StoreResult<Vec<(Claimed, SendResult)>> {
    let session = match registry.survey_session(db, tenant_id, channel).await {
        Ok(session) => session,
        // A channel that is missing or disabled may come back, and a database hiccup passes:
        // the deliveries wait and retry.
        Err(error) => {
            let reason = format!("channel {channel} unavailable: {error}");
            return Ok(claims
                .into_iter()
                .map(|claim| (claim, SendResult::Retryable(reason.clone())))
                .collect());
        }
    };
    let session = &session;
    let results: Vec<(Claimed, SendResult)> = futures_util::stream::iter(claims)
        .map(|claim| async move {
            let result = match session.send(db, &claim.delivery).await {
                Ok(Ok(receipt)) => SendResult::Sent {
                    external_id: receipt.external_id,
                },
                Ok(Err(error)) if error.is_retryable() => SendResult::Retryable(error.to_string()),
                Ok(Err(error)) => SendResult::Fatal(error.to_string()),
                Err(error) => SendResult::Retryable(format!("host: {error}")),
            };
            (claim, result)
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    Ok(results)
}

/// Runs the campaigns whose time has come, each in its own transaction.
pub async fn run_due_campaigns(db: &DatabaseConnection, now: DateTime<Utc>) -> StoreResult<u64> {
    let mut ran = 0;
    loop {
        let tx = begin_write(db).await?;
        let Some((tenant_id, campaign_id)) = surveys::due_campaigns(&tx, now, 1).await?.pop()
        else {
            return Ok(ran);
        };
        let campaign = surveys::run_campaign(&tx, tenant_id, campaign_id, now).await?;
        commit(tx).await?;
        tracing::info!(tenant_id, campaign_id, report = ?campaign.last_report, "survey campaign ran");
        ran += 1;
    }
}
