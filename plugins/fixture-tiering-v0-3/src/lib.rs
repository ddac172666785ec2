//! The fixture tiering policy as a vendor built it against `rapport:plugin@0.3.0`, before 0.4.0
//! let a policy declare its facts and send its reasons as templates: generated straight from the
//! frozen WIT with wit-bindgen (the SDK follows the latest version). The host must keep running
//! it, through its 0.3.0 shim, with the same decisions as `fixture-tiering`, whose policy
//! source it shares.

// `Reason::template` serves the versions from 0.4.0 on.
#[allow(dead_code)]
#[path = "../../fixture-tiering/src/policy.rs"]
mod policy;

wit_bindgen::generate!({
    path: "../../wit/rapport-plugin@0.3.0",
    world: "tiering-policy",
});

use std::fmt::Write;

use rapport::plugin::tiering_types::Texts;
use rapport::plugin::types::{KeyValue, LogLevel};
use rapport::plugin::{config, log};

struct ValueThreshold;

/// Marks a missing day count in the 0.3.0 columns.
const NONE_DAYS: u32 = u32::MAX;

impl Guest for ValueThreshold {
    fn evaluate(batch: ProfileBatch) -> Result<Decisions, PluginError> {
        let threshold = policy::threshold(config::get("high_value_threshold").as_deref()).map_err(
            |message| PluginError {
                code: "bad-config".into(),
                message,
                retryable: false,
            },
        )?;
        let fields = [KeyValue {
            key: "batch".into(),
            value: batch.customer_ids.len().to_string(),
        }];
        log::log(LogLevel::Debug, "evaluating (0.3.0)", &fields);
        let mut answer = Decisions {
            customer_ids: Vec::new(),
            tiers: Vec::new(),
            tier_ids: policy::TIERS
                .iter()
                .map(|(id, _)| (*id).to_owned())
                .collect(),
            scores: Vec::new(),
            reasons: Texts {
                text: String::new(),
                ends: Vec::new(),
            },
            reason_ends: Vec::new(),
        };
        for (index, &customer_id) in batch.customer_ids.iter().enumerate() {
            let contact = batch.days_since_last_contact[index];
            let facts = policy::Facts {
                order_value_365d: batch.order_value_365d[index],
                days_since_last_contact: (contact != NONE_DAYS).then_some(contact),
            };
            let verdict = policy::decide(facts, threshold);
            let tier = policy::TIERS.iter().position(|(id, _)| *id == verdict.tier);
            answer.customer_ids.push(customer_id);
            answer.tiers.push(tier.unwrap_or_default() as u32);
            answer.scores.push(verdict.score);
            let _ = write!(answer.reasons.text, "{}", verdict.reason);
            answer.reasons.ends.push(answer.reasons.text.len() as u32);
            answer.reason_ends.push(answer.reasons.ends.len() as u32);
        }
        Ok(answer)
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

/// What the 0.3.0 SDK wrote: the API version the host checks before running anything.
#[unsafe(link_section = "rapport-plugin-api")]
#[used]
static API_VERSION: [u8; 5] = *b"0.3.0";
