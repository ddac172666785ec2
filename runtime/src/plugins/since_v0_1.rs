//! The shim for plugins built against `rapport:plugin@0.1.0`: it serves them with the latest
//! host and converts at the boundary, as Zed's `extension_host` does per version.
//!
//! What differs from 0.2.0 is only the tiering profile, which gained `churn-signals`. So:
//! - the host services are registered a second time under their 0.1.0 names, delegating to the
//!   latest implementations (the types are structurally identical, and component types are
//!   structural, so the latest Rust types carry them);
//! - survey channels and ERP connectors run through the latest bindings unchanged: their
//!   exports have the same names and structurally identical types;
//! - tiering policies get their own 0.1.0 bindings (`tiering`), and the profile is sent
//!   without the signals.

use wasmtime::component::Linker;

use super::bindings::{clock, config, http, log, tiering_types as latest, types};
use super::host::HostState;
use crate::domain::tiering::CustomerFacts;

/// The 0.1.0 `tiering-policy` world: its own `tiering-types`, every other interface mapped to
/// the latest bindings.
pub mod tiering {
    wasmtime::component::bindgen!({
        path: "../wit/rapport-plugin@0.1.0",
        world: "tiering-policy",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "rapport:plugin/types@0.1.0": crate::plugins::bindings::types,
            "rapport:plugin/log@0.1.0": crate::plugins::bindings::log,
            "rapport:plugin/config@0.1.0": crate::plugins::bindings::config,
            "rapport:plugin/http@0.1.0": crate::plugins::bindings::http,
            "rapport:plugin/clock@0.1.0": crate::plugins::bindings::clock,
        },
    });
}

use tiering::rapport::plugin::tiering_types as v0_1;
pub use tiering::{TieringPolicy, TieringPolicyPre};

/// Defines the 0.1.0 host interfaces in `linker`, next to the latest ones.
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    // Type-only interfaces are imported as (empty) instances.
    for name in ["types", "tiering-types", "survey-types", "erp-types"] {
        linker.instance(&format!("rapport:plugin/{name}@0.1.0"))?;
    }
    linker
        .instance("rapport:plugin/log@0.1.0")?
        .func_wrap_async(
        "log",
        |mut store, (level, message, fields): (types::LogLevel, String, Vec<types::KeyValue>)| {
            Box::new(async move { log::Host::log(store.data_mut(), level, message, fields).await })
        },
    )?;
    linker
        .instance("rapport:plugin/config@0.1.0")?
        .func_wrap_async("get", |mut store, (key,): (String,)| {
            Box::new(async move { Ok((config::Host::get(store.data_mut(), key).await?,)) })
        })?;
    linker
        .instance("rapport:plugin/http@0.1.0")?
        .func_wrap_async("send", |mut store, (request,): (http::Request,)| {
            Box::new(async move { Ok((http::Host::send(store.data_mut(), request).await?,)) })
        })?;
    linker
        .instance("rapport:plugin/clock@0.1.0")?
        .func_wrap_async("now-ms", |mut store, (): ()| {
            Box::new(async move { Ok((clock::Host::now_ms(store.data_mut()).await?,)) })
        })?;
    Ok(())
}

/// The 0.1.0 profile: the latest one without the churn signals.
pub fn profile(facts: &CustomerFacts) -> v0_1::CustomerProfile {
    v0_1::CustomerProfile {
        customer_id: facts.customer_id,
        lifecycle_stage: facts.lifecycle_stage.clone(),
        tenure_days: facts.tenure_days,
        tags: facts.tags.clone(),
        custom_fields_json: facts.custom_fields_json.clone(),
        order_value_90d: facts.order_value_90d,
        order_value_365d: facts.order_value_365d,
        order_count_90d: facts.order_count_90d,
        order_count_365d: facts.order_count_365d,
        days_since_last_order: facts.days_since_last_order,
        interaction_count_30d: facts.interaction_count_30d,
        interaction_count_90d: facts.interaction_count_90d,
        days_since_last_contact: facts.days_since_last_contact,
        open_complaints: facts.open_complaints,
        complaints_90d: facts.complaints_90d,
        latest_csat: facts.latest_csat,
        latest_nps: facts.latest_nps,
        latest_ces: facts.latest_ces,
    }
}

pub fn decision(decision: v0_1::Decision) -> latest::Decision {
    latest::Decision {
        customer_id: decision.customer_id,
        tier: decision.tier,
        score: decision.score,
        reasons: decision.reasons,
    }
}

pub fn tier(tier: v0_1::Tier) -> latest::Tier {
    latest::Tier {
        id: tier.id,
        label: tier.label,
        rank: tier.rank,
    }
}
