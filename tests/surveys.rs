//! Satisfaction surveys end to end: a resolved ticket queues a survey, the worker hands it to
//! the `webhook-channel` plugin, which posts it to a loopback sink; the one-use link takes one
//! answer (JSON and, in Chromium, the HTML page); the answer lands in the satisfaction history
//! and the KPIs, and a low score opens a recovery ticket for the account owner with a task for
//! the manager. Tokens: forged, replayed, double-submitted and expired ones are refused.
//! Delivery: retryable failures back off and retry with the same delivery id, fatal ones fail
//! once, throttling and opt-outs hold, and one reminder goes out.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration as StdDuration;

use base64::Engine as _;
use rapport::jobs::JobOptions;
use rapport_tests::browser::Browser;
use rapport_tests::http_peer::{Received, Server as Sink};
use rapport_tests::reqwest::{Method, StatusCode};
use rapport_tests::serde_json::{Value, json};
use rapport_tests::{
    Backend, PLATFORM_TOKEN, Tenant, TestServer, assert_error, backends, eventually, id, invalid,
    plugin_component,
};
use sea_orm::{ConnectionTrait, Statement};

const CHANNEL: &str = "rapport.webhook-channel";
const SECRET: &str = "whsec-0123456789abcdef";

fn fast_jobs() -> JobOptions {
    JobOptions {
        tick: StdDuration::from_millis(100),
        ..JobOptions::default()
    }
}

