//! The tiering shim for plugins built against `rapport:plugin@0.2.0` (their host services are
//! registered by `shims.rs`): its own bindings of the 0.2.0 `tiering-policy` world, whose
//! profiles and decisions are records with their own strings and lists, converted here from
//! and into the host's types. 0.1.0 decisions have the same shape and come through here too.

use super::error::PluginError;
use crate::domain::tiering::{
    ChurnSignal, ChurnSignalKind, CustomerFacts, TierDecision, TierDefinition,
};

/// The 0.2.0 `tiering-policy` world: its own `tiering-types`, every other interface mapped to
/// the latest bindings.
pub mod tiering {
    wasmtime::component::bindgen!({
        path: "../wit/rapport-plugin@0.2.0",
        world: "tiering-policy",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "rapport:plugin/types@0.2.0": crate::plugins::bindings::types,
            "rapport:plugin/log@0.2.0": crate::plugins::bindings::log,
            "rapport:plugin/config@0.2.0": crate::plugins::bindings::config,
            "rapport:plugin/http@0.2.0": crate::plugins::bindings::http,
            "rapport:plugin/clock@0.2.0": crate::plugins::bindings::clock,
        },
    });
}

pub(crate) use tiering::rapport::plugin::tiering_types as v0_2;
pub use tiering::{TieringPolicy, TieringPolicyPre};

pub fn profile(facts: &CustomerFacts) -> v0_2::CustomerProfile {
    v0_2::CustomerProfile {
        customer_id: facts.customer_id,
        lifecycle_stage: facts.lifecycle_stage.clone(),
        tenure_days: facts.tenure_days,
        tags: facts.tags.clone(),
        custom_fields_json: facts.custom_fields_json.clone(),
        order_value_90d: facts.order_value_90d,
        order_value_365d: facts.order_value_365d,
        order_count_90d: facts.order_count_90d,
        order_count_365d: facts.order_count_365d,
        days_since_last_order: facts.days_since_last_order,
        interaction_count_30d: facts.interaction_count_30d,
        interaction_count_90d: facts.interaction_count_90d,
        days_since_last_contact: facts.days_since_last_contact,
        open_complaints: facts.open_complaints,
        complaints_90d: facts.complaints_90d,
        latest_csat: facts.latest_csat,
        latest_nps: facts.latest_nps,
        latest_ces: facts.latest_ces,
        churn_signals: facts.churn_signals.iter().map(signal).collect(),
    }
}

fn signal(signal: &ChurnSignal) -> v0_2::ChurnSignal {
    v0_2::ChurnSignal {
        kind: match signal.kind {
            ChurnSignalKind::ContactFalling => v0_2::ChurnSignalKind::ContactFalling,
            ChurnSignalKind::ComplaintsRising => v0_2::ChurnSignalKind::ComplaintsRising,
            ChurnSignalKind::SatisfactionLow => v0_2::ChurnSignalKind::SatisfactionLow,
            ChurnSignalKind::OrdersStopped => v0_2::ChurnSignalKind::OrdersStopped,
        },
        detail: signal.detail.clone(),
    }
}

pub fn tier(tier: v0_2::Tier) -> TierDefinition {
    TierDefinition {
        id: tier.id,
        label: tier.label,
        rank: tier.rank,
    }
}

/// The answer must fit the output cap and decide for exactly the customers asked about.
pub fn decisions(
    decisions: Vec<v0_2::Decision>,
    batch: &[CustomerFacts],
    output_cap: usize,
) -> Result<Vec<TierDecision>, PluginError> {
    let size: usize = decisions
        .iter()
        .map(|d| 16 + d.tier.len() + d.reasons.iter().map(String::len).sum::<usize>())
        .sum();
    if size > output_cap {
        return Err(PluginError::OutputTooLarge(output_cap));
    }
    super::tiering::check_batch_order(decisions.iter().map(|d| d.customer_id), batch)?;
    Ok(decisions
        .into_iter()
        .map(|d| TierDecision {
            customer_id: d.customer_id,
            tier: d.tier,
            score: d.score,
            reasons: d.reasons,
        })
        .collect())
}
