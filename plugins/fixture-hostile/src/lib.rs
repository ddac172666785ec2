//! A hostile tiering policy. The tenant configuration key `behaviour` picks the attack:
//! `infinite-loop`, `memory-bomb`, `deep-recursion`, `huge-output` (`output_mb`, default 100),
//! `panic`, `forbidden-host` / `granted-host` / `slow-host` (an HTTP GET of `url`),
//! `sandbox-probe` (files and environment), `log-flood`, `log-secret` (logs `api_key`),
//! `remember` (counts its calls in a global, to show that no state survives a call), `skip-one`
//! (answers for every customer but the first), `undeclared-fact` (reads a fact it did not
//! declare), `bad-template` and `missing-values` (reason templates the host cannot write),
//! `unknown-tier` (decides a tier outside its catalogue).

use std::hint::black_box;

use rapport_sdk::tiering::{Batch, Decisions, Fact, Tier};
use rapport_sdk::{PluginError, TieringPolicy, config, http, log};

struct Hostile;

/// What the attack answers for one customer, always `regular` with a score of 0.
struct Decision {
    customer_id: i64,
    reasons: Vec<String>,
}

fn decision(customer_id: i64, reasons: Vec<String>) -> Decision {
    Decision {
        customer_id,
        reasons,
    }
}

fn spin_forever() -> ! {
    let mut counter: u64 = 0;
    loop {
        counter = black_box(counter.wrapping_add(1));
    }
}

fn exhaust_memory() -> usize {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(black_box(vec![7_u8; 1 << 20]));
        if hoard.len() == usize::MAX {
            return hoard.len();
        }
    }
}

/// Recurses until the wasm stack runs out. Small frames live in wasm locals, so the engine's
/// stack limit is hit before Rust's shadow stack in linear memory; the opaque bound only keeps
/// the compiler from turning the recursion into a loop.
fn recurse(depth: u64) -> u64 {
    if black_box(depth) == u64::MAX {
        return 0;
    }
    recurse(depth + 1).wrapping_mul(3).wrapping_add(depth)
}

fn fetch(batch: &Batch) -> Result<Vec<Decision>, PluginError> {
    let url = config::get("url").unwrap_or_else(|| "http://example.com/".into());
    match http::get(&url, &[("accept", "text/plain")]) {
        Ok(response) => {
            let body = String::from_utf8_lossy(&response.body).into_owned();
            Ok(batch
                .profiles()
                .map(|p| {
                    decision(
                        p.customer_id(),
                        vec![format!("status {}: {body}", response.status)],
                    )
                })
                .collect())
        }
        Err(http::HttpError::Denied(why)) => Err(PluginError::fatal("http-denied", why)),
        Err(http::HttpError::Timeout) => Err(PluginError::retryable(
            "http-timeout",
            "the remote host did not answer",
        )),
        Err(other) => Err(PluginError::retryable("http-failed", format!("{other:?}"))),
    }
}

/// Counts calls in a global: a fresh instance per call must always see its first call.
fn remember(batch: &Batch) -> Vec<Decision> {
    static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let calls = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
    batch
        .profiles()
        .map(|p| decision(p.customer_id(), vec![format!("call {calls}")]))
        .collect()
}

fn probe_sandbox(batch: &Batch) -> Vec<Decision> {
    let files = match std::fs::read_to_string("/etc/passwd") {
        Ok(text) => format!("read /etc/passwd: {} bytes", text.len()),
        Err(_) => "files: denied".to_owned(),
    };
    let listing = match std::fs::read_dir("/") {
        Ok(entries) => format!("listed /: {} entries", entries.count()),
        Err(_) => "directories: denied".to_owned(),
    };
    let env = format!("environment: {} variables", std::env::vars().count());
    batch
        .profiles()
        .map(|p| {
            decision(
                p.customer_id(),
                vec![files.clone(), listing.clone(), env.clone()],
            )
        })
        .collect()
}

