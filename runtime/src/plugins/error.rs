//! The one error type of the plugin host. Every way a plugin can fail — bad component, trap,
//! limit, bad output, or an error the plugin reports itself — becomes one of these variants,
//! recorded in the run log; none of them can crash or stall the server.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PluginError {
    #[error("not a valid Rapport plugin component: {0}")]
    InvalidComponent(String),
    #[error("the plugin targets API {found}, this host supports {supported}")]
    IncompatibleApi { found: String, supported: String },
    #[error("the plugin exceeded its time limit of {0:?}")]
    Timeout(Duration),
    #[error("the plugin used up its fuel budget of {0} units")]
    FuelExhausted(u64),
    #[error("the plugin exceeded its memory limit of {0} bytes")]
    MemoryLimit(usize),
    #[error("the plugin overflowed its stack")]
    StackOverflow,
    #[error("the plugin's output exceeds the limit of {0} bytes")]
    OutputTooLarge(usize),
    #[error("the plugin trapped: {0}")]
    Trap(String),
    #[error("the plugin returned an invalid result: {0}")]
    InvalidOutput(String),
    /// The plugin ran and answered with an error of its own.
    #[error("the plugin reported {code}: {message}")]
    Reported {
        code: String,
        message: String,
        retryable: bool,
    },
    #[error("plugin host failure: {0}")]
    Host(String),
    /// The caller asked for an export the plugin's kind lacks, or gave input that does not fit
    /// it; the plugin was not run.
    #[error("bad input for the plugin: {0}")]
    BadInput(String),
}

impl PluginError {
    /// Whether the same call may succeed later: the plugin said so, or the host or the time
    /// limit got in the way. Traps and bad output repeat, so they are final.
    pub fn is_retryable(&self) -> bool {
        match self {
            PluginError::Reported { retryable, .. } => *retryable,
            PluginError::Timeout(_) | PluginError::Host(_) => true,
            _ => false,
        }
    }

    /// A stable machine-readable code, as stored in run logs and shown by the API.
    pub fn code(&self) -> &'static str {
        match self {
            PluginError::InvalidComponent(_) => "invalid_component",
            PluginError::IncompatibleApi { .. } => "incompatible_api",
            PluginError::Timeout(_) => "timeout",
            PluginError::FuelExhausted(_) => "fuel_exhausted",
            PluginError::MemoryLimit(_) => "memory_limit",
            PluginError::StackOverflow => "stack_overflow",
            PluginError::OutputTooLarge(_) => "output_too_large",
            PluginError::Trap(_) => "trap",
            PluginError::InvalidOutput(_) => "invalid_output",
            PluginError::Reported { .. } => "plugin_error",
            PluginError::Host(_) => "host_error",
            PluginError::BadInput(_) => "bad_input",
        }
    }
}
