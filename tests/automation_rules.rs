//! Automation rules through the HTTP API and the background worker: the defaults from the seeds
//! are installed per tenant; each fires when it should and not otherwise, never twice; bad rules
//! are refused with stable codes; reminders become events once; and two runtime processes on
//! one database run a scheduled rule exactly once.

use std::time::Duration as StdDuration;

use chrono::{Duration, SecondsFormat, Utc};
use rapport::jobs::JobOptions;
use rapport_tests::reqwest::{Method, StatusCode};
use rapport_tests::serde_json::{Value, json};
use rapport_tests::{Tenant, TestServer, assert_error, backends, id, on_every_backend};
use sea_orm::ConnectionTrait;

fn fast_jobs() -> JobOptions {
    JobOptions {
        tick: StdDuration::from_millis(50),
        ..JobOptions::default()
    }
}

fn days_from_now(days: i64) -> String {
    (Utc::now() + Duration::days(days)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

async fn rules(server: &TestServer, token: &str) -> Vec<Value> {
    let (status, body) = server.get("/api/v1/automation/rules", token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().unwrap().clone()
}

async fn rule_id(server: &TestServer, token: &str, key: &str) -> i64 {
    let all = rules(server, token).await;
    let rule = all.iter().find(|r| r["key"] == key).expect(key);
    id(rule)
}

async fn run_rule(server: &TestServer, token: &str, rule: i64) -> Value {
    let path = format!("/api/v1/automation/rules/{rule}/runs");
    let (status, report) = server.post(&path, token, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    report
}

/// The tasks a rule made for a customer.
async fn tasks_from(server: &TestServer, token: &str, rule: i64, customer: i64) -> Vec<Value> {
    let path = format!("/api/v1/tasks?customer_id={customer}&limit=100");
    let (status, page) = server.get(&path, token).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|task| task["rule_id"].as_str() == Some(rule.to_string().as_str()))
        .cloned()
        .collect()
}

async fn set_tier(server: &TestServer, customer: i64, tier: &str) {
    // Tiers are written by tiering policies; the test sets them directly to isolate the rules.
    let sql = format!("UPDATE customers SET tier = '{tier}' WHERE id = {customer}");
    server.db.execute_unprepared(&sql).await.unwrap();
}

async fn contact(server: &TestServer, token: &str, customer: i64, days_ago: i64) {
    let path = format!("/api/v1/customers/{customer}/interactions");
    let body =
        json!({"channel": "visit", "summary": "Visit", "occurred_at": days_from_now(-days_ago)});
    let (status, answer) = server.post(&path, token, body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
}

/// Polls `check` until it holds (the worker runs in the background), for at most 15 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..300 {
        if check().await {
            return;
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn count(server: &TestServer, sql: &str) -> i64 {
    let statement = sea_orm::Statement::from_string(server.db.get_database_backend(), sql);
    let row = server.db.query_one_raw(statement).await.unwrap().unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

async fn with_contract_schema(server: &TestServer, tenant: &Tenant) {
    let schema = json!({"custom_field_schema": {"type": "object",
        "properties": {"contract_end": {"type": "string", "format": "date"}}}});
    let (status, answer) = server.patch("/api/v1/tenant", &tenant.token, schema).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defaults_are_installed_and_bad_rules_are_refused() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("rules").await;
        let token = tenant.token.as_str();
        let keys: Vec<Value> = rules(&server, token).await.iter().map(|r| r["key"].clone()).collect();
        assert_eq!(keys, json!(["high-value-revisit", "potential-nurture", "churn-risk-follow-up",
            "contract-renewal", "new-customer-onboarding"]).as_array().unwrap().clone());
        let (status, schedules) = server.get("/api/v1/automation/schedules", token).await;
        assert_eq!(status, StatusCode::OK);
        let jobs: Vec<&str> = schedules.as_array().unwrap().iter().map(|s| s["job"].as_str().unwrap()).collect();
        assert!(jobs.contains(&"tiering") && jobs.contains(&"task-reminders"), "{schedules}");
        assert_eq!(jobs.iter().filter(|j| j.starts_with("rule:")).count(), 4, "{schedules}");
        let nightly = schedules.as_array().unwrap().iter().find(|s| s["job"] == "tiering").unwrap();
        assert_eq!(nightly["interval_minutes"], 1440);
        assert!(nightly["next_run_at"].as_str().unwrap().contains("T02:00:00"), "{nightly}");

        let bad = json!({"name": "x", "trigger": {"type": "event", "event": "customer.deleted"},
            "conditions": [{"fact": "tier", "op": "gt", "value": 3}, {"fact": "mood", "op": "eq", "value": "x"}],
            "actions": [{"type": "create_ticket", "subject": " "}]});
        let (status, error) = server.post("/api/v1/automation/rules", token, bad).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
        let codes: Vec<&str> = error["error"]["details"].as_array().unwrap().iter()
            .map(|f| f["code"].as_str().unwrap()).collect();
        assert_eq!(codes, ["unknown_event", "operator_mismatch", "unknown_fact", "required"], "{error}");
        let (status, error) = server.post("/api/v1/automation/rules", token,
            json!({"name": "x", "trigger": {"type": "sometimes"}, "actions": []})).await;
        assert!(status.is_client_error(), "{status} {error}");
        assert!(error["error"]["code"].is_string(), "{error}");
        let to_nobody = json!({"name": "x", "trigger": {"type": "schedule", "every_hours": 24},
            "actions": [{"type": "create_task", "title": "t", "assignee": {"role": "astronaut"}}]});
        let (status, error) = server.post("/api/v1/automation/rules", token, to_nobody).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
        assert_eq!(error["error"]["details"][0]["code"], "unknown_role");

        let forever = json!({"name": "x", "trigger": {"type": "schedule", "every_hours": 24},
            "actions": [{"type": "add_tag", "tag": "t"}], "repeat_after_days": 4_294_967_295u32});
        let (status, error) = server.post("/api/v1/automation/rules", token, forever).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
        assert_eq!(error["error"]["details"][0]["field"], "repeat_after_days", "{error}");
        assert_eq!(error["error"]["details"][0]["code"], "out_of_range", "{error}");

        let onboarding = rule_id(&server, token, "new-customer-onboarding").await;
        let (status, error) = server.delete(&format!("/api/v1/automation/rules/{onboarding}"), token).await;
        assert_error(status, &error, StatusCode::CONFLICT, "default_rule");
        let (status, error) = server.post(&format!("/api/v1/automation/rules/{onboarding}/runs"), token, json!({})).await;
        assert_error(status, &error, StatusCode::CONFLICT, "not_scheduled");

        let own = json!({"name": "VIP tag", "trigger": {"type": "schedule", "every_hours": 6},
            "conditions": [{"fact": "order_value_365d", "op": "gte", "value": 1000}],
            "actions": [{"type": "add_tag", "tag": "vip"}], "repeat_after_days": 30});
        let (status, created) = server.post("/api/v1/automation/rules", token, own.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let path = format!("/api/v1/automation/rules/{}", id(&created));
        let disabled = json!({"enabled": false}).as_object().unwrap().clone().into_iter()
            .chain(own.as_object().unwrap().clone().into_iter().filter(|(k, _)| k != "enabled")).collect::<serde_json::Map<_, _>>();
        let (status, updated) = server.call(Method::PUT, &path, Some(token), Some(Value::Object(disabled))).await;
        assert_eq!(status, StatusCode::OK, "{updated}");
        assert_eq!(updated["enabled"], false);
        let (status, _) = server.delete(&path, token).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = server.get(&path, token).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // Only administrators manage rules; members read nothing here.
        let (_, member) = server.member(&tenant, "am@rules.test").await;
        let (status, error) = server.post("/api/v1/automation/rules", &member, own).await;
        assert_error(status, &error, StatusCode::FORBIDDEN, "forbidden");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_default_rule_fires_when_it_should_and_never_twice() {
    for backend in backends() {
        eprintln!("--- backend: {backend:?}");
        let server = TestServer::start_with_jobs(backend, fast_jobs()).await;
        let tenant = server.tenant("fires").await;
        with_contract_schema(&server, &tenant).await;
        let token = tenant.token.as_str();
        let (owner, _) = server.member(&tenant, "owner@fires.test").await;
        let new = |code: &'static str, custom: Value| {
            let server = &server;
            async move {
                id(&server
                    .customer(
                        token,
                        code,
                        json!({"owner_id": owner, "custom_fields": custom}),
                    )
                    .await)
            }
        };
        let silent_vip = new("VIP-SILENT", json!({})).await;
        let recent_vip = new("VIP-RECENT", json!({})).await;
        let silent_regular = new("REG-SILENT", json!({})).await;
        let potential = new("POT", json!({})).await;
        let at_risk = new("RISK", json!({})).await;
        let renewing = new("RENEW", json!({"contract_end": &days_from_now(20)[..10]})).await;
        let later = new("LATER", json!({"contract_end": &days_from_now(45)[..10]})).await;
        for (customer, tier) in [
            (silent_vip, "high-value"),
            (recent_vip, "high-value"),
            (silent_regular, "regular"),
            (potential, "potential"),
            (at_risk, "churn-risk"),
        ] {
            set_tier(&server, customer, tier).await;
        }
        contact(&server, token, silent_vip, 40).await;
        contact(&server, token, recent_vip, 10).await;
        contact(&server, token, silent_regular, 40).await;
        let everyone = [
            silent_vip,
            recent_vip,
            silent_regular,
            potential,
            at_risk,
            renewing,
            later,
        ];

        // Onboarding: the worker reacts to each customer.created with three tasks.
        let onboarding = rule_id(&server, token, "new-customer-onboarding").await;
        for customer in everyone {
            eventually("onboarding tasks", || async {
                tasks_from(&server, token, onboarding, customer).await.len() == 3
            })
            .await;
        }
        let tasks = tasks_from(&server, token, onboarding, renewing).await;
        let titles: Vec<&str> = tasks.iter().map(|t| t["title"].as_str().unwrap()).collect();
        assert_eq!(
            titles,
            [
                "Onboarding day 1: welcome Customer RENEW",
                "Onboarding day 7: check in with Customer RENEW",
                "Onboarding day 30: review Customer RENEW's first month"
            ]
        );
        assert!(
            tasks
                .iter()
                .all(|t| t["assignee_id"] == owner && t["source"] == "rule"),
            "{tasks:?}"
        );

        for (key, fires_for) in [
            ("high-value-revisit", vec![silent_vip]),
            ("potential-nurture", vec![potential]),
            ("churn-risk-follow-up", vec![at_risk]),
            ("contract-renewal", vec![renewing]),
        ] {
            let rule = rule_id(&server, token, key).await;
            let report = run_rule(&server, token, rule).await;
            assert_eq!(report["evaluated"], everyone.len(), "{key}: {report}");
            for customer in everyone {
                let made = tasks_from(&server, token, rule, customer).await;
                let expected = usize::from(fires_for.contains(&customer));
                assert_eq!(made.len(), expected, "{key} for {customer}: {made:?}");
            }
            // Never twice: the task is open, and then the repeat window holds it back.
            let again = run_rule(&server, token, rule).await;
            assert_eq!(
                (again["fired"].as_u64(), again["skipped"].as_u64()),
                (Some(0), Some(fires_for.len() as u64)),
                "{key}"
            );
            let task = &tasks_from(&server, token, rule, fires_for[0]).await[0];
            let (status, _) = server
                .patch(
                    &format!("/api/v1/tasks/{}", id(task)),
                    token,
                    json!({"status": "done"}),
                )
                .await;
            assert_eq!(status, StatusCode::OK);
            let after_done = run_rule(&server, token, rule).await;
            assert_eq!(after_done["fired"], 0, "{key}: {after_done}");
        }

        // Once the repeat window has passed, the revisit is due again.
        let revisit = rule_id(&server, token, "high-value-revisit").await;
        let sql = format!(
            "UPDATE rule_firings SET fired_at = fired_at - INTERVAL '31 days' WHERE rule_id = {revisit}"
        );
        let sql = match server.db.get_database_backend() {
            sea_orm::DbBackend::Postgres => sql,
            _ => format!(
                "UPDATE rule_firings SET fired_at = datetime(fired_at, '-31 days') WHERE rule_id = {revisit}"
            ),
        };
        server.db.execute_unprepared(&sql).await.unwrap();
        let due_again = run_rule(&server, token, revisit).await;
        assert_eq!(due_again["fired"], 1, "{due_again}");
        assert_eq!(
            tasks_from(&server, token, revisit, silent_vip).await.len(),
            2
        );

        // Other events never start onboarding again.
        let path = format!("/api/v1/customers/{potential}/orders");
        let (status, _) = server.post(&path, token, json!({"amount": {"amount": "10", "currency": "CNY"}, "ordered_at": days_from_now(0)})).await;
        assert_eq!(status, StatusCode::CREATED);
        eventually("the order event handled", || async {
            count(
                &server,
                "SELECT COUNT(*) AS n FROM events WHERE handled_at IS NULL",
            )
            .await
                == 0
        })
        .await;
        assert_eq!(
            tasks_from(&server, token, onboarding, potential)
                .await
                .len(),
            3
        );
    }
}

/// A rule stored before repeat windows were bounded may hold one that reaches back beyond the
/// calendar: it runs (no 500, no worker panic) and fires once per customer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeat_window_beyond_the_calendar_fires_once_per_customer() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("forever").await;
        let token = tenant.token.as_str();
        server.customer(token, "F1", json!({})).await;
        let rule = json!({"name": "Tag everyone", "trigger": {"type": "schedule", "every_hours": 24},
            "actions": [{"type": "add_tag", "tag": "seen"}], "repeat_after_days": 30});
        let (status, created) = server.post("/api/v1/automation/rules", token, rule).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let rule = id(&created);
        let sql = format!("UPDATE automation_rules SET definition = REPLACE(definition, \
            '\"repeat_after_days\":30', '\"repeat_after_days\":4294967295') WHERE id = {rule}");
        server.db.execute_unprepared(&sql).await.unwrap();
        let stored = count(&server, &format!(
            "SELECT COUNT(*) AS n FROM automation_rules WHERE id = {rule} AND definition LIKE '%4294967295%'")).await;
        assert_eq!(stored, 1, "the stored window was not widened");

        let first = run_rule(&server, token, rule).await;
        assert_eq!((&first["evaluated"], &first["fired"]), (&json!(1), &json!(1)), "{first}");
        let again = run_rule(&server, token, rule).await;
        assert_eq!((&again["fired"], &again["skipped"]), (&json!(0), &json!(1)), "{again}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_become_events_once() {
    for backend in backends() {
        eprintln!("--- backend: {backend:?}");
        let server = TestServer::start_with_jobs(backend, fast_jobs()).await;
        let tenant = server.tenant("remind").await;
        let token = tenant.token.as_str();
        let task = |title: &str, due: String| json!({"title": title, "assignee_id": tenant.admin_id, "due_at": due});
        let (_, soon) = server
            .post(
                "/api/v1/tasks",
                token,
                task("Call back", (Utc::now() + Duration::hours(3)).to_rfc3339()),
            )
            .await;
        let (_, late) = server
            .post(
                "/api/v1/tasks",
                token,
                task("Send quote", days_from_now(-1)),
            )
            .await;
        let (_, far) = server
            .post("/api/v1/tasks", token, task("Plan QBR", days_from_now(10)))
            .await;
        let feed = |kind: &'static str| {
            let server = &server;
            async move {
                let (status, events) = server
                    .get(&format!("/api/v1/automation/events?kind={kind}"), token)
                    .await;
                assert_eq!(status, StatusCode::OK, "{events}");
                events
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["subject_id"].as_i64().unwrap())
                    .collect::<Vec<_>>()
            }
        };
        for _ in 0..2 {
            let now = json!({"next_run_at": Utc::now().to_rfc3339()});
            let (status, _) = server
                .patch("/api/v1/automation/schedules/task-reminders", token, now)
                .await;
            assert_eq!(status, StatusCode::OK);
            eventually("the reminder job", || async {
                let (_, schedules) = server.get("/api/v1/automation/schedules", token).await;
                let job = schedules
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|s| s["job"] == "task-reminders")
                    .unwrap()
                    .clone();
                job["running"] == false
                    && chrono::DateTime::parse_from_rfc3339(job["next_run_at"].as_str().unwrap())
                        .unwrap()
                        > Utc::now()
            })
            .await;
        }
        assert_eq!(feed("task.due_soon").await, [id(&soon)]);
        assert_eq!(feed("task.overdue").await, [id(&late)]);
        let _ = far;
        let (status, error) = server
            .get("/api/v1/automation/events?kind=task.overdue&limit=0", token)
            .await;
        assert_error(
            status,
            &error,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
    }
}

/// A `rapport serve` process with its worker ticking every 50 ms, killed on drop.
struct Process(std::process::Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(database_url: &str, data_dir: &std::path::Path) -> Process {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rapport-under-test"))
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--job-tick-ms",
            "50",
            "--database-url",
            database_url,
            "--data-dir",
        ])
        .arg(data_dir)
        .env("RAPPORT_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn rapport serve");
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout).lines();
    loop {
        let line = lines
            .next()
            .expect("rapport serve prints its address")
            .unwrap();
        if line.contains("listening on") {
            break;
        }
    }
    // Keep draining stdout so the process never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Process(child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_run_a_scheduled_rule_once() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("twice").await;
        let token = tenant.token.as_str();
        for n in 0..30 {
            server.customer(token, &format!("P{n:02}"), json!({"tags": ["pilot"]})).await;
        }
        server.customer(token, "OTHER", json!({})).await;
        let mut rules = Vec::new();
        for n in 0..4 {
            let rule = json!({"name": format!("Pilot check-in {n}"), "trigger": {"type": "schedule", "every_hours": 24},
                "conditions": [{"fact": "tags", "op": "contains", "value": "pilot"}],
                "actions": [{"type": "create_task", "title": "Check in with {customer}", "assignee": "owner"},
                    {"type": "notify", "message": "Pilot {customer} is due a check-in"},
                    {"type": "add_tag", "tag": "checked-in"}],
                "repeat_after_days": 30});
            let (status, created) = server.post("/api/v1/automation/rules", token, rule).await;
            assert_eq!(status, StatusCode::CREATED, "{created}");
            rules.push(id(&created));
        }
        // Both processes start with every rule due, and race for them.
        let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        let first = serve(&server.database.url, dirs[0].path());
        let second = serve(&server.database.url, dirs[1].path());
        let schedules = || async {
            let (_, all) = server.get("/api/v1/automation/schedules", token).await;
            all.as_array().unwrap().clone()
        };
        eventually("every rule ran", || async {
            let all = schedules().await;
            rules.iter().all(|rule| {
                all.iter().any(|s| s["job"] == format!("rule:{rule}") && s["runs"].as_u64() >= Some(1) && s["running"] == false)
            })
        })
        .await;
        // Give a duplicate run every chance to happen before counting.
        tokio::time::sleep(StdDuration::from_millis(500)).await;
        drop((first, second));
        let all = schedules().await;
        let mut runners = Vec::new();
        for rule in &rules {
            let schedule = all.iter().find(|s| s["job"] == format!("rule:{rule}")).unwrap();
            assert_eq!(schedule["runs"], 1, "{schedule}");
            assert_eq!(schedule["last_outcome"], "evaluated 31, fired 30, skipped 0", "{schedule}");
            runners.push(schedule["last_run_by"].as_str().unwrap().to_owned());
            let sql = format!("SELECT COUNT(*) AS n FROM tasks WHERE rule_id = '{rule}'");
            assert_eq!(count(&server, &sql).await, 30, "rule {rule}");
        }
        eprintln!("rules were run by {runners:?}");
        let (_, notes) = server.get("/api/v1/automation/events?kind=automation.notification&limit=500", token).await;
        assert_eq!(notes.as_array().unwrap().len(), 120);
    })
    .await;
}

/// Runs of one rule at the same moment (the scheduler's, a manual one, an event's) fire it once
/// per customer: on PostgreSQL each firing holds a lock on its rule and customer while it checks
/// and acts, where two runs used to both find that it may fire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_of_one_rule_at_once_fire_it_once_per_customer() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("racing").await;
        let token = tenant.token.as_str();
        for n in 0..8 {
            server
                .customer(token, &format!("R{n}"), json!({"tags": ["race"]}))
                .await;
        }
        let rule = json!({"name": "Race check", "trigger": {"type": "schedule", "every_hours": 24},
            "conditions": [{"fact": "tags", "op": "contains", "value": "race"}],
            "actions": [{"type": "create_task", "title": "Check {customer}", "assignee": "owner"}],
            "repeat_after_days": 30});
        let (status, created) = server.post("/api/v1/automation/rules", token, rule).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let rule = id(&created);
        let run = || run_rule(&server, token, rule);
        let reports = tokio::join!(run(), run(), run(), run());
        let reports = [reports.0, reports.1, reports.2, reports.3];
        let fired: u64 = reports.iter().map(|r| r["fired"].as_u64().unwrap()).sum();
        assert_eq!(fired, 8, "{reports:?}");
        let sql = format!("SELECT COUNT(*) AS n FROM tasks WHERE rule_id = '{rule}'");
        assert_eq!(count(&server, &sql).await, 8, "{reports:?}");
    })
    .await;
}
