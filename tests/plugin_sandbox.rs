//! The plugin sandbox: real WASM components built with the SDK run through the host. A
//! well-behaved policy answers; every hostile fixture in `fixtures/plugins/<case>/case.json` is
//! contained with its specific typed error while the HTTP API keeps answering; incompatible or
//! malformed components are refused before anything runs.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rapport::domain::tiering::CustomerFacts;
use rapport::plugins::{Grants, LimitOverrides, Limits, PluginEngine, PluginError, TieringPlugin};
use rapport_tests::{Backend, TestServer, plugin_component};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn facts(
    customer_id: i64,
    order_value_365d: f64,
    days_since_last_contact: Option<u32>,
) -> CustomerFacts {
    CustomerFacts {
        customer_id,
        lifecycle_stage: "customer".into(),
        tenure_days: 540,
        tags: vec!["vip".into()],
        custom_fields_json: "{}".into(),
        order_value_90d: order_value_365d / 4.0,
        order_value_365d,
        order_count_90d: 2,
        order_count_365d: 8,
        days_since_last_order: Some(12),
        interaction_count_30d: 3,
        interaction_count_90d: 7,
        days_since_last_contact,
        open_complaints: 0,
        complaints_90d: 0,
        latest_csat: Some(4.2),
        latest_nps: None,
        latest_ces: None,
        churn_signals: Vec::new(),
    }
}

