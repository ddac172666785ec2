//! Tiering through the real `value-tiering` plugin and the host: customers built to land in
//! each tier get that tier with readable reasons; only changes write history and events; a
//! tenant's thresholds move the outcome; a failing policy leaves tiers untouched and is
//! reported.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{Duration, SecondsFormat, Utc};
use rapport_tests::reqwest::{Method, StatusCode};
use rapport_tests::serde_json::{Value, json};
use rapport_tests::{
    PLATFORM_TOKEN, TestServer, assert_error, id, on_every_backend, plugin_component,
};
use sea_orm::{ConnectionTrait, Statement};

const POLICY: &str = "rapport.value-tiering";
const POLICY_VERSION: &str = "1.3.2";

fn days_ago(days: i64) -> String {
    (Utc::now() - Duration::days(days)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

async fn post_ok(server: &TestServer, token: &str, path: &str, body: Value) -> Value {
    let (status, answer) = server.post(path, token, body).await;
    assert!(status.is_success(), "POST {path}: {status} {answer}");
    answer
}

/// A customer with orders `(amount, days ago)`, interactions `days ago` and satisfaction.
async fn customer(
    server: &TestServer,
    token: &str,
    code: &str,
    orders: &[(&str, i64)],
    contacts: &[i64],
    satisfaction: &[(&str, u32)],
) -> i64 {
    let customer = id(&server
        .customer(token, code, json!({"stage": "customer"}))
        .await);
    let base = format!("/api/v1/customers/{customer}");
    for (amount, days) in orders {
        post_ok(
            server,
            token,
            &format!("{base}/orders"),
            json!({"amount": {"amount": amount, "currency": "CNY"}, "ordered_at": days_ago(*days)}),
        )
        .await;
    }
    for days in contacts {
        post_ok(
            server,
            token,
            &format!("{base}/interactions"),
            json!({"channel": "phone", "summary": "Call", "occurred_at": days_ago(*days)}),
        )
        .await;
    }
    for (kind, value) in satisfaction {
        post_ok(
            server,
            token,
            &format!("{base}/satisfaction"),
            json!({"kind": kind, "value": value}),
        )
        .await;
    }
    customer
}

async fn tier_of(server: &TestServer, token: &str, customer: i64) -> Value {
    let (status, body) = server
        .get(&format!("/api/v1/customers/{customer}"), token)
        .await;
    assert_eq!(status, StatusCode::OK);
    body["tier"].clone()
}

async fn run(server: &TestServer, token: &str, body: Value) -> Value {
    let (status, report) = server
        .post("/api/v1/tenant/tiering/runs", token, body)
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    report
}

async fn enable(server: &TestServer, token: &str, plugin: &str, version: &str, config: Value) {
    let body = json!({"version": version, "config": config, "granted_hosts": []});
    let path = format!("/api/v1/tenant/plugins/{plugin}");
    let (status, answer) = server
        .call(Method::PUT, &path, Some(token), Some(body))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

async fn events(server: &TestServer, tenant_id: i64) -> i64 {
    let backend = server.db.get_database_backend();
    let sql = format!(
        "SELECT COUNT(*) AS n FROM events WHERE tenant_id = {tenant_id} AND kind = 'customer.tier_changed'"
    );
    let row = server
        .db
        .query_one_raw(Statement::from_string(backend, sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

/// The payload of the tenant's latest `customer.tier_changed` event.
async fn last_tier_event(server: &TestServer, tenant_id: i64) -> Value {
    let backend = server.db.get_database_backend();
    let sql = format!(
        "SELECT payload FROM events WHERE tenant_id = {tenant_id} AND kind = 'customer.tier_changed' ORDER BY id DESC LIMIT 1"
    );
    let row = server
        .db
        .query_one_raw(Statement::from_string(backend, sql))
        .await
        .unwrap()
        .expect("a tier event");
    serde_json::from_str(&row.try_get::<String>("", "payload").unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_get_the_tier_their_facts_call_for_with_reasons_and_history() {
    let component = plugin_component("value-tiering");
    on_every_backend(|server| {
        let component = component.clone();
        async move {
            let install = json!({"component": STANDARD.encode(&component)});
            let (status, installed) = server.post("/api/v1/plugins", PLATFORM_TOKEN, install).await;
            assert_eq!(status, StatusCode::CREATED, "{installed}");
            let tenant = server.tenant("tiers").await;
            let token = tenant.token.as_str();
            let (status, error) = server.post("/api/v1/tenant/tiering/runs", token, json!({})).await;
            assert_error(status, &error, StatusCode::CONFLICT, "no_tiering_policy");
            enable(&server, token, POLICY, POLICY_VERSION, json!({})).await;

            let high = customer(&server, token, "HV", &[("600000", 200), ("600000", 30)], &[5], &[]).await;
            let potential = customer(&server, token, "POT", &[("20000", 300), ("60000", 20)], &[10], &[]).await;
            let regular = customer(&server, token, "REG",
                &[("40000", 300), ("40000", 200), ("40000", 100), ("30000", 50)], &[10], &[]).await;
            let lapsed = customer(&server, token, "RISK", &[("1500000", 200)], &[5], &[]).await;
            let unhappy = customer(&server, token, "SAD", &[("5000", 40)], &[3], &[("csat", 1), ("nps", 3)]).await;

            let report = run(&server, token, json!({})).await;
            assert_eq!(report["plugin_id"], POLICY);
            assert_eq!(report["plugin_version"], POLICY_VERSION);
            assert_eq!((report["evaluated"].as_u64(), report["changed"].as_u64()), (Some(5), Some(5)), "{report}");
            assert!(report["error"].is_null());
            for (customer, expected) in [
                (high, "high-value"),
                (potential, "potential"),
                (regular, "regular"),
                (lapsed, "churn-risk"),
                (unhappy, "churn-risk"),
            ] {
                let tier = tier_of(&server, token, customer).await;
                assert_eq!(tier["tier"], expected, "{tier}");
                assert!(tier["score"].as_f64().unwrap() >= 0.0);
                assert!(!tier["reasons"].as_array().unwrap().is_empty(), "{tier}");
            }
            let high_tier = tier_of(&server, token, high).await;
            assert_eq!(high_tier["reasons"][0], "orders 1,200,000 over 365 days, at least 1,000,000");
            let lapsed_tier = tier_of(&server, token, lapsed).await;
            assert!(lapsed_tier["reasons"][0].as_str().unwrap().starts_with("no order for 200 days"), "{lapsed_tier}");
            let unhappy_tier = tier_of(&server, token, unhappy).await;
            assert!(unhappy_tier["reasons"].to_string().contains("latest CSAT 1"), "{unhappy_tier}");
            assert_eq!(events(&server, tenant.id).await, 5);

            // Nothing changed: no history, no event.
            let again = run(&server, token, json!({"plugin_id": POLICY})).await;
            assert_eq!(again["changed"], 0);
            assert_eq!(events(&server, tenant.id).await, 5);

            // The tenant raises the high-value bar: only the high-value customer moves.
            enable(&server, token, POLICY, POLICY_VERSION, json!({"high_value_order_value": 2000000})).await;
            let raised = run(&server, token, json!({})).await;
            assert_eq!(raised["changed"], 1, "{raised}");
            assert_eq!(tier_of(&server, token, high).await["tier"], "potential");
            let (status, history) = server.get(&format!("/api/v1/customers/{high}/tier-history"), token).await;
            assert_eq!(status, StatusCode::OK);
            let moves: Vec<(Value, Value)> = history.as_array().unwrap().iter()
                .map(|h| (h["from_tier"].clone(), h["to_tier"].clone())).collect();
            assert_eq!(moves, [(json!("high-value"), json!("potential")), (Value::Null, json!("high-value"))]);
            assert_eq!(history[1]["plugin_id"], POLICY);
            assert_eq!(events(&server, tenant.id).await, 6);
            let event = last_tier_event(&server, tenant.id).await;
            assert_eq!(
                (&event["customer_id"], &event["from_tier"], &event["to_tier"], &event["plugin_id"], &event["plugin_version"]),
                (&json!(high), &json!("high-value"), &json!("potential"), &json!(POLICY), &json!(POLICY_VERSION)),
                "{event}"
            );
            assert_eq!(event["reasons"], history[0]["reasons"], "{event}");
            assert_eq!(event["score"], history[0]["score"], "{event}");

            let (status, error) = server
                .call(Method::PUT, &format!("/api/v1/tenant/plugins/{POLICY}"), Some(token),
                    Some(json!({"version": POLICY_VERSION, "config": {"silent_days": "soon"}, "granted_hosts": []})))
                .await;
            assert_error(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
            let (status, _) = server.get("/api/v1/customers/999999/tier-history", token).await;
            assert_eq!(status, StatusCode::NOT_FOUND);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_policy_leaves_tiers_untouched_and_is_reported() {
    let (policy, hostile) = (
        plugin_component("value-tiering"),
        plugin_component("fixture-hostile"),
    );
    on_every_backend(|server| {
        let (policy, hostile) = (policy.clone(), hostile.clone());
        async move {
            let manifest = json!({"id": "acme.hostile", "version": "0.1.0", "vendor": "Acme",
                "kind": "tiering-policy", "api_version": "0.4.0",
                "config_schema": {"type": "object", "properties": {"behaviour": {"type": "string"}}}});
            for body in [json!({"component": STANDARD.encode(&policy)}),
                json!({"component": STANDARD.encode(&hostile), "manifest": manifest})] {
                let (status, answer) = server.post("/api/v1/plugins", PLATFORM_TOKEN, body).await;
                assert_eq!(status, StatusCode::CREATED, "{answer}");
            }
            let tenant = server.tenant("failing-tiers").await;
            let token = tenant.token.as_str();
            enable(&server, token, POLICY, POLICY_VERSION, json!({})).await;
            let big = customer(&server, token, "BIG", &[("2000000", 10)], &[2], &[]).await;
            run(&server, token, json!({})).await;
            assert_eq!(tier_of(&server, token, big).await["tier"], "high-value");

            enable(&server, token, "acme.hostile", "0.1.0", json!({"behaviour": "panic"})).await;
            let (status, error) = server.post("/api/v1/tenant/tiering/runs", token, json!({})).await;
            assert_error(status, &error, StatusCode::CONFLICT, "tiering_policy_ambiguous");
            let report = run(&server, token, json!({"plugin_id": "acme.hostile"})).await;
            assert_eq!(report["evaluated"], 0, "{report}");
            let failure = &report["error"];
            assert_eq!(failure["code"], "trap", "{report}");
            let tier = tier_of(&server, token, big).await;
            assert_eq!(tier["tier"], "high-value", "the previous tier stays: {tier}");
            let (_, runs) = server.get("/api/v1/tenant/plugins/acme.hostile/runs", token).await;
            assert_eq!(runs[0]["id"], failure["run_id"], "{runs}");
            assert_eq!(events(&server, tenant.id).await, 1);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tier_has_a_service_policy_that_admins_tune() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("tier-policies").await;
        let (_, rep) = server.member(&tenant, "rep@policies.test").await;
        let (status, policies) = server.get("/api/v1/tenant/tier-policies", &rep).await;
        assert_eq!(status, StatusCode::OK);
        let cadence: Vec<(Value, Value)> = policies.as_array().unwrap().iter()
            .map(|p| (p["tier"].clone(), p["revisit_every_days"].clone())).collect();
        assert_eq!(cadence, [(json!("high-value"), json!(30)), (json!("potential"), json!(90)),
            (json!("regular"), json!(180)), (json!("churn-risk"), json!(7))]);
        assert!(policies.as_array().unwrap().iter().all(|p| p["customised"] == false));

        let body = json!({"revisit_every_days": 14, "first_response_hours": 1, "resolution_hours": 8});
        let path = "/api/v1/tenant/tier-policies/high-value";
        let (status, error) = server.call(Method::PUT, path, Some(&rep), Some(body.clone())).await;
        assert_error(status, &error, StatusCode::FORBIDDEN, "forbidden");
        let (status, policies) = server.call(Method::PUT, path, Some(&tenant.token), Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{policies}");
        assert_eq!(policies[0], json!({"tier": "high-value", "revisit_every_days": 14,
            "first_response_hours": 1, "resolution_hours": 8, "customised": true}));
        let (status, policies) = server
            .call(Method::PUT, "/api/v1/tenant/tier-policies/strategic", Some(&tenant.token),
                Some(json!({"revisit_every_days": 10, "first_response_hours": 1, "resolution_hours": 4})))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(policies[4]["tier"], "strategic", "a vendor policy's own tier can be served too");

        let (status, error) = server
            .call(Method::PUT, path, Some(&tenant.token),
                Some(json!({"revisit_every_days": 0, "first_response_hours": 10, "resolution_hours": 5})))
            .await;
        let error = assert_error(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let codes: Vec<&str> = error["details"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap()).collect();
        assert_eq!(codes, ["out_of_range", "before_first_response"]);
        let (_, kept) = server.get("/api/v1/tenant/tier-policies", &rep).await;
        assert_eq!(kept[0]["revisit_every_days"], 14, "a refused change changes nothing");
    })
    .await;
}

/// Polls `check` for at most 15 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..300 {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn evaluate_runs(server: &TestServer, token: &str) -> usize {
    let (status, runs) = server
        .get(&format!("/api/v1/tenant/plugins/{POLICY}/runs"), token)
        .await;
    assert_eq!(status, StatusCode::OK, "{runs}");
    runs.as_array()
        .unwrap()
        .iter()
        .filter(|run| run["export"] == "evaluate")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_re_tier_a_customer_once_settled_and_the_nightly_job_runs_on_schedule() {
    let component = plugin_component("value-tiering");
    for backend in rapport_tests::backends() {
        eprintln!("--- backend: {backend:?}");
        let jobs = rapport::jobs::JobOptions {
            tick: std::time::Duration::from_millis(50),
            debounce: Duration::seconds(2),
            ..rapport::jobs::JobOptions::default()
        };
        let server = TestServer::start_with_jobs(backend, jobs).await;
        let install = json!({"component": STANDARD.encode(&component)});
        let (status, installed) = server
            .post("/api/v1/plugins", PLATFORM_TOKEN, install)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{installed}");
        let tenant = server.tenant("incremental").await;
        let token = tenant.token.as_str();
        enable(&server, token, POLICY, POLICY_VERSION, json!({})).await;

        // A burst of events (two orders, a visit) for one customer...
        let big = customer(
            &server,
            token,
            "BIG",
            &[("700000", 40), ("700000", 5)],
            &[3],
            &[],
        )
        .await;
        assert!(
            tier_of(&server, token, big).await["tier"].is_null(),
            "not before the debounce"
        );
        // ...is one evaluation once it settles.
        eventually("the incremental re-tier", || async {
            !tier_of(&server, token, big).await["tier"].is_null()
        })
        .await;
        assert_eq!(tier_of(&server, token, big).await["tier"], "high-value");
        assert_eq!(evaluate_runs(&server, token).await, 1);
        assert_eq!(events(&server, tenant.id).await, 1);

        // The nightly job, moved to now, re-tiers everyone with the tenant's policy.
        let now = json!({"next_run_at": Utc::now().to_rfc3339()});
        let (status, schedule) = server
            .patch("/api/v1/automation/schedules/tiering", token, now)
            .await;
        assert_eq!(status, StatusCode::OK, "{schedule}");
        eventually("the nightly job", || async {
            let (_, all) = server.get("/api/v1/automation/schedules", token).await;
            all.as_array()
                .unwrap()
                .iter()
                .any(|s| s["job"] == "tiering" && s["runs"] == 1 && s["running"] == false)
        })
        .await;
        let (_, all) = server.get("/api/v1/automation/schedules", token).await;
        let nightly = all
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["job"] == "tiering")
            .unwrap()
            .clone();
        assert_eq!(
            nightly["last_outcome"], "evaluated 1, changed 0",
            "{nightly}"
        );
        assert_eq!(evaluate_runs(&server, token).await, 2);
        let next =
            chrono::DateTime::parse_from_rfc3339(nightly["next_run_at"].as_str().unwrap()).unwrap();
        assert!(next > Utc::now() + Duration::hours(23), "{nightly}");
    }
}

/// The host measures a customer against its own past and hands the policy the signal with its
/// evidence: here contact fell from about three a quarter to one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_churn_signals_reach_the_policy() {
    let component = plugin_component("value-tiering");
    on_every_backend(|server| {
        let component = component.clone();
        async move {
            let install = json!({"component": STANDARD.encode(&component)});
            let (status, installed) = server
                .post("/api/v1/plugins", PLATFORM_TOKEN, install)
                .await;
            assert_eq!(status, StatusCode::CREATED, "{installed}");
            let tenant = server.tenant("signals").await;
            let token = tenant.token.as_str();
            enable(&server, token, POLICY, POLICY_VERSION, json!({})).await;
            let prior_year: Vec<i64> = (0..12).map(|n| 100 + n * 25).collect();
            let mut contacts = prior_year.clone();
            contacts.push(10);
            let cooling = customer(
                &server,
                token,
                "COOL",
                &[("400000", 30), ("400000", 120)],
                &contacts,
                &[],
            )
            .await;
            let steady_contacts: Vec<i64> =
                prior_year.iter().copied().chain([10, 30, 50, 70]).collect();
            let steady = customer(
                &server,
                token,
                "STEADY",
                &[("400000", 30), ("400000", 120)],
                &steady_contacts,
                &[],
            )
            .await;
            run(&server, token, json!({})).await;
            let cooled = tier_of(&server, token, cooling).await;
            assert_eq!(cooled["tier"], "churn-risk", "{cooled}");
            assert_eq!(
                cooled["reasons"][0],
                "1 contacts in 90 days against 3.0 a quarter over the year before",
                "{cooled}"
            );
            assert_ne!(tier_of(&server, token, steady).await["tier"], "churn-risk");
        }
    })
    .await;
}
