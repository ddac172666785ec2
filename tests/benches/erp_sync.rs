//! Syncing orders from an ERP (issue 8): 1,000,000 sale orders served by the loopback Odoo
//! mock (JSON-RPC, 5,000 per `search_read`, 100 sharing each `write_date`) → the real
//! `odoo-connector` plugin → the sync engine's page imports (existence check, multi-row
//! inserts, re-tier requests, cursor and counters, one transaction per page) on the embedded
//! SQLite store. Goal: ≥ 50,000 orders/s.
//!
//! For comparison, in the same run and on the same store: a plain batched INSERT of the same
//! 1,000,000 rows (500 rows per statement, 5,000 per transaction) into another tenant, with no
//! plugin, no HTTP and no checks: the store's own ceiling.
//!
//! Run: `cargo bench -p rapport-tests --bench erp_sync` (`RAPPORT_BENCH_ORDERS` to change the
//! count).

use std::time::Instant;

use chrono::Utc;
use rapport::domain::identity::{TenantFields, UserInput};
use rapport::domain::plugin::EnablePlugin;
use rapport::domain::sync::{RunTrigger, SyncSettings};
use rapport::registry::Registry;
use rapport::secrets::SecretBox;
use rapport::store::entity::order;
use rapport::store::{self, begin_write, tenants};
use rapport::sync::{SyncOptions, run_connector};
use rapport_tests::odoo_mock::{
    ODOO_DB, ODOO_KEY, ODOO_LOGIN, OdooMock, bulk_orders, bulk_partners, odoo_server,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, Set, Statement};

const ODOO: &str = "rapport.odoo-connector";
const GOAL_PER_SECOND: f64 = 50_000.0;
const PARTNERS: i64 = 1_000;
const PAGE: u32 = 5_000;

