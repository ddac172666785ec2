//! A sync survives `kill -9`: the real `rapport serve` process syncs the Odoo connector from a
//! loopback mock (slowed down so the sync takes a few seconds), is killed with SIGKILL in the
//! middle, and is started again on the same data; the next run resumes from the last committed
//! page. The result must equal a clean sync of the same data into another tenant (run with
//! `rapport sync run`): every customer and order once, with the same values, nothing lost and
//! nothing twice.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine as _;
use rapport_tests::odoo_mock::{
    ODOO_DB, ODOO_KEY, ODOO_LOGIN, OdooMock, bulk_orders, bulk_partners, odoo_server,
};
use rapport_tests::reqwest::{Client, Method, StatusCode};
use rapport_tests::serde_json::{self, Value, json};
use rapport_tests::{Backend, PLATFORM_TOKEN, ScratchDatabase, backends, plugin_component};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};

const RAPPORT: &str = env!("CARGO_BIN_EXE_rapport-under-test");
const ODOO: &str = "rapport.odoo-connector";
const ORDERS: i64 = 2_000;
const PARTNERS: i64 = 40;

/// A `rapport serve` child process; killed (SIGKILL) on drop if still running.
struct Served {
    child: Child,
    base: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data_dir: &Path, database_url: &str) -> Served {
    let mut child = Command::new(RAPPORT)
        .args(["serve", "--bind", "127.0.0.1:0", "--job-tick-ms", "0"])
        .args(["--sync-lease-seconds", "2", "--database-url", database_url])
        .arg("--data-dir")
        .arg(data_dir)
        .env("RAPPORT_BOOTSTRAP_TOKEN", PLATFORM_TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn rapport serve");
    let (lines_tx, lines_rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut served = Served {
        child,
        base: String::new(),
    };
    while served.base.is_empty() {
        let line = lines_rx
            .recv_timeout(Duration::from_secs(120))
            .expect("rapport serve prints its address");
        if let Some(rest) = line.strip_prefix("Rapport listening on ") {
            served.base = rest.split_whitespace().next().unwrap().to_owned();
        }
    }
    served
}

async fn call(
    served: &Served,
    method: Method,
    path: &str,
    token: &str,
    body: Value,
) -> (StatusCode, Value) {
    let response = Client::new()
        .request(method, format!("{}{path}", served.base))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("the server answers");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A tenant with the Odoo connector enabled against `odoo` and its sync settings; returns the
/// tenant admin's token.
async fn tenant_syncing(served: &Served, slug: &str, odoo: &str) -> String {
    let body = json!({"slug": slug, "name": slug, "admin": {"email": format!("admin@{slug}.test"), "display_name": "Admin"}});
    let (status, created) = call(
        served,
        Method::POST,
        "/api/v1/tenants",
        PLATFORM_TOKEN,
        body,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let token = created["admin_token"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let component =
        base64::engine::general_purpose::STANDARD.encode(plugin_component("odoo-connector"));
    let (status, installed) = call(
        served,
        Method::POST,
        "/api/v1/plugins",
        PLATFORM_TOKEN,
        json!({"component": component}),
    )
    .await;
    assert!(status.is_success(), "{installed}");
    let enable = json!({"version": installed["plugin"]["version"], "granted_hosts": ["127.0.0.1"],
        "config": {"base_url": odoo, "database": ODOO_DB, "login": ODOO_LOGIN, "api_key": ODOO_KEY}});
    let (status, body) = call(
        served,
        Method::PUT,
        &format!("/api/v1/tenant/plugins/{ODOO}"),
        &token,
        enable,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let settings =
        json!({"source": "odoo", "page_size": 50, "unmatched": "create", "retry_base_ms": 50});
    let (status, body) = call(
        served,
        Method::PUT,
        &format!("/api/v1/sync/connectors/{ODOO}"),
        &token,
        settings,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    token
}

/// Starts a run, retrying while the lease of a killed process has not expired yet.
async fn start_run(served: &Served, token: &str) -> i64 {
    let path = format!("/api/v1/sync/connectors/{ODOO}/runs");
    for _ in 0..100 {
        let (status, run) = call(served, Method::POST, &path, token, json!({})).await;
        match status {
            StatusCode::ACCEPTED => return run["id"].as_i64().unwrap(),
            StatusCode::CONFLICT if run["error"]["code"] == "sync_running" => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            other => panic!("{other}: {run}"),
        }
    }
    panic!("the connector stayed claimed");
}

async fn wait_for_end(served: &Served, token: &str, run_id: i64) -> Value {
    for _ in 0..1200 {
        let (_, run) = call(
            served,
            Method::GET,
            &format!("/api/v1/sync/runs/{run_id}"),
            token,
            Value::Null,
        )
        .await;
        if run["outcome"] != "running" {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("run {run_id} did not end");
}

async fn scalar(db: &DatabaseConnection, sql: &str) -> i64 {
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

/// Every synced order of the tenant as (order, customer's external id, amount, currency, time,
/// status) text, in order.
async fn synced_orders(db: &DatabaseConnection, slug: &str) -> Vec<String> {
    let sql = format!(
        "SELECT o.external_id, l.external_id, o.amount_e4, o.currency, o.ordered_at, o.status \
         FROM orders o JOIN tenants t ON t.id = o.tenant_id \
         JOIN sync_links l ON l.customer_id = o.customer_id AND l.tenant_id = o.tenant_id \
         WHERE t.slug = '{slug}' ORDER BY o.external_id"
    );
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .into_iter()
        .map(|row| {
            let order: String = row.try_get_by_index(0).unwrap();
            let customer: String = row.try_get_by_index(1).unwrap();
            let amount: i64 = row.try_get_by_index(2).unwrap();
            let currency: String = row.try_get_by_index(3).unwrap();
            let at: chrono::DateTime<chrono::Utc> = row.try_get_by_index(4).unwrap();
            let status: String = row.try_get_by_index(5).unwrap();
            format!("{order} {customer} {amount} {currency} {at} {status}")
        })
        .collect()
}

async fn tenant_count(db: &DatabaseConnection, table: &str, slug: &str) -> i64 {
    scalar(
        db,
        &format!(
            "SELECT COUNT(*) FROM {table} x JOIN tenants t ON t.id = x.tenant_id WHERE t.slug = '{slug}'"
        ),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_killed_mid_run_resumes_without_loss_or_duplicates() {
    for backend in backends() {
        eprintln!("--- backend: {backend:?}");
        killed_and_resumed(backend).await;
    }
}

async fn killed_and_resumed(backend: Backend) {
    let scratch = ScratchDatabase::create(backend).await;
    let data_dir = scratch.data_dir();
    let mock = OdooMock::new(
        bulk_partners(PARTNERS, "2024-01-01 00:00:00"),
        bulk_orders(ORDERS, PARTNERS, "2024-02-01 00:00:00", 120),
        true,
    );
    let odoo = odoo_server(mock.clone()).await;
    mock.set_delay(Duration::from_millis(15));

    let served = serve(&data_dir, &scratch.url);
    let db = Database::connect(&scratch.url).await.unwrap();
    let token = tenant_syncing(&served, "crash", &odoo.base).await;
    let interrupted = start_run(&served, &token).await;

    // Kill it once a good part, but not all, of the orders is in.
    let mut seen = 0;
    for _ in 0..3000 {
        seen = tenant_count(&db, "orders", "crash").await;
        if seen >= ORDERS / 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(served);
    let at_kill = tenant_count(&db, "orders", "crash").await;
    assert!(
        (ORDERS / 4..ORDERS).contains(&at_kill),
        "killed mid-sync: {seen} then {at_kill} of {ORDERS} orders"
    );

    let served = serve(&data_dir, &scratch.url);
    let resumed = start_run(&served, &token).await;
    let run = wait_for_end(&served, &token, resumed).await;
    assert_eq!(run["outcome"], "succeeded", "{run}");
    let orders = run["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stream"] == "orders")
        .unwrap();
    assert!(
        orders["records_read"].as_i64().unwrap() <= ORDERS - at_kill + 50,
        "the resumed run starts from the committed cursor, at most a page back: {orders}"
    );
    let (_, first) = call(
        &served,
        Method::GET,
        &format!("/api/v1/sync/runs/{interrupted}"),
        &token,
        Value::Null,
    )
    .await;
    assert_eq!(first["outcome"], "interrupted", "{first}");

    // The clean sync runs from the command line, as an operator would.
    mock.set_delay(Duration::ZERO);
    tenant_syncing(&served, "clean", &odoo.base).await;
    let output = Command::new(RAPPORT)
        .args([
            "sync",
            "run",
            ODOO,
            "--tenant",
            "clean",
            "--database-url",
            &scratch.url,
        ])
        .arg("--data-dir")
        .arg(&data_dir)
        .output()
        .expect("run rapport sync run");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{printed}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let clean: Value = serde_json::from_str(&printed).expect("the run as JSON");
    assert_eq!(
        (&clean["outcome"], &clean["trigger"]),
        (&json!("succeeded"), &json!("cli"))
    );

    let resumed_orders = synced_orders(&db, "crash").await;
    let clean_orders = synced_orders(&db, "clean").await;
    assert_eq!(resumed_orders.len() as i64, ORDERS);
    assert_eq!(
        resumed_orders, clean_orders,
        "the resumed sync equals a clean one"
    );
    for slug in ["crash", "clean"] {
        assert_eq!(
            tenant_count(&db, "orders", slug).await,
            ORDERS,
            "{slug}: no duplicate order"
        );
        assert_eq!(
            tenant_count(&db, "customers", slug).await,
            PARTNERS,
            "{slug}: no duplicate customer"
        );
        assert_eq!(
            tenant_count(&db, "sync_links", slug).await,
            PARTNERS,
            "{slug}"
        );
    }
    db.close().await.ok();
}
