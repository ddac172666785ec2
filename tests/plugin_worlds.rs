//! The survey-channel and erp-connector worlds through the real host: the fixture plugins built
//! with the SDK talk to loopback HTTP servers (delivery with its bearer token, retryable and
//! fatal failures, hosts refused before any connection, secrets redacted from the run log,
//! paging with the cursor passed back, bad credentials), and the JSON harness behind
//! `rapport plugin test` runs any export of any kind and refuses bad exports and inputs without
//! running the plugin.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use rapport::domain::erp_records::{ExternalRecord, ReadRequest, RecordKind};
use rapport::domain::plugin::PluginKind;
use rapport::domain::survey_delivery::{Delivery, InboundRequest, Recipient};
use rapport::plugins::{
    AnyPlugin, ErpPlugin, Fixture, FixtureOutcome, FixtureReport, Grants, KindLimits, Limits,
    PluginEngine, PluginError, RunLog, SurveyPlugin, run_fixture,
};
use rapport_tests::http_peer::{Received, Server};
use rapport_tests::plugin_component;
use serde_json::{Value, json};

const TOKEN: &str = "s3cr3t-webhook-t0ken";
const API_KEY: &str = "erp-k3y-0123456789";

fn grants(config: &[(&str, &str)], secret: &str, hosts: &[&str]) -> Arc<Grants> {
    Arc::new(Grants {
        config: config
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        secret_keys: HashSet::from([secret.to_owned()]),
        allowed_hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
    })
}

fn webhook_grants(url: &str, hosts: &[&str]) -> Arc<Grants> {
    grants(&[("webhook_url", url), ("token", TOKEN)], "token", hosts)
}

fn erp_grants(base: &str, key: &str) -> Arc<Grants> {
    grants(
        &[("base_url", base), ("api_key", key)],
        "api_key",
        &["127.0.0.1"],
    )
}

fn delivery(id: &str) -> Delivery {
    Delivery {
        delivery_id: id.into(),
        recipient: Recipient {
            contact_id: 42,
            name: "Li Wei".into(),
            phone: Some("+8613800138000".into()),
            email: Some("li.wei@example.com".into()),
            wechat_id: None,
        },
        subject: "How did we do?".into(),
        body: "Rate your last order from 0 to 10.".into(),
        response_link: "https://rapport.example.com/s/one-use".into(),
        locale: "zh-CN".into(),
    }
}

async fn survey_channel() -> SurveyPlugin {
    let engine = PluginEngine::new(None).unwrap();
    let component = engine.load(&plugin_component("fixture-survey")).unwrap();
    SurveyPlugin::new(engine, &component).unwrap()
}

async fn erp_connector() -> ErpPlugin {
    let engine = PluginEngine::new(None).unwrap();
    let component = engine.load(&plugin_component("fixture-erp")).unwrap();
    ErpPlugin::new(engine, &component).unwrap()
}

/// The secret must be nowhere in what the plugin logged, whichever way the log is rendered.
fn assert_redacted(log: &RunLog, secret: &str) {
    let rendered = [format!("{log:?}"), serde_json::to_string(log).unwrap()];
    assert!(
        rendered.iter().all(|text| !text.contains(secret)),
        "secret in the run log: {log:?}"
    );
}

