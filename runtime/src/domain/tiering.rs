//! Tiering: the facts a policy sees about a customer, and its explained decision.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Id;

/// What a tiering policy knows about one customer. Money is in the tenant's default currency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CustomerFacts {
    pub customer_id: Id,
    pub lifecycle_stage: String,
    pub tenure_days: u32,
    pub tags: Vec<String>,
    #[serde(default)]
    pub custom_fields_json: String,
    pub order_value_90d: f64,
    pub order_value_365d: f64,
    pub order_count_90d: u32,
    pub order_count_365d: u32,
    pub days_since_last_order: Option<u32>,
    pub interaction_count_30d: u32,
    pub interaction_count_90d: u32,
    pub days_since_last_contact: Option<u32>,
    pub open_complaints: u32,
    pub complaints_90d: u32,
    pub latest_csat: Option<f64>,
    pub latest_nps: Option<f64>,
    pub latest_ces: Option<f64>,
    /// What the host found in the customer's own history (see [`churn_signals`]).
    #[serde(default)]
    pub churn_signals: Vec<ChurnSignal>,
}

/// A churn-risk pattern the host saw in one customer's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChurnSignalKind {
    ContactFalling,
    ComplaintsRising,
    SatisfactionLow,
    OrdersStopped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChurnSignal {
    pub kind: ChurnSignalKind,
    /// The evidence, for a manager to read.
    pub detail: String,
}

/// The history the host derives churn signals from, each measured against the customer's own
/// past rather than a tenant-wide norm.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SignalInputs {
    pub interactions_90d: u32,
    /// Interactions in the 365 days before the last 90.
    pub interactions_prior_365d: u32,
    pub complaints_90d: u32,
    /// Complaints in the 90 days before the last 90.
    pub complaints_prior_90d: u32,
    pub latest_csat: Option<f64>,
    pub latest_nps: Option<f64>,
    /// Orders over the last 730 days, and days since the first of them.
    pub orders_730d: u32,
    pub days_since_first_order_730d: Option<u32>,
    pub days_since_last_order: Option<u32>,
}

/// Below this many contacts a quarter, a customer has no contact rhythm to fall from.
const MIN_QUARTERLY_CONTACTS: f64 = 2.0;
/// Orders are "stopped" only after at least this long, whatever the usual interval.
const MIN_STOPPED_DAYS: f64 = 60.0;

/// The churn signals in `inputs`: contact falling below half the customer's own quarterly rate
/// of the prior year, complaints rising quarter on quarter, a low latest CSAT (≤ 2) or NPS
/// (≤ 6), and orders stopped for over twice the customer's usual interval.
pub fn churn_signals(inputs: &SignalInputs) -> Vec<ChurnSignal> {
    let mut signals = Vec::new();
    let mut signal = |kind, detail: String| signals.push(ChurnSignal { kind, detail });
    let quarterly = f64::from(inputs.interactions_prior_365d) * 90.0 / 365.0;
    if quarterly >= MIN_QUARTERLY_CONTACTS && f64::from(inputs.interactions_90d) < quarterly / 2.0 {
        signal(
            ChurnSignalKind::ContactFalling,
            format!(
                "{} contacts in 90 days against {quarterly:.1} a quarter over the year before",
                inputs.interactions_90d
            ),
        );
    }
    if inputs.complaints_90d > inputs.complaints_prior_90d {
        signal(
            ChurnSignalKind::ComplaintsRising,
            format!(
                "{} complaints in 90 days, {} in the 90 days before",
                inputs.complaints_90d, inputs.complaints_prior_90d
            ),
        );
    }
    match (inputs.latest_csat, inputs.latest_nps) {
        (Some(csat), _) if csat <= 2.0 => signal(
            ChurnSignalKind::SatisfactionLow,
            format!("latest CSAT {csat}"),
        ),
        (_, Some(nps)) if nps <= 6.0 => signal(
            ChurnSignalKind::SatisfactionLow,
            format!("latest NPS {nps} (detractor)"),
        ),
        _ => {}
    }
    if let (Some(first), Some(last)) = (
        inputs.days_since_first_order_730d,
        inputs.days_since_last_order,
    ) && inputs.orders_730d >= 2
    {
        let usual = f64::from(first.saturating_sub(last)) / f64::from(inputs.orders_730d - 1);
        let waited = f64::from(last);
        if waited > (2.0 * usual).max(MIN_STOPPED_DAYS) {
            signal(
                ChurnSignalKind::OrdersStopped,
                format!("no order for {last} days; usually one every {usual:.0} days"),
            );
        }
    }
    signals
}

/// A policy's explained decision for one customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TierDecision {
    pub customer_id: Id,
    pub tier: String,
    pub score: f64,
    pub reasons: Vec<String>,
}

/// One tier of a policy's catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TierDefinition {
    pub id: String,
    pub label: String,
    pub rank: u32,
}

/// One change of a customer's tier, as the history shows it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TierChange {
    pub id: Id,
    pub customer_id: Id,
    /// `null` for the customer's first tier.
    pub from_tier: Option<String>,
    pub to_tier: String,
    pub score: f64,
    pub reasons: Vec<String>,
    pub plugin_id: String,
    pub plugin_version: String,
    pub changed_at: chrono::DateTime<chrono::Utc>,
}

/// What one tiering run did.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TierRunReport {
    pub plugin_id: String,
    pub plugin_version: String,
    /// Customers the policy decided on.
    pub evaluated: u64,
    /// Of those, customers whose tier changed (each got a history row and an event).
    pub changed: u64,
    pub batches: u64,
    /// `null` when every batch succeeded. A failed batch keeps its customers' previous tiers
    /// and ends the run; batches before it are kept.
    pub error: Option<TierRunError>,
    pub timings: TierRunTimings,
}

