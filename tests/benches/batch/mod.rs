//! A deterministic batch of varied customers, shared by the `plugin_calls` benchmark and the
//! check that a bundled policy's component decides exactly as its native build
//! (`tests/plugin_policies.rs`).

use rapport::domain::tiering::{ChurnSignal, ChurnSignalKind, CustomerFacts};

/// `n` varied but deterministic customers: every tier, contact gaps with and without a last
/// contact, 0–3 tags, a host churn signal for one in ten and a small custom-field object, as
/// the host would send them.
pub fn customers(n: usize) -> Vec<CustomerFacts> {
    const STAGES: [&str; 4] = ["lead", "prospect", "customer", "churned"];
    const TAGS: [&str; 6] = ["vip", "wholesale", "north", "south", "newsletter", "b2b"];
    (0..n)
        .map(|i| {
            let mut bits = mix(i as u64);
            let mut take = |modulus: u64| {
                let value = bits % modulus;
                bits /= modulus;
                value
            };
            let order_value_365d = take(2_500_000) as f64 + take(100) as f64 / 100.0;
            let contact = take(150);
            let tags = (0..take(4))
                .map(|k| TAGS[((i as u64 + k) % TAGS.len() as u64) as usize].to_owned())
                .collect();
            CustomerFacts {
                customer_id: 10_000 + i as i64,
                lifecycle_stage: STAGES[take(4) as usize].to_owned(),
                tenure_days: take(3_000) as u32,
                tags,
                custom_fields_json: format!(
                    r#"{{"region":"r{}","segment":"s{}"}}"#,
                    take(20),
                    take(5)
                ),
                order_value_90d: order_value_365d / 4.0,
                order_value_365d,
                order_count_90d: (i % 5) as u32,
                order_count_365d: (i % 17) as u32,
                days_since_last_order: (i % 7 != 0).then_some((i % 300) as u32),
                interaction_count_30d: (i % 4) as u32,
                interaction_count_90d: (i % 11) as u32,
                days_since_last_contact: (contact < 140).then_some(contact as u32),
                open_complaints: (i % 13 == 0) as u32,
                complaints_90d: (i % 9 == 0) as u32,
                latest_csat: (i % 3 != 0).then_some(1.0 + (i % 5) as f64),
                latest_nps: (i % 4 != 0).then_some((i % 11) as f64),
                latest_ces: (i % 6 == 0).then_some(1.0 + (i % 7) as f64),
                churn_signals: (i % 10 == 0)
                    .then(|| ChurnSignal {
                        kind: ChurnSignalKind::ContactFalling,
                        detail: format!(
                            "{} contacts in 90 days against {} a quarter",
                            i % 3,
                            4 + i % 5
                        ),
                    })
                    .into_iter()
                    .collect(),
            }
        })
        .collect()
}

/// splitmix64: well-spread bits from a counter.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
