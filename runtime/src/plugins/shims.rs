//! What every older WIT version needs besides its tiering bindings: its host services, under
//! its own names, delegating to the latest implementations (as Zed's `extension_host` does per
//! version). The host interfaces have not changed since 0.1.0, and component types are
//! structural, so the latest Rust types carry them. Survey channels and ERP connectors of any
//! version run through the latest bindings unchanged: their exports have the same names and
//! structurally identical types. Only the tiering world changed, and each version's shim
//! (`since_v0_1`, `since_v0_2`) converts its profile and decision.

use wasmtime::component::Linker;

use super::bindings::{clock, config, http, log, types};
use super::host::HostState;

/// The older WIT versions the host still runs.
pub(crate) const OLDER_VERSIONS: [&str; 3] = ["0.1.0", "0.2.0", "0.3.0"];

/// Defines the host interfaces of every older version in `linker`, next to the latest ones.
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    for version in OLDER_VERSIONS {
        add_version(linker, version)?;
    }
    Ok(())
}

fn add_version(linker: &mut Linker<HostState>, version: &str) -> wasmtime::Result<()> {
    // Type-only interfaces are imported as (empty) instances.
    for name in ["types", "tiering-types", "survey-types", "erp-types"] {
        linker.instance(&format!("rapport:plugin/{name}@{version}"))?;
    }
    linker
        .instance(&format!("rapport:plugin/log@{version}"))?
        .func_wrap_async(
        "log",
        |mut store, (level, message, fields): (types::LogLevel, String, Vec<types::KeyValue>)| {
            Box::new(async move { log::Host::log(store.data_mut(), level, message, fields).await })
        },
    )?;
    linker
        .instance(&format!("rapport:plugin/config@{version}"))?
        .func_wrap_async("get", |mut store, (key,): (String,)| {
            Box::new(async move { Ok((config::Host::get(store.data_mut(), key).await?,)) })
        })?;
    linker
        .instance(&format!("rapport:plugin/http@{version}"))?
        .func_wrap_async("send", |mut store, (request,): (http::Request,)| {
            Box::new(async move { Ok((http::Host::send(store.data_mut(), request).await?,)) })
        })?;
    linker
        .instance(&format!("rapport:plugin/clock@{version}"))?
        .func_wrap_async("now-ms", |mut store, (): ()| {
            Box::new(async move { Ok((clock::Host::now_ms(store.data_mut()).await?,)) })
        })?;
    Ok(())
}
