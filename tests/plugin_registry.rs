//! The plugin registry over the HTTP API: the platform admin installs components (checked
//! before anything runs), tenant admins enable a version with validated config and HTTP grants,
//! upgrade, roll back and disable it in single calls, run it, and read its run log and metrics.
//! Secrets are sealed at rest and never appear in any API response or log line.

use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rapport_tests::http_peer::Server;
use rapport_tests::reqwest::{Method, StatusCode};
use rapport_tests::serde_json::{Value, json};
use rapport_tests::{PLATFORM_TOKEN, TestServer, assert_error, on_every_backend, plugin_component};
use sea_orm::{ConnectionTrait, Statement};

/// Every log line the servers of this test binary write.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing_subscriber::filter::LevelFilter::DEBUG)
            .with_writer(move || LogWriter(sink.clone()))
            .init();
        logs
    })
    .clone()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn tiering_manifest(version: &str, required: &[&str]) -> Value {
    json!({
        "id": "acme.value-tiers",
        "version": version,
        "vendor": "Acme",
        "kind": "tiering-policy",
        "api_version": "0.4.0",
        "config_schema": {
            "type": "object",
            "required": required,
            "properties": {
                "high_value_threshold": {"type": "string", "pattern": "^[0-9]+$"},
                "region": {"type": "string"}
            }
        }
    })
}

async fn install(
    server: &TestServer,
    token: &str,
    component: &[u8],
    manifest: Option<Value>,
) -> (StatusCode, Value) {
    let body = json!({"component": STANDARD.encode(component), "manifest": manifest});
    server.post("/api/v1/plugins", token, body).await
}