fn huge_output(batch: &Batch) -> Vec<Decision> {
    let megabytes: usize = config::get("output_mb")
        .and_then(|mb| mb.parse().ok())
        .unwrap_or(100);
    let per_customer = (megabytes << 20) / batch.len().max(1);
    batch
        .profiles()
        .map(|p| decision(p.customer_id(), vec!["x".repeat(per_customer)]))
        .collect()
}

impl TieringPolicy for Hostile {
    fn evaluate(batch: &Batch, decisions: &mut Decisions) -> Result<(), PluginError> {
        if config::get("behaviour").as_deref() == Some("unknown-tier") {
            for profile in batch.profiles() {
                decisions.decide(profile.customer_id(), "platinum", 1.0);
            }
            return Ok(());
        }
        if let Some(template) = broken_template() {
            for profile in batch.profiles() {
                let mut reasons = decisions.decide(profile.customer_id(), "regular", 0.0);
                reasons.template(template, &[]);
            }
            return Ok(());
        }
        for answer in attack(batch)? {
            let mut reasons = decisions.decide(answer.customer_id, "regular", 0.0);
            for reason in answer.reasons {
                reasons.add(reason);
            }
        }
        Ok(())
    }

    fn facts() -> Vec<Fact> {
        match config::get("behaviour").as_deref() {
            Some("undeclared-fact") => vec![Fact::OrderValue365d],
            _ => Fact::ALL.to_vec(),
        }
    }

    fn tiers() -> Vec<Tier> {
        vec![Tier {
            id: "regular".into(),
            label: "Regular".into(),
            rank: 0,
        }]
    }
}

/// A template the host must refuse: a placeholder it does not know, or one without its value.
fn broken_template() -> Option<&'static str> {
    match config::get("behaviour").as_deref() {
        Some("bad-template") => Some("score {oops}"),
        Some("missing-values") => Some("no contact for {} days"),
        _ => None,
    }
}

/// Runs the attack the tenant configured.
fn attack(batch: &Batch) -> Result<Vec<Decision>, PluginError> {
    let behaviour = config::get("behaviour").unwrap_or_default();
    match behaviour.as_str() {
        "infinite-loop" => spin_forever(),
        "memory-bomb" => Ok(vec![decision(0, vec![exhaust_memory().to_string()])]),
        "deep-recursion" => Ok(vec![decision(0, vec![recurse(0).to_string()])]),
        "huge-output" => Ok(huge_output(batch)),
        "panic" => panic!("hostile plugin panics on purpose"),
        "forbidden-host" | "granted-host" | "slow-host" => fetch(batch),
        "sandbox-probe" => Ok(probe_sandbox(batch)),
        "undeclared-fact" => Ok(batch
            .profiles()
            .map(|p| decision(p.customer_id(), vec![p.tenure_days().to_string()]))
            .collect()),
        "remember" => Ok(remember(batch)),
        "skip-one" => Ok(batch
            .profiles()
            .skip(1)
            .map(|p| decision(p.customer_id(), vec![]))
            .collect()),
        "log-flood" => {
            for n in 0..100_000 {
                log::log(log::LogLevel::Info, "flood", &[("n", &n.to_string())]);
            }
            Ok(batch
                .profiles()
                .map(|p| decision(p.customer_id(), vec![]))
                .collect())
        }
        "log-secret" => {
            let secret = config::get("api_key").unwrap_or_default();
            log::log(
                log::LogLevel::Warn,
                &format!("my key is {secret}"),
                &[("key", &secret)],
            );
            println!("stdout also sees {secret}");
            Ok(batch
                .profiles()
                .map(|p| decision(p.customer_id(), vec![]))
                .collect())
        }
        other => Err(PluginError::fatal(
            "unknown-behaviour",
            format!("no behaviour {other:?}"),
        )),
    }
}

rapport_sdk::export_tiering_policy!(Hostile);
