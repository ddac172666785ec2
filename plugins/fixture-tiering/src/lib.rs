//! The smallest useful tiering policy: a customer is `high-value` from 1,000,000 of orders in
//! the last 365 days, `regular` otherwise, unless there was no contact for 90 days
//! (`churn-risk`). Its threshold is read from the tenant configuration when set.

use rapport_sdk::tiering::{CustomerProfile, Decision, Tier};
use rapport_sdk::{PluginError, TieringPolicy, config, log};

struct ValueThreshold;

const DEFAULT_THRESHOLD: f64 = 1_000_000.0;

fn threshold() -> Result<f64, PluginError> {
    match config::get("high_value_threshold") {
        None => Ok(DEFAULT_THRESHOLD),
        Some(text) => text
            .parse()
            .map_err(|_| PluginError::fatal("bad-config", format!("high_value_threshold is not a number: {text}"))),
    }
}

fn decide(profile: &CustomerProfile, threshold: f64) -> Decision {
    let silent_days = profile.days_since_last_contact.unwrap_or(u32::MAX);
    let (tier, reason) = if silent_days >= 90 {
        ("churn-risk", format!("no contact for {} days", profile.days_since_last_contact.map_or("ever".into(), |d| d.to_string())))
    } else if profile.order_value_365d >= threshold {
        ("high-value", format!("orders {:.0} in 365 days (threshold {threshold:.0})", profile.order_value_365d))
    } else {
        ("regular", format!("orders {:.0} in 365 days", profile.order_value_365d))
    };
    Decision { customer_id: profile.customer_id, tier: tier.into(), score: profile.order_value_365d, reasons: vec![reason] }
}

impl TieringPolicy for ValueThreshold {
    fn evaluate(batch: Vec<CustomerProfile>) -> Result<Vec<Decision>, PluginError> {
        let threshold = threshold()?;
        log::log(log::LogLevel::Debug, "evaluating", &[("batch", &batch.len().to_string())]);
        Ok(batch.iter().map(|profile| decide(profile, threshold)).collect())
    }

    fn tiers() -> Vec<Tier> {
        [("high-value", "High value"), ("regular", "Regular"), ("churn-risk", "Churn risk")]
            .into_iter()
            .enumerate()
            .map(|(rank, (id, label))| Tier { id: id.into(), label: label.into(), rank: rank as u32 })
            .collect()
    }
}

rapport_sdk::export_tiering_policy!(ValueThreshold);
