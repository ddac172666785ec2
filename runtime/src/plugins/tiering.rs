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
use super::{since_v0_1, since_v0_2, since_v0_3};
use crate::domain::customer::LifecycleStage;
use crate::domain::reason_template::ReasonTemplate;
use crate::domain::tiering::{ChurnSignalKind, CustomerFacts, TierDecision, TierDefinition};

/// A tiering policy ready to run: linked once, instantiated afresh for every call.
pub struct TieringPlugin {
    engine: Arc<PluginEngine>,
    pre: Pre,
}

/// The linked component, by the API version it was built against.
enum Pre {
    Latest(TieringPolicyPre<HostState>),
    V0_3(since_v0_3::TieringPolicyPre<HostState>),
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
            "0.3.0" => {
                Pre::V0_3(engine.link(component, world, since_v0_3::TieringPolicyPre::new)?)
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
            Pre::Latest(pre) => engine
                .invoke(limits, grants, async |store| {
                    let policy: TieringPolicy = pre.instantiate_async(&mut *store).await?;
                    let facts = FactSet::of(&policy.call_facts(&mut *store).await?);
                    let profiles = match profile_batch(batch, facts) {
                        Ok(profiles) => profiles,
                        Err(error) => return Ok(Err(error)),
                    };
                    let answer = match policy.call_evaluate(&mut *store, &profiles).await? {
                        Ok(answer) => answer,
                        Err(error) => return Ok(Err(reported(error))),
                    };
                    let catalogue = policy.call_tiers(&mut *store).await?;
                    Ok(Ok((answer, catalogue.into_iter().map(|t| t.id).collect())))
                })
                .await
                .and_then(|(answer, catalogue): (_, Vec<String>)| {
                    decisions(answer, batch, &catalogue, cap)
                }),
            Pre::V0_3(pre) => {
                let profiles = match profile_batch(batch, FactSet::ALL) {
                    Ok(profiles) => since_v0_3::profile_batch(profiles),
                    Err(error) => return not_run(error),
                };
                engine
                    .invoke(limits, grants, async |store| {
                        let policy = pre.instantiate_async(&mut *store).await?;
                        let answer = match policy.call_evaluate(&mut *store, &profiles).await? {
                            Ok(answer) => answer,
                            Err(error) => return Ok(Err(reported(error))),
                        };
                        let catalogue = policy.call_tiers(&mut *store).await?;
                        Ok(Ok((answer, catalogue.into_iter().map(|t| t.id).collect())))
                    })
                    .await
                    .and_then(|(answer, catalogue): (_, Vec<String>)| {
                        let decided = since_v0_3::decisions(answer, batch, cap)?;
                        in_catalogue(decided, &catalogue)
                    })
            }
            Pre::V0_2(pre) => {
                let profiles: Vec<_> = batch.iter().map(since_v0_2::profile).collect();
                engine
                    .invoke(limits, grants, async |store| {
                        let policy = pre.instantiate_async(&mut *store).await?;
                        let answer = match policy.call_evaluate(&mut *store, &profiles).await? {
                            Ok(answer) => answer,
                            Err(error) => return Ok(Err(reported(error))),
                        };
                        let catalogue = policy.call_tiers(&mut *store).await?;
                        Ok(Ok((answer, catalogue.into_iter().map(|t| t.id).collect())))
                    })
                    .await
                    .and_then(|(answer, catalogue): (_, Vec<String>)| {
                        let decided = since_v0_2::decisions(answer, batch, cap)?;
                        in_catalogue(decided, &catalogue)
                    })
            }
            Pre::V0_1(pre) => {
                let profiles: Vec<_> = batch.iter().map(since_v0_1::profile).collect();
                engine
                    .invoke(limits, grants, async |store| {
                        let policy = pre.instantiate_async(&mut *store).await?;
                        let answer = match policy.call_evaluate(&mut *store, &profiles).await? {
                            Ok(answer) => answer.into_iter().map(since_v0_1::decision).collect(),
                            Err(error) => return Ok(Err(reported(error))),
                        };
                        let catalogue = policy.call_tiers(&mut *store).await?;
                        Ok(Ok((answer, catalogue.into_iter().map(|t| t.id).collect())))
                    })
                    .await
                    .and_then(|(answer, catalogue): (_, Vec<String>)| {
                        let decided = since_v0_2::decisions(answer, batch, cap)?;
                        in_catalogue(decided, &catalogue)
                    })
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
            Pre::V0_3(pre) => pre.instantiate_async(&mut store).await.map(drop),
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
                    Pre::V0_3(pre) => {
                        let policy = pre.instantiate_async(&mut *store).await?;
                        let tiers = policy.call_tiers(&mut *store).await?;
                        tiers.into_iter().map(since_v0_3::tier).collect()
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
    /// The facts the policy reads, named as in WIT (`order-value-365d`); a policy built against
    /// a version before 0.4.0 reads them all.
    pub async fn facts(&self, grants: Arc<Grants>, limits: &Limits) -> Invocation<Vec<String>> {
        let Pre::Latest(pre) = &self.pre else {
            let all = FACT_NAMES.iter().map(|(_, name)| (*name).to_owned());
            return Invocation {
                outcome: Ok(all.collect()),
                log: RunLog::default(),
                duration: Duration::ZERO,
                fuel_used: None,
            };
        };
        self.engine
            .invoke(limits, grants, async |store| {
                let policy: TieringPolicy = pre.instantiate_async(&mut *store).await?;
                let facts = policy.call_facts(&mut *store).await?;
                Ok(Ok(facts.into_iter().map(fact_name).collect()))
            })
            .await
    }

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
                    Pre::V0_3(pre) => {
                        let policy = pre.instantiate_async(&mut *store).await?;
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

/// Every fact with its WIT name.
const FACT_NAMES: [(wit::Fact, &str); 18] = [
    (wit::Fact::LifecycleStage, "lifecycle-stage"),
    (wit::Fact::TenureDays, "tenure-days"),
    (wit::Fact::OrderValue90d, "order-value-90d"),
    (wit::Fact::OrderValue365d, "order-value-365d"),
    (wit::Fact::OrderCount90d, "order-count-90d"),
    (wit::Fact::OrderCount365d, "order-count-365d"),
    (wit::Fact::DaysSinceLastOrder, "days-since-last-order"),
    (wit::Fact::InteractionCount30d, "interaction-count-30d"),
    (wit::Fact::InteractionCount90d, "interaction-count-90d"),
    (wit::Fact::DaysSinceLastContact, "days-since-last-contact"),
    (wit::Fact::OpenComplaints, "open-complaints"),
    (wit::Fact::Complaints90d, "complaints-90d"),
    (wit::Fact::LatestCsat, "latest-csat"),
    (wit::Fact::LatestNps, "latest-nps"),
    (wit::Fact::LatestCes, "latest-ces"),
    (wit::Fact::CustomFieldsJson, "custom-fields-json"),
    (wit::Fact::Tags, "tags"),
    (wit::Fact::ChurnSignals, "churn-signals"),
];

fn fact_name(fact: wit::Fact) -> String {
    let named = FACT_NAMES.iter().find(|(known, _)| *known == fact);
    named.map_or("unknown", |(_, name)| name).to_owned()
}

/// The facts a policy declared it reads, as a bit per `wit::Fact`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FactSet(u32);

impl FactSet {
    const ALL: FactSet = FactSet(u32::MAX);

    fn of(facts: &[wit::Fact]) -> FactSet {
        FactSet(facts.iter().fold(0, |set, &fact| set | 1 << fact as u32))
    }

    fn has(self, fact: wit::Fact) -> bool {
        self.0 & 1 << fact as u32 != 0
    }
}

/// The batch as WIT 0.4.0 wants it: one column per fact the policy reads (the others empty),
/// texts laid end to end.
fn profile_batch(
    batch: &[CustomerFacts],
    facts: FactSet,
) -> Result<wit::ProfileBatch, PluginError> {
    use wit::Fact;
    // A real count never reaches the marker; one that did would read as missing.
    let days = |count: Option<u32>| count.unwrap_or(NONE_DAYS);
    let measured = |value: Option<f64>| value.unwrap_or(f64::NAN);
    let texts = texts_columns(batch, facts)?;
    Ok(wit::ProfileBatch {
        customer_ids: batch.iter().map(|f| f.customer_id).collect(),
        lifecycle_stages: texts.stages,
        tenure_days: column(batch, facts.has(Fact::TenureDays), |f| f.tenure_days),
        order_value_90d: column(batch, facts.has(Fact::OrderValue90d), |f| f.order_value_90d),
        order_value_365d: column(batch, facts.has(Fact::OrderValue365d), |f| {
            f.order_value_365d
        }),
        order_count_90d: column(batch, facts.has(Fact::OrderCount90d), |f| f.order_count_90d),
        order_count_365d: column(batch, facts.has(Fact::OrderCount365d), |f| {
            f.order_count_365d
        }),
        days_since_last_order: column(batch, facts.has(Fact::DaysSinceLastOrder), |f| {
            days(f.days_since_last_order)
        }),
        interaction_count_30d: column(batch, facts.has(Fact::InteractionCount30d), |f| {
            f.interaction_count_30d
        }),
        interaction_count_90d: column(batch, facts.has(Fact::InteractionCount90d), |f| {
            f.interaction_count_90d
        }),
        days_since_last_contact: column(batch, facts.has(Fact::DaysSinceLastContact), |f| {
            days(f.days_since_last_contact)
        }),
        open_complaints: column(batch, facts.has(Fact::OpenComplaints), |f| {
            f.open_complaints
        }),
        complaints_90d: column(batch, facts.has(Fact::Complaints90d), |f| f.complaints_90d),
        latest_csat: column(batch, facts.has(Fact::LatestCsat), |f| {
            measured(f.latest_csat)
        }),
        latest_nps: column(batch, facts.has(Fact::LatestNps), |f| {
            measured(f.latest_nps)
        }),
        latest_ces: column(batch, facts.has(Fact::LatestCes), |f| {
            measured(f.latest_ces)
        }),
        custom_fields_json: texts.custom_fields,
        tags: texts.tags,
        tag_ends: texts.tag_ends,
        signal_kinds: texts.signal_kinds,
        signal_details: texts.signal_details,
        signal_ends: texts.signal_ends,
    })
}

/// One entry per customer when the policy declared the fact, else empty; generic over `value`
/// so that each column's loop is compiled with its own getter inlined.
fn column<T>(
    batch: &[CustomerFacts],
    declared: bool,
    value: impl Fn(&CustomerFacts) -> T,
) -> Vec<T> {
    match declared {
        true => batch.iter().map(value).collect(),
        false => Vec::new(),
    }
}

/// The columns a customer adds a variable number of entries to.
struct TextColumns {
    stages: Vec<wit::LifecycleStage>,
    custom_fields: wit::Texts,
    tags: wit::Texts,
    tag_ends: Vec<u32>,
    signal_kinds: Vec<wit::ChurnSignalKind>,
    signal_details: wit::Texts,
    signal_ends: Vec<u32>,
}

fn texts_columns(batch: &[CustomerFacts], facts: FactSet) -> Result<TextColumns, PluginError> {
    use wit::Fact;
    let [stages, custom_fields, tags, signals] = [
        Fact::LifecycleStage,
        Fact::CustomFieldsJson,
        Fact::Tags,
        Fact::ChurnSignals,
    ]
    .map(|fact| facts.has(fact));
    // One entry per customer in these; the other columns vary.
    let per_customer = |declared: bool| if declared { batch.len() } else { 0 };
    let mut columns = TextColumns {
        stages: Vec::with_capacity(per_customer(stages)),
        custom_fields: wit::Texts {
            text: String::new(),
            ends: Vec::with_capacity(per_customer(custom_fields)),
        },
        tags: no_texts(),
        tag_ends: Vec::with_capacity(per_customer(tags)),
        signal_kinds: Vec::new(),
        signal_details: no_texts(),
        signal_ends: Vec::with_capacity(per_customer(signals)),
    };
    if !(stages || custom_fields || tags || signals) {
        return Ok(columns);
    }
    for customer in batch {
        if stages {
            columns.stages.push(lifecycle_stage(customer)?);
        }
        if custom_fields {
            push_text(&mut columns.custom_fields, &customer.custom_fields_json)?;
        }
        if tags {
            for tag in &customer.tags {
                push_text(&mut columns.tags, tag)?;
            }
            columns.tag_ends.push(end(columns.tags.ends.len())?);
        }
        if signals {
            for signal in &customer.churn_signals {
                columns.signal_kinds.push(signal_kind(signal.kind));
                push_text(&mut columns.signal_details, &signal.detail)?;
            }
            columns.signal_ends.push(end(columns.signal_kinds.len())?);
        }
    }
    Ok(columns)
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

/// `text` split where `ends` say, or why it cannot be.
pub(crate) fn split_at_ends<'a>(text: &'a str, ends: &[u32]) -> Result<Vec<&'a str>, PluginError> {
    let mut start = 0;
    ends.iter()
        .map(|&end| {
            let piece = text.get(start..end as usize).ok_or_else(|| {
                PluginError::InvalidOutput(
                    "a text ends outside the text, before the previous one or inside a character"
                        .into(),
                )
            })?;
            start = end as usize;
            Ok(piece)
        })
        .collect()
}

/// Every per-customer column of an answer has one entry per customer.
pub(crate) fn check_columns<const N: usize>(
    lengths: [usize; N],
    customers: usize,
) -> Result<(), PluginError> {
    if lengths.iter().any(|&len| len != customers) {
        return Err(PluginError::InvalidOutput(format!(
            "tiers, scores and reason ends must have one entry per customer, got {lengths:?} for {customers}"
        )));
    }
    Ok(())
}

/// The tier an answer's index names.
pub(crate) fn tier_id(tier_ids: &[String], index: u32) -> Result<&String, PluginError> {
    tier_ids
        .get(index as usize)
        .ok_or_else(|| PluginError::InvalidOutput(format!("tier index {index} is not in tier-ids")))
}

/// A customer's run `first..end` of the answer's reasons.
pub(crate) fn own_run<T>(reasons: &[T], first: usize, end: usize) -> Result<&[T], PluginError> {
    reasons.get(first..end).ok_or_else(|| {
        PluginError::InvalidOutput("reason ends run backwards or past the reasons".into())
    })
}

/// Every decided tier must be one of the policy's catalogue (`tiers`, asked in the same call).
pub(crate) fn in_catalogue(
    decided: Vec<TierDecision>,
    catalogue: &[String],
) -> Result<Vec<TierDecision>, PluginError> {
    match decided.iter().find(|d| !catalogue.contains(&d.tier)) {
        Some(stray) => Err(outside_catalogue(&stray.tier, catalogue)),
        None => Ok(decided),
    }
}

fn outside_catalogue(tier: &str, catalogue: &[String]) -> PluginError {
    PluginError::InvalidOutput(format!(
        "tier `{tier}` is not in the policy's catalogue ({})",
        catalogue.join(", ")
    ))
}

/// The answer must decide for exactly the customers asked about, name only tiers of the
/// policy's catalogue and index them within its own list, give each customer its own run of
/// reasons, give every template exactly its values, and fit the output cap once its reasons
/// are written out.
fn decisions(
    answer: wit::Decisions,
    batch: &[CustomerFacts],
    catalogue: &[String],
    output_cap: usize,
) -> Result<Vec<TierDecision>, PluginError> {
    // The answer lists each tier it uses once, so checking the list checks every decision.
    if let Some(stray) = answer.tier_ids.iter().find(|id| !catalogue.contains(id)) {
        return Err(outside_catalogue(stray, catalogue));
    }
    let sent = answer.texts.text.len()
        + 4 * answer.texts.ends.len()
        + 4 * answer.reasons.len()
        + 8 * answer.numbers.len()
        + answer.templates.iter().map(String::len).sum::<usize>();
    if sent > output_cap {
        return Err(PluginError::OutputTooLarge(output_cap));
    }
    check_batch_order(answer.customer_ids.iter().copied(), batch)?;
    check_columns(
        [
            answer.tiers.len(),
            answer.scores.len(),
            answer.reason_ends.len(),
        ],
        batch.len(),
    )?;
    let templates = answer
        .templates
        .iter()
        .map(|template| ReasonTemplate::parse(template))
        .collect::<Result<Vec<_>, _>>()
        .map_err(PluginError::InvalidOutput)?;
    let mut sentences = Sentences {
        templates,
        numbers: &answer.numbers,
        texts: split_at_ends(&answer.texts.text, &answer.texts.ends)?,
        numbers_used: 0,
        texts_used: 0,
        written: 24 * batch.len() + answer.tier_ids.iter().map(String::len).sum::<usize>(),
        output_cap,
    };
    // A loop rather than collecting `Result`s, which cannot know the length and so grew the
    // vector (and copied the decisions) ten times for a batch of 1,000.
    let mut decided = Vec::with_capacity(batch.len());
    let mut first = 0;
    for index in 0..batch.len() {
        let tier = tier_id(&answer.tier_ids, answer.tiers[index])?;
        let end = answer.reason_ends[index] as usize;
        let own = own_run(&answer.reasons, first, end)?;
        first = end;
        let mut reasons = Vec::with_capacity(own.len());
        for &template in own {
            reasons.push(sentences.write(template)?);
        }
        decided.push(TierDecision {
            customer_id: answer.customer_ids[index],
            tier: tier.clone(),
            score: answer.scores[index],
            reasons,
        });
    }
    sentences.all_used()?;
    Ok(decided)
}

/// Writes an answer's reasons, taking each template's values in turn.
struct Sentences<'a> {
    templates: Vec<ReasonTemplate<'a>>,
    numbers: &'a [f64],
    texts: Vec<&'a str>,
    /// How many numbers and texts earlier reasons took.
    numbers_used: usize,
    texts_used: usize,
    /// Bytes of answer so far, against the output cap.
    written: usize,
    output_cap: usize,
}

impl Sentences<'_> {
    fn write(&mut self, template: u32) -> Result<String, PluginError> {
        let template = self.templates.get(template as usize).ok_or_else(|| {
            PluginError::InvalidOutput(format!("reason template {template} is not in templates"))
        })?;
        let (numbers_end, texts_end) = (
            self.numbers_used + template.numbers(),
            self.texts_used + template.texts(),
        );
        let (Some(numbers), Some(texts)) = (
            self.numbers.get(self.numbers_used..numbers_end),
            self.texts.get(self.texts_used..texts_end),
        ) else {
            return Err(PluginError::InvalidOutput(
                "the reasons' templates have more placeholders than the answer has values".into(),
            ));
        };
        let sentence = template.render(numbers, texts);
        (self.numbers_used, self.texts_used) = (numbers_end, texts_end);
        self.written += sentence.len();
        if self.written > self.output_cap {
            return Err(PluginError::OutputTooLarge(self.output_cap));
        }
        Ok(sentence)
    }

    fn all_used(&self) -> Result<(), PluginError> {
        if self.numbers_used < self.numbers.len() || self.texts_used < self.texts.len() {
            return Err(PluginError::InvalidOutput(
                "the answer has more values than its reasons' templates have placeholders".into(),
            ));
        }
        Ok(())
    }
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

    fn catalogue() -> Vec<String> {
        vec!["high-value".into(), "regular".into()]
    }

    /// An answer deciding `regular` for the batch, with one reason per customer from
    /// `templates[0]` unless `reasons` and `reason_ends` say otherwise.
    fn answer(batch: &[CustomerFacts], templates: &[&str], numbers: Vec<f64>) -> wit::Decisions {
        wit::Decisions {
            customer_ids: batch.iter().map(|f| f.customer_id).collect(),
            tiers: vec![0; batch.len()],
            tier_ids: vec!["regular".into()],
            scores: vec![1.0; batch.len()],
            templates: templates.iter().map(|t| (*t).to_owned()).collect(),
            reasons: vec![0; batch.len()],
            reason_ends: (1..=batch.len() as u32).collect(),
            numbers,
            texts: no_texts(),
        }
    }

    #[test]
    fn a_batch_goes_out_in_columns_with_texts_end_to_end() {
        let batch = [
            facts(1, &["vip", "north"], &[]),
            facts(2, &[], &["no order for 90 días"]),
        ];
        let columns = profile_batch(&batch, FactSet::ALL).unwrap();
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
    fn only_the_declared_facts_go_out() {
        let mut odd = facts(1, &["vip"], &["silent"]);
        odd.lifecycle_stage = "vip".into();
        let declared = FactSet::of(&[wit::Fact::OrderValue365d, wit::Fact::Tags]);
        let columns = profile_batch(&[odd], declared).unwrap();
        assert_eq!(columns.customer_ids, [1]);
        assert_eq!(columns.order_value_365d, [6.0]);
        assert_eq!(
            (columns.tags.text.as_str(), columns.tag_ends),
            ("vip", vec![1])
        );
        assert!(columns.order_value_90d.is_empty() && columns.days_since_last_contact.is_empty());
        assert!(columns.lifecycle_stages.is_empty() && columns.latest_nps.is_empty());
        assert!(columns.custom_fields_json.text.is_empty() && columns.signal_ends.is_empty());
    }

    #[test]
    fn an_unknown_lifecycle_stage_is_bad_input() {
        let mut odd = facts(1, &[], &[]);
        odd.lifecycle_stage = "vip".into();
        let error = profile_batch(&[odd], FactSet::ALL).unwrap_err();
        assert_eq!(error.code(), "bad_input");
    }

    #[test]
    fn decisions_come_back_with_their_reasons_written_out() {
        let batch = [facts(1, &[], &[]), facts(2, &[], &[])];
        let mut sent = answer(
            &batch,
            &["orders {:.0} ({text})", "{text}"],
            vec![1_234_567.6],
        );
        (sent.reasons, sent.reason_ends) = (vec![0, 1, 1], vec![2, 3]);
        sent.texts = texts(&["bé", "a", "c"]);
        let decided = decisions(sent, &batch, &catalogue(), 1 << 20).unwrap();
        assert_eq!(decided[0].reasons, ["orders 1234568 (bé)", "a"]);
        assert_eq!(decided[1].reasons, ["c"]);
        assert_eq!(decided[1].tier, "regular");
    }

    #[test]
    fn a_malformed_answer_is_invalid_output() {
        let batch = [facts(1, &[], &[]), facts(2, &[], &[])];
        let invalid = |answer: wit::Decisions| {
            decisions(answer, &batch, &catalogue(), 1 << 20)
                .unwrap_err()
                .code()
        };
        let valid = || answer(&batch, &["{} days"], vec![1.0, 2.0]);
        assert!(decisions(valid(), &batch, &catalogue(), 1 << 20).is_ok());
        let mut stray = valid();
        stray.tier_ids = vec!["platinum".into()];
        let mut backwards = valid();
        backwards.reason_ends = vec![2, 1];
        let mut past = valid();
        past.reason_ends = vec![1, 3];
        let mut bad_tier = valid();
        bad_tier.tiers[1] = 1;
        let mut bad_template = valid();
        bad_template.reasons[1] = 1;
        let mut split = valid();
        split.texts = wit::Texts {
            text: "é".into(),
            ends: vec![1],
        };
        let mut short = valid();
        short.scores.pop();
        let mut swapped = valid();
        swapped.customer_ids.swap(0, 1);
        let mut missing = valid();
        missing.numbers.pop();
        let mut left_over = valid();
        left_over.numbers.push(3.0);
        let unknown_placeholder = answer(&batch, &["{x} days"], vec![1.0, 2.0]);
        for malformed in [
            stray,
            backwards,
            past,
            bad_tier,
            bad_template,
            split,
            short,
            swapped,
            missing,
            left_over,
            unknown_placeholder,
        ] {
            assert_eq!(invalid(malformed), "invalid_output");
        }
    }

    #[test]
    fn an_answer_over_the_output_cap_is_refused() {
        let batch = [facts(1, &[], &[]), facts(2, &[], &[])];
        let mut long_text = answer(&batch, &["{text}"], vec![]);
        long_text.texts = texts(&[&"x".repeat(2_000), "y"]);
        let error = decisions(long_text, &batch, &catalogue(), 1_000).unwrap_err();
        assert_eq!(error.code(), "output_too_large");
        // A short answer can still ask for long sentences: their written size counts too.
        let long = "z".repeat(600);
        let error = decisions(
            answer(&batch, &[&long], vec![]),
            &batch,
            &catalogue(),
            1_000,
        );
        let error = error.unwrap_err();
        assert_eq!(error.code(), "output_too_large");
    }
}