/// Components built against the frozen WIT 0.1.0, 0.2.0 and 0.3.0 run through the host's shims: the
/// same decisions as their latest twin, and the host services they import under their own
/// version's names answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_built_against_older_wit_still_run() {
    let engine = PluginEngine::new(None).unwrap();
    let latest = engine.load(&plugin_component("fixture-tiering")).unwrap();
    assert_eq!(latest.api_version, "0.4.0");
    let latest = TieringPlugin::new(engine.clone(), &latest).unwrap();
    let mut batch = vec![
        facts(1, 1_200_000.0, Some(5)),
        facts(2, 350_000.0, Some(20)),
        facts(3, 800_000.0, Some(41 + 60)),
    ];
    batch[2].churn_signals = vec![rapport::domain::tiering::ChurnSignal {
        kind: rapport::domain::tiering::ChurnSignalKind::ContactFalling,
        detail: "0 contacts in 90 days against 3.0 a quarter over the year before".into(),
    }];
    let limits = Limits::tiering();
    let grants = Arc::new(Grants {
        config: HashMap::from([("high_value_threshold".into(), "300000".into())]),
        ..Grants::default()
    });
    let from_latest = latest.evaluate(&batch, grants.clone(), &limits).await;
    for (fixture, version) in [
        ("fixture-tiering-v0-1", "0.1.0"),
        ("fixture-tiering-v0-2", "0.2.0"),
        ("fixture-tiering-v0-3", "0.3.0"),
    ] {
        let old = engine.load(&plugin_component(fixture)).unwrap();
        assert_eq!(old.api_version, version);
        let old = TieringPlugin::new(engine.clone(), &old).unwrap();
        let from_old = old.evaluate(&batch, grants.clone(), &limits).await;
        assert_eq!(
            from_old.outcome.as_ref().unwrap(),
            from_latest.outcome.as_ref().unwrap(),
            "{version}"
        );
        assert_eq!(
            from_old.outcome.unwrap()[1].tier,
            "high-value",
            "config@{version} answered"
        );
        assert_eq!(
            from_old.log.records[0].message,
            format!("evaluating ({version})"),
            "log@{version} answered"
        );
        let catalogue = old.tiers(grants.clone(), &limits).await.outcome.unwrap();
        assert_eq!(catalogue.len(), 3);
        let schema = old
            .config_schema(grants.clone(), &limits)
            .await
            .outcome
            .unwrap();
        assert!(
            schema["properties"]["high_value_threshold"].is_object(),
            "{schema}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_built_with_the_sdk_tiers_a_batch_with_reasons() {
    let engine = PluginEngine::new(None).unwrap();
    let component = engine.load(&plugin_component("fixture-tiering")).unwrap();
    assert_eq!(component.api_version, "0.4.0");
    assert_eq!(component.sha256.len(), 64);
    let policy = TieringPlugin::new(engine.clone(), &component).unwrap();
    let batch = [
        facts(1, 1_200_000.0, Some(5)),
        facts(2, 350_000.0, Some(20)),
        facts(3, 800_000.0, Some(41 + 60)),
    ];
    let limits = Limits::tiering();

    let run = policy
        .evaluate(&batch, Arc::new(Grants::default()), &limits)
        .await;
    let decisions = run.outcome.unwrap();
    let tiers: Vec<&str> = decisions.iter().map(|d| d.tier.as_str()).collect();
    assert_eq!(tiers, ["high-value", "regular", "churn-risk"]);
    assert_eq!(
        decisions[0].reasons,
        ["orders 1200000 in 365 days (threshold 1000000)"]
    );
    assert_eq!(decisions[2].reasons, ["no contact for 101 days"]);
    assert_eq!(
        run.log.records[0].fields,
        [("batch".to_owned(), "3".to_owned())]
    );

    let grants = Grants {
        config: HashMap::from([("high_value_threshold".into(), "300000".into())]),
        ..Grants::default()
    };
    let lowered = policy
        .evaluate(&batch, Arc::new(grants), &limits)
        .await
        .outcome
        .unwrap();
    assert_eq!(
        lowered[1].tier, "high-value",
        "the tenant's threshold applies"
    );

    let bad = Grants {
        config: HashMap::from([("high_value_threshold".into(), "lots".into())]),
        ..Grants::default()
    };
    match policy
        .evaluate(&batch, Arc::new(bad), &limits)
        .await
        .outcome
    {
        Err(PluginError::Reported {
            code, retryable, ..
        }) => assert_eq!((code.as_str(), retryable), ("bad-config", false)),
        other => panic!("expected the plugin's own error, got {other:?}"),
    }
    let catalogue = policy
        .tiers(Arc::new(Grants::default()), &limits)
        .await
        .outcome
        .unwrap();
    assert_eq!(
        catalogue.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        ["high-value", "regular", "churn-risk"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incompatible_and_malformed_components_are_refused_at_load() {
    let engine = PluginEngine::new(None).unwrap();
    let bytes = plugin_component("fixture-tiering");
    let future = replace_once(&bytes, b"rapport-plugin-api", b"0.4.0", b"9.9.0");
    match engine.load(&future) {
        Err(PluginError::IncompatibleApi { found, supported }) => {
            assert_eq!(
                (found.as_str(), supported.as_str()),
                ("9.9.0", "0.1.0, 0.2.0, 0.3.0, 0.4.0")
            )
        }
        other => panic!("expected an incompatible API error, got {other:?}"),
    }
    for garbage in [b"\0asm not really".to_vec(), vec![], b"hello".to_vec()] {
        assert_eq!(
            engine.load(&garbage).unwrap_err().code(),
            "invalid_component"
        );
    }
}

/// Replaces `old` by `new` (same length) right after the first occurrence of `marker`, as a
/// component built by a future SDK would carry it.
fn replace_once(bytes: &[u8], marker: &[u8], old: &[u8], new: &[u8]) -> Vec<u8> {
    let at = bytes
        .windows(marker.len())
        .position(|window| window == marker)
        .expect("the API section")
        + marker.len();
    assert_eq!(&bytes[at..at + old.len()], old);
    let mut patched = bytes.to_vec();
    patched[at..at + new.len()].copy_from_slice(new);
    patched
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    description: String,
    plugin: String,
    config: HashMap<String, String>,
    #[serde(default)]
    allowed_hosts: Vec<String>,
    #[serde(default)]
    secret_keys: Vec<String>,
    #[serde(default)]
    limits: LimitOverrides,
    expect: Expect,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    error: Option<String>,
    reported_code: Option<String>,
    stderr_contains: Option<String>,
    counting_connections: Option<usize>,
    reasons_contain: Option<String>,
    reasons_also_contain: Option<String>,
    log_dropped_at_least: Option<usize>,
    log_excludes: Option<String>,
    log_contains: Option<String>,
}

/// Loopback peers for the HTTP cases: one answers `pong`, one accepts and never answers, one
/// only counts connections (it must see none from a refused request).
struct Peers {
    answering: String,
    silent: String,
    counting: String,
    connections: Arc<AtomicUsize>,
}

impl Peers {
    async fn start() -> Peers {
        let answering = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let counting = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let urls = [&answering, &silent, &counting]
            .map(|l| format!("http://{}/", l.local_addr().unwrap()));
        let connections = Arc::new(AtomicUsize::new(0));
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = answering.accept().await {
                tokio::spawn(async move {
                    let mut request = [0_u8; 4096];
                    let _ = socket.read(&mut request).await;
                    let _ = socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\npong").await;
                });
            }
        });
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = silent.accept().await {
                held.push(socket);
            }
        });
        let counter = connections.clone();
        tokio::spawn(async move {
            while let Ok((_socket, _)) = counting.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        });
        let [answering, silent, counting] = urls;
        Peers {
            answering,
            silent,
            counting,
            connections,
        }
    }

    fn fill(&self, value: &str) -> String {
        value
            .replace("{{answering_url}}", &self.answering)
            .replace("{{silent_url}}", &self.silent)
            .replace("{{counting_url}}", &self.counting)
    }
}

