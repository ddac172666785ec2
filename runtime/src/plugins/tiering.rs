//! Running a `tiering-policy` plugin.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use super::bindings::tiering::rapport::plugin::tiering_types as wit;
use super::bindings::tiering::{TieringPolicy, TieringPolicyPre};
use super::engine::{Invocation, LoadedComponent, PluginEngine};
use super::error::PluginError;
use super::host::{Grants, HostState, RunLog};
use super::limits::Limits;
use super::{since_v0_1, since_v0_2};
use crate::domain::customer::LifecycleStage;
use crate::domain::tiering::{ChurnSignalKind, CustomerFacts, TierDecision, TierDefinition};

/// A tiering policy ready to run: linked once, instantiated afresh for every call.
pub struct TieringPlugin {
    engine: Arc<PluginEngine>,
    pre: Pre,
}

/// The linked component, by the API version it was built against.
enum Pre {
    Latest(TieringPolicyPre<HostState>),
    V0_2(since_v0_2::TieringPolicyPre<HostState>),
    V0_1(since_v0_1::TieringPolicyPre<HostState>),
}

impl std::fmt::Debug for TieringPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TieringPlugin")
    }
}

impl TieringPlugin {
    pub fn new(
        engine: Arc<PluginEngine>,
        component: &LoadedComponent,
    ) -> Result<TieringPlugin, PluginError> {
        let world = "tiering-policy";
        let pre = match component.api_version.as_str() {
            "0.1.0" => {
                Pre::V0_1(engine.link(component, world, since_v0_1::TieringPolicyPre::new)?)
            }
            "0.2.0" => {
                Pre::V0_2(engine.link(component, world, since_v0_2::TieringPolicyPre::new)?)
            }
            _ => Pre::Latest(engine.link(component, world, TieringPolicyPre::new)?),
        };
        Ok(TieringPlugin { engine, pre })
    }

    /// Decides the tier of every customer in the batch; the plugin must answer for each one.
    pub async fn evaluate(
        &self,
        batch: &[CustomerFacts],
        grants: Arc<Grants>,
        limits: &Limits,
    ) -> Invocation<Vec<TierDecision>> {
        let engine = &self.engine;
        let cap = limits.output_bytes;
        match &self.pre {
            Pre::Latest(pre) => {
                let profiles = match profile_batch(batch) {
                    Ok(profiles) => profiles,
                    Err(error) => return not_run(error),
                };
                engine
                    .invoke(limits, grants, async |store| {
                        let policy: TieringPolicy = pre.instantiate_async(&mut *store).await?;
                        let answer = policy.call_evaluate(&mut *store, &profiles).await?;
                        Ok(answer.map_err(reported))
                    })
                    .await
                    .and_then(|answer| decisions(answer, batch, cap))
            }
            Pre::V0_2(pre) => {
                let profiles: Vec<_> = batch.iter().map(since_v0_2::profile).collect();
                engine
                    .invoke(limits, grants, async |store| {
                        let policy = pre.instantiate_async(&mut *store).await?;
                        let answer = policy.call_evaluate(&mut *store, &profiles).await?;
                        Ok(answer.map_err(reported))
                    })
                    .await
                    .and_then(|answer| since_v0_2::decisions(answer, batch, cap))
            }
            Pre::V0_1(pre) => {
                let profiles: Vec<_> = batch.iter().map(since_v0_1::profile).collect();
                engine
                    .invoke(limits, grants, async |store| {
                        let policy = pre.instantiate_async(&mut *store).await?;
                        let answer = policy.call_evaluate(&mut *store, &profiles).await?;
                        Ok(answer
                            .map(|answer| answer.into_iter().map(since_v0_1::decision).collect())
                            .map_err(reported))
                    })
                    .await
                    .and_then(|answer| since_v0_2::decisions(answer, batch, cap))
            }
        }
    }