fn customer_facts(id: i64, order_value_365d: f64) -> Value {
    json!({
        "customer_id": id, "lifecycle_stage": "customer", "tenure_days": 540, "tags": [],
        "custom_fields_json": "{}", "order_value_90d": 0.0, "order_value_365d": order_value_365d,
        "order_count_90d": 1, "order_count_365d": 4, "days_since_last_order": 10,
        "interaction_count_30d": 2, "interaction_count_90d": 5, "days_since_last_contact": 3,
        "open_complaints": 0, "complaints_90d": 0, "latest_csat": 4.5, "latest_nps": null,
        "latest_ces": null
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installing_checks_the_component_and_its_manifest() {
    let tiering = plugin_component("fixture-tiering");
    let hostile = plugin_component("fixture-hostile");
    on_every_backend(|server| {
        let (tiering, hostile) = (tiering.clone(), hostile.clone());
        async move {
            let tenant = server.tenant("vendorless").await;
            let manifest = Some(tiering_manifest("1.0.0", &[]));
            let (status, body) = install(&server, &tenant.token, &tiering, manifest.clone()).await;
            assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");

            let (status, body) = server
                .post(
                    "/api/v1/plugins",
                    PLATFORM_TOKEN,
                    json!({"component": "%%%"}),
                )
                .await;
            assert_error(
                status,
                &body,
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
            );
            assert_eq!(body["error"]["details"][0]["code"], "invalid_base64");

            let (status, body) =
                install(&server, PLATFORM_TOKEN, b"\0asm nope", manifest.clone()).await;
            assert_error(
                status,
                &body,
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_component",
            );

            let future = with_api_version(&tiering, b"9.9.0");
            let (status, body) = install(&server, PLATFORM_TOKEN, &future, manifest.clone()).await;
            assert_error(
                status,
                &body,
                StatusCode::UNPROCESSABLE_ENTITY,
                "incompatible_api",
            );
            assert!(body["error"]["message"].as_str().unwrap().contains("9.9.0"));

            let mut wrong_kind = tiering_manifest("1.0.0", &[]);
            wrong_kind["kind"] = json!("survey-channel");
            let (status, body) = install(&server, PLATFORM_TOKEN, &tiering, Some(wrong_kind)).await;
            assert_error(
                status,
                &body,
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_component",
            );

            let mut bad = tiering_manifest("one", &[]);
            bad["http_hosts"] = json!(["https://x.example/"]);
            let (status, body) = install(&server, PLATFORM_TOKEN, &tiering, Some(bad)).await;
            assert_error(
                status,
                &body,
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
            );
            let fields: Vec<&str> = body["error"]["details"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["field"].as_str().unwrap())
                .collect();
            assert_eq!(fields, ["manifest.version", "manifest.http_hosts[0]"]);

            let (status, body) = install(&server, PLATFORM_TOKEN, &tiering, None).await;
            assert_error(
                status,
                &body,
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
            );
            assert_eq!(body["error"]["details"][0]["code"], "manifest_missing");
            let (_, listed) = server.get("/api/v1/plugins", PLATFORM_TOKEN).await;
            assert_eq!(listed, json!([]), "nothing refused was stored");

            let (status, body) = install(&server, PLATFORM_TOKEN, &tiering, manifest.clone()).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            let sha = body["plugin"]["component_sha256"]
                .as_str()
                .unwrap()
                .to_owned();
            assert_eq!(sha.len(), 64);
            assert_eq!(body["plugin"]["kind"], "tiering-policy");
            let (status, again) =
                install(&server, PLATFORM_TOKEN, &tiering, manifest.clone()).await;
            assert_eq!((status, &again["created"]), (StatusCode::OK, &json!(false)));
            let (status, body) = install(&server, PLATFORM_TOKEN, &hostile, manifest).await;
            assert_error(status, &body, StatusCode::CONFLICT, "version_exists");

            let (status, listed) = server.get("/api/v1/plugins", &tenant.token).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(listed.as_array().unwrap().len(), 1);
            let (status, one) = server
                .get(
                    "/api/v1/plugins/acme.value-tiers/versions/1.0.0",
                    &tenant.token,
                )
                .await;
            assert_eq!(
                (status, one["component_sha256"].as_str()),
                (StatusCode::OK, Some(sha.as_str()))
            );
            let (status, body) = server
                .get(
                    "/api/v1/plugins/acme.value-tiers/versions/2.0.0",
                    &tenant.token,
                )
                .await;
            assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
        }
    })
    .await;
}

/// The component as a future SDK would build it, announcing another API version.
fn with_api_version(bytes: &[u8], version: &[u8; 5]) -> Vec<u8> {
    let marker = b"rapport-plugin-api";
    let at = bytes
        .windows(marker.len())
        .position(|window| window == marker)
        .expect("the API section")
        + marker.len();
    let mut patched = bytes.to_vec();
    patched[at..at + version.len()].copy_from_slice(version);
    patched
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_enable_upgrade_roll_back_and_disable() {
    let tiering = plugin_component("fixture-tiering");
    on_every_backend(|server| {
        let tiering = tiering.clone();
        async move {
            for (version, required) in [("1.0.0", vec![]), ("1.1.0", vec!["region"])] {
                let (status, body) = install(&server, PLATFORM_TOKEN, &tiering, Some(tiering_manifest(version, &required))).await;
                assert!(status.is_success(), "{body}");
            }
            let a = server.tenant("alpha").await;
            let b = server.tenant("beta").await;
            let path = "/api/v1/tenant/plugins/acme.value-tiers";
            let call = |method: Method, suffix: &str, token: &str, body: Option<Value>| {
                let url = format!("{path}{suffix}");
                let token = token.to_owned();
                let server = &server;
                async move { server.call(method, &url, Some(&token), body).await }
            };

            let (status, body) = call(Method::PUT, "", &a.token, Some(json!({"version": "9.0.0"}))).await;
            assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
            let (status, body) = call(Method::PUT, "", &a.token,
                Some(json!({"version": "1.0.0", "config": {"high_value_threshold": "lots"}}))).await;
            assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
            assert_eq!(body["error"]["details"][0]["field"], "config/high_value_threshold");
            let (status, body) = call(Method::PUT, "", &a.token,
                Some(json!({"version": "1.0.0", "granted_hosts": ["api.example.com"]}))).await;
            assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
            assert_eq!(body["error"]["details"][0]["code"], "not_requested");

            let (status, enabled) = call(Method::PUT, "", &a.token,
                Some(json!({"version": "1.0.0", "config": {"high_value_threshold": "300000"}}))).await;
            assert_eq!(status, StatusCode::OK, "{enabled}");
            assert_eq!((&enabled["version"], &enabled["enabled"], &enabled["previous_version"]),
                (&json!("1.0.0"), &json!(true), &Value::Null));

            let evaluate = json!({"export": "evaluate", "input": [customer_facts(7, 350_000.0)]});
            let (status, ran) = call(Method::POST, "/invoke", &a.token, Some(evaluate.clone())).await;
            assert_eq!(status, StatusCode::OK, "{ran}");
            assert_eq!(ran["run"]["outcome"], "ok", "{ran}");
            assert_eq!(ran["output"][0]["tier"], "high-value", "the tenant's threshold applies");

            let (status, body) = call(Method::POST, "/upgrade", &a.token, Some(json!({"version": "1.1.0"}))).await;
            assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
            assert_eq!(call(Method::GET, "", &a.token, None).await.1["version"], "1.0.0", "a refused upgrade changes nothing");

            let (status, body) = call(Method::PUT, "", &a.token, Some(json!({"version": "1.1.0",
                "config": {"high_value_threshold": "300000", "region": "east"}}))).await;
            assert_eq!((status, &body["version"], &body["previous_version"]), (StatusCode::OK, &json!("1.1.0"), &json!("1.0.0")), "{body}");
            let (status, body) = call(Method::POST, "/upgrade", &a.token, Some(json!({"version": "1.1.0"}))).await;
            assert_error(status, &body, StatusCode::CONFLICT, "already_at_version");
            let (status, body) = call(Method::POST, "/rollback", &a.token, None).await;
            assert_eq!((status, &body["version"], &body["previous_version"]), (StatusCode::OK, &json!("1.0.0"), &json!("1.1.0")), "{body}");
            assert_eq!(body["config"]["region"], "east", "configuration survives a rollback");
            let (status, body) = call(Method::POST, "/upgrade", &a.token, Some(json!({"version": "1.1.0"}))).await;
            assert_eq!((status, &body["version"]), (StatusCode::OK, &json!("1.1.0")), "{body}");

            let (status, body) = call(Method::GET, "", &b.token, None).await;
            assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
            let (status, body) = call(Method::POST, "/invoke", &b.token, Some(evaluate.clone())).await;
            assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
            let (status, body) = call(Method::POST, "/rollback", &b.token, None).await;
            assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");

            let (status, body) = call(Method::POST, "/disable", &a.token, None).await;
            assert_eq!((status, &body["enabled"]), (StatusCode::OK, &json!(false)));
            let (status, body) = call(Method::POST, "/invoke", &a.token, Some(evaluate)).await;
            assert_error(status, &body, StatusCode::CONFLICT, "plugin_disabled");

            let (status, runs) = call(Method::GET, "/runs?limit=10", &a.token, None).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(runs.as_array().unwrap().len(), 1, "{runs}");
            assert_eq!((&runs[0]["export"], &runs[0]["outcome"], &runs[0]["version"]),
                (&json!("evaluate"), &json!("ok"), &json!("1.0.0")));
            let (status, body) = call(Method::GET, "/runs?limit=0", &a.token, None).await;
            assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

            let metrics = server.client.get(server.url("/metrics")).send().await.unwrap().text().await.unwrap();
            let calls = format!(
                "rapport_plugin_calls_total{{tenant_id=\"{}\",plugin=\"acme.value-tiers\",export=\"evaluate\",outcome=\"ok\"}} 1",
                a.id
            );
            assert!(metrics.contains(&calls), "{metrics}");
            assert!(metrics.contains("rapport_plugin_call_duration_seconds_count{tenant_id="));
            // Fuel is metered on every call, not only those of a kind with a fuel budget.
            let fuel = format!("rapport_plugin_fuel_used_total{{tenant_id=\"{}\",plugin=\"acme.value-tiers\"}} ", a.id);
            let metered = metrics.lines().find_map(|line| line.strip_prefix(&fuel));
            assert!(metered.and_then(|n| n.parse::<u64>().ok()).is_some_and(|n| n > 0), "{metrics}");
            assert!(runs[0]["fuel_used"].as_u64().is_some_and(|n| n > 0), "{runs}");
        }
    })
    .await;
}

fn delivery() -> Value {
    json!({"export": "send", "input": {
        "delivery_id": "d-1",
        "recipient": {"contact_id": 1, "name": "Li Lei", "phone": null, "email": "li@example.com", "wechat_id": null},
        "subject": "How did we do?", "body": "Rate us 1-5", "response_link": "http://127.0.0.1/s/d-1", "locale": "zh-CN"
    }})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_sealed_and_never_shown() {
    const SECRET: &str = "tok-3f9a-SUPER-SECRET-7c1e";
    let logs = captured_logs();
    let survey = plugin_component("fixture-survey");
    on_every_backend(|server| {
        let survey = survey.clone();
        async move {
            let mut responses = Vec::new();
            let (status, body) = install(&server, PLATFORM_TOKEN, &survey, None).await;
            assert_eq!(status, StatusCode::CREATED, "the embedded manifest is used: {body}");
            let plugin_id = body["plugin"]["plugin_id"].as_str().unwrap().to_owned();
            let version = body["plugin"]["version"].as_str().unwrap().to_owned();
            let tenant = server.tenant("sealed").await;
            let path = format!("/api/v1/tenant/plugins/{plugin_id}");
            let hook = Server::start(|_| (200, r#"{"id":"msg-1"}"#.to_owned())).await;
            let url = format!("{}/hook", hook.base);
            let authorization = |call: usize| hook.received()[call].headers["authorization"].clone();

            let enable = json!({"version": version, "config": {"webhook_url": url, "token": SECRET}, "granted_hosts": ["127.0.0.1"]});
            let (status, body) = server.call(Method::PUT, &path, Some(&tenant.token), Some(enable)).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(body["secrets_set"], json!(["token"]));
            assert_eq!(body["effective_hosts"], json!(["127.0.0.1"]));
            assert!(body["config"].get("token").is_none());
            responses.push(body);

            let (status, ran) = server.post(&format!("{path}/invoke"), &tenant.token, delivery()).await;
            assert_eq!((status, &ran["run"]["outcome"]), (StatusCode::OK, &json!("ok")), "{ran}");
            assert_eq!(hook.received().len(), 1);
            assert_eq!(authorization(0), format!("Bearer {SECRET}"), "the plugin used the decrypted secret");
            assert!(ran.to_string().contains("[redacted]"), "the plugin's log line is redacted: {ran}");
            responses.push(ran);

            let keep = json!({"version": version, "config": {"webhook_url": url}, "granted_hosts": ["127.0.0.1"]});
            let (status, body) = server.call(Method::PUT, &path, Some(&tenant.token), Some(keep)).await;
            assert_eq!((status, &body["secrets_set"]), (StatusCode::OK, &json!(["token"])), "an omitted secret is kept");
            responses.push(body);
            let (_, ran) = server.post(&format!("{path}/invoke"), &tenant.token, delivery()).await;
            assert_eq!(ran["run"]["outcome"], "ok");
            assert_eq!(authorization(1), format!("Bearer {SECRET}"));
            responses.push(ran);

            for read in [path.clone(), "/api/v1/tenant/plugins".into(), format!("{path}/runs"), "/api/v1/plugins".into()] {
                let (status, body) = server.get(&read, &tenant.token).await;
                assert_eq!(status, StatusCode::OK);
                responses.push(body);
            }
            responses.push(json!(server.client.get(server.url("/metrics")).send().await.unwrap().text().await.unwrap()));
            for response in &responses {
                assert!(!response.to_string().contains(SECRET), "a response shows the secret: {response}");
            }

            let rows = server.db.query_all_raw(Statement::from_string(server.db.get_database_backend(),
                "SELECT sealed_secrets, config FROM tenant_plugins")).await.unwrap();
            let sealed: String = rows[0].try_get("", "sealed_secrets").unwrap();
            let config: String = rows[0].try_get("", "config").unwrap();
            assert!(sealed.starts_with("v1:") && !sealed.contains(SECRET) && !config.contains(SECRET));
            let runs = server.db.query_all_raw(Statement::from_string(server.db.get_database_backend(),
                "SELECT log FROM plugin_runs")).await.unwrap();
            for run in runs {
                let log: String = run.try_get("", "log").unwrap();
                assert!(!log.contains(SECRET));
            }
        }
    })
    .await;
    let logs = String::from_utf8_lossy(&logs.lock().unwrap()).to_string();
    assert!(
        logs.contains("/api/v1/tenant/plugins"),
        "the request log was captured"
    );
    assert!(!logs.contains(SECRET), "a log line shows the secret");
}