fn orders_wanted() -> i64 {
    std::env::var("RAPPORT_BENCH_ORDERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000)
}

async fn tenant(db: &DatabaseConnection, slug: &str) -> i64 {
    let fields = TenantFields {
        slug: slug.into(),
        name: slug.into(),
        default_region: "BE".into(),
        default_currency: "EUR".into(),
        custom_field_schema: None,
    };
    let admin = UserInput {
        email: format!("admin@{slug}.test"),
        display_name: "Admin".into(),
        role: None,
        department_id: None,
    };
    let (tenant, _, _) = tenants::create_with_admin(db, fields, admin).await.unwrap();
    tenant.id
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

/// The same rows as the sync stores, inserted plainly: 500 per statement, 5,000 per
/// transaction, customers known up front.
async fn plain_insert(db: &DatabaseConnection, tenant_id: i64, orders: i64) -> f64 {
    let customers: Vec<i64> = {
        let mut ids = Vec::new();
        for n in 0..PARTNERS {
            let row = rapport::store::entity::customer::ActiveModel {
                tenant_id: Set(tenant_id),
                code: Set(format!("P{n}")),
                name: Set(format!("Partner {n}")),
                kind: Set("company".into()),
                stage: Set("customer".into()),
                custom_fields: Set(serde_json::json!({})),
                quality_flags: Set(serde_json::json!([])),
                created_at: Set(Utc::now()),
                updated_at: Set(Utc::now()),
                ..Default::default()
            };
            ids.push(
                rapport::store::entity::customer::Entity::insert(row)
                    .exec(db)
                    .await
                    .unwrap()
                    .last_insert_id,
            );
        }
        ids
    };
    let first = chrono::DateTime::parse_from_rfc3339("2024-02-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let started = Instant::now();
    let mut next = 1;
    while next <= orders {
        let tx = begin_write(db).await.unwrap();
        for _ in 0..(PAGE as i64 / 500) {
            if next > orders {
                break;
            }
            let rows: Vec<order::ActiveModel> = (next..(next + 500).min(orders + 1))
                .map(|id| order::ActiveModel {
                    tenant_id: Set(tenant_id),
                    customer_id: Set(customers[((id - 1) % PARTNERS) as usize]),
                    source: Set("odoo".into()),
                    external_id: Set(id.to_string()),
                    amount_e4: Set((100 + (id * 7_919) % 1_000_000) * 100),
                    currency: Set("EUR".into()),
                    product: Set(None),
                    category: Set(None),
                    ordered_at: Set(first + chrono::Duration::seconds(id / 100)),
                    status: Set("confirmed".into()),
                    created_at: Set(Utc::now()),
                    updated_at: Set(Utc::now()),
                    ..Default::default()
                })
                .collect();
            next += rows.len() as i64;
            order::Entity::insert_many(rows)
                .exec_without_returning(&tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }
    started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let orders = orders_wanted();
    let dir = tempfile::tempdir().unwrap();
    let db = rapport::server::open_store(&store::sqlite_url(dir.path()))
        .await
        .expect("open store");
    let synced_tenant = tenant(&db, "bench-sync").await;
    let plain_tenant = tenant(&db, "bench-plain").await;

    let generated = Instant::now();
    let mock = OdooMock::new(
        bulk_partners(PARTNERS, "2024-01-01 00:00:00"),
        bulk_orders(orders, PARTNERS, "2024-02-01 00:00:00", 100),
        true,
    );
    let odoo = odoo_server(mock.clone()).await;
    println!(
        "mock Odoo with {PARTNERS} partners and {orders} orders ready in {:.1} s",
        generated.elapsed().as_secs_f64()
    );

    let registry = Registry::new(SecretBox::random(), None);
    let component = rapport_tests::plugin_component("odoo-connector");
    let (version, _) = registry
        .install(&db, component, None)
        .await
        .expect("install");
    let mut config = serde_json::Map::new();
    config.insert("base_url".into(), odoo.base.clone().into());
    config.insert("database".into(), ODOO_DB.into());
    config.insert("login".into(), ODOO_LOGIN.into());
    config.insert("api_key".into(), ODOO_KEY.into());
    config.insert("page_size".into(), PAGE.into());
    let enable = EnablePlugin {
        version: version.version.clone(),
        config,
        granted_hosts: vec!["127.0.0.1".into()],
    };
    registry
        .enable(&db, synced_tenant, ODOO, enable)
        .await
        .expect("enable");
    let settings: SyncSettings = serde_json::from_value(serde_json::json!({
        "source": "odoo", "page_size": PAGE, "reads_per_minute": 60_000, "unmatched": "create"}))
    .unwrap();
    store::sync::put_connector(&db, synced_tenant, ODOO, settings.validate().unwrap())
        .await
        .unwrap();

    let started = Instant::now();
    let run = run_connector(
        &db,
        &registry,
        synced_tenant,
        ODOO,
        RunTrigger::Cli,
        &SyncOptions::default(),
        &|_| {},
    )
    .await
    .expect("sync");
    let wall = started.elapsed().as_secs_f64();
    assert!(run.error.is_none(), "{:?}", run.error);
    let stream = run
        .streams
        .iter()
        .find(|s| s.stream == "orders")
        .expect("orders stream");
    assert_eq!(stream.counts.inserted, orders, "{stream:?}");
    let stored = count(
        &db,
        &format!(
            "SELECT COUNT(DISTINCT external_id) FROM orders WHERE tenant_id = {synced_tenant}"
        ),
    )
    .await;
    assert_eq!(stored, orders, "every order once");
    let orders_seconds = stream.duration_ms.unwrap_or(0) as f64 / 1000.0;
    let synced_rate = orders as f64 / orders_seconds;

    let plain_seconds = plain_insert(&db, plain_tenant, orders).await;
    let plain_rate = orders as f64 / plain_seconds;

    println!(
        "sync (orders stream, {} pages): {orders} orders in {orders_seconds:.2} s = {synced_rate:.0} orders/s (whole run incl. customers {wall:.2} s)",
        stream.counts.pages
    );
    println!(
        "plain batched INSERT of the same rows: {plain_seconds:.2} s = {plain_rate:.0} rows/s"
    );
    println!(
        "sync / plain INSERT = {:.2}; goal {GOAL_PER_SECOND:.0} orders/s: {} ({:.2}× the goal)",
        synced_rate / plain_rate,
        if synced_rate >= GOAL_PER_SECOND {
            "met"
        } else {
            "MISSED"
        },
        synced_rate / GOAL_PER_SECOND
    );
}