    /// Only builds a fresh store and instantiates the component in it, then drops both: the fixed
    /// cost of every call, for the `plugin_calls` benchmark.
    #[doc(hidden)]
    pub async fn instantiate_only(&self, limits: &Limits) -> Result<(), PluginError> {
        let mut store = self.engine.new_store(limits, Arc::new(Grants::default()));
        let instantiated = match &self.pre {
            Pre::Latest(pre) => pre.instantiate_async(&mut store).await.map(drop),
            Pre::V0_2(pre) => pre.instantiate_async(&mut store).await.map(drop),
            Pre::V0_1(pre) => pre.instantiate_async(&mut store).await.map(drop),
        };
        instantiated.map_err(|error| PluginError::Trap(format!("{error:#}")))
    }

    /// The policy's tier catalogue.
    pub async fn tiers(
        &self,
        grants: Arc<Grants>,
        limits: &Limits,
    ) -> Invocation<Vec<TierDefinition>> {
        let pre = &self.pre;
        self.engine
            .invoke(limits, grants, async |store| {
                let tiers: Vec<TierDefinition> = match pre {
                    Pre::Latest(pre) => {
                        let policy: TieringPolicy = pre.instantiate_async(&mut *store).await?;
                        let tiers = policy.call_tiers(&mut *store).await?;
                        tiers.into_iter().map(tier).collect()
                    }
                    Pre::V0_2(pre) => {
                        let policy = pre.instantiate_async(&mut *store).await?;
                        let tiers = policy.call_tiers(&mut *store).await?;
                        tiers.into_iter().map(since_v0_2::tier).collect()
                    }
                    Pre::V0_1(pre) => {
                        let policy = pre.instantiate_async(&mut *store).await?;
                        let tiers = policy.call_tiers(&mut *store).await?;
                        let tiers = tiers.into_iter().map(since_v0_1::tier);
                        tiers.map(since_v0_2::tier).collect()
                    }
                };
                Ok(Ok(tiers))
            })
            .await
            .and_then(|tiers| {
                let size = tiers.iter().map(|t| 4 + t.id.len() + t.label.len()).sum();
                limits.check_output(size).map(|()| tiers)
            })
    }
}

impl TieringPlugin {
    /// The JSON Schema of the policy's tenant configuration (thresholds and the like).
    pub async fn config_schema(
        &self,
        grants: Arc<Grants>,
        limits: &Limits,
    ) -> Invocation<serde_json::Value> {
        let pre = &self.pre;
        self.engine
            .invoke(limits, grants, async |store| {
                let schema = match pre {
                    Pre::Latest(pre) => {
                        let policy: TieringPolicy = pre.instantiate_async(&mut *store).await?;
                        policy.call_config_schema(&mut *store).await?
                    }
                    Pre::V0_2(pre) => {
                        let policy = pre.instantiate_async(&mut *store).await?;
                        policy.call_config_schema(&mut *store).await?
                    }
                    Pre::V0_1(pre) => {
                        let policy = pre.instantiate_async(&mut *store).await?;
                        policy.call_config_schema(&mut *store).await?
                    }
                };
                Ok(Ok(schema))
            })
            .await
            .and_then(|schema| limits.check_schema(&schema))
    }
}

pub(crate) fn reported(error: super::bindings::types::PluginError) -> PluginError {
    PluginError::Reported {
        code: error.code,
        message: error.message,
        retryable: error.retryable,
    }
}

/// A call that never ran, for input the host could not hand to the plugin.
fn not_run<T>(error: PluginError) -> Invocation<T> {
    Invocation {
        outcome: Err(error),
        log: RunLog::default(),
        duration: Duration::ZERO,
        fuel_used: None,
    }
}

fn tier(tier: wit::Tier) -> TierDefinition {
    TierDefinition {
        id: tier.id,
        label: tier.label,
        rank: tier.rank,
    }
}

/// Marks a missing day count in the WIT columns.
const NONE_DAYS: u32 = u32::MAX;

