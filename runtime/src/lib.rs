//! Rapport: a CRM runtime for customer satisfaction.
//!
//! Layers, from the inside out: [`domain`] (the model and its rules), [`store`] (sea-orm
//! persistence), [`api`] (axum HTTP). [`server`] wires them into the `rapport` binary.
//! See ARCHITECTURE.md at the repository root.

pub mod api;
pub mod authz;
pub mod automation;
pub mod cli;
pub mod demo;
pub mod domain;
pub mod jobs;
pub mod passwords;
pub mod plugins;
pub mod registry;
pub mod secrets;
pub mod server;
pub mod store;
pub mod surveys;
pub mod sync;
pub mod telemetry;
pub mod tiering;

/// mimalloc for every binary built on the library (server, CLI, tests, benchmarks): the store's
/// drivers allocate and free a few buffers per row from several threads at once, where glibc's
/// allocator took about a fifth of the CPU samples of the 360° benchmark (with SQLite built
/// without memory statistics, mimalloc doubled that benchmark's throughput). The `override`
/// feature makes it the C `malloc` as well, so the bundled SQLite's page and statement
/// allocations leave glibc too (a tenth of a tier run's CPU samples were glibc's).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