/// Health checks sent throughout the hostile runs: every one must succeed.
fn probe_api(
    server: &TestServer,
    answered: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
) -> tokio::task::JoinHandle<()> {
    let client = rapport_tests::reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let url = server.url("/healthz");
    tokio::spawn(async move {
        loop {
            match client.get(&url).send().await {
                Ok(response) if response.status().is_success() => {
                    answered.fetch_add(1, Ordering::SeqCst)
                }
                _ => failed.fetch_add(1, Ordering::SeqCst),
            };
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_plugins_are_contained_while_the_api_keeps_answering() {
    let engine = PluginEngine::new(None).unwrap();
    let peers = Peers::start().await;
    let server = TestServer::start(Backend::Sqlite).await;
    let (answered, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let probe = probe_api(&server, answered.clone(), failed.clone());

    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join("plugins");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    cases.sort();
    assert!(cases.len() >= 10, "the hostile fixture set");
    for dir in cases {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let case: Case =
            serde_json::from_str(&std::fs::read_to_string(dir.join("case.json")).unwrap()).unwrap();
        let before = answered.load(Ordering::SeqCst);
        run_case(&engine, &peers, &name, &case).await;
        assert!(
            answered.load(Ordering::SeqCst) > before,
            "{name}: the API answered while the plugin ran"
        );
    }
    probe.abort();
    assert_eq!(
        failed.load(Ordering::SeqCst),
        0,
        "no health check failed during the hostile runs"
    );
}

async fn run_case(engine: &Arc<PluginEngine>, peers: &Peers, name: &str, case: &Case) {
    eprintln!("--- {name}: {}", case.description);
    let component = engine.load(&plugin_component(&case.plugin)).unwrap();
    let policy = TieringPlugin::new(engine.clone(), &component).unwrap();
    let grants = Grants {
        config: case
            .config
            .iter()
            .map(|(k, v)| (k.clone(), peers.fill(v)))
            .collect(),
        secret_keys: case.secret_keys.iter().cloned().collect(),
        allowed_hosts: case.allowed_hosts.iter().cloned().collect::<HashSet<_>>(),
    };
    let limits = case.limits.apply(Limits::tiering());
    // Let a slow first tick of the probe land before the case starts.
    tokio::time::sleep(Duration::from_millis(60)).await;
    let run = policy
        .evaluate(&[facts(7, 10.0, Some(1))], Arc::new(grants), &limits)
        .await;
    let expect = &case.expect;
    match (&expect.error, &run.outcome) {
        (Some(code), Err(error)) => assert_eq!(error.code(), code, "{name}: {error}"),
        (Some(code), Ok(value)) => panic!("{name}: expected {code}, the plugin answered {value:?}"),
        (None, Err(error)) => panic!("{name}: unexpected failure {error}"),
        (None, Ok(_)) => {}
    }
    if let Some(reported) = &expect.reported_code {
        assert!(
            matches!(&run.outcome, Err(PluginError::Reported { code, .. }) if code == reported),
            "{name}: {:?}",
            run.outcome
        );
    }
    if let Some(text) = &expect.stderr_contains {
        assert!(
            run.log.stderr.contains(text.as_str()),
            "{name}: stderr {:?}",
            run.log.stderr
        );
    }
    if let Some(count) = expect.counting_connections {
        assert_eq!(
            peers.connections.load(Ordering::SeqCst),
            count,
            "{name}: network traffic to a refused host"
        );
    }
    let reasons = run
        .outcome
        .as_ref()
        .map(|d| d.iter().flat_map(|d| d.reasons.clone()).collect::<Vec<_>>())
        .unwrap_or_default();
    for wanted in [&expect.reasons_contain, &expect.reasons_also_contain]
        .into_iter()
        .flatten()
    {
        assert!(
            reasons.iter().any(|r| r.contains(wanted.as_str())),
            "{name}: reasons {reasons:?}"
        );
    }
    if let Some(at_least) = expect.log_dropped_at_least {
        assert!(
            run.log.dropped >= at_least,
            "{name}: dropped {}",
            run.log.dropped
        );
    }
    let log_text = format!("{:?}", run.log);
    if let Some(secret) = &expect.log_excludes {
        assert!(
            !log_text.contains(secret.as_str()),
            "{name}: secret in the run log: {log_text}"
        );
    }
    if let Some(text) = &expect.log_contains {
        assert!(log_text.contains(text.as_str()), "{name}: {log_text}");
    }
}

/// Outbound calls speak TLS for `https` URLs: the granted loopback peer receives a TLS
/// handshake record (and, being no TLS server, makes the call fail as a transport error).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_urls_are_spoken_over_tls() {
    let engine = PluginEngine::new(None).unwrap();
    let component = engine.load(&plugin_component("fixture-hostile")).unwrap();
    let policy = TieringPlugin::new(engine.clone(), &component).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let first_byte = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut byte = [0_u8; 1];
        socket.read_exact(&mut byte).await.unwrap();
        byte[0]
    });
    let grants = Grants {
        config: HashMap::from([
            ("behaviour".into(), "granted-host".into()),
            ("url".into(), format!("https://127.0.0.1:{port}/")),
        ]),
        allowed_hosts: HashSet::from(["127.0.0.1".to_owned()]),
        ..Grants::default()
    };
    let run = policy
        .evaluate(
            &[facts(1, 1.0, Some(1))],
            Arc::new(grants),
            &Limits::tiering(),
        )
        .await;
    assert_eq!(first_byte.await.unwrap(), 0x16, "a TLS handshake record");
    match run.outcome {
        Err(PluginError::Reported { code, .. }) => assert_eq!(code, "http-failed"),
        other => panic!("expected a transport failure, got {other:?}"),
    }
}

/// Every call runs in a fresh instance, also when the pooling allocator reuses a warm slot:
/// a global the plugin increments is back to zero at the next call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_state_survives_a_call() {
    let engine = PluginEngine::new(None).unwrap();
    let component = engine.load(&plugin_component("fixture-hostile")).unwrap();
    let policy = TieringPlugin::new(engine.clone(), &component).unwrap();
    let grants = Arc::new(Grants {
        config: HashMap::from([("behaviour".into(), "remember".into())]),
        ..Grants::default()
    });
    for _ in 0..5 {
        let decisions = policy
            .evaluate(
                &[facts(1, 1.0, Some(1))],
                grants.clone(),
                &Limits::tiering(),
            )
            .await
            .outcome
            .unwrap();
        assert_eq!(decisions[0].reasons, ["call 1"]);
    }
}

/// The tier catalogue obeys the output cap like every other answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tier_catalogue_over_the_output_cap_is_refused() {
    let engine = PluginEngine::new(None).unwrap();
    let component = engine.load(&plugin_component("fixture-tiering")).unwrap();
    let policy = TieringPlugin::new(engine, &component).unwrap();
    let tight = Limits {
        output_bytes: 16,
        ..Limits::tiering()
    };
    let run = policy.tiers(Arc::new(Grants::default()), &tight).await;
    assert_eq!(run.outcome, Err(PluginError::OutputTooLarge(16)));
}
