//! The fixture tiering policy as a vendor built it against `rapport:plugin@0.2.0`, before 0.3.0
//! flattened the batch: generated straight from the frozen WIT with wit-bindgen (the SDK follows
//! the latest version). The host must keep running it, through its 0.2.0 shim, with the same
//! decisions as `fixture-tiering`, whose policy source it shares.

// `Reason::template` serves the versions from 0.4.0 on.
#[allow(dead_code)]
#[path = "../../fixture-tiering/src/policy.rs"]
mod policy;

wit_bindgen::generate!({
    path: "../../wit/rapport-plugin@0.2.0",
    world: "tiering-policy",
});

use rapport::plugin::types::{KeyValue, LogLevel};
use rapport::plugin::{config, log};

struct ValueThreshold;

impl Guest for ValueThreshold {
    fn evaluate(batch: Vec<CustomerProfile>) -> Result<Vec<Decision>, PluginError> {
        let threshold = policy::threshold(config::get("high_value_threshold").as_deref()).map_err(
            |message| PluginError {
                code: "bad-config".into(),
                message,
                retryable: false,
            },
        )?;
        let fields = [KeyValue {
            key: "batch".into(),
            value: batch.len().to_string(),
        }];
        log::log(LogLevel::Debug, "evaluating (0.2.0)", &fields);
        Ok(batch
            .iter()
            .map(|profile| {
                let facts = policy::Facts {
                    order_value_365d: profile.order_value_365d,
                    days_since_last_contact: profile.days_since_last_contact,
                };
                let verdict = policy::decide(facts, threshold);
                Decision {
                    customer_id: profile.customer_id,
                    tier: verdict.tier.into(),
                    score: verdict.score,
                    reasons: vec![verdict.reason.to_string()],
                }
            })
            .collect())
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

    fn config_schema() -> String {
        r#"{"type":"object","properties":{"high_value_threshold":{"type":"string"}}}"#.into()
    }
}

export!(ValueThreshold);

/// What the 0.2.0 SDK wrote: the API version the host checks before running anything.
#[unsafe(link_section = "rapport-plugin-api")]
#[used]
static API_VERSION: [u8; 5] = *b"0.2.0";
