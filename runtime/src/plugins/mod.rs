//! The plugin host: vendors' WASM components (WIT package `rapport:plugin@0.4.0`, and 0.1.0,
//! 0.2.0 and 0.3.0 through their shims `shims`, `since_v0_1`, `since_v0_2` and `since_v0_3`) run
//! sandboxed
//! on one shared wasmtime engine, each call in a fresh store with its own limits (deadline,
//! fuel, memory, output, log volume) and only the capabilities its grants allow.

mod bindings;
pub mod engine;
pub mod erp;
pub mod error;
pub mod harness;
mod host;
pub mod limits;
mod shims;
pub mod since_v0_1;
pub mod since_v0_2;
pub mod since_v0_3;
pub mod survey;
pub mod tiering;

pub use engine::{
    Invocation, LoadedComponent, PluginEngine, SUPPORTED_API_VERSIONS, embedded_manifest,
};
pub use erp::ErpPlugin;
pub use error::PluginError;
pub use harness::{AnyPlugin, ErrorReport, Fixture, FixtureOutcome, FixtureReport, run_fixture};
pub use host::{Grants, LogRecord, RunLog};
pub use limits::{KindLimits, LimitOverrides, Limits};
pub use survey::SurveyPlugin;
pub use tiering::TieringPlugin;
