//! Rapport's default tiering policy (`plugins/value-tiering`) compiled natively, for the benchmarks
//! that compare it with its wasm component: the same `policy.rs`, adapted to the host's types as
//! the plugin's `lib.rs` adapts it to the SDK's.

use std::fmt::Write;

use rapport::domain::tiering::{ChurnSignalKind, CustomerFacts, TierDecision};

// Parts of the policy only its own unit tests use.
#[allow(dead_code)]
#[path = "../../../plugins/value-tiering/src/policy.rs"]
pub mod policy;

/// The decisions of the policy with `settings`, one per customer of `page`, in its order.
pub fn evaluate(page: &[CustomerFacts], settings: &policy::Settings) -> Vec<TierDecision> {
    page.iter()
        .map(|facts| {
            let verdict = policy::decide(&policy_facts(facts), settings);
            TierDecision {
                customer_id: facts.customer_id,
                tier: verdict.tier.to_owned(),
                score: verdict.score,
                reasons: verdict.reasons.iter().map(text).collect(),
            }
        })
        .collect()
}

/// A reason as the host keeps it, written into a buffer sized for a typical sentence so that
/// the native build does not pay for growing it (`to_string` starts empty).
fn text(reason: &policy::Reason) -> String {
    let mut text = String::with_capacity(64);
    // Writing into a `String` cannot fail.
    let _ = write!(text, "{reason}");
    text
}

fn policy_facts(facts: &CustomerFacts) -> policy::Facts<'_> {
    policy::Facts {
        lifecycle_stage: &facts.lifecycle_stage,
        tenure_days: facts.tenure_days,
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
        host_signals: facts
            .churn_signals
            .iter()
            .map(|signal| (host_signal(signal.kind), signal.detail.as_str()))
            .collect(),
    }
}

fn host_signal(kind: ChurnSignalKind) -> policy::HostSignal {
    match kind {
        ChurnSignalKind::ContactFalling => policy::HostSignal::ContactFalling,
        ChurnSignalKind::ComplaintsRising => policy::HostSignal::ComplaintsRising,
        ChurnSignalKind::SatisfactionLow => policy::HostSignal::SatisfactionLow,
        ChurnSignalKind::OrdersStopped => policy::HostSignal::OrdersStopped,
    }
}
