//! The bundled tiering policies' own unit tests. A policy's decisions live in a plain-Rust
//! `policy.rs` without SDK types (the plugin's `lib.rs` only adapts it); the plugins build for
//! `wasm32-wasip2` only, so their tests run here, compiled natively from the same source.

// The plugin's `lib.rs` uses the rest (the catalogue, every host signal kind).
#[allow(dead_code)]
#[path = "../plugins/value-tiering/src/policy.rs"]
mod value_tiering;
