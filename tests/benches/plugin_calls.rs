//! Plugin host benchmarks (criterion), against the goals:
//!
//! - `instantiate`: a fresh store plus `InstancePre` instantiation on the pooling allocator, the
//!   fixed cost of every call (goal: median ≤ 10 µs);
//! - `tiers`: a fresh instance and a trivial call, the real per-invocation path;
//! - `tiering_batch/wasm` vs `tiering_batch/native`: one `evaluate` of 1,000 varied customers
//!   through the component, and the same policy source (`plugins/fixture-tiering/src/policy.rs`)
//!   compiled natively into this benchmark (goal: per-customer cost ≤ 1.3× native). Both
//!   write the policy's reasons from its templates with the host's writer
//!   (`rapport::domain::reason_template`), as the host does for a component since WIT 0.4.0;
//! - `value_tiering_batch/wasm` vs `…/native`: the same for Rapport's default policy
//!   (`plugins/value-tiering`), whose four scored dimensions and churn signals do more per
//!   customer than the fixture's one comparison and one formatted amount; its reasons are
//!   templates too.
//!
//! Both sides must give the same decisions before anything is measured. After criterion ran,
//! each batch group it measured is timed again in paired rounds (one wasm batch and one native
//! batch back to back, in alternating order), and a summary computes the goals from this run's
//! estimates: criterion's medians, and the paired rounds' medians with the median of their
//! per-round ratios. Criterion times all of one side and then all of the other, so on a machine
//! whose speed drifts (a VM sharing its host) a slow spell lands on one side only; in paired
//! rounds it lands on both.
//!
//! Run: `cargo bench -p rapport-tests --bench plugin_calls`.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use criterion::{Criterion, Throughput};
use rapport::domain::tiering::{CustomerFacts, TierDecision};
use rapport::plugins::{Grants, Limits, PluginEngine, TieringPlugin};
use tokio::runtime::Runtime;

#[path = "../../plugins/fixture-tiering/src/policy.rs"]
mod policy;

/// Customers per `evaluate` call.
const BATCH: usize = 1_000;
const GOAL_INSTANTIATE_NS: f64 = 10_000.0;
const GOAL_RATIO: f64 = 1.3;
/// Rounds of each paired comparison.
const PAIRED_ROUNDS: usize = 2_000;

mod batch;
mod common;
mod value_tiering_native;

use batch::customers;
use common::{criterion_home, median_ns};

fn main() {
    let started = SystemTime::now();
    let output = criterion_home();
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .output_directory(&output)
        .configure_from_args();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (plugin, value_tiering) = rt.block_on(async {
        let engine = PluginEngine::new(None).expect("plugin engine");
        let policy = |name: &str| {
            let component = engine
                .load(&rapport_tests::plugin_component(name))
                .unwrap_or_else(|error| panic!("load {name}: {error}"));
            TieringPlugin::new(engine.clone(), &component).expect("a tiering policy")
        };
        (policy("fixture-tiering"), policy("value-tiering"))
    });
    let limits = Limits::tiering();
    let grants = Arc::new(Grants::default());
    let batch = customers(BATCH);
    same_answers(&rt, &plugin, &batch, &grants, &limits);
    let value_settings = value_tiering_native::policy::Settings::default();
    same_value_tiering_answers(&rt, &value_tiering, &batch, &grants, &limits);

    let (plugin, limits, grants, batch) = (&plugin, &limits, &grants, batch.as_slice());
    criterion.bench_function("instantiate", |b| {
        b.to_async(&rt).iter(move || async move {
            plugin.instantiate_only(limits).await.expect("instantiates")
        })
    });
    criterion.bench_function("tiers", |b| {
        b.to_async(&rt).iter(move || async move {
            plugin
                .tiers(grants.clone(), limits)
                .await
                .outcome
                .expect("tiers")
        })
    });
    let batches = Batches {
        rt: &rt,
        batch,
        grants,
        limits,
    };
    let fixture_native = |batch: &[CustomerFacts]| native_evaluate(batch, None).expect("decides");
    let value_native =
        |batch: &[CustomerFacts]| value_tiering_native::evaluate(batch, &value_settings);
    batches.compare(&mut criterion, "tiering_batch", plugin, fixture_native);
    batches.compare(
        &mut criterion,
        "value_tiering_batch",
        &value_tiering,
        value_native,
    );
    criterion.final_summary();

    let measured = |group: &str| median_ns(&output, &format!("{group}/wasm"), started).is_some();
    let paired = PairedRatios {
        fixture: measured("tiering_batch").then(|| batches.paired(plugin, fixture_native)),
        value_tiering: measured("value_tiering_batch")
            .then(|| batches.paired(&value_tiering, value_native)),
    };
    summary(&output, started, &paired);
}

