//! Re-tiering a million customers end to end (issue 5): facts query → the `value-tiering`
//! plugin through the registry → writes (tiers, history, events), on the embedded SQLite store.
//!
//! 1. Seeds (once; cached under the target directory) a tenant with `RAPPORT_BENCH_CUSTOMERS`
//!    customers (1,000,000) and about 2 interactions, 3 orders and 0.6 satisfaction records each,
//!    from the demo generator.
//! 2. `cold`: clears every tier, then runs the tier job; every customer changes tier, so every
//!    customer gets a history row and an event.
//! 3. `nightly`: runs it again; tiers are already right, so only the tiers, scores and reasons
//!    are rewritten.
//! 4. On the facts of all customers: the same policy source
//!    (`plugins/value-tiering/src/policy.rs`) compiled natively, against the component called
//!    directly in the job's batches (`tiering::BATCH`). Both must decide alike.
//!
//! The goal: a run ≤ 20 s. The plugin's share is the registry's time for the plugin calls.
//!
//! Run: `cargo bench -p rapport-tests --bench tiering`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use rapport::demo::{self, GenerateSpec};
use rapport::domain::identity::{TenantFields, UserInput};
use rapport::domain::plugin::EnablePlugin;
use rapport::domain::tiering::{CustomerFacts, TierDecision, TierRunReport};
use rapport::plugins::{Grants, Limits, PluginEngine, TieringPlugin};
use rapport::registry::Registry;
use rapport::secrets::SecretBox;
use rapport::store::{self, tenants, tiering as tier_store};
use rapport::tiering;
use sea_orm::{ConnectionTrait, DatabaseConnection};

mod value_tiering_native;

use value_tiering_native::policy;

const POLICY: &str = "rapport.value-tiering";
const SLUG: &str = "bench-tiers";
const GOAL_SECONDS: f64 = 20.0;

