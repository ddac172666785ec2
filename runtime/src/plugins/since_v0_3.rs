//! The tiering shim for plugins built against `rapport:plugin@0.3.0` (their host services are
//! registered by `shims.rs`): its own bindings of the 0.3.0 `tiering-policy` world, which reads
//! every column of a batch and answers with its reasons as finished texts, converted here from
//! the latest batch and into the host's decisions.

use super::bindings::tiering_types as latest;
use super::error::PluginError;
use super::tiering::check_batch_order;
use crate::domain::tiering::{CustomerFacts, TierDecision, TierDefinition};

/// The 0.3.0 `tiering-policy` world: its own `tiering-types`, every other interface mapped to
/// the latest bindings.
pub mod tiering {
    wasmtime::component::bindgen!({
        path: "../wit/rapport-plugin@0.3.0",
        world: "tiering-policy",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "rapport:plugin/types@0.3.0": crate::plugins::bindings::types,
            "rapport:plugin/log@0.3.0": crate::plugins::bindings::log,
            "rapport:plugin/config@0.3.0": crate::plugins::bindings::config,
            "rapport:plugin/http@0.3.0": crate::plugins::bindings::http,
            "rapport:plugin/clock@0.3.0": crate::plugins::bindings::clock,
        },
    });
}

pub(crate) use tiering::rapport::plugin::tiering_types as v0_3;
pub use tiering::{TieringPolicy, TieringPolicyPre};

/// A latest batch with every column filled, as 0.3.0 calls it (the same columns).
pub(crate) fn profile_batch(batch: latest::ProfileBatch) -> v0_3::ProfileBatch {
    v0_3::ProfileBatch {
        customer_ids: batch.customer_ids,
        lifecycle_stages: batch.lifecycle_stages.into_iter().map(stage).collect(),
        tenure_days: batch.tenure_days,
        order_value_90d: batch.order_value_90d,
        order_value_365d: batch.order_value_365d,
        order_count_90d: batch.order_count_90d,
        order_count_365d: batch.order_count_365d,
        days_since_last_order: batch.days_since_last_order,
        interaction_count_30d: batch.interaction_count_30d,
        interaction_count_90d: batch.interaction_count_90d,
        days_since_last_contact: batch.days_since_last_contact,
        open_complaints: batch.open_complaints,
        complaints_90d: batch.complaints_90d,
        latest_csat: batch.latest_csat,
        latest_nps: batch.latest_nps,
        latest_ces: batch.latest_ces,
        custom_fields_json: texts(batch.custom_fields_json),
        tags: texts(batch.tags),
        tag_ends: batch.tag_ends,
        signal_kinds: batch.signal_kinds.into_iter().map(signal_kind).collect(),
        signal_details: texts(batch.signal_details),
        signal_ends: batch.signal_ends,
    }
}

fn stage(stage: latest::LifecycleStage) -> v0_3::LifecycleStage {
    match stage {
        latest::LifecycleStage::Lead => v0_3::LifecycleStage::Lead,
        latest::LifecycleStage::Prospect => v0_3::LifecycleStage::Prospect,
        latest::LifecycleStage::Customer => v0_3::LifecycleStage::Customer,
        latest::LifecycleStage::Churned => v0_3::LifecycleStage::Churned,
    }
}

fn signal_kind(kind: latest::ChurnSignalKind) -> v0_3::ChurnSignalKind {
    match kind {
        latest::ChurnSignalKind::ContactFalling => v0_3::ChurnSignalKind::ContactFalling,
        latest::ChurnSignalKind::ComplaintsRising => v0_3::ChurnSignalKind::ComplaintsRising,
        latest::ChurnSignalKind::SatisfactionLow => v0_3::ChurnSignalKind::SatisfactionLow,
        latest::ChurnSignalKind::OrdersStopped => v0_3::ChurnSignalKind::OrdersStopped,
    }
}

fn texts(texts: latest::Texts) -> v0_3::Texts {
    v0_3::Texts {
        text: texts.text,
        ends: texts.ends,
    }
}

pub fn tier(tier: v0_3::Tier) -> TierDefinition {
    TierDefinition {
        id: tier.id,
        label: tier.label,
        rank: tier.rank,
    }
}

/// The plugin's texts, split where its `ends` say, or why they cannot be.
fn split_texts(texts: &v0_3::Texts) -> Result<Vec<&str>, PluginError> {
    super::tiering::split_at_ends(&texts.text, &texts.ends)
}

/// The answer must fit the output cap, decide for exactly the customers asked about, name tiers
/// it lists and give each customer its own run of reasons.
pub fn decisions(
    answer: v0_3::Decisions,
    batch: &[CustomerFacts],
    output_cap: usize,
) -> Result<Vec<TierDecision>, PluginError> {
    let size = answer.reasons.text.len()
        + 4 * answer.reasons.ends.len()
        + 24 * answer.customer_ids.len()
        + answer.tier_ids.iter().map(String::len).sum::<usize>();
    if size > output_cap {
        return Err(PluginError::OutputTooLarge(output_cap));
    }
    check_batch_order(answer.customer_ids.iter().copied(), batch)?;
    super::tiering::check_columns(
        [
            answer.tiers.len(),
            answer.scores.len(),
            answer.reason_ends.len(),
        ],
        batch.len(),
    )?;
    let reasons = split_texts(&answer.reasons)?;
    let mut first = 0;
    (0..batch.len())
        .map(|index| {
            let tier = super::tiering::tier_id(&answer.tier_ids, answer.tiers[index])?;
            let end = answer.reason_ends[index] as usize;
            let own = super::tiering::own_run(&reasons, first, end)?;
            first = end;
            Ok(TierDecision {
                customer_id: answer.customer_ids[index],
                tier: tier.clone(),
                score: answer.scores[index],
                reasons: own.iter().map(|reason| (*reason).to_owned()).collect(),
            })
        })
        .collect()
}