/// The batch as WIT 0.3.0 wants it: one column per fact, texts laid end to end.
fn profile_batch(batch: &[CustomerFacts]) -> Result<wit::ProfileBatch, PluginError> {
    let column = |fact: fn(&CustomerFacts) -> u32| batch.iter().map(fact).collect();
    let money = |fact: fn(&CustomerFacts) -> f64| batch.iter().map(fact).collect();
    let measured = |fact: fn(&CustomerFacts) -> Option<f64>| {
        batch.iter().map(|f| fact(f).unwrap_or(f64::NAN)).collect()
    };
    let days = |fact: fn(&CustomerFacts) -> Option<u32>| {
        // A real count never reaches the marker; one that did would read as missing.
        batch.iter().map(|f| fact(f).unwrap_or(NONE_DAYS)).collect()
    };
    let (mut tags, mut signal_details, mut custom_fields) = (no_texts(), no_texts(), no_texts());
    let mut signal_kinds = Vec::new();
    let (mut tag_ends, mut signal_ends) = (Vec::new(), Vec::new());
    let mut stages = Vec::with_capacity(batch.len());
    for facts in batch {
        stages.push(lifecycle_stage(facts)?);
        push_text(&mut custom_fields, &facts.custom_fields_json)?;
        for tag in &facts.tags {
            push_text(&mut tags, tag)?;
        }
        tag_ends.push(end(tags.ends.len())?);
        for signal in &facts.churn_signals {
            signal_kinds.push(signal_kind(signal.kind));
            push_text(&mut signal_details, &signal.detail)?;
        }
        signal_ends.push(end(signal_kinds.len())?);
    }
    Ok(wit::ProfileBatch {
        customer_ids: batch.iter().map(|f| f.customer_id).collect(),
        lifecycle_stages: stages,
        tenure_days: column(|f| f.tenure_days),
        order_value_90d: money(|f| f.order_value_90d),
        order_value_365d: money(|f| f.order_value_365d),
        order_count_90d: column(|f| f.order_count_90d),
        order_count_365d: column(|f| f.order_count_365d),
        days_since_last_order: days(|f| f.days_since_last_order),
        interaction_count_30d: column(|f| f.interaction_count_30d),
        interaction_count_90d: column(|f| f.interaction_count_90d),
        days_since_last_contact: days(|f| f.days_since_last_contact),
        open_complaints: column(|f| f.open_complaints),
        complaints_90d: column(|f| f.complaints_90d),
        latest_csat: measured(|f| f.latest_csat),
        latest_nps: measured(|f| f.latest_nps),
        latest_ces: measured(|f| f.latest_ces),
        custom_fields_json: custom_fields,
        tags,
        tag_ends,
        signal_kinds,
        signal_details,
        signal_ends,
    })
}

fn lifecycle_stage(facts: &CustomerFacts) -> Result<wit::LifecycleStage, PluginError> {
    let stage = LifecycleStage::from_str(&facts.lifecycle_stage).map_err(|_| {
        PluginError::BadInput(format!(
            "customer {} has no known lifecycle stage: {:?}",
            facts.customer_id, facts.lifecycle_stage
        ))
    })?;
    Ok(match stage {
        LifecycleStage::Lead => wit::LifecycleStage::Lead,
        LifecycleStage::Prospect => wit::LifecycleStage::Prospect,
        LifecycleStage::Customer => wit::LifecycleStage::Customer,
        LifecycleStage::Churned => wit::LifecycleStage::Churned,
    })
}

fn signal_kind(kind: ChurnSignalKind) -> wit::ChurnSignalKind {
    match kind {
        ChurnSignalKind::ContactFalling => wit::ChurnSignalKind::ContactFalling,
        ChurnSignalKind::ComplaintsRising => wit::ChurnSignalKind::ComplaintsRising,
        ChurnSignalKind::SatisfactionLow => wit::ChurnSignalKind::SatisfactionLow,
        ChurnSignalKind::OrdersStopped => wit::ChurnSignalKind::OrdersStopped,
    }
}

