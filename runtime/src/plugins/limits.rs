//! Per-invocation limits, configurable per plugin kind.

use std::time::Duration;

use super::error::PluginError;
use crate::domain::plugin::PluginKind;

/// What one call into a plugin may consume. Every invocation gets a fresh store with these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time, enforced with epoch interruption (and a host-side timeout as backstop).
    pub deadline: Duration,
    /// Optional instruction budget (wasmtime fuel); `None` means only the deadline applies.
    pub fuel: Option<u64>,
    /// Linear memory, in bytes.
    pub memory_bytes: usize,
    /// Size of the returned value, in bytes (strings and lists counted by their contents).
    pub output_bytes: usize,
    /// Log volume, in bytes of messages and fields; further records are dropped and counted.
    pub log_bytes: usize,
    /// Each outbound HTTP request, connect to last byte.
    pub http_timeout: Duration,
    /// Each outbound HTTP response body, in bytes.
    pub http_response_bytes: usize,
}

impl Limits {
    /// The defaults of a plugin kind.
    pub fn for_kind(kind: PluginKind) -> Limits {
        match kind {
            PluginKind::TieringPolicy => Limits::tiering(),
            PluginKind::SurveyChannel => Limits::survey_channel(),
            PluginKind::ErpConnector => Limits::erp_connector(),
        }
    }

    /// Refuses a returned value of `size` bytes over the output cap, so that a plugin cannot
    /// hand the host more data than its kind is allowed to produce.
    pub(crate) fn check_output(&self, size: usize) -> Result<(), PluginError> {
        if size > self.output_bytes {
            return Err(PluginError::OutputTooLarge(self.output_bytes));
        }
        Ok(())
    }

    /// Checks a JSON Schema a plugin returned as text (its config schema): within the output cap
    /// and valid JSON, so callers get a value they can validate configurations against.
    pub(crate) fn check_schema(&self, text: &str) -> Result<serde_json::Value, PluginError> {
        self.check_output(text.len())?;
        serde_json::from_str(text).map_err(|error| {
            PluginError::InvalidOutput(format!("the config schema is not JSON: {error}"))
        })
    }

    /// Tiering policies evaluate batches of profiles; they need CPU, not network.
    pub fn tiering() -> Limits {
        Limits {
            deadline: Duration::from_secs(10),
            fuel: None,
            memory_bytes: 64 << 20,
            output_bytes: 16 << 20,
            log_bytes: 64 << 10,
            http_timeout: Duration::from_secs(10),
            http_response_bytes: 1 << 20,
        }
    }

    /// Survey channels make one or two HTTP calls per delivery.
    pub fn survey_channel() -> Limits {
        Limits {
            deadline: Duration::from_secs(30),
            output_bytes: 64 << 10,
            memory_bytes: 32 << 20,
            ..Limits::tiering()
        }
    }

    /// ERP connectors page through remote APIs.
    pub fn erp_connector() -> Limits {
        Limits {
            deadline: Duration::from_secs(60),
            http_timeout: Duration::from_secs(30),
            http_response_bytes: 32 << 20,
            memory_bytes: 128 << 20,
            ..Limits::tiering()
        }
    }
}
