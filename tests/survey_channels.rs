//! The production survey channels (`plugins/webhook-channel`, `plugins/wecom-channel`,
//! `plugins/sms-channel`) through the real host, against loopback servers that answer as the
//! real services do (request and answer shapes from `external-apis.md`; Twilio's error codes
//! 21211/21610/21614/20003/20429 and WeCom's errcode 0/45009/93000/-1 checked against the
//! vendors' error references). Every test checks the exact request a channel makes, its receipt,
//! the stable code and retryability of each failure, and what `parse-inbound` accepts and
//! refuses; secrets never reach the run log or an error message.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rapport::domain::plugin::{PluginKind, PluginManifest};
use rapport::domain::survey_delivery::{Delivery, InboundRequest, Recipient};
use rapport::plugins::{
    Grants, Invocation, Limits, PluginEngine, PluginError, RunLog, SurveyPlugin, embedded_manifest,
};
use rapport_tests::http_peer::{Received, Server};
use rapport_tests::plugin_component;
use serde_json::{Value, json};

const WEBHOOK_SECRET: &str = "whsec-0123456789abcdef-s3cr3t";
const WECOM_KEY: &str = "5f1c2d3e-7a9b-4c1d-8e2f-0123456789ab";
const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
const AUTH_TOKEN: &str = "twilio-auth-t0ken-0123456789";
const LINK: &str = "https://rapport.example.com/s/one-use";

fn grants(config: &[(&str, &str)], secrets: &[&str], hosts: &[&str]) -> Arc<Grants> {
    Arc::new(Grants {
        config: config
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        secret_keys: secrets.iter().map(|s| (*s).to_owned()).collect(),
        allowed_hosts: hosts
            .iter()
            .map(|h| (*h).to_owned())
            .collect::<HashSet<_>>(),
    })
}

fn webhook_grants(url: &str) -> Arc<Grants> {
    grants(
        &[("url", url), ("secret", WEBHOOK_SECRET)],
        &["secret"],
        &["127.0.0.1"],
    )
}

fn wecom_grants(base_url: &str, key: &str) -> Arc<Grants> {
    grants(
        &[("base_url", base_url), ("key", key)],
        &["key"],
        &["127.0.0.1"],
    )
}

/// A Twilio configuration against `base_url`, sending from a number, plus `extra` settings.
fn sms_grants(base_url: &str, extra: &[(&str, &str)]) -> Arc<Grants> {
    let mut config = vec![
        ("base_url", base_url),
        ("account_sid", ACCOUNT_SID),
        ("auth_token", AUTH_TOKEN),
        ("from", "+15005550006"),
    ];
    for &(key, value) in extra {
        config.retain(|&(k, _)| k != key);
        config.push((key, value));
    }
    config.retain(|(_, v)| !v.is_empty());
    grants(&config, &["auth_token"], &["127.0.0.1"])
}

fn delivery(id: &str) -> Delivery {
    Delivery {
        delivery_id: id.into(),
        recipient: Recipient {
            contact_id: 42,
            name: "Li Wei".into(),
            phone: Some("+8613800138000".into()),
            email: Some("li.wei@example.com".into()),
            wechat_id: Some("liwei_wx".into()),
        },
        subject: "How did we do?".into(),
        body: "Rate your last order from 0 to 10.".into(),
        response_link: LINK.into(),
        locale: "zh-CN".into(),
    }
}

async fn channel(name: &str) -> SurveyPlugin {
    let engine = PluginEngine::new(None).unwrap();
    let component = engine.load(&plugin_component(name)).unwrap();
    SurveyPlugin::new(engine, &component).unwrap()
}

fn limits() -> Limits {
    Limits::survey_channel()
}

/// The plugin's own error, as `(code, retryable, message)`.
fn reported<T: std::fmt::Debug>(run: &Invocation<T>) -> (&str, bool, &str) {
    match &run.outcome {
        Err(PluginError::Reported {
            code,
            retryable,
            message,
        }) => (code.as_str(), *retryable, message.as_str()),
        other => panic!("expected an error the plugin reported, got {other:?}"),
    }
}

fn assert_reported<T: std::fmt::Debug>(run: &Invocation<T>, code: &str, retryable: bool) {
    let (got, got_retryable, message) = reported(run);
    assert_eq!(
        (got, got_retryable),
        (code, retryable),
        "message: {message}"
    );
}

/// The secret must be nowhere in what the plugin logged, whichever way the log is rendered.
fn assert_redacted(log: &RunLog, secret: &str) {
    let rendered = [format!("{log:?}"), serde_json::to_string(log).unwrap()];
    assert!(
        rendered.iter().all(|text| !text.contains(secret)),
        "secret in the run log: {log:?}"
    );
}

/// HMAC-SHA256 in lower-case hex, computed here independently of the plugin.
fn hmac_sha256_hex(secret: &str, message: &[u8]) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The pairs of a form-encoded body, decoded (`+` is a space, `%2B` a plus).
fn form(body: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!("http://form.test/?{body}"))
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn now_seconds() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A loopback server that accepts connections and never answers.
async fn silent_server() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (base, task)
}

/// A loopback address nothing listens on.
fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    base
}

