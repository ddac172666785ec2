//! Dispatching surveys through the `webhook-channel` plugin (issue 7): 100,000 queued
//! deliveries → the worker's dispatch rounds (claim a batch, render each survey, sign and POST
//! it from the plugin through the host's HTTP client to a loopback sink, record the outcomes) on
//! the embedded SQLite store. Goal: ≥ 5,000 deliveries/s.
//!
//! 1. Seeds a tenant with `RAPPORT_BENCH_SURVEYS` customers (100,000), one contact each, from
//!    the demo generator; enables the channel posting to a keep-alive loopback sink (axum).
//! 2. `queue`: one campaign run queues a survey per customer (opt-out checked, no throttle).
//! 3. `dispatch`: `rapport::surveys::dispatch_due` in rounds of 500, as the worker runs it,
//!    until nothing is due. Every delivery must reach the sink exactly once and end `sent`.
//! 4. For comparison, in the same run: the same number of signed POSTs sent straight from
//!    native Rust with reqwest (no plugin, no store), 64 in flight: the transport's own ceiling.
//!
//! Run: `cargo bench -p rapport-tests --bench survey_dispatch`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use chrono::Utc;
use futures_util::StreamExt as _;
use rapport::demo::{self, GenerateSpec};
use rapport::domain::identity::{TenantFields, UserInput};
use rapport::domain::plugin::EnablePlugin;
use rapport::domain::survey::{Audience, NewCampaign, SurveySettings};
use rapport::registry::Registry;
use rapport::secrets::SecretBox;
use rapport::store::{self, surveys, tenants};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

const CHANNEL: &str = "rapport.webhook-channel";
const GOAL_PER_SECOND: f64 = 5_000.0;
const ROUND: u64 = 500;