/// Installs the webhook channel (once per server) and enables it for the tenant, posting to
/// `sink`.
async fn enable_channel(server: &TestServer, tenant: &Tenant, component: &[u8], sink: &Sink) {
    let body = json!({"component": base64::engine::general_purpose::STANDARD.encode(component)});
    let (status, installed) = server.post("/api/v1/plugins", PLATFORM_TOKEN, body).await;
    assert!(
        status == StatusCode::CREATED || status == StatusCode::OK,
        "{installed}"
    );
    let version = installed["plugin"]["version"].as_str().unwrap();
    let enable = json!({"version": version, "config": {"url": format!("{}/surveys", sink.base), "secret": SECRET},
        "granted_hosts": ["127.0.0.1"]});
    let path = format!("/api/v1/tenant/plugins/{CHANNEL}");
    let (status, body) = server
        .call(Method::PUT, &path, Some(&tenant.token), Some(enable))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A customer owned by `owner` with one contact; returns (customer id, contact id).
async fn customer_with_contact(
    server: &TestServer,
    token: &str,
    code: &str,
    owner: i64,
) -> (i64, i64) {
    let customer = id(&server
        .customer(token, code, json!({"owner_id": owner}))
        .await);
    let (status, contact) = server
        .post(&format!("/api/v1/customers/{customer}/contacts"), token,
            json!({"name": format!("Contact of {code}"), "phone": "+8613800138000", "is_primary": true}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{contact}");
    (customer, id(&contact))
}

async fn wait_for_requests(sink: &Sink, count: usize) -> Vec<Received> {
    eventually(&format!("{count} request(s) at the sink"), 30, || async {
        sink.received().len() >= count
    })
    .await;
    sink.received()
}

fn payload(request: &Received) -> Value {
    rapport_tests::serde_json::from_str(&request.body).unwrap()
}

/// The token of a delivered survey link, and its path.
fn token_of(request: &Received) -> (String, String) {
    let link = payload(request)["response_link"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = link[link.find("/s/").unwrap()..].to_owned();
    (path.trim_start_matches("/s/").to_owned(), path)
}

async fn execute(server: &TestServer, sql: &str) {
    let backend = server.db.get_database_backend();
    server
        .db
        .execute_raw(Statement::from_string(backend, sql.to_owned()))
        .await
        .unwrap();
}

async fn send(server: &TestServer, token: &str, template: &str, customers: &[i64]) -> Value {
    let body = json!({"template_key": template, "channel": CHANNEL, "customer_ids": customers});
    let (status, campaign) = server.post("/api/v1/surveys/send", token, body).await;
    assert_eq!(status, StatusCode::CREATED, "{campaign}");
    campaign
}

async fn deliveries(server: &TestServer, token: &str, query: &str) -> Vec<Value> {
    let (status, list) = server
        .get(&format!("/api/v1/surveys/deliveries?{query}"), token)
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list.as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolved_ticket_brings_a_survey_and_a_low_score_opens_recovery() {
    let component = plugin_component("webhook-channel");
    for backend in backends() {
        {
            let server = TestServer::start_with_jobs(backend, fast_jobs()).await;
            let tenant = server.tenant("csat").await;
            let token = tenant.token.as_str();
            let sink = Sink::start(|_| (200, r#"{"id":"hook-1"}"#.to_owned())).await;
            enable_channel(&server, &tenant, &component, &sink).await;
            let care = server.department(&tenant, "care").await;
            let (manager, manager_token) = server
                .user_with(
                    &tenant,
                    "lead@csat.test",
                    json!({"role": "manager", "department_id": care}),
                )
                .await;
            let (owner, owner_token) = server
                .user_with(
                    &tenant,
                    "am@csat.test",
                    json!({"role": "account-manager", "department_id": care}),
                )
                .await;
            let (_, stranger_token) = server
                .user_with(
                    &tenant,
                    "am2@csat.test",
                    json!({"role": "account-manager", "department_id": care}),
                )
                .await;
            let (customer, contact) = customer_with_contact(&server, token, "S1", owner).await;

            // Bad settings are refused; the trigger needs an enabled channel and a template.
            let settings = "/api/v1/surveys/settings";
            let (status, error) = server.call(Method::PUT, settings, Some(token), Some(json!({"throttle_days": 30,
                "reminder_after_hours": 48, "expire_after_days": 14, "default_locale": "en",
                "low_score": {"csat_at_most": 2, "nps_at_most": 6, "ces_at_least": 5},
                "after_ticket_resolved": {"template_key": "csat-after-service", "channel": "nope"}}))).await;
            assert_eq!(
                invalid(status, &error)["details"][0]["code"],
                "unknown_channel"
            );
            let (status, saved) = server.call(Method::PUT, settings, Some(token), Some(json!({"throttle_days": 30,
                "reminder_after_hours": 48, "expire_after_days": 14, "default_locale": "en",
                "low_score": {"csat_at_most": 2, "nps_at_most": 6, "ces_at_least": 5},
                "after_ticket_resolved": {"template_key": "csat-after-service", "channel": CHANNEL}}))).await;
            assert_eq!(status, StatusCode::OK, "{saved}");

            let (status, ticket) = server
                .post(
                    "/api/v1/tickets",
                    token,
                    json!({"customer_id": customer,
                "contact_id": contact, "type": "inquiry", "subject": "Where is my invoice?"}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{ticket}");
            let ticket = id(&ticket);
            let (status, body) = server
                .call(
                    Method::PUT,
                    &format!("/api/v1/tickets/{ticket}/assignment"),
                    Some(token),
                    Some(json!({"assignee_id": tenant.admin_id})),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let (status, body) = server
                .post(
                    &format!("/api/v1/tickets/{ticket}/status"),
                    token,
                    json!({"status": "resolved", "resolution": {"result": "resolved"}}),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");

            // The worker turns the resolution into a survey and the plugin posts it, signed.
            let received = wait_for_requests(&sink, 1).await;
            let delivered = payload(&received[0]);
            assert_eq!(delivered["recipient"]["contact_id"], contact);
            assert!(received[0].headers["x-rapport-signature"].starts_with("t="));
            let (survey_token, _) = token_of(&received[0]);
            assert_eq!(survey_token.len(), 32);
            let listed = deliveries(&server, token, &format!("ticket_id={ticket}")).await;
            assert_eq!(listed.len(), 1);
            assert_eq!(
                (listed[0]["state"].as_str(), listed[0]["cause"].as_str()),
                (Some("sent"), Some("ticket_resolved"))
            );
            assert_eq!(listed[0]["external_id"], "hook-1");

            let public = format!("/api/v1/surveys/public/{survey_token}");
            let (status, survey) = server.call(Method::GET, &public, None, None).await;
            assert_eq!(status, StatusCode::OK, "{survey}");
            assert_eq!(
                (survey["kind"].as_str(), survey["locale"].as_str()),
                (Some("csat"), Some("en"))
            );
            assert_eq!(survey["dimensions"].as_array().unwrap().len(), 3);

            let (status, error) = server
                .call(
                    Method::POST,
                    &public,
                    None,
                    Some(json!({"score": 9, "dimensions": {"colour": 3}})),
                )
                .await;
            let details = invalid(status, &error)["details"].clone();
            let codes: Vec<&str> = details
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["code"].as_str().unwrap())
                .collect();
            assert_eq!(codes, ["out_of_range", "unknown_dimension"]);
            let answer = json!({"score": 2, "dimensions": {"communication": 1, "service_response": 2}, "comment": "Nobody called back"});
            let (status, response) = server
                .call(Method::POST, &public, None, Some(answer.clone()))
                .await;
            assert_eq!(status, StatusCode::CREATED, "{response}");
            let (status, error) = server.call(Method::POST, &public, None, Some(answer)).await;
            assert_error(status, &error, StatusCode::CONFLICT, "already_answered");
            let mut forged = survey_token.clone();
            forged.replace_range(
                0..4,
                if forged.starts_with("AAAA") {
                    "BBBB"
                } else {
                    "AAAA"
                },
            );
            let (status, error) = server
                .call(
                    Method::GET,
                    &format!("/api/v1/surveys/public/{forged}"),
                    None,
                    None,
                )
                .await;
            assert_error(status, &error, StatusCode::NOT_FOUND, "not_found");

            // The low score opened a recovery ticket for the owner and told the manager.
            let recovery = response["recovery_ticket_id"]
                .as_i64()
                .expect("a recovery ticket");
            let (_, ticket) = server
                .get(&format!("/api/v1/tickets/{recovery}"), token)
                .await;
            assert_eq!(
                (ticket["type"].as_str(), ticket["priority"].as_str()),
                (Some("complaint"), Some("high"))
            );
            assert_eq!(
                (ticket["assignee_id"].as_i64(), ticket["category"].as_str()),
                (Some(owner), Some("survey-recovery"))
            );
            let (_, tasks) = server.get("/api/v1/tasks", &manager_token).await;
            assert!(
                tasks["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|t| t["assignee_id"] == manager
                        && t["title"].as_str().unwrap().starts_with("Low score from")),
                "{tasks}"
            );
            let (_, history) = server
                .get(&format!("/api/v1/customers/{customer}/satisfaction"), token)
                .await;
            let records = history["items"].as_array().unwrap();
            assert_eq!(
                (
                    records[0]["kind"].as_str(),
                    records[0]["value"].as_f64(),
                    records[0]["source"].as_str()
                ),
                (Some("csat"), Some(2.0), Some("survey"))
            );

            // KPIs: the owner sees them, another account manager does not.
            let (status, kpis) = server
                .get("/api/v1/surveys/kpis?group_by=owner", &owner_token)
                .await;
            assert_eq!(status, StatusCode::OK, "{kpis}");
            assert_eq!(
                (
                    kpis["overall"]["csat_percent"]["value"].as_f64(),
                    kpis["overall"]["csat_percent"]["basis"].as_u64()
                ),
                (Some(0.0), Some(1))
            );
            assert_eq!(
                kpis["overall"]["response_rate"]["value"].as_f64(),
                Some(100.0)
            );
            assert_eq!(
                kpis["overall"]["dimension_means"]["communication"]["value"].as_f64(),
                Some(1.0)
            );
            assert_eq!(kpis["groups"][0]["key"], owner.to_string());
            let (_, hidden) = server.get("/api/v1/surveys/kpis", &stranger_token).await;
            assert_eq!(hidden["overall"]["csat_percent"]["basis"], 0);
            let (_, none) = server
                .get("/api/v1/surveys/responses", &stranger_token)
                .await;
            assert_eq!(none, json!([]));

            // Sending needs the customer in the sender's scope.
            let body = json!({"template_key": "nps-quarterly", "channel": CHANNEL, "customer_ids": [customer]});
            let (status, error) = server
                .post("/api/v1/surveys/send", &stranger_token, body)
                .await;
            assert_error(status, &error, StatusCode::NOT_FOUND, "not_found");

            // Throttling: one survey per contact in 30 days.
            let campaign = send(&server, token, "nps-quarterly", &[customer]).await;
            assert_eq!(
                campaign["last_report"],
                json!({"queued": 0, "throttled": 1, "opted_out": 0, "no_contact": 0})
            );

            // Expiry: a link past its time takes no answer.
            let (second, _) = customer_with_contact(&server, token, "S2", owner).await;
            send(&server, token, "nps-quarterly", &[second]).await;
            let received = wait_for_requests(&sink, 2).await;
            let (expiring, page) = token_of(&received[1]);
            execute(&server, &format!("UPDATE survey_deliveries SET expires_at = '2020-01-01 00:00:00+00:00' WHERE token = '{expiring}'")).await;
            let (status, error) = server
                .call(
                    Method::POST,
                    &format!("/api/v1/surveys/public/{expiring}"),
                    None,
                    Some(json!({"score": 9})),
                )
                .await;
            assert_error(status, &error, StatusCode::GONE, "survey_expired");
            let page = server.client.get(server.url(&page)).send().await.unwrap();
            assert_eq!(page.status(), StatusCode::GONE);

            // Opting out from the page stops later surveys.
            let (third, _) = customer_with_contact(&server, token, "S3", owner).await;
            send(&server, token, "nps-quarterly", &[third]).await;
            let received = wait_for_requests(&sink, 3).await;
            let (_, page) = token_of(&received[2]);
            let opted = server
                .client
                .post(server.url(&format!("{page}/opt-out")))
                .send()
                .await
                .unwrap();
            assert_eq!(opted.status(), StatusCode::OK);
            let settings_now = json!({"throttle_days": 0, "reminder_after_hours": 48, "expire_after_days": 14,
                "default_locale": "en", "low_score": {"csat_at_most": 2, "nps_at_most": 6, "ces_at_least": 5}});
            let (status, _) = server
                .call(Method::PUT, settings, Some(token), Some(settings_now))
                .await;
            assert_eq!(status, StatusCode::OK);
            let campaign = send(&server, token, "nps-quarterly", &[third, second]).await;
            assert_eq!(
                campaign["last_report"],
                json!({"queued": 1, "throttled": 0, "opted_out": 1, "no_contact": 0})
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_retry_with_the_same_delivery_and_never_duplicate() {
    let component = plugin_component("webhook-channel");
    for backend in backends() {
        {
            let server = TestServer::start_with_jobs(backend, fast_jobs()).await;
            let tenant = server.tenant("retry").await;
            let token = tenant.token.as_str();
            let calls = Arc::new(AtomicUsize::new(0));
            let counted = calls.clone();
            // The first call fails with 503, a recipient named "Fatal" is refused for good.
            let sink = Sink::start(move |request| {
                if request.body.contains("Contact of FATAL") {
                    return (400, r#"{"error":"unknown recipient"}"#.to_owned());
                }
                match counted.fetch_add(1, Ordering::SeqCst) {
                    0 => (503, "{}".to_owned()),
                    _ => (200, "{}".to_owned()),
                }
            })
            .await;
            enable_channel(&server, &tenant, &component, &sink).await;
            let (customer, _) = customer_with_contact(&server, token, "R1", tenant.admin_id).await;
            send(&server, token, "ces-after-service", &[customer]).await;
            wait_for_requests(&sink, 1).await;
            eventually("the retryable failure recorded", 10, || async {
                deliveries(&server, token, &format!("customer_id={customer}")).await[0]["attempts"]
                    == 1
            })
            .await;
            let delivery = &deliveries(&server, token, &format!("customer_id={customer}")).await[0];
            assert_eq!(
                delivery["state"], "queued",
                "a retryable failure waits for its retry"
            );
            assert!(
                delivery["last_error"]
                    .as_str()
                    .unwrap()
                    .contains("upstream"),
                "{delivery}"
            );
            // Time travel past the backoff instead of waiting 30 s.
            execute(
                &server,
                &format!(
                    "UPDATE survey_deliveries SET next_check_at = send_after WHERE id = {}",
                    id(delivery)
                ),
            )
            .await;
            let received = wait_for_requests(&sink, 2).await;
            let ids: Vec<Value> = received
                .iter()
                .map(|r| payload(r)["delivery_id"].clone())
                .collect();
            assert_eq!(ids[0], ids[1], "the retry carries the same delivery id");
            eventually("the delivery sent", 10, || async {
                deliveries(&server, token, &format!("customer_id={customer}")).await[0]["state"]
                    == "sent"
            })
            .await;
            tokio::time::sleep(StdDuration::from_millis(600)).await;
            assert_eq!(sink.received().len(), 2, "a sent survey is not sent again");

            let (fatal, _) = customer_with_contact(&server, token, "FATAL", tenant.admin_id).await;
            send(&server, token, "ces-after-service", &[fatal]).await;
            eventually("the fatal failure recorded", 10, || async {
                deliveries(&server, token, &format!("customer_id={fatal}")).await[0]["state"]
                    == "failed"
            })
            .await;
            tokio::time::sleep(StdDuration::from_millis(600)).await;
            assert_eq!(sink.received().len(), 3, "a fatal failure is not retried");

            // One reminder when unanswered, then no more.
            let sent = &deliveries(&server, token, &format!("customer_id={customer}")).await[0];
            execute(
                &server,
                &format!(
                    "UPDATE survey_deliveries SET next_check_at = sent_at WHERE id = {}",
                    id(sent)
                ),
            )
            .await;
            let received = wait_for_requests(&sink, 4).await;
            assert!(
                payload(&received[3])["subject"]
                    .as_str()
                    .unwrap()
                    .starts_with("【提醒】"),
                "zh-CN by default"
            );
            eventually("the reminder recorded", 10, || async {
                !deliveries(&server, token, &format!("customer_id={customer}")).await[0]["reminded_at"].is_null()
            })
            .await;
            tokio::time::sleep(StdDuration::from_millis(600)).await;
            assert_eq!(sink.received().len(), 4, "one reminder at most");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_response_page_takes_one_answer_in_chromium_and_the_dashboard_shows_it() {
    let Some(browser) = Browser::start_with_window(390, 844).await else {
        return;
    };
    let component = plugin_component("webhook-channel");
    let server = TestServer::start_with_jobs(Backend::Sqlite, fast_jobs()).await;
    let tenant = server.tenant("page").await;
    let token = tenant.token.as_str();
    let sink = Sink::start(|_| (200, "{}".to_owned())).await;
    enable_channel(&server, &tenant, &component, &sink).await;
    let (owner, _) = server
        .user_with(
            &tenant,
            "owner@page.test",
            json!({"role": "account-manager"}),
        )
        .await;
    let (customer, _) = customer_with_contact(&server, token, "B1", owner).await;
    send(&server, token, "csat-after-service", &[customer]).await;
    let received = wait_for_requests(&sink, 1).await;
    let (_, path) = token_of(&received[0]);

    browser.goto(&server.url(&path)).await;
    assert_eq!(
        browser.text("#title").await.as_deref(),
        Some("服务满意度调查"),
        "zh-CN by default"
    );
    assert_eq!(
        browser.texts("#score label").await,
        ["1", "2", "3", "4", "5"]
    );
    assert_eq!(
        browser.texts(".dimension legend").await,
        ["产品质量", "服务响应速度", "沟通效率"]
    );
    let fits = browser
        .eval("return document.documentElement.scrollWidth <= window.innerWidth;")
        .await;
    assert_eq!(fits, json!(true), "the page fits a phone screen");

    // A body that is not a form gets the questions again, not an error.
    let garbage = server
        .client
        .post(server.url(&path))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(garbage.text().await.unwrap().contains("id=\"errors\""));

    // Submitting without a score (bypassing the browser's own check) shows what is missing.
    browser
        .eval("document.getElementById('survey').submit(); return true;")
        .await;
    wait_for(&browser, "#errors").await;
    assert!(browser.text("#errors li").await.unwrap().contains("score"));

    browser
        .eval(
            "document.querySelector('input[name=score][value=\"1\"]').click();
               document.querySelector('input[name=\"dim.communication\"][value=\"2\"]').click();
               document.getElementById('comment').value = '等了三天没人回复';
               document.getElementById('send').click(); return true;",
        )
        .await;
    wait_for(&browser, "#thanks").await;
    assert_eq!(
        browser.text("#thanks").await.as_deref(),
        Some("感谢您的反馈！")
    );

    // The link is spent: reloading it says so.
    browser.goto(&server.url(&path)).await;
    wait_for(&browser, "#answered").await;
    browser
        .goto(&server.url("/s/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
        .await;
    wait_for(&browser, "#not-found").await;

    let (_, responses) = server
        .get(
            &format!("/api/v1/surveys/responses?customer_id={customer}"),
            token,
        )
        .await;
    let response = &responses[0];
    assert_eq!(
        (response["score"].as_i64(), response["via"].as_str()),
        (Some(1), Some("page"))
    );
    assert_eq!(response["comment"], "等了三天没人回复");
    let (_, recovery) = server
        .get(
            &format!("/api/v1/tickets/{}", response["recovery_ticket_id"]),
            token,
        )
        .await;
    assert_eq!(recovery["assignee_id"], owner);

    browser.goto(&server.url("/surveys/dashboard")).await;
    browser
        .eval(&format!(
            "document.getElementById('token').value = '{token}';
               document.getElementById('load').click(); return true;"
        ))
        .await;
    eventually("the dashboard's figures", 15, || async {
        browser
            .text("#csat .value")
            .await
            .is_some_and(|text| text.starts_with('0'))
    })
    .await;
    assert!(
        browser
            .text("#response-rate .value")
            .await
            .unwrap()
            .starts_with("100")
    );
    let bars = browser
        .eval("return document.querySelectorAll('#chart-dimensions rect[data-key]').length;")
        .await;
    assert_eq!(bars, json!(1), "one dimension was rated");
    browser.close().await;
}

async fn wait_for(browser: &Browser, css: &str) {
    eventually(css, 15, || async { browser.text(css).await.is_some() }).await;
}

/// `X-Rapport-Signature` for `body` at `t`, computed here independently of the plugin.
fn signature(body: &str, t: i64) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={t},v1={hex}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaigns_reach_their_segment_on_schedule_and_channels_post_answers_back() {
    let component = plugin_component("webhook-channel");
    for backend in backends() {
        let server = TestServer::start_with_jobs(backend, fast_jobs()).await;
        let tenant = server.tenant("campaigns").await;
        let token = tenant.token.as_str();
        let sink = Sink::start(|_| (200, "{}".to_owned())).await;
        enable_channel(&server, &tenant, &component, &sink).await;
        let (vip, _) = customer_with_contact(&server, token, "VIP", tenant.admin_id).await;
        let (tagged, _) = customer_with_contact(&server, token, "TAG", tenant.admin_id).await;
        let (other, _) = customer_with_contact(&server, token, "OTHER", tenant.admin_id).await;
        execute(
            &server,
            &format!("UPDATE customers SET tier = 'high-value' WHERE id = {vip}"),
        )
        .await;
        let (status, body) = server
            .patch(
                &format!("/api/v1/customers/{tagged}"),
                token,
                json!({"tags": ["key-account"]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");

        // Templates: a new version, bad ones refused with every field named.
        let (status, error) = server
            .call(
                Method::PUT,
                "/api/v1/surveys/templates/nps-quarterly",
                Some(token),
                Some(json!({"name": "", "kind": "nps", "texts": {}})),
            )
            .await;
        let details = invalid(status, &error)["details"].clone();
        let fields: Vec<&str> = details
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, ["name", "texts"]);
        let (_, versions) = server
            .get("/api/v1/surveys/templates/nps-quarterly", token)
            .await;
        let mut texts = versions[0]["texts"].clone();
        texts["en"]["question"] = json!("Would you recommend us to a colleague?");
        let (status, saved) = server
            .call(
                Method::PUT,
                "/api/v1/surveys/templates/nps-quarterly",
                Some(token),
                Some(json!({"name": "Quarterly NPS", "kind": "nps", "texts": texts})),
            )
            .await;
        assert_eq!(
            (status, saved["version"].as_i64()),
            (StatusCode::CREATED, Some(2)),
            "{saved}"
        );
        let (status, error) = server
            .call(
                Method::PUT,
                "/api/v1/surveys/templates/nps-quarterly",
                Some(token),
                Some(json!({"name": "Quarterly NPS", "kind": "csat", "texts": texts})),
            )
            .await;
        assert_eq!(
            invalid(status, &error)["details"][0]["code"],
            "kind_changed"
        );

        // A quarterly campaign for high-value or key-account customers runs through the worker.
        let (status, error) = server
            .post(
                "/api/v1/surveys/campaigns",
                token,
                json!({"name": "Q", "template_key": "nps-quarterly",
            "channel": CHANNEL, "audience": {}, "every_months": 0}),
            )
            .await;
        assert_eq!(
            invalid(status, &error)["details"].as_array().unwrap().len(),
            2
        );
        let (status, campaign) = server.post("/api/v1/surveys/campaigns", token, json!({"name": "Quarterly NPS",
            "template_key": "nps-quarterly", "channel": CHANNEL, "audience": {"tiers": ["high-value"]}, "every_months": 3})).await;
        assert_eq!(status, StatusCode::CREATED, "{campaign}");
        let (status, tags) = server.post("/api/v1/surveys/campaigns", token, json!({"name": "Key accounts",
            "template_key": "ces-after-service", "channel": CHANNEL, "audience": {"tags": ["key-account"]}})).await;
        assert_eq!(status, StatusCode::CREATED, "{tags}");
        let received = wait_for_requests(&sink, 2).await;
        let path = format!("/api/v1/surveys/campaigns/{}", id(&campaign));
        eventually("the campaign's next quarter", 10, || async {
            server.get(&path, token).await.1["last_report"]["queued"] == 1
        })
        .await;
        let (_, ran) = server.get(&path, token).await;
        let next =
            chrono::DateTime::parse_from_rfc3339(ran["next_run_at"].as_str().unwrap()).unwrap();
        let last =
            chrono::DateTime::parse_from_rfc3339(ran["last_run_at"].as_str().unwrap()).unwrap();
        assert!((next - last).num_days() >= 89, "quarterly: {last} → {next}");
        let (_, one_off) = server
            .get(&format!("/api/v1/surveys/campaigns/{}", id(&tags)), token)
            .await;
        assert_eq!(
            one_off["next_run_at"],
            Value::Null,
            "a one-off campaign runs once"
        );
        let surveyed: Vec<i64> = deliveries(&server, token, "")
            .await
            .iter()
            .map(|d| d["customer_id"].as_i64().unwrap())
            .collect();
        assert_eq!(surveyed.len(), 2);
        assert!(
            surveyed.contains(&vip) && surveyed.contains(&tagged) && !surveyed.contains(&other)
        );
        let nps = received
            .iter()
            .map(payload)
            .find(|p| p["recipient"]["name"] == "Contact of VIP")
            .unwrap();
        assert_eq!(
            nps["body"].as_str().unwrap().lines().next(),
            Some("您有多大可能向朋友或同事推荐我们？"),
            "zh-CN is the default locale; the zh-CN text was not edited"
        );

        // The channel posts an answer back, signed; a forged signature is refused.
        let inbound = format!("/api/v1/surveys/inbound/{}/{CHANNEL}", tenant.id);
        let body = json!({"delivery_id": nps["delivery_id"], "answer": "10"}).to_string();
        let now = chrono::Utc::now().timestamp();
        let post = |signature: String, body: String| {
            server
                .client
                .post(server.url(&inbound))
                .header("x-rapport-signature", signature)
                .header("content-type", "application/json")
                .body(body)
                .send()
        };
        let refused = post(signature(&body, now).replace("v1=", "v1=0"), body.clone())
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        let answer: Value = refused.json().await.unwrap();
        assert_eq!(answer["error"]["code"], "inbound_refused");
        let accepted = post(signature(&body, now), body.clone()).await.unwrap();
        assert_eq!(accepted.status(), StatusCode::OK);
        assert_eq!(
            accepted.json::<Value>().await.unwrap(),
            json!({"recorded": 1, "ignored": 0})
        );
        let replayed = post(signature(&body, now), body).await.unwrap();
        assert_eq!(
            replayed.json::<Value>().await.unwrap(),
            json!({"recorded": 0, "ignored": 1}),
            "one answer per survey"
        );
        let (_, responses) = server
            .get(
                &format!("/api/v1/surveys/responses?customer_id={vip}"),
                token,
            )
            .await;
        assert_eq!(
            (responses[0]["score"].as_i64(), responses[0]["via"].as_str()),
            (Some(10), Some(CHANNEL))
        );
        assert_eq!(
            responses[0]["recovery_ticket_id"],
            Value::Null,
            "a 10 needs no recovery"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_contact_can_get_two_surveys_in_a_batch_and_an_opt_out_stops_what_is_queued() {
    let component = plugin_component("webhook-channel");
    // A slow tick, so that both surveys below are queued before the worker looks.
    let slow = JobOptions {
        tick: StdDuration::from_secs(3),
        ..JobOptions::default()
    };
    let server = TestServer::start_with_jobs(Backend::Sqlite, slow).await;
    let tenant = server.tenant("batch").await;
    let token = tenant.token.as_str();
    let sink = Sink::start(|_| (200, "{}".to_owned())).await;
    enable_channel(&server, &tenant, &component, &sink).await;
    let settings = json!({"throttle_days": 0, "reminder_after_hours": 0, "expire_after_days": 14,
        "default_locale": "en", "low_score": {"csat_at_most": 2, "nps_at_most": 6, "ces_at_least": 5}});
    let (status, _) = server
        .call(
            Method::PUT,
            "/api/v1/surveys/settings",
            Some(token),
            Some(settings),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (customer, contact) = customer_with_contact(&server, token, "TWICE", tenant.admin_id).await;
    send(&server, token, "nps-quarterly", &[customer]).await;
    send(&server, token, "csat-after-service", &[customer]).await;
    wait_for_requests(&sink, 2).await;
    eventually("both surveys sent", 10, || async {
        deliveries(&server, token, &format!("customer_id={customer}"))
            .await
            .iter()
            .all(|d| d["state"] == "sent")
    })
    .await;

    // An opt-out drops a survey that is still queued (held back from the worker here).
    send(&server, token, "ces-after-service", &[customer]).await;
    execute(&server, "UPDATE survey_deliveries SET next_check_at = '2099-01-01 00:00:00+00:00' WHERE state = 'queued'").await;
    let (status, _) = server
        .call(
            Method::PUT,
            &format!("/api/v1/surveys/opt-outs/{contact}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let latest = &deliveries(&server, token, &format!("customer_id={customer}")).await[0];
    assert_eq!(
        (latest["state"].as_str(), latest["last_error"].as_str()),
        (Some("failed"), Some("the contact opted out"))
    );
    assert_eq!(sink.received().len(), 2);
}