fn hmac_sha1(key: &str, message: &[u8]) -> Vec<u8> {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

#[test]
fn the_tests_hmac_sha1_matches_rfc_2202() {
    // RFC 2202, test case 2.
    let hex: String = hmac_sha1("Jefe", b"what do ya want for nothing?")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(hex, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
}

#[test]
fn the_tests_hmac_matches_rfc_4231() {
    // RFC 4231, test case 2.
    assert_eq!(
        hmac_sha256_hex("Jefe", b"what do ya want for nothing?"),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

/// Each channel's embedded manifest installs as it is, names its secrets as `writeOnly`, asks
/// for its service's host, and declares the very schema the `config-schema` export returns;
/// the schema accepts a working configuration and refuses an incomplete one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_channel_embeds_a_manifest_that_matches_its_schema() {
    let cases = [
        (
            "webhook-channel",
            "rapport.webhook-channel",
            vec!["secret"],
            vec!["localhost", "127.0.0.1"],
            json!({"url": "https://hooks.example.com/rapport", "secret": WEBHOOK_SECRET}),
            vec![
                json!({"url": "https://hooks.example.com/rapport"}),
                json!({"url": "https://hooks.example.com/rapport", "secret": "short"}),
            ],
        ),
        (
            "wecom-channel",
            "rapport.wecom-channel",
            vec!["key"],
            vec!["qyapi.weixin.qq.com"],
            json!({"key": WECOM_KEY}),
            vec![json!({"base_url": "https://qyapi.weixin.qq.com"})],
        ),
        (
            "sms-channel",
            "rapport.sms-channel",
            vec!["auth_token"],
            vec!["api.twilio.com"],
            json!({"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "messaging_service_sid": "MG0123"}),
            vec![
                json!({"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN}),
                json!({"account_sid": "AC/../x", "auth_token": AUTH_TOKEN, "from": "+15005550006"}),
                json!({"account_sid": ACCOUNT_SID, "from": "+15005550006"}),
            ],
        ),
    ];
    for (name, id, secrets, hosts, good, bad) in cases {
        let bytes = plugin_component(name);
        let text = embedded_manifest(&bytes)
            .unwrap()
            .unwrap_or_else(|| panic!("{name} embeds no manifest"));
        let manifest = PluginManifest::from_toml(&text).unwrap();
        assert_eq!(manifest.id, id);
        assert_eq!(manifest.kind, PluginKind::SurveyChannel);
        assert_eq!(manifest.api_version, "0.4.0");
        assert_eq!(
            manifest.secret_keys().into_iter().collect::<Vec<_>>(),
            secrets,
            "{name}"
        );
        assert_eq!(manifest.http_hosts, hosts, "{name}");

        let schema = channel(name)
            .await
            .config_schema(Arc::new(Grants::default()), &limits())
            .await
            .outcome
            .unwrap();
        assert_eq!(
            schema, manifest.config_schema,
            "{name}: the export and the manifest disagree"
        );
        assert!(
            manifest.validate_config(good.as_object().unwrap()).is_ok(),
            "{name}: {good}"
        );
        for config in bad {
            assert!(
                manifest
                    .validate_config(config.as_object().unwrap())
                    .is_err(),
                "{name} accepted {config}"
            );
        }
    }
}

// ---- webhook-channel ----------------------------------------------------------------------

/// The receiver's checks: `X-Rapport-Signature: t=<unix>,v1=<hex>` whose HMAC covers
/// `"<t>." + body` exactly as received; returns `t`.
fn verify_signature(request: &Received) -> i64 {
    let header = &request.headers["x-rapport-signature"];
    let (t, v1) = header
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
        .unwrap_or_else(|| panic!("malformed signature header {header:?}"));
    assert_eq!(v1.len(), 64, "{header}");
    assert_eq!(
        v1,
        hmac_sha256_hex(WEBHOOK_SECRET, format!("{t}.{}", request.body).as_bytes()),
        "the signature does not cover the body"
    );
    t.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_is_posted_as_signed_json_and_the_receivers_id_is_the_receipt() {
    let server = Server::start(|request| match request.target.as_str() {
        "/hooks/rapport?tenant=acme" => (200, r#"{"id": "evt_123", "ok": true}"#.into()),
        "/hooks/numeric" => (201, r#"{"id": 77}"#.into()),
        _ => (202, "accepted".into()),
    })
    .await;
    let channel = channel("webhook-channel").await;

    let before = now_seconds();
    let url = format!("{}/hooks/rapport?tenant=acme", server.base);
    let run = channel
        .send(&delivery("d-1"), webhook_grants(&url), &limits())
        .await;
    let after = now_seconds();
    assert_eq!(
        run.outcome.as_ref().unwrap().external_id.as_deref(),
        Some("evt_123")
    );
    assert_redacted(&run.log, WEBHOOK_SECRET);
    let received = server.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(
        (request.method.as_str(), request.target.as_str()),
        ("POST", "/hooks/rapport?tenant=acme")
    );
    assert_eq!(request.headers["content-type"], "application/json");
    assert_eq!(request.headers["idempotency-key"], "d-1");
    let t = verify_signature(request);
    assert!(
        (before..=after).contains(&t),
        "t={t} is not the host's time ({before}..{after})"
    );
    let body: Value = serde_json::from_str(&request.body).unwrap();
    let sent_at = body["sent_at"].as_str().unwrap();
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(sent_at)
            .unwrap()
            .timestamp(),
        t,
        "sent_at {sent_at} and the signed time differ"
    );
    assert_eq!(
        body,
        json!({
            "delivery_id": "d-1",
            "recipient": {
                "contact_id": 42,
                "name": "Li Wei",
                "phone": "+8613800138000",
                "email": "li.wei@example.com",
                "wechat_id": "liwei_wx",
            },
            "subject": "How did we do?",
            "body": "Rate your last order from 0 to 10.",
            "response_link": LINK,
            "locale": "zh-CN",
            "sent_at": sent_at,
        })
    );

    let numeric = format!("{}/hooks/numeric", server.base);
    let run = channel
        .send(&delivery("d-2"), webhook_grants(&numeric), &limits())
        .await;
    assert_eq!(run.outcome.unwrap().external_id.as_deref(), Some("77"));
    let plain = format!("{}/hooks/plain", server.base);
    let run = channel
        .send(&delivery("d-3"), webhook_grants(&plain), &limits())
        .await;
    assert_eq!(
        run.outcome.unwrap().external_id,
        None,
        "no id in the answer, no external id"
    );
    for request in &server.received()[1..] {
        verify_signature(request);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_answers_map_to_stable_codes() {
    let server = Server::start(|request| {
        let status = request.target.trim_start_matches('/').parse().unwrap();
        (status, r#"{"error": "no"}"#.into())
    })
    .await;
    let channel = channel("webhook-channel").await;
    let cases = [
        (429, "rate-limited", true),
        (500, "upstream-error", true),
        (502, "upstream-error", true),
        (503, "upstream-error", true),
        (408, "timeout", true),
        (401, "bad-credentials", false),
        (403, "bad-credentials", false),
        (400, "upstream-error", false),
        (404, "upstream-error", false),
        (410, "upstream-error", false),
        (301, "upstream-error", false),
    ];
    for (status, code, retryable) in cases {
        let url = format!("{}/{status}", server.base);
        let run = channel
            .send(&delivery("d-4"), webhook_grants(&url), &limits())
            .await;
        assert_reported(&run, code, retryable);
        assert!(reported(&run).2.contains(&status.to_string()), "{status}");
        assert_redacted(&run.log, WEBHOOK_SECRET);
    }
    assert_eq!(server.received().len(), cases.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misconfigured_webhook_fails_before_any_traffic() {
    let server = Server::start(|_| (200, "{}".into())).await;
    let channel = channel("webhook-channel").await;
    let good = format!("{}/hooks", server.base);
    let userinfo = good.replace("http://", "http://user:pw@");
    let ftp = good.replace("http://", "ftp://");
    let cases: [&[(&str, &str)]; 6] = [
        &[("secret", WEBHOOK_SECRET)],
        &[("url", good.as_str())],
        &[("url", good.as_str()), ("secret", "  ")],
        // Deliveries carry personal data: plain http only to a loopback receiver.
        &[
            ("url", "http://hooks.example.com/rapport"),
            ("secret", WEBHOOK_SECRET),
        ],
        &[("url", userinfo.as_str()), ("secret", WEBHOOK_SECRET)],
        &[("url", ftp.as_str()), ("secret", WEBHOOK_SECRET)],
    ];
    for config in cases {
        let granted = grants(config, &["secret"], &["127.0.0.1", "hooks.example.com"]);
        let run = channel.send(&delivery("d-5"), granted, &limits()).await;
        assert_reported(&run, "invalid-config", false);
    }
    // A host the tenant did not grant is refused by the host before any connection.
    let refused = grants(
        &[("url", &good), ("secret", WEBHOOK_SECRET)],
        &["secret"],
        &["hooks.example.com"],
    );
    let run = channel.send(&delivery("d-6"), refused, &limits()).await;
    assert_reported(&run, "host-denied", false);
    assert_eq!(server.connections.load(Ordering::SeqCst), 0);
}

/// An inbound request signed with `secret` at `t`, under `header` (the name's case varies).
fn signed(header: &str, body: &str, t: i64, secret: &str) -> InboundRequest {
    let v1 = hmac_sha256_hex(secret, format!("{t}.{body}").as_bytes());
    InboundRequest {
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            (header.into(), format!("t={t},v1={v1}")),
        ],
        body: body.as_bytes().to_vec(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_answers_posted_back_are_verified_then_parsed() {
    let channel = channel("webhook-channel").await;
    let config = webhook_grants("https://hooks.example.com/rapport");
    let parse = async |request: InboundRequest| {
        channel
            .parse_inbound(&request, config.clone(), &limits())
            .await
    };
    let answers = |run: Invocation<Vec<rapport::domain::survey_delivery::InboundAnswer>>| {
        run.outcome
            .unwrap()
            .into_iter()
            .map(|a| (a.delivery_id, a.sender, a.text))
            .collect::<Vec<_>>()
    };
    let one = r#"{"delivery_id": "d-1", "answer": "9"}"#;
    let now = now_seconds();

    let run = parse(signed("X-Rapport-Signature", one, now, WEBHOOK_SECRET)).await;
    assert_redacted(&run.log, WEBHOOK_SECRET);
    assert_eq!(
        answers(run),
        [(Some("d-1".into()), "webhook".into(), "9".into())]
    );
    let list = r#"[{"delivery_id": "d-1", "answer": " 9 "}, {"delivery_id": "d-2", "answer": 10}]"#;
    let run = parse(signed("x-rapport-signature", list, now, WEBHOOK_SECRET)).await;
    assert_eq!(
        answers(run),
        [
            (Some("d-1".into()), "webhook".into(), "9".into()),
            (Some("d-2".into()), "webhook".into(), "10".into())
        ]
    );
    // Four minutes old is still fresh.
    let run = parse(signed(
        "X-Rapport-Signature",
        one,
        now - 240,
        WEBHOOK_SECRET,
    ))
    .await;
    assert_eq!(answers(run).len(), 1);
    // While a sender rotates its secret it sends two v1 signatures; one valid one is enough.
    let mut rotating = signed("X-Rapport-Signature", one, now, WEBHOOK_SECRET);
    let (_, value) = &mut rotating.headers[1];
    *value = value.replace(",v1=", &format!(",v1={},v1=", "ab".repeat(32)));
    assert_eq!(answers(parse(rotating).await).len(), 1);

    // Refused before the body is read: forged, tampered, stale, future, missing or malformed.
    let forged = signed("X-Rapport-Signature", one, now, "another-secret-0123456789");
    let mut tampered = signed("X-Rapport-Signature", one, now, WEBHOOK_SECRET);
    tampered.body = br#"{"delivery_id": "d-1", "answer": "10"}"#.to_vec();
    let stale = signed("X-Rapport-Signature", one, now - 301, WEBHOOK_SECRET);
    let future = signed("X-Rapport-Signature", one, now + 600, WEBHOOK_SECRET);
    let unsigned = InboundRequest {
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: one.as_bytes().to_vec(),
    };
    let with_header = |value: String| InboundRequest {
        headers: vec![("X-Rapport-Signature".into(), value)],
        body: one.as_bytes().to_vec(),
    };
    let valid_v1 = hmac_sha256_hex(WEBHOOK_SECRET, format!("{now}.{one}").as_bytes());
    let malformed = [
        with_header(format!("sha256={valid_v1}")),
        with_header(format!("v1={valid_v1}")),
        with_header(format!("t={now}")),
        with_header(format!("t={now},v1=not-hex")),
        with_header(format!("t=+{now},v1={valid_v1}")),
        with_header(format!("t={now},t={now},v1={valid_v1}")),
    ];
    for request in [forged, tampered, stale, future, unsigned]
        .into_iter()
        .chain(malformed)
    {
        let headers = format!("{:?}", request.headers);
        let run = parse(request).await;
        assert_reported(&run, "bad-signature", false);
        assert!(
            !reported(&run).2.contains(WEBHOOK_SECRET),
            "{headers}: the message quotes the secret"
        );
    }

    // Genuine but unusable bodies.
    for body in [
        "not json",
        r#"{"answer": "9"}"#,
        r#"{"delivery_id": "d-1"}"#,
        r#"{"delivery_id": "d-1", "answer": "  "}"#,
        r#"[{"delivery_id": "d-1", "answer": "9"}, {"delivery_id": 7, "answer": "9"}]"#,
        r#""9""#,
    ] {
        let run = parse(signed("X-Rapport-Signature", body, now, WEBHOOK_SECRET)).await;
        assert_reported(&run, "bad-request", false);
    }

    // Without its secret the channel cannot verify anything.
    let unconfigured = grants(&[("url", "https://hooks.example.com/")], &[], &[]);
    let run = channel
        .parse_inbound(
            &signed("X-Rapport-Signature", one, now, WEBHOOK_SECRET),
            unconfigured,
            &limits(),
        )
        .await;
    assert_reported(&run, "invalid-config", false);
}

// ---- wecom-channel ------------------------------------------------------------------------

fn wecom_ok(_: &Received) -> (u16, String) {
    (200, r#"{"errcode":0,"errmsg":"ok"}"#.into())
}

fn markdown_of(request: &Received) -> String {
    let body: Value = serde_json::from_str(&request.body).unwrap();
    assert_eq!(body["msgtype"], "markdown", "{body}");
    assert_eq!(
        body.as_object().unwrap().len(),
        2,
        "only msgtype and markdown: {body}"
    );
    body["markdown"]["content"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_survey_reaches_the_wecom_group_as_markdown() {
    let server = Server::start(wecom_ok).await;
    let channel = channel("wecom-channel").await;
    // A trailing slash on the base URL is tolerated.
    let base = format!("{}/", server.base);
    let run = channel
        .send(&delivery("d-1"), wecom_grants(&base, WECOM_KEY), &limits())
        .await;
    assert_eq!(
        run.outcome.unwrap().external_id,
        None,
        "WeCom gives no message id"
    );
    assert_redacted(&run.log, WECOM_KEY);
    let received = server.received();
    let request = &received[0];
    assert_eq!(
        (request.method.as_str(), request.target.as_str()),
        (
            "POST",
            format!("/cgi-bin/webhook/send?key={WECOM_KEY}").as_str()
        )
    );
    assert_eq!(request.headers["content-type"], "application/json");
    assert_eq!(
        markdown_of(request),
        format!(
            "**How did we do?**\n> 致：Li Wei\n\nRate your last order from 0 to 10.\n\n[填写问卷]({LINK})"
        )
    );
    assert_eq!(
        serde_json::from_str::<Value>(&request.body).unwrap(),
        json!({"msgtype": "markdown", "markdown": {"content": markdown_of(request)}})
    );

    // In English, traditional Chinese, and with a key that needs escaping in the query.
    let mut english = delivery("d-2");
    english.locale = "en-GB".into();
    let mut traditional = delivery("d-3");
    traditional.locale = "zh-TW".into();
    traditional.recipient.name = String::new();
    for (delivery, key) in [(english, "a+b/c=d"), (traditional, WECOM_KEY)] {
        let run = channel
            .send(&delivery, wecom_grants(&server.base, key), &limits())
            .await;
        assert!(run.outcome.is_ok(), "{:?}", run.outcome);
    }
    let received = server.received();
    assert_eq!(
        received[1].target,
        "/cgi-bin/webhook/send?key=a%2Bb%2Fc%3Dd"
    );
    assert_eq!(
        markdown_of(&received[1]),
        format!(
            "**How did we do?**\n> For: Li Wei\n\nRate your last order from 0 to 10.\n\n[Take the survey]({LINK})"
        )
    );
    assert_eq!(
        markdown_of(&received[2]),
        format!("**How did we do?**\n\nRate your last order from 0 to 10.\n\n[填寫問卷]({LINK})"),
        "no recipient line without a name"
    );

    let inbound = InboundRequest {
        headers: vec![("content-type".into(), "application/json".into())],
        body: br#"{"delivery_id": "d-1", "answer": "9"}"#.to_vec(),
    };
    let answers = channel
        .parse_inbound(&inbound, wecom_grants(&server.base, WECOM_KEY), &limits())
        .await
        .outcome
        .unwrap();
    assert!(answers.is_empty(), "a group robot receives no answers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_wecom_message_is_cut_on_a_character_boundary_and_keeps_its_link() {
    let server = Server::start(wecom_ok).await;
    let channel = channel("wecom-channel").await;
    let prefix = "**How did we do?**\n> 致：Li Wei\n\n";
    let suffix = format!("\n\n[填写问卷]({LINK})");
    let send = async |body: String| {
        let mut delivery = delivery("d-long");
        delivery.body = body;
        let run = channel
            .send(&delivery, wecom_grants(&server.base, WECOM_KEY), &limits())
            .await;
        assert!(run.outcome.is_ok(), "{:?}", run.outcome);
        markdown_of(server.received().last().unwrap())
    };

    // Exactly 4096 bytes go out whole.
    let fits = "x".repeat(4096 - prefix.len() - suffix.len());
    let content = send(fits.clone()).await;
    assert_eq!(content, format!("{prefix}{fits}{suffix}"));
    assert_eq!(content.len(), 4096);

    // One byte more, and the body's end gives way to an ellipsis.
    let content = send(format!("{fits}y")).await;
    let kept = 4096 - suffix.len() - "…".len() - prefix.len();
    assert_eq!(content, format!("{prefix}{}…{suffix}", &fits[..kept]));
    assert_eq!(content.len(), 4096);

    // Three-byte characters are never split.
    let content = send(format!("{}END", "满意度".repeat(2000))).await;
    assert!(
        content.len() <= 4096 && content.len() >= 4096 - 2,
        "{}",
        content.len()
    );
    assert!(!content.contains('\u{FFFD}'), "a character was split");
    assert!(content.starts_with(prefix));
    assert!(
        content.ends_with(&format!("…{suffix}")),
        "the link is whole"
    );
    assert!(!content.contains("END"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wecom_errcodes_map_to_stable_codes() {
    // WeCom keeps HTTP 200 for refusals and says why in `errcode`; the key picks the answer.
    let server = Server::start(|request| {
        let key = request.target.split("key=").nth(1).unwrap_or_default();
        match key {
            "k45009" => (
                200,
                r#"{"errcode":45009,"errmsg":"api freq out of limit"}"#.into(),
            ),
            "k93000" => (
                200,
                r#"{"errcode":93000,"errmsg":"invalid webhook url, hint: [1699999999_1]"}"#.into(),
            ),
            "k40008" => (
                200,
                r#"{"errcode":40008,"errmsg":"invalid message type"}"#.into(),
            ),
            "k-1" => (200, r#"{"errcode":-1,"errmsg":"system busy"}"#.into()),
            "khtml" => (200, "<html><body>gateway</body></html>".into()),
            "knoerrcode" => (200, r#"{"errmsg":"ok"}"#.into()),
            "k429" => (429, String::new()),
            "k502" => (502, String::new()),
            "k404" => (404, String::new()),
            _ => (200, r#"{"errcode":0,"errmsg":"ok"}"#.into()),
        }
    })
    .await;
    let channel = channel("wecom-channel").await;
    let cases = [
        ("k45009", "rate-limited", true),
        ("k93000", "bad-credentials", false),
        ("k40008", "upstream-error", false),
        ("k-1", "upstream-error", true),
        ("khtml", "malformed-response", false),
        ("knoerrcode", "malformed-response", false),
        ("k429", "rate-limited", true),
        ("k502", "upstream-error", true),
        ("k404", "upstream-error", false),
    ];
    for (key, code, retryable) in cases {
        let run = channel
            .send(&delivery("d-4"), wecom_grants(&server.base, key), &limits())
            .await;
        assert_reported(&run, code, retryable);
    }
    let run = channel
        .send(
            &delivery("d-5"),
            wecom_grants(&server.base, "k40008"),
            &limits(),
        )
        .await;
    let (_, _, message) = reported(&run);
    assert!(
        message.contains("40008") && message.contains("invalid message type"),
        "WeCom's errmsg is kept: {message}"
    );
    assert_eq!(server.received().len(), cases.len() + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wecom_goes_to_the_official_host_by_default_and_needs_its_key() {
    let channel = channel("wecom-channel").await;
    // No base URL: the official API, which this tenant has not granted.
    let run = channel
        .send(
            &delivery("d-6"),
            grants(&[("key", WECOM_KEY)], &["key"], &[]),
            &limits(),
        )
        .await;
    assert_reported(&run, "host-denied", false);
    assert!(
        reported(&run).2.contains("qyapi.weixin.qq.com"),
        "{:?}",
        run.outcome
    );
    for config in [
        vec![("base_url", "https://qyapi.weixin.qq.com")],
        vec![
            ("base_url", "http://qyapi.weixin.qq.com"),
            ("key", WECOM_KEY),
        ],
        vec![
            ("base_url", "https://qyapi.weixin.qq.com/?key=x"),
            ("key", WECOM_KEY),
        ],
    ] {
        let granted = grants(&config, &["key"], &["qyapi.weixin.qq.com"]);
        let run = channel.send(&delivery("d-7"), granted, &limits()).await;
        assert_reported(&run, "invalid-config", false);
    }
}

// ---- sms-channel --------------------------------------------------------------------------

fn twilio_created(request: &Received) -> (u16, String) {
    let fields = form(&request.body);
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    (
        201,
        json!({
            "sid": "SM0123456789abcdef0123456789abcdef",
            "status": "queued",
            "to": field("To"),
            "from": field("From"),
            "body": field("Body"),
            "date_created": "Thu, 01 Jan 2026 00:00:00 +0000",
        })
        .to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_survey_is_texted_through_the_messages_api_with_basic_auth() {
    let server = Server::start(twilio_created).await;
    let channel = channel("sms-channel").await;
    let callback = "https://rapport.example.com/sms/status?x=1&y=2";
    let run = channel
        .send(
            &delivery("d-1"),
            sms_grants(&server.base, &[("status_callback", callback)]),
            &limits(),
        )
        .await;
    assert_eq!(
        run.outcome.unwrap().external_id.as_deref(),
        Some("SM0123456789abcdef0123456789abcdef")
    );
    assert_redacted(&run.log, AUTH_TOKEN);
    let received = server.received();
    let request = &received[0];
    assert_eq!(
        (request.method.as_str(), request.target.as_str()),
        (
            "POST",
            format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json").as_str()
        )
    );
    assert_eq!(
        request.headers["authorization"],
        format!(
            "Basic {}",
            STANDARD.encode(format!("{ACCOUNT_SID}:{AUTH_TOKEN}"))
        )
    );
    assert_eq!(
        request.headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    // A raw `+` would arrive as a space: the number must be percent-encoded.
    assert!(
        request.body.starts_with("To=%2B8613800138000&"),
        "{}",
        request.body
    );
    let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    assert_eq!(
        form(&request.body),
        [
            pair("To", "+8613800138000"),
            pair("From", "+15005550006"),
            pair("Body", &format!("How did we do?\n{LINK}")),
            pair("StatusCallback", callback),
        ]
    );

    // A messaging service wins over a number; a long subject is shortened, the link kept.
    let mut long = delivery("d-2");
    long.subject = format!("Q&A = 100% + {}", "您对我们上周的服务满意吗？".repeat(20));
    let run = channel
        .send(
            &long,
            sms_grants(&server.base, &[("messaging_service_sid", "MG0123456789")]),
            &limits(),
        )
        .await;
    assert!(run.outcome.is_ok(), "{:?}", run.outcome);
    let fields = form(&server.received()[1].body);
    let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["To", "MessagingServiceSid", "Body"]);
    assert_eq!(fields[1].1, "MG0123456789");
    let text = &fields[2].1;
    assert!(
        text.chars().count() <= 160,
        "{} chars",
        text.chars().count()
    );
    assert!(text.starts_with("Q&A = 100% + 您对我们"), "{text}");
    assert!(text.ends_with(&format!("…\n{LINK}")), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_errors_map_to_stable_codes() {
    // Twilio's error shape; the recipient's number picks the answer.
    let server = Server::start(|request| {
        let to = form(&request.body)
            .into_iter()
            .find(|(k, _)| k == "To")
            .map(|(_, v)| v)
            .unwrap_or_default();
        let error = |status: u16, code: u32, message: &str| {
            (
                status,
                json!({"code": code, "message": message,
                    "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status})
                .to_string(),
            )
        };
        match to.as_str() {
            "+15005550001" => error(400, 21211, "The 'To' number +15005550001 is not a valid phone number."),
            "+15005550002" => error(400, 21610, "Attempt to send to unsubscribed recipient"),
            "+15005550003" => error(400, 21408, "Permission to send an SMS has not been enabled for the region indicated by the 'To' number"),
            "+15005550004" => error(401, 20003, "Authenticate"),
            "+15005550005" => error(429, 20429, "Too Many Requests"),
            "+15005550007" => (500, String::new()),
            "+15005550008" => (503, "<html>unavailable</html>".into()),
            "+15005550009" => (201, r#"{"status": "queued"}"#.into()),
            "+15005550010" => (201, "not json".into()),
            "+15005550011" => error(400, 21614, "'To' number is not a valid mobile number"),
            "+15005550012" => error(404, 20404, "The requested resource was not found"),
            _ => twilio_created(request),
        }
    })
    .await;
    let channel = channel("sms-channel").await;
    let cases = [
        ("+15005550001", "invalid-recipient", false),
        ("+15005550011", "invalid-recipient", false),
        ("+15005550002", "recipient-opted-out", false),
        ("+15005550003", "upstream-error", false),
        ("+15005550004", "bad-credentials", false),
        ("+15005550005", "rate-limited", true),
        ("+15005550007", "upstream-error", true),
        ("+15005550008", "upstream-error", true),
        ("+15005550009", "malformed-response", false),
        ("+15005550010", "malformed-response", false),
        ("+15005550012", "upstream-error", false),
    ];
    for (phone, code, retryable) in cases {
        let mut delivery = delivery("d-3");
        delivery.recipient.phone = Some(phone.into());
        let run = channel
            .send(&delivery, sms_grants(&server.base, &[]), &limits())
            .await;
        assert_reported(&run, code, retryable);
        let (_, _, message) = reported(&run);
        assert!(!message.contains(AUTH_TOKEN), "{message}");
        assert_redacted(&run.log, AUTH_TOKEN);
    }
    let mut refused = delivery("d-4");
    refused.recipient.phone = Some("+15005550003".into());
    let run = channel
        .send(&refused, sms_grants(&server.base, &[]), &limits())
        .await;
    assert!(
        reported(&run).2.contains("21408"),
        "Twilio's code is kept: {:?}",
        run.outcome
    );
    assert_eq!(server.received().len(), cases.len() + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_recipients_and_configurations_are_refused_before_any_traffic() {
    let server = Server::start(twilio_created).await;
    let channel = channel("sms-channel").await;
    for phone in [
        None,
        Some(""),
        Some("13800138000"),
        Some("+0123456789"),
        Some("+86 138 0013 8000"),
        Some("+1234567890123456"),
    ] {
        let mut delivery = delivery("d-5");
        delivery.recipient.phone = phone.map(str::to_owned);
        let run = channel
            .send(&delivery, sms_grants(&server.base, &[]), &limits())
            .await;
        assert_reported(&run, "invalid-recipient", false);
    }
    let plain_http = "http://api.twilio.com";
    for extra in [
        vec![("from", "")],
        vec![("auth_token", "")],
        vec![("account_sid", "")],
        vec![("account_sid", "AC/../../x")],
        vec![("base_url", plain_http)],
        vec![("base_url", "api.twilio.com")],
    ] {
        let run = channel
            .send(
                &delivery("d-6"),
                sms_grants(&server.base, &extra),
                &limits(),
            )
            .await;
        assert_reported(&run, "invalid-config", false);
    }
    assert_eq!(server.connections.load(Ordering::SeqCst), 0);

    // Without a base URL: Twilio's own host, which this tenant has not granted.
    let config = [
        ("account_sid", ACCOUNT_SID),
        ("auth_token", AUTH_TOKEN),
        ("from", "+15005550006"),
    ];
    let run = channel
        .send(
            &delivery("d-7"),
            grants(&config, &["auth_token"], &[]),
            &limits(),
        )
        .await;
    assert_reported(&run, "host-denied", false);
    assert!(
        reported(&run).2.contains("api.twilio.com"),
        "{:?}",
        run.outcome
    );
}

/// The URL Twilio posts a tenant's SMS replies to, as configured there and in `inbound_url`.
const SMS_INBOUND_URL: &str =
    "https://crm.example.com/api/v1/surveys/inbound/7/rapport.sms-channel";

/// An inbound form post with Twilio's signature as its documentation describes it: base64 of
/// HMAC-SHA1 keyed with the auth token over the URL it posted to, then each POST parameter
/// sorted by name, name followed by value.
fn twilio_signed(body: &str, url: &str, token: &str) -> InboundRequest {
    let mut parameters: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    parameters.sort();
    let mut signed = url.to_owned();
    for (name, value) in &parameters {
        signed.push_str(name);
        signed.push_str(value);
    }
    let signature = STANDARD.encode(hmac_sha1(token, signed.as_bytes()));
    InboundRequest {
        headers: vec![
            (
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            ),
            ("X-Twilio-Signature".into(), signature),
        ],
        body: body.as_bytes().to_vec(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_inbound_replies_become_answers() {
    let channel = channel("sms-channel").await;
    let config = sms_grants(
        "https://api.twilio.com",
        &[("inbound_url", SMS_INBOUND_URL)],
    );
    let parse_request = async |request: InboundRequest, config: Arc<Grants>| {
        channel.parse_inbound(&request, config, &limits()).await
    };
    let parse = async |body: &str| {
        parse_request(
            twilio_signed(body, SMS_INBOUND_URL, AUTH_TOKEN),
            config.clone(),
        )
        .await
    };
    // The fields Twilio posts for an incoming SMS, in its order.
    let reply = |from: &str, body: &str| {
        format!(
            "ToCountry=US&ToState=CA&SmsMessageSid=SM11&NumMedia=0&ToCity=&FromZip=&SmsSid=SM11\
             &FromState=&SmsStatus=received&FromCity=&Body={body}&FromCountry=CN&To=%2B15005550006\
             &MessagingServiceSid=&ToZip=&NumSegments=1&MessageSid=SM11&AccountSid={ACCOUNT_SID}\
             &From={from}&ApiVersion=2010-04-01"
        )
    };
    let answers = |run: Invocation<Vec<rapport::domain::survey_delivery::InboundAnswer>>| {
        run.outcome
            .unwrap()
            .into_iter()
            .map(|a| (a.delivery_id, a.sender, a.text))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        answers(parse(&reply("%2B8613800138000", "+9+%0A")).await),
        [(None, "+8613800138000".into(), "9".into())]
    );
    assert_eq!(
        answers(
            parse(&reply(
                "%2B8613800138000",
                "%E9%9D%9E%E5%B8%B8%E6%BB%A1%E6%84%8F+10"
            ))
            .await
        ),
        [(None, "+8613800138000".into(), "非常满意 10".into())]
    );
    assert!(
        answers(parse(&reply("%2B8613800138000", "+%20+")).await).is_empty(),
        "a blank reply answers nothing"
    );
    for body in [
        "Body=9&To=%2B15005550006&MessageSid=SM11",
        "From=&Body=9",
        "From=%2B8613800138000&MessageSid=SM11",
    ] {
        assert_reported(&parse(body).await, "bad-request", false);
    }

    // Only a request the provider signed for this tenant's URL with its token is read.
    let answer = reply("%2B8613800138000", "9");
    let mut unsigned = twilio_signed(&answer, SMS_INBOUND_URL, AUTH_TOKEN);
    unsigned
        .headers
        .retain(|(name, _)| name != "X-Twilio-Signature");
    let mut tampered = twilio_signed(&answer, SMS_INBOUND_URL, AUTH_TOKEN);
    tampered.body = reply("%2B8613800138000", "0").into_bytes();
    let mut garbled = twilio_signed(&answer, SMS_INBOUND_URL, AUTH_TOKEN);
    garbled.headers[1].1 = "not base64!".into();
    let refused = [
        unsigned,
        tampered,
        garbled,
        twilio_signed(&answer, SMS_INBOUND_URL, "another-token"),
        twilio_signed(&answer, "https://elsewhere.example.com/hook", AUTH_TOKEN),
    ];
    for request in refused {
        assert_reported(
            &parse_request(request, config.clone()).await,
            "bad-signature",
            false,
        );
    }
    let without_url = sms_grants("https://api.twilio.com", &[]);
    let signed = twilio_signed(&answer, SMS_INBOUND_URL, AUTH_TOKEN);
    assert_reported(
        &parse_request(signed, without_url).await,
        "bad-signature",
        false,
    );
}

// ---- all three ----------------------------------------------------------------------------

/// Each channel's grants pointed at `base`: the webhook's URL, or the API root of the others.
fn pointed_at(name: &str, base: &str) -> Arc<Grants> {
    match name {
        "webhook-channel" => webhook_grants(&format!("{base}/hooks")),
        "wecom-channel" => wecom_grants(base, WECOM_KEY),
        _ => sms_grants(base, &[]),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_unreachable_services_are_retryable_and_quote_no_secret() {
    let (silent, listener) = silent_server().await;
    let closed = closed_port();
    let quick = Limits {
        http_timeout: Duration::from_millis(300),
        ..Limits::survey_channel()
    };
    for name in ["webhook-channel", "wecom-channel", "sms-channel"] {
        let channel = channel(name).await;
        let started = std::time::Instant::now();
        let run = channel
            .send(&delivery("d-8"), pointed_at(name, &silent), &quick)
            .await;
        assert_reported(&run, "timeout", true);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{name}: the host's timeout applies"
        );

        let run = channel
            .send(&delivery("d-9"), pointed_at(name, &closed), &quick)
            .await;
        assert_reported(&run, "transport", true);
        let (_, _, message) = reported(&run);
        for secret in [WEBHOOK_SECRET, WECOM_KEY, AUTH_TOKEN] {
            assert!(!message.contains(secret), "{name}: {message}");
            assert_redacted(&run.log, secret);
        }
    }
    listener.abort();
}
