//! Rapport's default tiering policy (`plugins/value-tiering`) compiled natively, for the benchmarks
//! and the test (`tests/plugin_policies.rs`) that compare it with its wasm component: the same
//! `policy.rs`, adapted to the host's types as the plugin's `lib.rs` adapts it to the SDK's.

use rapport::domain::reason_template::ReasonTemplate;
use rapport::domain::tiering::{ChurnSignalKind, CustomerFacts, TierDecision};

// Parts of the policy only its own unit tests use.
#[allow(dead_code)]
#[path = "../../../plugins/value-tiering/src/policy.rs"]
pub mod policy;

/// The decisions of the policy with `settings`, one per customer of `page`, in its order.
/// Reasons are written from their templates by the host's writer, as the host writes a
/// component's.
pub fn evaluate(page: &[CustomerFacts], settings: &policy::Settings) -> Vec<TierDecision> {
    let mut templates = Templates::default();
    let mut decided = Vec::new();
    let mut host_signals = Vec::new();
    page.iter()
        .map(|facts| {
            host_signals.clear();
            host_signals.extend(
                facts
                    .churn_signals
                    .iter()
                    .map(|signal| (host_signal(signal.kind), signal.detail.as_str())),
            );
            let policy_facts = policy_facts(facts, &host_signals);
            let (tier, score) = policy::decide_into(&policy_facts, settings, &mut decided);
            let reasons = decided
                .iter()
                .map(|reason| {
                    let mut sentence = String::new();
                    reason.template(|template, numbers, texts| {
                        sentence = templates.render(template, numbers, texts);
                    });
                    sentence
                })
                .collect();
            TierDecision {
                customer_id: facts.customer_id,
                tier: tier.to_owned(),
                score,
                reasons,
            }
        })
        .collect()
}

/// The reason templates of one batch, each parsed once, as the host parses those of one answer.
#[derive(Default)]
pub struct Templates(Vec<(&'static str, ReasonTemplate<'static>)>);

impl Templates {
    pub fn render(&mut self, template: &'static str, numbers: &[f64], texts: &[&str]) -> String {
        let known = self
            .0
            .iter()
            .position(|(seen, _)| std::ptr::eq(*seen, template));
        let index = known.unwrap_or_else(|| {
            let parsed = ReasonTemplate::parse(template).expect("a valid template");
            self.0.push((template, parsed));
            self.0.len() - 1
        });
        self.0[index].1.render(numbers, texts)
    }
}

fn policy_facts<'s, 'a>(
    facts: &'a CustomerFacts,
    host_signals: &'s [(policy::HostSignal, &'a str)],
) -> policy::Facts<'s, 'a> {
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
        host_signals,
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
