//! The tiering shim for plugins built against `rapport:plugin@0.1.0` (their host services are
//! registered by `shims.rs`): its own bindings of the 0.1.0 `tiering-policy` world, a profile
//! as in 0.2.0 but without the churn signals, and decisions converted like 0.2.0's.

use super::since_v0_2::v0_2;
use crate::domain::tiering::CustomerFacts;

/// The 0.1.0 `tiering-policy` world: its own `tiering-types`, every other interface mapped to
/// the latest bindings.
pub mod tiering {
    wasmtime::component::bindgen!({
        path: "../wit/rapport-plugin@0.1.0",
        world: "tiering-policy",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "rapport:plugin/types@0.1.0": crate::plugins::bindings::types,
            "rapport:plugin/log@0.1.0": crate::plugins::bindings::log,
            "rapport:plugin/config@0.1.0": crate::plugins::bindings::config,
            "rapport:plugin/http@0.1.0": crate::plugins::bindings::http,
            "rapport:plugin/clock@0.1.0": crate::plugins::bindings::clock,
        },
    });
}

use tiering::rapport::plugin::tiering_types as v0_1;
pub use tiering::{TieringPolicy, TieringPolicyPre};

/// The 0.1.0 profile: the latest one without the churn signals.
pub fn profile(facts: &CustomerFacts) -> v0_1::CustomerProfile {
    v0_1::CustomerProfile {
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
    }
}

pub fn decision(decision: v0_1::Decision) -> v0_2::Decision {
    v0_2::Decision {
        customer_id: decision.customer_id,
        tier: decision.tier,
        score: decision.score,
        reasons: decision.reasons,
    }
}

pub fn tier(tier: v0_1::Tier) -> v0_2::Tier {
    v0_2::Tier {
        id: tier.id,
        label: tier.label,
        rank: tier.rank,
    }
}
