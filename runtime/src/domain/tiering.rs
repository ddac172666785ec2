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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TierRunError {
    /// The plugin's error code, e.g. `trap`, `fuel_exhausted`, `bad_output`.
    pub code: String,
    pub message: String,
    /// The plugin run (see `GET /tenant/plugins/{id}/runs`) that failed.
    pub run_id: Id,
}
