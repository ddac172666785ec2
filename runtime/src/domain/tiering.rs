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
}

impl TierRunReport {
    /// Adds a part of the run (one batch) to the whole.
    pub fn absorb(&mut self, part: TierRunReport) {
        if !part.plugin_version.is_empty() {
            self.plugin_version = part.plugin_version;
        }
        self.evaluated += part.evaluated;
        self.changed += part.changed;
        self.batches += part.batches;
        self.error = self.error.take().or(part.error);
        self.timings.facts_seconds += part.timings.facts_seconds;
        self.timings.plugin_seconds += part.timings.plugin_seconds;
        self.timings.write_seconds += part.timings.write_seconds;
    }
}

/// Where a run's time went, in seconds. Reading the next page overlaps with evaluating and
/// writing the current one, so the parts can add up to more than the run.
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
