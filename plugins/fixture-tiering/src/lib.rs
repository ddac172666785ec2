//! The smallest useful tiering policy: a customer is `high-value` from 1,000,000 of orders in
//! the last 365 days, `regular` otherwise, unless there was no contact for 90 days
//! (`churn-risk`). Its threshold is read from the tenant configuration when set.
//!
//! The decisions themselves live in [`policy`] (plain Rust, also compiled natively by the host's
//! benchmark); this file only adapts the SDK's types to it.

mod policy;

use rapport_sdk::tiering::{Batch, Decisions, Fact, Tier};
use rapport_sdk::{PluginError, TieringPolicy, config, log};

struct ValueThreshold;

fn threshold() -> Result<f64, PluginError> {
    policy::threshold(config::get("high_value_threshold").as_deref())
        .map_err(|message| PluginError::fatal("bad-config", message))
}

impl TieringPolicy for ValueThreshold {
    fn evaluate(batch: &Batch, decisions: &mut Decisions) -> Result<(), PluginError> {
        let threshold = threshold()?;
        log::log(
            log::LogLevel::Debug,
            "evaluating",
            &[("batch", &batch.len().to_string())],
        );
        for profile in batch.profiles() {
            let facts = policy::Facts {
                order_value_365d: profile.order_value_365d(),
                days_since_last_contact: profile.days_since_last_contact(),
            };
            let verdict = policy::decide(facts, threshold);
            let mut reasons = decisions.decide(profile.customer_id(), verdict.tier, verdict.score);
            verdict.reason.template(|template, numbers| {
                reasons.template(template, numbers);
            });
        }
        Ok(())
    }

    fn facts() -> Vec<Fact> {
        vec![Fact::OrderValue365d, Fact::DaysSinceLastContact]
    }

    fn tiers() -> Vec<Tier> {
        policy::TIERS
            .into_iter()
            .enumerate()
            .map(|(rank, (id, label))| Tier {
                id: id.into(),
                label: label.into(),
                rank: rank as u32,
            })
            .collect()
    }
}

rapport_sdk::export_tiering_policy!(ValueThreshold);
