//! The `rapport` binary as an operator runs it: `migrate {up,down,status}`, and `serve --demo`
//! with a pinned bootstrap token, on an ephemeral port over the embedded SQLite store.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use rapport_tests::reqwest::StatusCode;
use rapport_tests::serde_json::Value;

const MIGRATIONS: usize = 60;
/// The `rapport` program (`rapport::cli::main`), built by cargo for these tests.
const RAPPORT: &str = env!("CARGO_BIN_EXE_rapport-under-test");

fn migrate(data_dir: &Path, args: &[&str]) -> String {
    let output = Command::new(RAPPORT)
        .arg("migrate")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("RAPPORT_DATABASE_URL")
        .output()
        .expect("run rapport migrate");
    assert!(
        output.status.success(),
        "rapport migrate {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn count(status: &str, word: &str) -> usize {
    status.lines().filter(|line| line.starts_with(word)).count()
}

#[test]
fn migrate_up_down_and_status() {
    let dir = tempfile::tempdir().unwrap();
    let status = migrate(dir.path(), &["status"]);
    assert_eq!(count(&status, "pending"), MIGRATIONS, "{status}");
    migrate(dir.path(), &["up"]);
    let status = migrate(dir.path(), &["status"]);
    assert_eq!(count(&status, "applied"), MIGRATIONS, "{status}");
    assert!(status.contains("m20261123_000004_create_customers"));
    migrate(dir.path(), &["down", "--steps", "2"]);
    assert_eq!(count(&migrate(dir.path(), &["status"]), "pending"), 2);
    migrate(dir.path(), &["down", "--steps", "100"]);
    assert_eq!(
        count(&migrate(dir.path(), &["status"]), "pending"),
        MIGRATIONS
    );
}

/// A `rapport serve` child process, killed on drop.
struct Served {
    child: Child,
    base: String,
    stdout: Vec<String>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve_demo(data_dir: &Path, bootstrap_token: &str) -> Served {
    let mut child = Command::new(RAPPORT)
        .args(["serve", "--demo", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("RAPPORT_BOOTSTRAP_TOKEN", bootstrap_token)
        .env_remove("RAPPORT_DATABASE_URL")
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
    // Owned by the guard from here on, so the child is killed even if the wait below fails.
    let mut served = Served {
        child,
        base: String::new(),
        stdout: Vec::new(),
    };
    while served.base.is_empty() {
        let line = lines_rx
            .recv_timeout(Duration::from_secs(120))
            .expect("rapport serve prints its address");
        if let Some(rest) = line.strip_prefix("Rapport listening on ") {
            served.base = rest.split_whitespace().next().unwrap().to_owned();
        }
        served.stdout.push(line);
    }
    served
}

async fn get(base: &str, path: &str, token: &str) -> (StatusCode, Value) {
    let response = rapport_tests::reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (
        response.status(),
        response.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_bootstraps_and_loads_the_seed_customers() {
    let dir = tempfile::tempdir().unwrap();
    let bootstrap = "rpt_operator-chosen-bootstrap-secret-0001";
    let served = serve_demo(dir.path(), bootstrap);
    let printed = served.stdout.join("\n");
    assert!(
        printed.contains("created with the token from RAPPORT_BOOTSTRAP_TOKEN"),
        "{printed}"
    );
    assert!(
        !printed.contains(bootstrap),
        "a pinned bootstrap secret is not echoed"
    );
    let demo_token = std::fs::read_to_string(dir.path().join("demo-admin-token.txt"))
        .unwrap()
        .trim()
        .to_owned();
    assert!(printed.contains(&demo_token), "the demo token is printed");
    assert!(
        dir.path().join("rapport.db").exists(),
        "embedded SQLite file created"
    );

    let (status, tenants) = get(&served.base, "/api/v1/tenants", bootstrap).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tenants[0]["slug"], "demo");

    let (status, page) = get(&served.base, "/api/v1/customers?q=C2024001", &demo_token).await;
    assert_eq!(status, StatusCode::OK);
    let id = page["items"][0]["id"]
        .as_i64()
        .expect("the seed customer C2024001");
    let (_, view) = get(
        &served.base,
        &format!("/api/v1/customers/{id}/360"),
        &demo_token,
    )
    .await;
    assert_eq!(view["profile"]["industry"], "互联网");
    assert_eq!(view["profile"]["tier"]["tier"], "high-value");
    assert_eq!(view["order_stats"]["total_value"][0]["amount"], "1200000");
    assert_eq!(view["satisfaction"]["latest"][0]["value"], 4.2);

    let (_, all) = get(&served.base, "/api/v1/customers?limit=200", &demo_token).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 200);
    assert!(
        all["next_cursor"].is_string(),
        "thousands of generated customers"
    );
    drop(served);

    let again = serve_demo(dir.path(), bootstrap);
    let second_token = std::fs::read_to_string(dir.path().join("demo-admin-token.txt"))
        .unwrap()
        .trim()
        .to_owned();
    assert_ne!(
        second_token, demo_token,
        "a restart issues a fresh demo token"
    );
    let (status, page) = get(&again.base, "/api/v1/customers?q=C2024001", &second_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["items"][0]["id"], id, "the data survived the restart");
    assert_eq!(
        get(&again.base, "/api/v1/me", &demo_token).await.0,
        StatusCode::OK,
        "old tokens stay valid"
    );
}

/// Runs `rapport plugin ARGS`; returns success, stdout and stderr.
fn plugin(args: &[&std::ffi::OsStr]) -> (bool, String, String) {
    let output = Command::new(RAPPORT)
        .arg("plugin")
        .args(args)
        .env_remove("RAPPORT_DATABASE_URL")
        .env_remove("RAPPORT_SECRET_KEY")
        .env_remove("RAPPORT_PLUGIN_LIMITS")
        .output()
        .expect("run rapport plugin");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

const SIDECAR: &str = r#"
id = "acme.cli-tiers"
version = "1.0.0"
vendor = "Acme"
kind = "tiering-policy"
api_version = "0.4.0"
"#;

#[test]
fn plugin_install_and_local_test() {
    let dir = tempfile::tempdir().unwrap();
    let component = dir.path().join("policy.wasm");
    std::fs::write(
        &component,
        rapport_tests::plugin_component("fixture-tiering"),
    )
    .unwrap();
    let manifest = dir.path().join("rapport-plugin.toml");
    std::fs::write(&manifest, SIDECAR).unwrap();
    let data = dir.path().join("data");
    let install = |with_manifest: bool| {
        let mut args = vec![
            "install".as_ref(),
            component.as_os_str(),
            "--data-dir".as_ref(),
            data.as_os_str(),
        ];
        if with_manifest {
            args.extend(["--manifest".as_ref(), manifest.as_os_str()]);
        }
        plugin(&args)
    };

    let (ok, _, stderr) = install(false);
    assert!(!ok && stderr.contains("embeds no manifest"), "{stderr}");
    let (ok, stdout, stderr) = install(true);
    assert!(ok, "{stderr}");
    assert!(
        stdout.starts_with("installed acme.cli-tiers 1.0.0 (tiering-policy, sha256 "),
        "{stdout}"
    );
    let (ok, stdout, _) = install(true);
    assert!(
        ok && stdout.starts_with("already installed: acme.cli-tiers 1.0.0"),
        "{stdout}"
    );
    assert!(
        data.join("secret.key").exists(),
        "the data key is created with the store"
    );

    let fixture = dir.path().join("fixture.json");
    let facts = r#"{"customer_id": 1, "lifecycle_stage": "customer", "tenure_days": 540, "tags": [],
        "order_value_90d": 0, "order_value_365d": 1500000, "order_count_90d": 0, "order_count_365d": 3,
        "days_since_last_order": 20, "interaction_count_30d": 1, "interaction_count_90d": 2,
        "days_since_last_contact": 4, "open_complaints": 0, "complaints_90d": 0,
        "latest_csat": null, "latest_nps": null, "latest_ces": null}"#;
    std::fs::write(
        &fixture,
        format!(r#"{{"export": "evaluate", "input": [{facts}]}}"#),
    )
    .unwrap();
    let (ok, stdout, stderr) = plugin(&[
        "test".as_ref(),
        component.as_os_str(),
        "--input".as_ref(),
        fixture.as_os_str(),
    ]);
    assert!(ok, "{stdout}{stderr}");
    let report: Value = rapport_tests::serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["output"][0]["tier"], "high-value", "{report}");

    std::fs::write(
        &fixture,
        r#"{"export": "evaluate", "input": [], "config": {"high_value_threshold": "lots"}}"#,
    )
    .unwrap();
    let (ok, stdout, _) = plugin(&[
        "test".as_ref(),
        component.as_os_str(),
        "--input".as_ref(),
        fixture.as_os_str(),
    ]);
    assert!(!ok, "a failing plugin call exits non-zero");
    let report: Value = rapport_tests::serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["error"]["code"], "plugin_error", "{report}");

    // An operator's limits file runs the call as that operator's server would.
    std::fs::write(
        &fixture,
        format!(r#"{{"export": "evaluate", "input": [{facts}]}}"#),
    )
    .unwrap();
    let limits = dir.path().join("plugin-limits.toml");
    let test_with_limits = || {
        plugin(&[
            "test".as_ref(),
            component.as_os_str(),
            "--input".as_ref(),
            fixture.as_os_str(),
            "--limits".as_ref(),
            limits.as_os_str(),
        ])
    };
    std::fs::write(&limits, "[tiering-policy]\nfuel = 1\ndeadline_ms = 2500\n").unwrap();
    let (ok, stdout, _) = test_with_limits();
    assert!(!ok, "a policy out of fuel fails the call");
    let report: Value = rapport_tests::serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["error"]["code"], "fuel_exhausted", "{report}");
    assert_eq!(report["limits"]["fuel"], 1, "{report}");
    assert_eq!(report["limits"]["deadline_ms"], 2500, "{report}");
    std::fs::write(&limits, "[tiering-policy]\ndeadline_ms = 0\n").unwrap();
    let (ok, stdout, stderr) = test_with_limits();
    assert!(!ok && stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("plugin-limits.toml"), "{stderr}");
    assert!(
        stderr.contains("[tiering-policy] deadline_ms must be above 0"),
        "{stderr}"
    );
    std::fs::remove_file(&limits).unwrap();
    let (ok, _, stderr) = test_with_limits();
    assert!(!ok && stderr.contains("plugin-limits.toml"), "{stderr}");
    std::fs::write(&limits, "[tiering-policy]\nfuel = 1\n").unwrap();
    let by_variable = Command::new(RAPPORT)
        .args(["plugin", "test"])
        .arg(&component)
        .arg("--input")
        .arg(&fixture)
        .env("RAPPORT_PLUGIN_LIMITS", &limits)
        .output()
        .expect("run rapport plugin test");
    let report: Value = rapport_tests::serde_json::from_slice(&by_variable.stdout).unwrap();
    assert_eq!(
        report["error"]["code"], "fuel_exhausted",
        "RAPPORT_PLUGIN_LIMITS names the file as for the server: {report}"
    );
}

/// Sets up, in the data directory's store, a tenant with one customer and the value-tiering
/// policy enabled; returns the tenant's and the customer's ids.
async fn tenant_with_policy(data: &Path) -> (i64, i64) {
    use rapport::domain::identity::{TenantFields, UserInput};
    use rapport::domain::order::OrderInput;
    let url = rapport::store::sqlite_url(data);
    let db = rapport::server::open_store(&url).await.unwrap();
    let fields = TenantFields {
        slug: "cli-tiers".into(),
        name: "CLI tiers".into(),
        default_region: "CN".into(),
        default_currency: "CNY".into(),
        custom_field_schema: None,
    };
    let admin = UserInput {
        email: "admin@cli.test".into(),
        display_name: "Admin".into(),
        role: None,
        department_id: None,
    };
    let (tenant, _, _) = rapport::store::tenants::create_with_admin(&db, fields, admin)
        .await
        .unwrap();
    let customer: rapport::domain::customer::CustomerInput = rapport_tests::serde_json::from_value(
        rapport_tests::serde_json::json!({"code": "CLI1", "name": "Big", "kind": "company"}),
    )
    .unwrap();
    let customer =
        rapport::store::customers::create(&db, tenant.id, customer.validate(None).unwrap())
            .await
            .unwrap();
    let order: OrderInput =
        rapport_tests::serde_json::from_value(rapport_tests::serde_json::json!({
            "amount": {"amount": "3000000", "currency": "CNY"},
            "ordered_at": (chrono::Utc::now() - chrono::Duration::days(3)).to_rfc3339(),
        }))
        .unwrap();
    rapport::store::orders::create(&db, tenant.id, customer.id, order.validate().unwrap())
        .await
        .unwrap();
    let registry = rapport::server::registry(data).unwrap();
    let enable = rapport::domain::plugin::EnablePlugin {
        version: "1.3.2".into(),
        config: Default::default(),
        granted_hosts: Vec::new(),
    };
    registry
        .enable(&db, tenant.id, "rapport.value-tiering", enable)
        .await
        .unwrap();
    (tenant.id, customer.id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tier_run_re_tiers_a_tenant_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let component = dir.path().join("value-tiering.wasm");
    std::fs::write(&component, rapport_tests::plugin_component("value-tiering")).unwrap();
    let data = dir.path().join("data");
    let (ok, _, stderr) = plugin(&[
        "install".as_ref(),
        component.as_os_str(),
        "--data-dir".as_ref(),
        data.as_os_str(),
    ]);
    assert!(ok, "{stderr}");
    let (tenant, customer) = tenant_with_policy(&data).await;
    let run = |tenant: &str| {
        Command::new(RAPPORT)
            .args(["tier", "run", "--tenant", tenant, "--data-dir"])
            .arg(&data)
            .env_remove("RAPPORT_DATABASE_URL")
            .env_remove("RAPPORT_SECRET_KEY")
            .env_remove("RAPPORT_PLUGIN_LIMITS")
            .output()
            .expect("run rapport tier run")
    };
    // The operator's limits file in the data directory holds the policy to a fuel budget it
    // cannot finish in; a file with a wrong value stops the command, naming the file and value.
    let limits = data.join("plugin-limits.toml");
    std::fs::write(&limits, "[tiering-policy]\nfuel = 1000\n").unwrap();
    let output = run("cli-tiers");
    assert!(
        !output.status.success(),
        "a policy out of fuel fails the run"
    );
    let report: Value = rapport_tests::serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["error"]["code"], "fuel_exhausted", "{report}");
    std::fs::write(&limits, "[tiering-policy]\nfuel = 0\n").unwrap();
    let output = run("cli-tiers");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("plugin-limits.toml"), "{stderr}");
    assert!(
        stderr.contains("[tiering-policy] fuel must be above 0"),
        "{stderr}"
    );
    std::fs::remove_file(&limits).unwrap();
    let output = run("cli-tiers");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = rapport_tests::serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["evaluated"], 1, "{report}");
    assert_eq!(report["changed"], 1, "{report}");
    let db = rapport::server::open_store(&rapport::store::sqlite_url(&data))
        .await
        .unwrap();
    let history = rapport::store::tiering::history(&db, tenant, customer)
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].to_tier, "high-value");
    let output = run("nobody");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no tenant \"nobody\""));
}