fn surveys_wanted() -> usize {
    std::env::var("RAPPORT_BENCH_SURVEYS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000)
}

/// A keep-alive HTTP sink on loopback that counts what it receives.
async fn sink() -> (String, Arc<AtomicUsize>) {
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    let app = axum::Router::new().route(
        "/surveys",
        axum::routing::post(move |body: axum::body::Bytes| {
            let counter = counter.clone();
            async move {
                assert!(!body.is_empty());
                counter.fetch_add(1, Ordering::Relaxed);
                r#"{"id":"ok"}"#
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, received)
}

async fn seeded(wanted: usize, dir: &std::path::Path) -> (DatabaseConnection, i64) {
    let db = rapport::server::open_store(&store::sqlite_url(dir))
        .await
        .expect("open store");
    let fields = TenantFields {
        slug: "bench-surveys".into(),
        name: "Bench surveys".into(),
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
        customers: wanted,
        interactions_per_customer: 0,
        orders_per_customer: 0,
        exact_counts: true,
        code_prefix: "S".into(),
        seed: 7,
    };
    let summary = demo::generate(&db, tenant.id, &[admin.id], &spec, |_| {})
        .await
        .unwrap();
    println!(
        "seeded {} customers, {} contacts",
        summary.customers, summary.contacts
    );
    (db, tenant.id)
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

#[tokio::main]
async fn main() {
    let wanted = surveys_wanted();
    let dir = tempfile::tempdir().unwrap();
    let (db, tenant_id) = seeded(wanted, dir.path()).await;
    let (base, received) = sink().await;

    let registry = Registry::new(SecretBox::random(), None);
    let component = rapport_tests::plugin_component("webhook-channel");
    let (version, _) = registry
        .install(&db, component, None)
        .await
        .expect("install");
    let mut config = serde_json::Map::new();
    config.insert("url".into(), format!("{base}/surveys").into());
    config.insert("secret".into(), "bench-secret-0123456789".into());
    let enable = EnablePlugin {
        version: version.version.clone(),
        config,
        granted_hosts: vec!["127.0.0.1".into()],
    };
    registry
        .enable(&db, tenant_id, CHANNEL, enable)
        .await
        .expect("enable");
    let settings = SurveySettings {
        throttle_days: 0,
        reminder_after_hours: 0,
        ..SurveySettings::default()
    };
    surveys::save_settings(&db, tenant_id, &settings)
        .await
        .unwrap();

    let customer_ids: Vec<i64> = {
        let sql = format!("SELECT id FROM customers WHERE tenant_id = {tenant_id} ORDER BY id");
        db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .unwrap()
            .iter()
            .map(|row| row.try_get_by_index::<i64>(0).unwrap())
            .collect()
    };
    let started = Instant::now();
    let tx = store::begin_write(&db).await.unwrap();
    let campaign = NewCampaign {
        name: "bench".into(),
        template_key: "nps-quarterly".into(),
        channel: CHANNEL.into(),
        audience: Audience {
            customer_ids,
            ..Audience::default()
        },
        every_months: None,
        next_run_at: Utc::now(),
    };
    let campaign = surveys::create_campaign(&tx, tenant_id, campaign, 1)
        .await
        .unwrap();
    let campaign = surveys::run_campaign(&tx, tenant_id, campaign.id, Utc::now())
        .await
        .unwrap();
    store::commit(tx).await.unwrap();
    let queue_seconds = started.elapsed().as_secs_f64();
    let queued = campaign.last_report.unwrap().queued as usize;
    println!("queue: {queued} surveys in {queue_seconds:.2} s");

    let started = Instant::now();
    let mut rounds = 0;
    loop {
        let report = rapport::surveys::dispatch_due(&db, &registry, &base, Utc::now(), ROUND)
            .await
            .expect("dispatch");
        if report.handled() == 0 {
            break;
        }
        assert_eq!(report.failed + report.retrying, 0, "{report:?}");
        rounds += 1;
    }
    let dispatch_seconds = started.elapsed().as_secs_f64();
    let sent = count(
        &db,
        "SELECT COUNT(*) FROM survey_deliveries WHERE state = 'sent'",
    )
    .await;
    let arrived = received.load(Ordering::Relaxed);
    assert_eq!(sent as usize, queued, "every survey ends sent");
    assert_eq!(
        arrived, queued,
        "every survey reaches the sink exactly once"
    );
    let rate = queued as f64 / dispatch_seconds;

    let native_seconds = native_posts(&base, queued).await;
    let native_rate = queued as f64 / native_seconds;

    println!("\n== summary ({queued} surveys, goal: ≥ {GOAL_PER_SECOND} deliveries/s)");
    println!(
        "dispatch through the plugin: {dispatch_seconds:.2} s in {rounds} rounds = {rate:.0} deliveries/s ({:.2}× the goal)",
        rate / GOAL_PER_SECOND
    );
    println!(
        "native signed POSTs, no plugin or store: {native_seconds:.2} s = {native_rate:.0}/s (the plugin path runs at {:.0}% of it)",
        100.0 * rate / native_rate
    );
    println!(
        "goal {}",
        if rate >= GOAL_PER_SECOND {
            "MET"
        } else {
            "MISSED"
        }
    );
}

/// The same number of signed JSON POSTs straight from reqwest, 64 in flight.
async fn native_posts(base: &str, total: usize) -> f64 {
    let client = reqwest::Client::new();
    let url = format!("{base}/surveys");
    let started = Instant::now();
    futures_util::stream::iter(0..total)
        .map(|n| {
            let client = client.clone();
            let url = url.clone();
            async move {
                let body = serde_json::json!({"delivery_id": format!("sd-{n}"), "subject": "NPS", "response_link": "http://x/s/t"});
                let response = client
                    .post(&url)
                    .header("x-rapport-signature", "t=0,v1=00")
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert!(response.status().is_success());
            }
        })
        .buffer_unordered(64)
        .collect::<Vec<()>>()
        .await;
    started.elapsed().as_secs_f64()
}
