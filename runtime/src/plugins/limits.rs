//! Per-invocation limits, configurable per plugin kind.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::PluginError;
use crate::domain::plugin::PluginKind;

/// Upper bound of any plugin's linear memory: the size of a slot of the engine's pool.
pub(crate) const MAX_MEMORY_BYTES: usize = 256 << 20;

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

    /// The fuel a call starts with: its budget, or without one the most a store can hold (the
    /// engine meters every call, so what one used is known either way).
    pub(crate) fn fuel_budget(&self) -> u64 {
        self.fuel.unwrap_or(u64::MAX)
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

/// An operator's changes to one kind's default limits; what is left out keeps its default.
/// Also the shape in which the local harness reports the limits a call ran with, so that a
/// report names each limit by its key in an operator's file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    pub deadline_ms: Option<u64>,
    pub fuel: Option<u64>,
    pub memory_bytes: Option<usize>,
    pub output_bytes: Option<usize>,
    pub log_bytes: Option<usize>,
    pub http_timeout_ms: Option<u64>,
    pub http_response_bytes: Option<usize>,
}

impl From<&Limits> for LimitOverrides {
    /// Every limit of `limits`, stated; `fuel` stays `None` when there is no budget.
    fn from(limits: &Limits) -> LimitOverrides {
        let millis = |duration: Duration| u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        LimitOverrides {
            deadline_ms: Some(millis(limits.deadline)),
            fuel: limits.fuel,
            memory_bytes: Some(limits.memory_bytes),
            output_bytes: Some(limits.output_bytes),
            log_bytes: Some(limits.log_bytes),
            http_timeout_ms: Some(millis(limits.http_timeout)),
            http_response_bytes: Some(limits.http_response_bytes),
        }
    }
}

impl LimitOverrides {
    /// `limits` with these changes made.
    pub fn apply(&self, mut limits: Limits) -> Limits {
        if let Some(ms) = self.deadline_ms {
            limits.deadline = Duration::from_millis(ms);
        }
        limits.fuel = self.fuel.or(limits.fuel);
        limits.memory_bytes = self.memory_bytes.unwrap_or(limits.memory_bytes);
        limits.output_bytes = self.output_bytes.unwrap_or(limits.output_bytes);
        limits.log_bytes = self.log_bytes.unwrap_or(limits.log_bytes);
        if let Some(ms) = self.http_timeout_ms {
            limits.http_timeout = Duration::from_millis(ms);
        }
        limits.http_response_bytes = self
            .http_response_bytes
            .unwrap_or(limits.http_response_bytes);
        limits
    }

    /// Every value given must allow a call to run at all, and memory must fit a pool slot.
    fn check(&self, kind: PluginKind) -> Result<(), String> {
        let given = [
            ("deadline_ms", self.deadline_ms),
            ("fuel", self.fuel),
            ("memory_bytes", self.memory_bytes.map(|n| n as u64)),
            ("output_bytes", self.output_bytes.map(|n| n as u64)),
            ("log_bytes", self.log_bytes.map(|n| n as u64)),
            ("http_timeout_ms", self.http_timeout_ms),
            (
                "http_response_bytes",
                self.http_response_bytes.map(|n| n as u64),
            ),
        ];
        if let Some((name, _)) = given.iter().find(|(_, value)| *value == Some(0)) {
            return Err(format!("[{kind}] {name} must be above 0"));
        }
        match self.memory_bytes {
            Some(bytes) if bytes > MAX_MEMORY_BYTES => Err(format!(
                "[{kind}] memory_bytes must be at most {MAX_MEMORY_BYTES} ({} MiB), got {bytes}",
                MAX_MEMORY_BYTES >> 20
            )),
            _ => Ok(()),
        }
    }
}

/// The limits of each plugin kind: the defaults, with an operator's overrides (a TOML file with
/// one table per kind, e.g. `[erp-connector]` `deadline_ms = 120000`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct KindLimits {
    #[serde(default)]
    tiering_policy: LimitOverrides,
    #[serde(default)]
    survey_channel: LimitOverrides,
    #[serde(default)]
    erp_connector: LimitOverrides,
}

impl KindLimits {
    /// Reads an operator's TOML; the error names the table and key at fault.
    pub fn parse(toml_text: &str) -> Result<KindLimits, String> {
        let limits: KindLimits = toml::from_str(toml_text).map_err(|error| error.to_string())?;
        let kinds = [
            PluginKind::TieringPolicy,
            PluginKind::SurveyChannel,
            PluginKind::ErpConnector,
        ];
        for kind in kinds {
            limits.overrides(kind).check(kind)?;
        }
        Ok(limits)
    }

    pub fn for_kind(&self, kind: PluginKind) -> Limits {
        self.overrides(kind).apply(Limits::for_kind(kind))
    }

    /// The table of `kind`, named in the file as `PluginKind` displays (`[erp-connector]`).
    fn overrides(&self, kind: PluginKind) -> &LimitOverrides {
        match kind {
            PluginKind::TieringPolicy => &self.tiering_policy,
            PluginKind::SurveyChannel => &self.survey_channel,
            PluginKind::ErpConnector => &self.erp_connector,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_change_only_their_kind_and_keys() {
        let limits =
            KindLimits::parse("[erp-connector]\ndeadline_ms = 120000\nfuel = 5\n").unwrap();
        let erp = limits.for_kind(PluginKind::ErpConnector);
        assert_eq!(erp.deadline, Duration::from_secs(120));
        assert_eq!(erp.fuel, Some(5));
        assert_eq!(erp.memory_bytes, Limits::erp_connector().memory_bytes);
        assert_eq!(
            limits.for_kind(PluginKind::TieringPolicy),
            Limits::tiering()
        );
    }

    #[test]
    fn stated_limits_are_the_limits() {
        for kind in [PluginKind::TieringPolicy, PluginKind::ErpConnector] {
            let limits = Limits::for_kind(kind);
            let stated = LimitOverrides::from(&limits);
            assert_eq!(stated.apply(Limits::survey_channel()), limits);
        }
    }

    #[test]
    fn bad_files_are_refused_naming_what_is_wrong() {
        let refused = |text: &str| KindLimits::parse(text).unwrap_err();
        assert!(
            refused("[tiering-policy]\nfuel = 0").contains("[tiering-policy] fuel must be above 0")
        );
        assert!(refused("[survey-channel]\nmemory_bytes = 1073741824").contains("at most"));
        assert!(refused("[tiering-policy]\nfuell = 3").contains("fuell"));
        assert!(refused("[tiering]\nfuel = 3").contains("tiering"));
        assert!(refused("[tiering-policy]\nfuel = \"lots\"").contains("fuel"));
    }
}