/// One batch of customers, evaluated by components and by their policies compiled natively.
struct Batches<'a> {
    rt: &'a Runtime,
    batch: &'a [CustomerFacts],
    grants: &'a Arc<Grants>,
    limits: &'a Limits,
}

impl Batches<'_> {
    /// Criterion group `name`: `name/wasm`, one `evaluate` of the batch through `plugin`, and
    /// `name/native`, the same policy's `native` build on the same batch.
    fn compare(
        &self,
        criterion: &mut Criterion,
        name: &str,
        plugin: &TieringPlugin,
        native: impl Fn(&[CustomerFacts]) -> Vec<TierDecision>,
    ) {
        let Batches {
            rt,
            batch,
            grants,
            limits,
        } = *self;
        let mut group = criterion.benchmark_group(name);
        group.throughput(Throughput::Elements(batch.len() as u64));
        group.bench_function("wasm", |b| {
            b.to_async(rt).iter(move || async move {
                plugin
                    .evaluate(black_box(batch), grants.clone(), limits)
                    .await
                    .outcome
                    .expect("decides")
            })
        });
        group.bench_function("native", |b| b.iter(|| native(black_box(batch))));
        group.finish();
    }

    /// [`PAIRED_ROUNDS`] rounds of one batch through `plugin` and one through `native`, the
    /// side that goes first alternating from round to round.
    fn paired(
        &self,
        plugin: &TieringPlugin,
        native: impl Fn(&[CustomerFacts]) -> Vec<TierDecision>,
    ) -> Paired {
        let (batch, grants, limits) = (self.batch, self.grants, self.limits);
        let time_wasm = || {
            let started = Instant::now();
            let decided =
                self.rt
                    .block_on(plugin.evaluate(black_box(batch), grants.clone(), limits));
            black_box(decided.outcome.expect("decides"));
            started.elapsed().as_nanos() as f64
        };
        let time_native = || {
            let started = Instant::now();
            black_box(native(black_box(batch)));
            started.elapsed().as_nanos() as f64
        };
        let rounds: Vec<(f64, f64)> = (0..PAIRED_ROUNDS)
            .map(|round| match round % 2 {
                0 => (time_wasm(), time_native()),
                _ => {
                    let native = time_native();
                    (time_wasm(), native)
                }
            })
            .collect();
        let median = |mut values: Vec<f64>| {
            values.sort_by(f64::total_cmp);
            values[values.len() / 2]
        };
        Paired {
            wasm_ns: median(rounds.iter().map(|round| round.0).collect()),
            native_ns: median(rounds.iter().map(|round| round.1).collect()),
            ratio: median(rounds.iter().map(|(wasm, native)| wasm / native).collect()),
        }
    }
}

/// Paired rounds of one policy: the median batch of each side, and the median of the rounds'
/// wasm / native ratios.
struct Paired {
    wasm_ns: f64,
    native_ns: f64,
    ratio: f64,
}

/// The paired rounds of the batch groups criterion measured in this run.
struct PairedRatios {
    fixture: Option<Paired>,
    value_tiering: Option<Paired>,
}

/// The fixture policy compiled natively, adapted to the host's types as `lib.rs` adapts it to
/// the SDK's: threshold from the (absent) setting, then one decision per customer, its reason
/// written from its template as the host writes a component's.
fn native_evaluate(
    batch: &[CustomerFacts],
    setting: Option<&str>,
) -> Result<Vec<TierDecision>, String> {
    let threshold = policy::threshold(setting)?;
    let mut templates = value_tiering_native::Templates::default();
    Ok(batch
        .iter()
        .map(|facts| {
            let verdict = policy::decide(
                policy::Facts {
                    order_value_365d: facts.order_value_365d,
                    days_since_last_contact: facts.days_since_last_contact,
                },
                threshold,
            );
            let mut reasons = Vec::with_capacity(1);
            verdict.reason.template(|template, numbers| {
                reasons.push(templates.render(template, numbers, &[]));
            });
            TierDecision {
                customer_id: facts.customer_id,
                tier: verdict.tier.to_owned(),
                score: verdict.score,
                reasons,
            }
        })
        .collect())
}

