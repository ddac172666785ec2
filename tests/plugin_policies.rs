//! The bundled tiering policies' own unit tests. A policy's decisions live in a plain-Rust
//! `policy.rs` without SDK types (the plugin's `lib.rs` only adapts it); the plugins build for
//! `wasm32-wasip2` only, so their tests run here, compiled natively from the same source, with
//! the check that the host writes each reason sent as a template as the policy's `Display` does.

// The plugin's `lib.rs` uses the rest (the catalogue, every host signal kind).
#[allow(dead_code)]
#[path = "../plugins/value-tiering/src/policy.rs"]
mod value_tiering;

// The fixture policy's reasons, for the same check.
#[allow(dead_code)]
#[path = "../plugins/fixture-tiering/src/policy.rs"]
mod fixture_tiering;

use rapport::domain::reason_template::ReasonTemplate;

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