fn no_texts() -> wit::Texts {
    wit::Texts {
        text: String::new(),
        ends: Vec::new(),
    }
}

/// Lays `piece` after the texts already there.
fn push_text(texts: &mut wit::Texts, piece: &str) -> Result<(), PluginError> {
    texts.text.push_str(piece);
    texts.ends.push(end(texts.text.len())?);
    Ok(())
}

fn end(offset: usize) -> Result<u32, PluginError> {
    u32::try_from(offset)
        .map_err(|_| PluginError::BadInput("a tiering batch must stay under 4 GiB".into()))
}

/// The plugin's texts, split where its `ends` say, or why they cannot be.
fn split_texts(texts: &wit::Texts) -> Result<Vec<&str>, PluginError> {
    let mut start = 0;
    texts
        .ends
        .iter()
        .map(|&end| {
            let piece = texts.text.get(start..end as usize).ok_or_else(|| {
                PluginError::InvalidOutput(
                    "a reason ends outside the text, before the previous one or inside a character"
                        .into(),
                )
            })?;
            start = end as usize;
            Ok(piece)
        })
        .collect()
}

/// The answer must fit the output cap, decide for exactly the customers asked about, name tiers
/// it lists and give each customer its own run of reasons.
fn decisions(
    answer: wit::Decisions,
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
    let columns = [
        answer.tiers.len(),
        answer.scores.len(),
        answer.reason_ends.len(),
    ];
    if columns.iter().any(|&len| len != batch.len()) {
        return Err(PluginError::InvalidOutput(format!(
            "tiers, scores and reason ends must have one entry per customer, got {columns:?} for {}",
            batch.len()
        )));
    }
    let reasons = split_texts(&answer.reasons)?;
    let mut first = 0;
    (0..batch.len())
        .map(|index| {
            let tier = answer
                .tier_ids
                .get(answer.tiers[index] as usize)
                .ok_or_else(|| {
                    PluginError::InvalidOutput(format!(
                        "tier index {} is not in tier-ids",
                        answer.tiers[index]
                    ))
                })?;
            let end = answer.reason_ends[index] as usize;
            let own = reasons.get(first..end).ok_or_else(|| {
                PluginError::InvalidOutput("reason ends run backwards or past the reasons".into())
            })?;
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

/// One decision per customer, in the batch's order.
pub(crate) fn check_batch_order(
    decided: impl ExactSizeIterator<Item = i64>,
    batch: &[CustomerFacts],
) -> Result<(), PluginError> {
    let count = decided.len();
    if count != batch.len()
        || decided
            .zip(batch)
            .any(|(id, facts)| id != facts.customer_id)
    {
        return Err(PluginError::InvalidOutput(format!(
            "expected one decision per customer in batch order, got {count} for {}",
            batch.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(customer_id: i64, tags: &[&str], signals: &[&str]) -> CustomerFacts {
        CustomerFacts {
            customer_id,
            lifecycle_stage: "prospect".into(),
            tenure_days: 10,
            tags: tags.iter().map(|tag| (*tag).to_owned()).collect(),
            custom_fields_json: format!(r#"{{"n":{customer_id}}}"#),
            order_value_90d: 1.5,
            order_value_365d: 6.0,
            order_count_90d: 1,
            order_count_365d: 2,
            days_since_last_order: None,
            interaction_count_30d: 0,
            interaction_count_90d: 0,
            days_since_last_contact: Some(3),
            open_complaints: 0,
            complaints_90d: 0,
            latest_csat: None,
            latest_nps: Some(9.0),
            latest_ces: None,
            churn_signals: signals
                .iter()
                .map(|detail| crate::domain::tiering::ChurnSignal {
                    kind: ChurnSignalKind::OrdersStopped,
                    detail: (*detail).to_owned(),
                })
                .collect(),
        }
    }

    fn texts(pieces: &[&str]) -> wit::Texts {
        let mut texts = no_texts();
        for piece in pieces {
            push_text(&mut texts, piece).unwrap();
        }
        texts
    }

    fn answer(batch: &[CustomerFacts], reasons: &[&str], reason_ends: Vec<u32>) -> wit::Decisions {
        wit::Decisions {
            customer_ids: batch.iter().map(|f| f.customer_id).collect(),
            tiers: vec![0; batch.len()],
            tier_ids: vec!["regular".into()],
            scores: vec![1.0; batch.len()],
            reasons: texts(reasons),
            reason_ends,
        }
    }

    #[test]
    fn a_batch_goes_out_in_columns_with_texts_end_to_end() {
        let batch = [
            facts(1, &["vip", "north"], &[]),
            facts(2, &[], &["no order for 90 días"]),
        ];
        let columns = profile_batch(&batch).unwrap();
        assert_eq!(columns.customer_ids, [1, 2]);
        assert_eq!(columns.days_since_last_order, [NONE_DAYS, NONE_DAYS]);
        assert_eq!(columns.days_since_last_contact, [3, 3]);
        assert!(columns.latest_csat.iter().all(|csat| csat.is_nan()));
        assert_eq!(columns.latest_nps, [9.0, 9.0]);
        assert_eq!(columns.tags.text, "vipnorth");
        assert_eq!(
            (columns.tags.ends, columns.tag_ends),
            (vec![3, 8], vec![2, 2])
        );
        assert_eq!(columns.custom_fields_json.text, r#"{"n":1}{"n":2}"#);
        assert_eq!(columns.signal_ends, [0, 1]);
        assert_eq!(columns.signal_details.ends, [21]);
    }

    #[test]
    fn an_unknown_lifecycle_stage_is_bad_input() {
        let mut odd = facts(1, &[], &[]);
        odd.lifecycle_stage = "vip".into();
        assert_eq!(profile_batch(&[odd]).unwrap_err().code(), "bad_input");
    }

    #[test]
    fn decisions_come_back_with_their_own_reasons() {
        let batch = [facts(1, &[], &[]), facts(2, &[], &[])];
        let decided = decisions(
            answer(&batch, &["a", "bé", "c"], vec![2, 3]),
            &batch,
            1 << 20,
        )
        .unwrap();
        assert_eq!(decided[0].reasons, ["a", "bé"]);
        assert_eq!(decided[1].reasons, ["c"]);
        assert_eq!(decided[1].tier, "regular");
    }

    #[test]
    fn a_malformed_answer_is_invalid_output() {
        let batch = [facts(1, &[], &[]), facts(2, &[], &[])];
        let invalid =
            |answer: wit::Decisions| decisions(answer, &batch, 1 << 20).unwrap_err().code();
        assert_eq!(
            invalid(answer(&batch, &["a"], vec![1, 0])),
            "invalid_output"
        );
        assert_eq!(
            invalid(answer(&batch, &["a"], vec![1, 2])),
            "invalid_output"
        );
        let mut bad_tier = answer(&batch, &[], vec![0, 0]);
        bad_tier.tiers[1] = 1;
        assert_eq!(invalid(bad_tier), "invalid_output");
        let mut split = answer(&batch, &["é"], vec![1, 1]);
        split.reasons.ends = vec![1];
        assert_eq!(invalid(split), "invalid_output");
        let mut short = answer(&batch, &[], vec![0, 0]);
        short.scores.pop();
        assert_eq!(invalid(short), "invalid_output");
        let mut swapped = answer(&batch, &[], vec![0, 0]);
        swapped.customer_ids.swap(0, 1);
        assert_eq!(invalid(swapped), "invalid_output");
    }

    #[test]
    fn an_answer_over_the_output_cap_is_refused() {
        let batch = [facts(1, &[], &[])];
        let long = "x".repeat(2_000);
        let error = decisions(answer(&batch, &[&long], vec![1]), &batch, 1_000).unwrap_err();
        assert_eq!(error.code(), "output_too_large");
    }
}