fn assert_reported(
    outcome: &Result<impl std::fmt::Debug, PluginError>,
    code: &str,
    retryable: bool,
) {
    match outcome {
        Err(PluginError::Reported {
            code: got,
            retryable: got_retryable,
            ..
        }) => assert_eq!((got.as_str(), *got_retryable), (code, retryable)),
        other => panic!("expected the plugin's {code}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_survey_is_posted_to_the_webhook_with_its_token_which_never_reaches_the_log() {
    let server = Server::start(|request| match request.target.as_str() {
        "/hooks/with-id" => (200, r#"{"id": "msg-42"}"#.into()),
        _ => (202, String::new()),
    })
    .await;
    let channel = survey_channel().await;
    let limits = Limits::survey_channel();

    let url = format!("{}/hooks/with-id", server.base);
    let run = channel
        .send(
            &delivery("d-1"),
            webhook_grants(&url, &["127.0.0.1"]),
            &limits,
        )
        .await;
    assert_eq!(run.outcome.unwrap().external_id.as_deref(), Some("msg-42"));
    let received = server.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(
        (request.method.as_str(), request.target.as_str()),
        ("POST", "/hooks/with-id")
    );
    assert_eq!(request.headers["authorization"], format!("Bearer {TOKEN}"));
    let body: Value = serde_json::from_str(&request.body).unwrap();
    assert_eq!(
        body,
        json!({
            "delivery_id": "d-1",
            "to": "li.wei@example.com",
            "subject": "How did we do?",
            "text": "Rate your last order from 0 to 10.",
            "link": "https://rapport.example.com/s/one-use",
        })
    );

    let info = &run.log.records[0];
    assert_eq!(
        (info.level.as_str(), info.message.as_str()),
        ("info", "sending survey")
    );
    assert_eq!(info.fields, [("delivery_id".to_owned(), "d-1".to_owned())]);
    assert_eq!(
        run.log.records[1].message,
        "authorising with Bearer [redacted]"
    );
    assert_redacted(&run.log, TOKEN);

    let url = format!("{}/hooks/plain", server.base);
    let receipt = channel
        .send(
            &delivery("d-2"),
            webhook_grants(&url, &["127.0.0.1"]),
            &limits,
        )
        .await
        .outcome
        .unwrap();
    assert_eq!(
        receipt.external_id.as_deref(),
        Some("d-2"),
        "without an id in the answer, the delivery id is the receipt"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_failures_are_retryable_or_fatal_by_status() {
    let server = Server::start(|request| {
        let status = request.target.trim_start_matches('/').parse().unwrap();
        (status, r#"{"error": "no"}"#.into())
    })
    .await;
    let channel = survey_channel().await;
    let limits = Limits::survey_channel();
    for (status, retryable) in [
        (503, true),
        (429, true),
        (500, true),
        (400, false),
        (404, false),
    ] {
        let url = format!("{}/{status}", server.base);
        let run = channel
            .send(
                &delivery("d-3"),
                webhook_grants(&url, &["127.0.0.1"]),
                &limits,
            )
            .await;
        assert_reported(&run.outcome, &format!("http-{status}"), retryable);
        assert_eq!(run.outcome.unwrap_err().code(), "plugin_error");
        assert_redacted(&run.log, TOKEN);
    }
    assert_eq!(server.received().len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_on_a_host_not_granted_is_refused_before_any_connection() {
    let server = Server::start(|_| (200, "{}".into())).await;
    let channel = survey_channel().await;
    let url = format!("{}/hooks", server.base);
    // The manifest asks for 127.0.0.1, but this tenant granted another host only.
    let run = channel
        .send(
            &delivery("d-4"),
            webhook_grants(&url, &["hooks.example.com"]),
            &Limits::survey_channel(),
        )
        .await;
    assert_reported(&run.outcome, "http-denied", false);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        server.connections.load(Ordering::SeqCst),
        0,
        "no traffic to a refused host"
    );
    assert_redacted(&run.log, TOKEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_replies_parse_into_answers_and_the_schema_is_json() {
    let channel = survey_channel().await;
    let (grants, limits) = (Arc::new(Grants::default()), Limits::survey_channel());
    let request = InboundRequest {
        headers: vec![("From".into(), "+8613800138000".into())],
        body: b"d-1 9\n\n d-2 10 \n".to_vec(),
    };
    let answers = channel
        .parse_inbound(&request, grants.clone(), &limits)
        .await
        .outcome
        .unwrap();
    let answers: Vec<_> = answers
        .iter()
        .map(|a| (a.delivery_id.as_deref(), a.sender.as_str(), a.text.as_str()))
        .collect();
    assert_eq!(
        answers,
        [
            (Some("d-1"), "+8613800138000", "9"),
            (Some("d-2"), "+8613800138000", "10")
        ]
    );
    let garbage = InboundRequest {
        body: b"d-1 eleven".to_vec(),
        ..request
    };
    let run = channel
        .parse_inbound(&garbage, grants.clone(), &limits)
        .await;
    assert_reported(&run.outcome, "bad-answer", false);

    let schema = channel
        .config_schema(grants, &limits)
        .await
        .outcome
        .unwrap();
    assert_eq!(schema["required"], json!(["webhook_url", "token"]));
    assert_eq!(schema["properties"]["token"]["writeOnly"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_over_the_output_cap_is_refused() {
    let server = Server::start(|_| (200, json!({"id": "x".repeat(64)}).to_string())).await;
    let channel = survey_channel().await;
    let limits = Limits {
        output_bytes: 32,
        ..Limits::survey_channel()
    };
    let url = format!("{}/hooks", server.base);
    let run = channel
        .send(
            &delivery("d-5"),
            webhook_grants(&url, &["127.0.0.1"]),
            &limits,
        )
        .await;
    assert_eq!(run.outcome, Err(PluginError::OutputTooLarge(32)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connector_spec_lists_its_two_streams() {
    let connector = erp_connector().await;
    let spec = connector
        .spec(Arc::new(Grants::default()), &Limits::erp_connector())
        .await
        .outcome
        .unwrap();
    let streams: Vec<_> = spec
        .streams
        .iter()
        .map(|s| (s.name.as_str(), s.kind))
        .collect();
    assert_eq!(
        streams,
        [
            ("customers", RecordKind::Customer),
            ("orders", RecordKind::Order)
        ]
    );
    assert_eq!(
        spec.config_schema["required"],
        json!(["base_url", "api_key"])
    );
}

/// An ERP API over `customers` (five of them) and `orders` (one), paged by offset cursors
/// `c<offset>`, answering 401 to any other key than [`API_KEY`].
fn erp_api(request: &Received) -> (u16, String) {
    if request.headers.get("authorization") != Some(&format!("Bearer {API_KEY}")) {
        return (401, r#"{"error": "unauthorized"}"#.into());
    }
    let (path, query) = request
        .target
        .split_once('?')
        .unwrap_or((&request.target, ""));
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
    };
    let records: Vec<Value> = match path {
        "/ping" => return (200, r#"{"ok": true}"#.into()),
        "/customers" => (1..=5)
            .map(|n| json!({"id": format!("C-{n}"), "name": format!("Customer {n}"), "is_company": n % 2 == 1, "email": format!("c{n}@example.com"), "modified_at": "2026-01-02T03:04:05Z"}))
            .collect(),
        "/orders" => vec![json!({"id": 9001, "customer_id": "C-1", "amount": 12.5, "currency": "CNY", "ordered_at": "2026-01-01T00:00:00Z", "status": "paid", "modified_at": "2026-01-01T00:00:00Z"})],
        _ => return (404, "{}".into()),
    };
    let offset: usize = param("cursor").map_or(0, |c| c.trim_start_matches('c').parse().unwrap());
    let limit: usize = param("limit").unwrap().parse().unwrap();
    let end = (offset + limit).min(records.len());
    let next = (end < records.len()).then(|| format!("c{end}"));
    (
        200,
        json!({"records": records[offset..end], "next_cursor": next}).to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_reads_page_by_page_passing_the_cursor_back() {
    let server = Server::start(erp_api).await;
    let connector = erp_connector().await;
    let limits = Limits::erp_connector();
    let mut request = ReadRequest {
        stream: "customers".into(),
        cursor: None,
        page_size: 2,
    };
    let mut ids = Vec::new();
    let mut cursors = Vec::new();
    loop {
        let run = connector
            .read(&request, erp_grants(&server.base, API_KEY), &limits)
            .await;
        assert_redacted(&run.log, API_KEY);
        let page = run.outcome.unwrap();
        for record in &page.records {
            match record {
                ExternalRecord::Customer(c) => ids.push(c.external_id.clone()),
                other => panic!("a customer stream yielded {other:?}"),
            }
        }
        if !page.has_more {
            assert_eq!(page.next_cursor, None);
            break;
        }
        cursors.push(page.next_cursor.clone().unwrap());
        request.cursor = page.next_cursor;
    }
    assert_eq!(ids, ["C-1", "C-2", "C-3", "C-4", "C-5"]);
    assert_eq!(cursors, ["c2", "c4"]);
    let targets: Vec<_> = server.received().into_iter().map(|r| r.target).collect();
    assert_eq!(
        targets,
        [
            "/customers?limit=2",
            "/customers?cursor=c2&limit=2",
            "/customers?cursor=c4&limit=2"
        ]
    );

    let orders = ReadRequest {
        stream: "orders".into(),
        cursor: None,
        page_size: 10,
    };
    let page = connector
        .read(&orders, erp_grants(&server.base, API_KEY), &limits)
        .await
        .outcome
        .unwrap();
    match &page.records[..] {
        [ExternalRecord::Order(order)] => {
            assert_eq!(
                (
                    order.external_id.as_str(),
                    order.customer_external_id.as_str(),
                    order.amount.as_str()
                ),
                ("9001", "C-1", "12.5")
            );
        }
        other => panic!("expected one order, got {other:?}"),
    }
    assert!(!page.has_more);

    let unknown = ReadRequest {
        stream: "invoices".into(),
        ..orders
    };
    let run = connector
        .read(&unknown, erp_grants(&server.base, API_KEY), &limits)
        .await;
    assert_reported(&run.outcome, "unknown-stream", false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_tells_bad_credentials_apart() {
    let server = Server::start(erp_api).await;
    let connector = erp_connector().await;
    let limits = Limits::erp_connector();
    let good = connector
        .check(erp_grants(&server.base, API_KEY), &limits)
        .await;
    assert_eq!(good.outcome, Ok(()));
    let bad = connector
        .check(erp_grants(&server.base, "wrong-key-0000"), &limits)
        .await;
    assert_reported(&bad.outcome, "bad-credentials", false);
    assert_redacted(&bad.log, "wrong-key-0000");
    let targets: Vec<_> = server.received().into_iter().map(|r| r.target).collect();
    assert_eq!(targets, ["/ping", "/ping"]);
}

fn fixture(json: Value) -> Fixture {
    serde_json::from_value(json).unwrap()
}

fn facts(customer_id: i64, order_value_365d: f64) -> Value {
    json!({
        "customer_id": customer_id, "lifecycle_stage": "customer", "tenure_days": 400,
        "tags": ["vip"], "order_value_90d": order_value_365d / 4.0,
        "order_value_365d": order_value_365d, "order_count_90d": 1, "order_count_365d": 4,
        "days_since_last_order": 10, "interaction_count_30d": 2, "interaction_count_90d": 5,
        "days_since_last_contact": 3, "open_complaints": 0, "complaints_90d": 0,
        "latest_csat": 4.5, "latest_nps": null, "latest_ces": null
    })
}

/// What the harness reports of running `fixture` against `component` with the kind's defaults.
async fn report_of(
    engine: Arc<PluginEngine>,
    component: &[u8],
    fixture: &Fixture,
) -> FixtureReport {
    run_fixture(engine, component, fixture, &KindLimits::default())
        .await
        .unwrap()
}

/// The error with which the harness refuses `fixture` for `component` before running it.
async fn refused(engine: &Arc<PluginEngine>, component: &[u8], fixture: &Fixture) -> PluginError {
    run_fixture(engine.clone(), component, fixture, &KindLimits::default())
        .await
        .unwrap_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_harness_refuses_unknown_exports_and_malformed_input_before_running() {
    let engine = PluginEngine::new(None).unwrap();
    let tiering = plugin_component("fixture-tiering");
    let unknown = fixture(json!({"export": "evaluate-all", "input": []}));
    let error = refused(&engine, &tiering, &unknown).await;
    assert_eq!(error.code(), "bad_input");
    assert!(
        error
            .to_string()
            .contains("evaluate, facts, tiers, config-schema"),
        "{error}"
    );

    let not_a_batch = fixture(json!({"export": "evaluate", "input": {"customer_id": 1}}));
    let error = refused(&engine, &tiering, &not_a_batch).await;
    assert_eq!(error.code(), "bad_input");
    let input_for_tiers = fixture(json!({"export": "tiers", "input": [1]}));
    let error = refused(&engine, &tiering, &input_for_tiers).await;
    assert_eq!(error.code(), "bad_input");

    let erp = plugin_component("fixture-erp");
    for input in [
        json!({"stream": "customers", "page_size": "ten"}),
        json!({"stream": "customers", "page_size": 0}),
        json!({"stream": "customers", "page_size": 5, "offset": 3}),
    ] {
        let bad_read = fixture(json!({"export": "read", "input": input}));
        let error = refused(&engine, &erp, &bad_read).await;
        assert_eq!(error.code(), "bad_input", "{input}");
    }
    assert!(
        serde_json::from_value::<Fixture>(json!({"export": "spec", "inputs": null})).is_err(),
        "a misspelt fixture field is an error, not a silent default"
    );

    // Through `call_json`, a bad input never reaches the plugin: no traffic, no log, no time.
    let server = Server::start(|_| (200, "{}".into())).await;
    let component = engine.load(&plugin_component("fixture-survey")).unwrap();
    let channel = AnyPlugin::detect(engine.clone(), &component).unwrap();
    let url = format!("{}/hooks", server.base);
    let run = channel
        .call_json(
            "send",
            &json!({"delivery_id": "d-6"}),
            webhook_grants(&url, &["127.0.0.1"]),
            &Limits::survey_channel(),
        )
        .await;
    assert_eq!(run.outcome.unwrap_err().code(), "bad_input");
    assert_eq!(run.log, RunLog::default());
    assert_eq!(server.connections.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiering_fixture_evaluates_through_call_json() {
    let engine = PluginEngine::new(None).unwrap();
    let component = engine.load(&plugin_component("fixture-tiering")).unwrap();
    let policy = AnyPlugin::detect(engine.clone(), &component).unwrap();
    assert_eq!(policy.kind(), PluginKind::TieringPolicy);
    let (grants, limits) = (Arc::new(Grants::default()), Limits::tiering());

    let tiers = policy
        .call_json("tiers", &Value::Null, grants.clone(), &limits)
        .await
        .outcome
        .unwrap();
    let tier_ids: Vec<&str> = tiers
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert!(!tier_ids.is_empty());

    let declared = policy
        .call_json("facts", &Value::Null, grants.clone(), &limits)
        .await
        .outcome
        .unwrap();
    assert_eq!(
        declared,
        json!(["order-value-365d", "days-since-last-contact"])
    );
    let older = engine
        .load(&plugin_component("fixture-tiering-v0-3"))
        .unwrap();
    let older = AnyPlugin::detect(engine.clone(), &older).unwrap();
    let everything = older.call_json("facts", &Value::Null, grants.clone(), &limits);
    let everything = everything.await.outcome.unwrap();
    assert_eq!(everything.as_array().unwrap().len(), 18, "{everything}");

    let batch = json!([facts(11, 2_000_000.0), facts(12, 10.0)]);
    let run = policy
        .call_json("evaluate", &batch, grants.clone(), &limits)
        .await;
    let decisions = run.outcome.unwrap();
    let decisions = decisions.as_array().unwrap();
    assert_eq!(
        decisions
            .iter()
            .map(|d| d["customer_id"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [11, 12],
        "one decision per customer, in batch order"
    );
    for decision in decisions {
        assert!(
            tier_ids.contains(&decision["tier"].as_str().unwrap()),
            "{decision}"
        );
        assert!(
            !decision["reasons"].as_array().unwrap().is_empty(),
            "{decision}"
        );
    }
    let schema = policy
        .call_json("config-schema", &Value::Null, grants, &limits)
        .await
        .outcome
        .unwrap();
    assert_eq!(schema["type"], "object");

    let wrong_kind = AnyPlugin::new(engine, &component, PluginKind::SurveyChannel).unwrap_err();
    assert_eq!(wrong_kind.code(), "invalid_component");
    assert!(
        wrong_kind.to_string().contains("not a survey-channel"),
        "{wrong_kind}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_survey_fixture_reports_its_output_and_redacted_log() {
    let server = Server::start(|_| (200, r#"{"id": "msg-7"}"#.into())).await;
    let engine = PluginEngine::new(None).unwrap();
    let fixture = fixture(json!({
        "export": "send",
        "kind": "survey-channel",
        "input": serde_json::to_value(delivery("d-7")).unwrap(),
        "config": {"webhook_url": format!("{}/hooks", server.base), "token": TOKEN},
        "secret_keys": ["token"],
        "allowed_hosts": ["127.0.0.1"],
    }));
    let report = report_of(engine, &plugin_component("fixture-survey"), &fixture).await;
    assert_eq!(report.outcome, FixtureOutcome::Ok);
    assert_eq!(report.kind, PluginKind::SurveyChannel);
    assert_eq!(report.output, Some(json!({"external_id": "msg-7"})));
    assert!(report.error.is_none());
    let printed = serde_json::to_value(&report).unwrap();
    assert_eq!(printed["outcome"], "ok");
    assert_eq!(
        printed["log"]["records"][0]["fields"],
        json!([["delivery_id", "d-7"]])
    );
    assert!(!printed.to_string().contains(TOKEN), "{printed}");
    assert_eq!(
        printed["limits"],
        json!({"deadline_ms": 30_000, "fuel": null, "memory_bytes": 32 << 20,
            "output_bytes": 64 << 10, "log_bytes": 64 << 10, "http_timeout_ms": 10_000,
            "http_response_bytes": 1 << 20}),
        "a report states the survey-channel defaults it ran with"
    );
    assert_eq!(
        server.received()[0].headers["authorization"],
        format!("Bearer {TOKEN}")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_fixture_reports_the_plugins_own_code() {
    let server = Server::start(|_| (503, "{}".into())).await;
    let engine = PluginEngine::new(None).unwrap();
    let fixture = fixture(json!({
        "export": "check",
        "config": {"base_url": server.base, "api_key": API_KEY},
        "secret_keys": ["api_key"],
        "allowed_hosts": ["127.0.0.1"],
    }));
    let report = report_of(engine, &plugin_component("fixture-erp"), &fixture).await;
    assert_eq!(
        report.kind,
        PluginKind::ErpConnector,
        "detected from the exports"
    );
    assert_eq!(report.outcome, FixtureOutcome::Error);
    let error = report.error.unwrap();
    assert_eq!(
        (
            error.code.as_str(),
            error.reported_code.as_deref(),
            error.retryable
        ),
        ("plugin_error", Some("http-503"), Some(true))
    );
    assert_eq!(report.output, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_listed_export_of_every_kind_accepts_its_input() {
    let engine = PluginEngine::new(None).unwrap();
    let server = Server::start(erp_api).await;
    let cases = [
        ("fixture-tiering", json!([facts(1, 5.0)])),
        (
            "fixture-survey",
            serde_json::to_value(delivery("d-8")).unwrap(),
        ),
        (
            "fixture-erp",
            json!({"stream": "customers", "page_size": 3}),
        ),
    ];
    let grants = grants(
        &[
            ("base_url", server.base.as_str()),
            ("api_key", API_KEY),
            ("webhook_url", server.base.as_str()),
            ("token", TOKEN),
        ],
        "token",
        &["127.0.0.1"],
    );
    for (name, main_input) in cases {
        let component = engine.load(&plugin_component(name)).unwrap();
        let plugin = AnyPlugin::detect(engine.clone(), &component).unwrap();
        let limits = Limits::for_kind(plugin.kind());
        for export in AnyPlugin::exports(plugin.kind()) {
            let input = match *export {
                "evaluate" | "send" | "read" => main_input.clone(),
                "parse-inbound" => json!({"headers": [["from", "+86138"]], "body": "d-8 7"}),
                _ => Value::Null,
            };
            let run = plugin
                .call_json(export, &input, grants.clone(), &limits)
                .await;
            assert!(
                !matches!(run.outcome, Err(PluginError::BadInput(_))),
                "{name} {export}: {:?}",
                run.outcome
            );
        }
    }
}

/// A component's embedded manifest applies to local runs as on the server: its `writeOnly`
/// keys are redacted without being listed, and only hosts it requests can be granted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_manifest_governs_a_local_run() {
    let server = Server::start(|_| (200, r#"{"id": "msg-8"}"#.into())).await;
    let engine = PluginEngine::new(None).unwrap();
    let survey = plugin_component("fixture-survey");
    let send = |url: String, hosts: Value| {
        fixture(json!({
            "export": "send",
            "input": serde_json::to_value(delivery("d-8")).unwrap(),
            "config": {"webhook_url": url, "token": TOKEN},
            "allowed_hosts": hosts,
        }))
    };
    let report = report_of(
        engine.clone(),
        &survey,
        &send(format!("{}/h", server.base), json!(["127.0.0.1"])),
    )
    .await;
    assert_eq!(
        report.kind,
        PluginKind::SurveyChannel,
        "kind from the manifest"
    );
    assert_eq!(report.outcome, FixtureOutcome::Ok);
    let printed = serde_json::to_value(&report).unwrap().to_string();
    assert!(
        !printed.contains(TOKEN) && printed.contains("[redacted]"),
        "{printed}"
    );

    let elsewhere = server.base.replace("127.0.0.1", "127.0.0.2");
    let report = report_of(
        engine,
        &survey,
        &send(format!("{elsewhere}/h"), json!(["127.0.0.2"])),
    )
    .await;
    let error = report.error.expect("the host is not in the manifest");
    assert_eq!(
        error.reported_code.as_deref(),
        Some("http-denied"),
        "{error:?}"
    );
}

/// A survey channel built against the frozen WIT 0.1.0 runs through the host's shim: its
/// `config`, `clock` and `http` imports under their 0.1.0 names answer, and its exports are
/// called through the latest world bindings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_survey_channel_built_against_wit_0_1_still_delivers() {
    let server = Server::start(|_| (202, String::new())).await;
    let engine = PluginEngine::new(None).unwrap();
    let component = engine
        .load(&plugin_component("fixture-survey-v0-1"))
        .unwrap();
    assert_eq!(component.api_version, "0.1.0");
    let channel = SurveyPlugin::new(engine, &component).unwrap();
    let limits = Limits::survey_channel();
    let url = format!("{}/hooks/old", server.base);
    let granted = grants(&[("webhook_url", url.as_str())], "none", &["127.0.0.1"]);
    let run = channel.send(&delivery("d-old"), granted, &limits).await;
    assert_eq!(run.outcome.unwrap().external_id.as_deref(), Some("d-old"));
    let received = server.received();
    assert_eq!(received.len(), 1);
    let body: Value = serde_json::from_str(&received[0].body).unwrap();
    assert_eq!(body["delivery_id"], "d-old");
    assert!(
        body["sent_at_ms"].as_i64().unwrap() > 1_700_000_000_000,
        "{body}"
    );

    // The host's grants still apply to a 0.1.0 plugin: an ungranted host is refused.
    let refused = grants(&[("webhook_url", url.as_str())], "none", &[]);
    let run = channel.send(&delivery("d-refused"), refused, &limits).await;
    assert_reported(&run.outcome, "unreachable", false);
    assert_eq!(server.received().len(), 1, "no connection was made");
}
