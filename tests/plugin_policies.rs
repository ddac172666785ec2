//! The bundled tiering policies' own unit tests. A policy's decisions live in a plain-Rust
//! `policy.rs` without SDK types (the plugin's `lib.rs` only adapts it); the plugins build for
//! `wasm32-wasip2` only, so their tests run here, compiled natively from the same source, with
//! the check that the host writes each reason sent as a template as the policy's `Display` does.

// The fixture policy's reasons, for the same check.
#[allow(dead_code)]
#[path = "../plugins/fixture-tiering/src/policy.rs"]
mod fixture_tiering;

// The batch and the native build the `plugin_calls` benchmark compares the component with; the
// native build holds the default policy's `policy.rs`, whose unit tests run from there.
#[path = "benches/batch/mod.rs"]
mod batch;
#[path = "benches/value_tiering_native/mod.rs"]
mod value_tiering_native;

use value_tiering_native::policy as value_tiering;

use std::collections::BTreeSet;
use std::sync::Arc;

use rapport::domain::reason_template::ReasonTemplate;
use rapport::plugins::{Grants, Limits, PluginEngine, TieringPlugin};

/// What the host writes for a reason sent as a template.
fn written(template: &str, numbers: &[f64], texts: &[&str]) -> String {
    let parsed = ReasonTemplate::parse(template).expect("a valid template");
    assert_eq!(
        (parsed.numbers(), parsed.texts()),
        (numbers.len(), texts.len()),
        "{template}"
    );
    parsed.render(numbers, texts)
}

/// Values where formatting goes wrong if anywhere: halves, negatives, whole and huge numbers.
const NUMBERS: [f64; 10] = [
    0.0,
    0.5,
    2.5,
    -3.2,
    99.95,
    100.0,
    1_234_567.5,
    9.2e15,
    1e21,
    4.25,
];

/// The default policy sends its reasons as templates (WIT 0.4.0); the host must write each one
/// as the policy's own `Display` does.
#[test]
fn value_tiering_reasons_read_the_same_from_their_templates() {
    use value_tiering::Reason;
    for value in NUMBERS {
        let count = value.abs().min(1e9) as u32;
        for reason in [
            Reason::NoContactFor(count),
            Reason::NeverContacted,
            Reason::NoOrderFor(count),
            Reason::Complaints {
                open: count,
                in_90_days: 3,
            },
            Reason::LatestCsat(value),
            Reason::LatestNps(value),
            Reason::Host("2 contacts in 90 days against 9 a quarter"),
            Reason::HighValue {
                order_value: value,
                threshold: 1e6,
            },
            Reason::Growing { ratio: value },
            Reason::ActiveProspect {
                interactions_90d: count,
            },
            Reason::Value {
                order_value: value,
                orders: count,
                score: value,
            },
            Reason::Dimensions {
                activity: value,
                growth: -value,
                closeness: 100.0,
            },
        ] {
            let mut from_template = String::new();
            reason.template(|template, numbers, texts| {
                from_template = written(template, numbers, texts);
            });
            assert_eq!(from_template, reason.to_string(), "{reason:?}");
        }
    }
}

/// The same for the fixture policy, whose older builds still send finished text.
#[test]
fn fixture_reasons_read_the_same_from_their_templates() {
    use fixture_tiering::Reason;
    for value in NUMBERS {
        for reason in [
            Reason::Silent(Some(value.abs().min(1e9) as u32)),
            Reason::Silent(None),
            Reason::HighValue {
                order_value: value,
                threshold: 1e6,
            },
            Reason::Regular { order_value: value },
        ] {
            let mut from_template = String::new();
            reason.template(|template, numbers| from_template = written(template, numbers, &[]));
            assert_eq!(from_template, reason.to_string(), "{reason:?}");
        }
    }
}

/// The component, through the SDK's answer building (tier ids and templates found by address,
/// numbers and texts pushed per reason) and the host's checks and writer, decides a varied batch
/// exactly as the same policy compiled natively.
#[tokio::test]
async fn value_tiering_component_decides_as_its_native_build() {
    let engine = PluginEngine::new(None).expect("plugin engine");
    let component = engine
        .load(&rapport_tests::plugin_component("value-tiering"))
        .expect("loads");
    let plugin = TieringPlugin::new(engine.clone(), &component).expect("a tiering policy");
    let batch = batch::customers(2_000);
    let wasm = plugin
        .evaluate(&batch, Arc::new(Grants::default()), &Limits::tiering())
        .await
        .outcome
        .expect("the component decides");
    let native = value_tiering_native::evaluate(&batch, &Default::default());
    assert_eq!(wasm.len(), native.len());
    for (wasm, native) in wasm.iter().zip(&native) {
        assert_eq!(wasm, native, "customer {}", native.customer_id);
    }
    let tiers: BTreeSet<&str> = native.iter().map(|d| d.tier.as_str()).collect();
    assert_eq!(
        tiers,
        BTreeSet::from(["churn-risk", "high-value", "potential", "regular"])
    );
    // Most of the policy's templates, in many orders, so that the SDK's lookup is exercised.
    let openings: BTreeSet<&str> = native
        .iter()
        .flat_map(|d| &d.reasons)
        .filter_map(|reason| reason.split(' ').next())
        .collect();
    assert!(openings.len() >= 6, "reasons begin only with {openings:?}");
}
