//! Running a `tiering-policy` plugin.

use std::sync::Arc;

use super::bindings::tiering::rapport::plugin::tiering_types as wit;
use super::bindings::tiering::{TieringPolicy, TieringPolicyPre};
use super::engine::{Invocation, LoadedComponent, PluginEngine};
use super::error::PluginError;
use super::host::Grants;
use super::host::HostState;
use super::limits::Limits;
use super::since_v0_1;
use crate::domain::tiering::{
    ChurnSignal, ChurnSignalKind, CustomerFacts, TierDecision, TierDefinition,
};

/// A tiering policy ready to run: linked once, instantiated afresh for every call.
pub struct TieringPlugin {
    engine: Arc<PluginEngine>,
    pre: Pre,
}

/// The linked component, by the API version it was built against.
enum Pre {
    Latest(TieringPolicyPre<HostState>),
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
        let pre = match component.api_version.as_str() {
            "0.1.0" => Pre::V0_1(engine.link(
                component,
                "tiering-policy",
                since_v0_1::TieringPolicyPre::new,
            )?),
            _ => Pre::Latest(engine.link(component, "tiering-policy", TieringPolicyPre::new)?),
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
        let invocation = match &self.pre {
            Pre::Latest(pre) => {
                let profiles: Vec<wit::CustomerProfile> = batch.iter().map(to_profile).collect();
                engine
                    .invoke(limits, grants, async |store| {
                        let policy: TieringPolicy = pre.instantiate_async(&mut *store).await?;
                        let answer = policy.call_evaluate(&mut *store, &profiles).await?;
                        Ok(answer.map_err(reported))
                    })
                    .await
            }
            Pre::V0_1(pre) => {
                let profiles: Vec<_> = batch.iter().map(since_v0_1::profile).collect();
                engine
                    .invoke(limits, grants, async |store| {
                        let policy = pre.instantiate_async(&mut *store).await?;
                        let answer = policy.call_evaluate(&mut *store, &profiles).await?;
                        Ok(answer
                            .map(|decisions| {
                                decisions.into_iter().map(since_v0_1::decision).collect()
                            })
                            .map_err(reported))
                    })
                    .await
            }
        };
        Invocation {
            outcome: invocation
                .outcome
                .and_then(|decisions| check_decisions(decisions, batch, limits.output_bytes)),
            log: invocation.log,
            duration: invocation.duration,
            fuel_used: invocation.fuel_used,
        }
    }

    /// Only builds a fresh store and instantiates the component in it, then drops both: the fixed
    /// cost of every call, for the `plugin_calls` benchmark.
    #[doc(hidden)]
    pub async fn instantiate_only(&self, limits: &Limits) -> Result<(), PluginError> {
        let mut store = self.engine.new_store(limits, Arc::new(Grants::default()));
        let instantiated = match &self.pre {
            Pre::Latest(pre) => pre.instantiate_async(&mut store).await.map(drop),
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
                let tiers = match pre {
                    Pre::Latest(pre) => {
                        let policy: TieringPolicy = pre.instantiate_async(&mut *store).await?;
                        policy.call_tiers(&mut *store).await?
                    }
                    Pre::V0_1(pre) => {
                        let policy = pre.instantiate_async(&mut *store).await?;
                        let tiers = policy.call_tiers(&mut *store).await?;
                        tiers.into_iter().map(since_v0_1::tier).collect()
                    }
                };
                Ok(Ok(tiers
                    .into_iter()
                    .map(|t| TierDefinition {
                        id: t.id,
                        label: t.label,
                        rank: t.rank,
                    })
                    .collect::<Vec<_>>()))
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

fn to_profile(facts: &CustomerFacts) -> wit::CustomerProfile {
    wit::CustomerProfile {
        customer_id: facts.customer_id,
        lifecycle_stage: facts.lifecycle_stage.clone(),
        tenure_days: facts.tenure_days,
        tags: facts.tags.clone(),
        custom_fields_json: facts.custom_fields_json.clone(),
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
        latest_ces: facts.latest_ces,
        churn_signals: facts.churn_signals.iter().map(to_signal).collect(),
    }
}

fn to_signal(signal: &ChurnSignal) -> wit::ChurnSignal {
    wit::ChurnSignal {
        kind: match signal.kind {
            ChurnSignalKind::ContactFalling => wit::ChurnSignalKind::ContactFalling,
            ChurnSignalKind::ComplaintsRising => wit::ChurnSignalKind::ComplaintsRising,
            ChurnSignalKind::SatisfactionLow => wit::ChurnSignalKind::SatisfactionLow,
            ChurnSignalKind::OrdersStopped => wit::ChurnSignalKind::OrdersStopped,
        },
        detail: signal.detail.clone(),
    }
}

/// The answer must fit the output cap and decide for exactly the customers asked about.
fn check_decisions(
    decisions: Vec<wit::Decision>,
    batch: &[CustomerFacts],
    output_cap: usize,
) -> Result<Vec<TierDecision>, PluginError> {
    let size: usize = decisions
        .iter()
        .map(|d| 16 + d.tier.len() + d.reasons.iter().map(String::len).sum::<usize>())
        .sum();
    if size > output_cap {
        return Err(PluginError::OutputTooLarge(output_cap));
    }
    if decisions.len() != batch.len()
        || decisions
            .iter()
            .zip(batch)
            .any(|(d, f)| d.customer_id != f.customer_id)
    {
        return Err(PluginError::InvalidOutput(format!(
            "expected one decision per customer in batch order, got {} for {}",
            decisions.len(),
            batch.len()
        )));
    }
    Ok(decisions
        .into_iter()
        .map(|d| TierDecision {
            customer_id: d.customer_id,
            tier: d.tier,
            score: d.score,
            reasons: d.reasons,
        })
        .collect())
}