impl TierRunReport {
    pub fn new(plugin_id: &str) -> TierRunReport {
        TierRunReport {
            plugin_id: plugin_id.to_owned(),
            plugin_version: String::new(),
            evaluated: 0,
            changed: 0,
            batches: 0,
            error: None,
            timings: TierRunTimings::default(),
        }
    }

    /// Counts a written page in the whole.
    pub fn add_written(&mut self, page: PageWritten) {
        self.evaluated += page.evaluated;
        self.changed += page.changed;
        self.timings.write_seconds += page.seconds;
    }
}

/// One page's decisions, written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PageWritten {
    pub evaluated: u64,
    pub changed: u64,
    pub seconds: f64,
}

/// Where a run's time went, in seconds. Reading the next pages, evaluating the current one and
/// writing the previous one overlap, so the parts can add up to more than the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct TierRunTimings {
    /// Reading customers and aggregating their facts.
    pub facts_seconds: f64,
    /// Plugin calls, including the registry's bookkeeping (grants, the run log).
    pub plugin_seconds: f64,
    /// Writing tiers, history and events.
    pub write_seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TierRunError {
    /// The plugin's error code, e.g. `trap`, `fuel_exhausted`, `bad_output`.
    pub code: String,
    pub message: String,
    /// The plugin run (see `GET /tenant/plugins/{id}/runs`) that failed.
    pub run_id: Id,
}

/// How a tenant serves one tier: how often its customers are revisited, and the ticket targets
/// (used by the service loop).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TierServicePolicy {
    pub tier: String,
    /// A revisit task is due this many days after the last contact.
    pub revisit_every_days: u32,
    pub first_response_hours: u32,
    pub resolution_hours: u32,
    /// `false` while the tier uses Rapport's defaults.
    pub customised: bool,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierServicePolicyInput {
    /// 1–3650.
    pub revisit_every_days: u32,
    /// 1–720.
    pub first_response_hours: u32,
    /// 1–2160, at least `first_response_hours`.
    pub resolution_hours: u32,
}

impl TierServicePolicyInput {
    pub fn validate(self, tier: &str) -> Result<TierServicePolicy, super::ValidationErrors> {
        let mut errors = super::ValidationErrors::default();
        super::validation::identifier(&mut errors, "tier", tier, 50);
        let mut within = |field: &str, value: u32, max: u32| {
            if !(1..=max).contains(&value) {
                errors.add(
                    field,
                    "out_of_range",
                    format!("{field} must be between 1 and {max}"),
                );
            }
        };
        within("revisit_every_days", self.revisit_every_days, 3650);
        within("first_response_hours", self.first_response_hours, 720);
        within("resolution_hours", self.resolution_hours, 2160);
        if self.resolution_hours < self.first_response_hours {
            errors.add(
                "resolution_hours",
                "before_first_response",
                "resolution_hours must be at least first_response_hours",
            );
        }
        errors.into_result(TierServicePolicy {
            tier: tier.to_owned(),
            revisit_every_days: self.revisit_every_days,
            first_response_hours: self.first_response_hours,
            resolution_hours: self.resolution_hours,
            customised: true,
        })
    }
}

/// The seed material's service levels per tier: high-value customers get monthly contact and
/// the fastest tickets, potential ones quarterly nurturing, churn risks weekly follow-up.
pub fn default_service_policies() -> Vec<TierServicePolicy> {
    [
        ("high-value", 30, 2, 24),
        ("potential", 90, 4, 48),
        ("regular", 180, 8, 72),
        ("churn-risk", 7, 2, 24),
    ]
    .into_iter()
    .map(|(tier, revisit, response, resolution)| TierServicePolicy {
        tier: tier.to_owned(),
        revisit_every_days: revisit,
        first_response_hours: response,
        resolution_hours: resolution,
        customised: false,
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(inputs: &SignalInputs) -> Vec<ChurnSignalKind> {
        churn_signals(inputs).into_iter().map(|s| s.kind).collect()
    }

    #[test]
    fn signals_compare_a_customer_with_its_own_past() {
        let steady = SignalInputs {
            interactions_90d: 5,
            interactions_prior_365d: 20,
            orders_730d: 9,
            days_since_first_order_730d: Some(720),
            days_since_last_order: Some(40),
            latest_csat: Some(4.0),
            ..SignalInputs::default()
        };
        assert!(kinds(&steady).is_empty());
        let quiet = SignalInputs {
            interactions_90d: 2,
            ..steady.clone()
        };
        assert_eq!(kinds(&quiet), [ChurnSignalKind::ContactFalling]);
        assert_eq!(
            churn_signals(&quiet)[0].detail,
            "2 contacts in 90 days against 4.9 a quarter over the year before"
        );
        // A customer who never talked much has no rhythm to fall from.
        let rare = SignalInputs {
            interactions_90d: 0,
            interactions_prior_365d: 4,
            ..steady.clone()
        };
        assert!(kinds(&rare).is_empty());
        let stopped = SignalInputs {
            days_since_last_order: Some(200),
            ..steady.clone()
        };
        assert_eq!(kinds(&stopped), [ChurnSignalKind::OrdersStopped]);
        let unhappy = SignalInputs {
            latest_csat: Some(2.0),
            complaints_90d: 2,
            complaints_prior_90d: 1,
            ..steady.clone()
        };
        assert_eq!(
            kinds(&unhappy),
            [
                ChurnSignalKind::ComplaintsRising,
                ChurnSignalKind::SatisfactionLow
            ]
        );
        let detractor = SignalInputs {
            latest_csat: None,
            latest_nps: Some(6.0),
            ..steady
        };
        assert_eq!(
            churn_signals(&detractor)[0].detail,
            "latest NPS 6 (detractor)"
        );
    }
}