/// Both builds of the policy must agree before their speed is compared.
fn same_answers(
    rt: &Runtime,
    plugin: &TieringPlugin,
    batch: &[CustomerFacts],
    grants: &Arc<Grants>,
    limits: &Limits,
) {
    let (wasm, catalogue) = rt.block_on(async {
        let wasm = plugin.evaluate(batch, grants.clone(), limits).await;
        let catalogue = plugin.tiers(grants.clone(), limits).await;
        (
            wasm.outcome.expect("wasm decides"),
            catalogue.outcome.expect("wasm tiers"),
        )
    });
    let native = native_evaluate(batch, None).expect("native decides");
    assert!(wasm == native, "wasm and native decisions differ");
    let catalogue: Vec<(&str, &str)> = catalogue
        .iter()
        .map(|tier| (tier.id.as_str(), tier.label.as_str()))
        .collect();
    assert_eq!(
        catalogue,
        policy::TIERS,
        "wasm and native catalogues differ"
    );
    let count = |tier: &str| native.iter().filter(|d| d.tier == tier).count();
    eprintln!(
        "batch of {}: {} high-value, {} regular, {} churn-risk (wasm = native)",
        batch.len(),
        count("high-value"),
        count("regular"),
        count("churn-risk")
    );
}

/// The default policy's component must also agree with its native build.
fn same_value_tiering_answers(
    rt: &Runtime,
    plugin: &TieringPlugin,
    batch: &[CustomerFacts],
    grants: &Arc<Grants>,
    limits: &Limits,
) {
    let wasm = rt
        .block_on(plugin.evaluate(batch, grants.clone(), limits))
        .outcome
        .expect("value-tiering decides");
    let native = value_tiering_native::evaluate(batch, &Default::default());
    assert!(
        wasm == native,
        "value-tiering's wasm and native decisions differ"
    );
    let mut tiers: Vec<&str> = native.iter().map(|d| d.tier.as_str()).collect();
    tiers.sort_unstable();
    tiers.dedup();
    eprintln!("value-tiering on the same batch: tiers {tiers:?} (wasm = native)");
}

fn summary(output: &Path, since: SystemTime, paired: &PairedRatios) {
    let median = |id: &str| median_ns(output, id, since);
    let (instantiate, tiers) = (median("instantiate"), median("tiers"));
    let batches = ["tiering_batch", "value_tiering_batch"].map(|group| {
        (
            median(&format!("{group}/wasm")),
            median(&format!("{group}/native")),
        )
    });
    if instantiate.is_none() && tiers.is_none() && batches.iter().all(|b| b.0.is_none()) {
        return;
    }
    println!("\nplugin_calls summary (criterion medians of this run, then paired rounds)");
    let skipped = "not measured in this run";
    match instantiate {
        Some(ns) => println!(
            "  instantiate, fresh store + InstancePre (pooling): {:>8.2} µs   goal ≤ {:.0} µs: {}",
            ns / 1e3,
            GOAL_INSTANTIATE_NS / 1e3,
            verdict(ns <= GOAL_INSTANTIATE_NS)
        ),
        None => println!("  instantiate: {skipped}"),
    }
    match tiers {
        Some(ns) => println!(
            "  tiers, fresh instance + trivial call:             {:>8.2} µs",
            ns / 1e3
        ),
        None => println!("  tiers: {skipped}"),
    }
    let policies = [
        ("fixture-tiering", batches[0], &paired.fixture),
        ("value-tiering", batches[1], &paired.value_tiering),
    ];
    for (policy, criterion_medians, paired) in policies {
        let (Some(wasm), Some(native)) = criterion_medians else {
            println!("  {policy}: {skipped}");
            continue;
        };
        println!("  {policy}, batch of {BATCH}, per customer:");
        ratio_line("criterion medians", wasm, native, wasm / native);
        if let Some(paired) = paired {
            let rounds = format!("{PAIRED_ROUNDS} paired rounds");
            ratio_line(&rounds, paired.wasm_ns, paired.native_ns, paired.ratio);
        }
        // What is left once the fixed cost of a call is taken out: the instantiation, and the
        // whole trivial call (instantiation, first touch of fresh memory, store set-up).
        for (fixed, what) in [(instantiate, "instantiation"), (tiers, "a trivial call")] {
            if let Some(fixed) = fixed {
                println!(
                    "    without {what} ({:.1}% of the wasm batch): {:.2}× native",
                    100.0 * fixed / wasm,
                    (wasm - fixed) / native
                );
            }
        }
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

/// One comparison of a batch's per-customer cost (`wasm` and `native` are per batch).
fn ratio_line(what: &str, wasm: f64, native: f64, ratio: f64) {
    let per = |ns: f64| ns / BATCH as f64;
    println!(
        "    {what:<22} wasm {:>6.1} ns, native {:>6.1} ns, ratio {ratio:.2}×   goal ≤ {GOAL_RATIO}×: {}",
        per(wasm),
        per(native),
        verdict(ratio <= GOAL_RATIO)
    );
}
