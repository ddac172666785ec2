//! Rapport's default tiering policy as a WASM component: adapts the SDK's types to [`policy`],
//! where the decisions live.

mod policy;

use rapport_sdk::tiering::{
    Batch, ChurnSignalKind, Decisions, Fact, LifecycleStage, Profile, Tier,
};
use rapport_sdk::{PluginError, TieringPolicy, config};

struct ValueTiering;

fn facts<'s, 'a>(
    profile: &Profile<'a>,
    host_signals: &'s [(policy::HostSignal, &'a str)],
) -> policy::Facts<'s, 'a> {
    policy::Facts {
        lifecycle_stage: stage_name(profile.lifecycle_stage()),
        tenure_days: profile.tenure_days(),
        order_value_90d: profile.order_value_90d(),
        order_value_365d: profile.order_value_365d(),
        order_count_90d: profile.order_count_90d(),
        order_count_365d: profile.order_count_365d(),
        days_since_last_order: profile.days_since_last_order(),
        interaction_count_30d: profile.interaction_count_30d(),
        interaction_count_90d: profile.interaction_count_90d(),
        days_since_last_contact: profile.days_since_last_contact(),
        open_complaints: profile.open_complaints(),
        complaints_90d: profile.complaints_90d(),
        latest_csat: profile.latest_csat(),
        latest_nps: profile.latest_nps(),
        host_signals,
    }
}

/// The stage as the policy names it, read from a table in the WIT enum's order: a batch's
/// stages vary from one customer to the next, and the jump that a `match` compiled to was
/// mispredicted most of the time.
fn stage_name(stage: LifecycleStage) -> &'static str {
    const NAMES: [&str; 4] = ["lead", "prospect", "customer", "churned"];
    NAMES[stage as usize]
}

fn host_signal(kind: ChurnSignalKind) -> policy::HostSignal {
    match kind {
        ChurnSignalKind::ContactFalling => policy::HostSignal::ContactFalling,
        ChurnSignalKind::ComplaintsRising => policy::HostSignal::ComplaintsRising,
        ChurnSignalKind::SatisfactionLow => policy::HostSignal::SatisfactionLow,
        ChurnSignalKind::OrdersStopped => policy::HostSignal::OrdersStopped,
    }
}

impl TieringPolicy for ValueTiering {
    fn evaluate(batch: &Batch, decisions: &mut Decisions) -> Result<(), PluginError> {
        let settings = policy::Settings::read(config::get)
            .map_err(|message| PluginError::fatal("bad-config", message))?;
        // Both buffers serve the whole batch: allocating per customer cost the component more
        // than the native build, its allocator being compiled wasm too.
        let mut decided = Vec::new();
        let mut host_signals = Vec::new();
        for profile in batch.profiles() {
            host_signals.clear();
            host_signals.extend(
                profile
                    .churn_signals()
                    .map(|signal| (host_signal(signal.kind), signal.detail)),
            );
            let facts = facts(&profile, &host_signals);
            let (tier, score) = policy::decide_into(&facts, &settings, &mut decided);
            let mut reasons = decisions.decide(profile.customer_id(), tier, score);
            for reason in &decided {
                reason.template(|template, numbers, texts| {
                    reasons.template_with_texts(template, numbers, texts);
                });
            }
        }
        Ok(())
    }

    /// What [`facts`] reads: all but CES, tags and custom fields.
    fn facts() -> Vec<Fact> {
        Fact::ALL
            .into_iter()
            .filter(|fact| !matches!(fact, Fact::LatestCes | Fact::Tags | Fact::CustomFieldsJson))
            .collect()
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

rapport_sdk::export_tiering_policy!(ValueTiering, manifest = "rapport-plugin.toml");