fn customers_wanted() -> usize {
    std::env::var("RAPPORT_BENCH_CUSTOMERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000)
}

#[tokio::main]
async fn main() {
    let customers = customers_wanted();
    let db = seeded_store(customers).await;
    let tenant = tenants::find_by_slug(&db, SLUG)
        .await
        .unwrap()
        .expect("seeded tenant");
    let registry = Registry::new(SecretBox::random(), None);
    let component = rapport_tests::plugin_component("value-tiering");
    registry
        .install(&db, component.clone(), None)
        .await
        .expect("install");
    let enable = EnablePlugin {
        version: "1.3.2".into(),
        config: Default::default(),
        granted_hosts: Vec::new(),
    };
    registry
        .enable(&db, tenant.id, POLICY, enable)
        .await
        .expect("enable");

    clear_tiers(&db, tenant.id).await;
    let cold = timed_run(&db, &registry, tenant.id, "cold").await;
    let nightly = timed_run(&db, &registry, tenant.id, "nightly").await;
    let (native, wasm) = policy_alone(&db, tenant.id, &tenant.default_currency, &component).await;

    println!("\n== summary ({customers} customers, goal: a run ≤ {GOAL_SECONDS} s)");
    for (name, (seconds, report)) in [("cold", &cold), ("nightly", &nightly)] {
        let t = &report.timings;
        println!(
            "{name:>8}: {seconds:.2} s ({:.0} customers/s) — facts {:.2} s, plugin {:.2} s ({:.0} %), writes {:.2} s; changed {}; goal {}",
            report.evaluated as f64 / seconds,
            t.facts_seconds,
            t.plugin_seconds,
            100.0 * t.plugin_seconds / seconds,
            t.write_seconds,
            report.changed,
            if *seconds <= GOAL_SECONDS {
                "met"
            } else {
                "MISSED"
            }
        );
    }
    println!(
        "  policy: native {native:.3} s, wasm component {wasm:.3} s ({:.2}× native) over the same facts",
        wasm / native
    );
}

/// The cached store, seeded on first use.
async fn seeded_store(customers: usize) -> DatabaseConnection {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("tiering-{customers}"));
    let ready = dir.join("seeded");
    if !ready.exists() {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
    }
    let db = rapport::server::open_store(&store::sqlite_url(&dir))
        .await
        .expect("open store");
    if ready.exists() {
        println!("using the seeded store in {}", dir.display());
        return db;
    }
    let started = Instant::now();
    let fields = TenantFields {
        slug: SLUG.into(),
        name: "Bench tiers".into(),
        default_region: "CN".into(),
        default_currency: "CNY".into(),
        custom_field_schema: None,
    };
    let admin = UserInput {
        email: "admin@bench.test".into(),
        display_name: "Admin".into(),
        role: None,
        department_id: None,
    };
    let (tenant, admin, _) = tenants::create_with_admin(&db, fields, admin)
        .await
        .unwrap();
    let spec = GenerateSpec {
        customers,
        interactions_per_customer: 2,
        orders_per_customer: 3,
        exact_counts: false,
        code_prefix: "T".into(),
        seed: 5,
    };
    let summary = demo::generate(&db, tenant.id, &[admin.id], &spec, |done| {
        if done % 100_000 == 0 {
            println!("seeded {done} customers");
        }
    })
    .await
    .expect("generate");
    println!(
        "seeded {summary:?} in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    std::fs::write(&ready, b"").unwrap();
    db
}

async fn clear_tiers(db: &DatabaseConnection, tenant_id: i64) {
    for sql in [
        format!(
            "UPDATE customers SET tier = NULL, tier_score = NULL, tier_reasons = NULL, tier_evaluated_at = NULL WHERE tenant_id = {tenant_id}"
        ),
        format!("DELETE FROM tier_history WHERE tenant_id = {tenant_id}"),
        format!("DELETE FROM events WHERE tenant_id = {tenant_id}"),
        format!("DELETE FROM plugin_runs WHERE tenant_id = {tenant_id}"),
    ] {
        db.execute_unprepared(&sql).await.expect(&sql);
    }
}

async fn timed_run(
    db: &DatabaseConnection,
    registry: &Registry,
    tenant_id: i64,
    name: &str,
) -> (f64, TierRunReport) {
    let started = Instant::now();
    let report = tiering::run(db, registry, tenant_id, POLICY, |_, _| {})
        .await
        .expect("tier run");
    let seconds = started.elapsed().as_secs_f64();
    assert!(report.error.is_none(), "{:?}", report.error);
    println!("{name}: {seconds:.2} s, {report:?}");
    (seconds, report)
}

/// Native and component time for the policy alone over every customer's facts.
async fn policy_alone(
    db: &DatabaseConnection,
    tenant_id: i64,
    currency: &str,
    component: &[u8],
) -> (f64, f64) {
    let mut pages: Vec<Vec<CustomerFacts>> = Vec::new();
    let mut after = 0;
    let now = Utc::now();
    loop {
        let page = tier_store::facts_page(db, tenant_id, currency, after, tiering::BATCH, now)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = last.customer_id;
        pages.push(page);
    }
    let settings = policy::Settings::default();
    let started = Instant::now();
    let native: Vec<Vec<TierDecision>> = pages
        .iter()
        .map(|page| value_tiering_native::evaluate(page, &settings))
        .collect();
    let native_seconds = started.elapsed().as_secs_f64();

    let engine = PluginEngine::new(None).expect("engine");
    let loaded = engine.load(component).expect("load");
    let plugin = TieringPlugin::new(engine, &loaded).expect("tiering policy");
    let (grants, limits) = (Arc::new(Grants::default()), Limits::tiering());
    let started = Instant::now();
    let mut wasm = Vec::with_capacity(pages.len());
    for page in &pages {
        let decided = plugin.evaluate(page, grants.clone(), &limits).await;
        wasm.push(decided.outcome.expect("wasm decides"));
    }
    let wasm_seconds = started.elapsed().as_secs_f64();
    assert!(wasm == native, "wasm and native decisions differ");
    (native_seconds, wasm_seconds)
}
