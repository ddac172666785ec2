//! Plugins as the registry sees them: the manifest a vendor ships, the kinds of plugin, and the
//! rules for a tenant's configuration of one (JSON Schema, with `writeOnly` marking secrets).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::ValidationErrors;

/// The three extension points, named as their WIT worlds.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    ToSchema,
    strum::EnumString,
    strum::Display,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum PluginKind {
    TieringPolicy,
    SurveyChannel,
    ErpConnector,
}

/// What a vendor declares about a plugin version. Embedded in the component by the SDK
/// (`rapport-plugin-manifest` section, TOML) or supplied beside it at install.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginManifest {
    /// Globally unique, lower-case, e.g. `acme.rfm-tiering`.
    pub id: String,
    /// Semantic version of this build, e.g. `1.2.0`.
    pub version: String,
    pub vendor: String,
    pub kind: PluginKind,
    /// The WIT package version the plugin was built against; must match the component's.
    pub api_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Host names the plugin wants to reach over HTTP; the tenant grants a subset.
    #[serde(default)]
    pub http_hosts: Vec<String>,
    /// JSON Schema (an object schema) of the tenant configuration. Properties marked
    /// `"writeOnly": true` are secrets: encrypted at rest and never shown again.
    #[serde(default = "empty_object_schema")]
    #[schema(value_type = Object)]
    pub config_schema: Value,
}

fn empty_object_schema() -> Value {
    serde_json::json!({"type": "object", "properties": {}})
}

impl PluginManifest {
    /// Reads a manifest from its TOML text.
    pub fn from_toml(text: &str) -> Result<PluginManifest, ValidationErrors> {
        let manifest: PluginManifest = toml::from_str(text).map_err(|error| {
            ValidationErrors::single("manifest", "invalid_manifest", error.message().to_owned())
        })?;
        manifest.validate()
    }

    /// Checks every field; returns the manifest with host names lower-cased.
    pub fn validate(mut self) -> Result<PluginManifest, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if !is_plugin_id(&self.id) {
            errors.add(
                "manifest.id",
                "invalid_format",
                "lower-case letters, digits, '.', '-' and '_', 3 to 64 characters, starting with a letter",
            );
        }
        if semver::Version::parse(&self.version).is_err() {
            errors.add(
                "manifest.version",
                "invalid_format",
                "a semantic version such as 1.2.0",
            );
        }
        if self.vendor.trim().is_empty() || self.vendor.len() > 100 {
            errors.add("manifest.vendor", "invalid_length", "1 to 100 characters");
        }
        self.http_hosts = self
            .http_hosts
            .iter()
            .map(|host| host.trim().to_ascii_lowercase())
            .collect();
        for (index, host) in self.http_hosts.iter().enumerate() {
            if !is_host_name(host) {
                errors.add(
                    format!("manifest.http_hosts[{index}]"),
                    "invalid_format",
                    "a bare host name such as api.example.com (no scheme, port or path)",
                );
            }
        }
        if let Err(message) = check_config_schema(&self.config_schema) {
            errors.add("manifest.config_schema", "invalid_schema", message);
        }
        errors.into_result(self)
    }

    /// Config keys whose values are secrets (`writeOnly` properties of the config schema).
    pub fn secret_keys(&self) -> BTreeSet<String> {
        self.config_schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|properties| {
                properties
                    .iter()
                    .filter(|(_, property)| property.get("writeOnly") == Some(&Value::Bool(true)))
                    .map(|(key, _)| key.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Validates a tenant's whole configuration (secrets included) against the schema.
    pub fn validate_config(
        &self,
        config: &serde_json::Map<String, Value>,
    ) -> Result<(), ValidationErrors> {
        let validator = jsonschema::validator_for(&self.config_schema).map_err(|error| {
            ValidationErrors::single("config", "invalid_schema", error.to_string())
        })?;
        let instance = Value::Object(config.clone());
        let mut errors = ValidationErrors::default();
        for error in validator.iter_errors(&instance) {
            let path = error.instance_path().to_string();
            // The message may quote the offending value, which can be a secret.
            let message = match error.kind() {
                jsonschema::error::ValidationErrorKind::Required { .. } => error.to_string(),
                _ => format!("does not match the schema at {}", error.schema_path()),
            };
            errors.add(format!("config{path}"), "schema_violation", message);
        }
        errors.into_result(())
    }
}

/// One installed plugin version in the registry.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PluginVersion {
    pub plugin_id: String,
    pub version: String,
    pub vendor: String,
    pub kind: PluginKind,
    pub api_version: String,
    pub description: Option<String>,
    pub http_hosts: Vec<String>,
    #[schema(value_type = Object)]
    pub config_schema: Value,
    /// Hex SHA-256 of the component: its identity in storage and caches.
    pub component_sha256: String,
    pub installed_at: chrono::DateTime<chrono::Utc>,
}

/// A tenant's use of a plugin, as shown to its admins: secrets appear by name only.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TenantPlugin {
    pub plugin_id: String,
    pub kind: PluginKind,
    pub version: String,
    /// The version an upgrade replaced; `rollback` returns to it.
    pub previous_version: Option<String>,
    pub enabled: bool,
    /// The non-secret configuration values.
    #[schema(value_type = Object)]
    pub config: serde_json::Map<String, Value>,
    /// Names of the secret configuration keys that hold a value.
    pub secrets_set: Vec<String>,
    /// Hosts the tenant granted.
    pub granted_hosts: Vec<String>,
    /// Hosts the plugin may actually reach: requested by the manifest and granted.
    pub effective_hosts: Vec<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// Enables (or reconfigures, or moves to another version of) a plugin for the caller's tenant.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnablePlugin {
    pub version: String,
    /// The whole configuration, secrets included. A secret key left out keeps its stored value.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub config: serde_json::Map<String, Value>,
    /// HTTP hosts granted to the plugin; each must be one its manifest requests.
    #[serde(default)]
    pub granted_hosts: Vec<String>,
}

/// Moves an enabled plugin to another installed version, keeping its configuration.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpgradePlugin {
    pub version: String,
}

/// Runs one export of a tenant's plugin with the tenant's configuration and grants.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvokePlugin {
    /// The export's WIT name, e.g. `evaluate`, `send`, `read`, `check`.
    pub export: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub input: Value,
}

/// One recorded invocation of a tenant's plugin.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PluginRun {
    pub id: super::Id,
    pub plugin_id: String,
    pub version: String,
    pub export: String,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub duration_ms: f64,
    /// `ok`, or the stable code of the plugin error (`timeout`, `memory_limit`, `plugin_error`…).
    pub outcome: String,
    pub error: Option<String>,
    pub fuel_used: Option<u64>,
    /// What the plugin logged (records, stdout, stderr), secrets redacted.
    #[schema(value_type = Object)]
    pub log: Value,
}

/// Granted hosts must be a subset of what the manifest requests; returns them normalised.
pub fn check_granted_hosts(
    manifest: &PluginManifest,
    granted: &[String],
) -> Result<Vec<String>, ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let mut hosts = BTreeSet::new();
    for (index, host) in granted.iter().enumerate() {
        let host = host.trim().to_ascii_lowercase();
        if !manifest.http_hosts.contains(&host) {
            errors.add(
                format!("granted_hosts[{index}]"),
                "not_requested",
                format!("the plugin's manifest does not request {host}"),
            );
        }
        hosts.insert(host);
    }
    errors.into_result(hosts.into_iter().collect())
}

/// A configuration split the way it is stored: plain values, and secrets to encrypt.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SplitConfig {
    pub plain: serde_json::Map<String, Value>,
    pub secrets: BTreeMap<String, String>,
}

/// Splits `config` by the manifest's secret keys; secret values are kept as the plugin will see
/// them (strings as they are, anything else as JSON text).
pub fn split_config(
    manifest: &PluginManifest,
    config: serde_json::Map<String, Value>,
) -> SplitConfig {
    let secret_keys = manifest.secret_keys();
    let mut split = SplitConfig::default();
    for (key, value) in config {
        if secret_keys.contains(&key) {
            split.secrets.insert(key, config_text(&value));
        } else {
            split.plain.insert(key, value);
        }
    }
    split
}

/// A config value as a plugin reads it through `config.get`.
pub fn config_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn check_config_schema(schema: &Value) -> Result<(), String> {
    if schema.get("type") != Some(&Value::String("object".into())) {
        return Err("the config schema must be an object schema (\"type\": \"object\")".into());
    }
    jsonschema::validator_for(schema)
        .map(|_| ())
        .map_err(|error| error.to_string())
}

fn is_plugin_id(id: &str) -> bool {
    (3..=64).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'))
}

/// A DNS name or an IPv4 literal, without scheme, port or path.
pub fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"
        id = "acme.webhook"
        version = "1.2.0"
        vendor = "Acme"
        kind = "survey-channel"
        api_version = "0.1.0"
        http_hosts = ["Hooks.Example.com"]
        [config_schema]
        type = "object"
        required = ["url", "token"]
        [config_schema.properties.url]
        type = "string"
        [config_schema.properties.token]
        type = "string"
        writeOnly = true
    "#;

    #[test]
    fn a_manifest_reads_from_toml_and_names_its_secrets() {
        let manifest = PluginManifest::from_toml(MANIFEST).unwrap();
        assert_eq!(manifest.kind, PluginKind::SurveyChannel);
        assert_eq!(manifest.http_hosts, ["hooks.example.com"]);
        assert_eq!(manifest.secret_keys(), BTreeSet::from(["token".to_owned()]));
        let config = serde_json::json!({"url": "https://hooks.example.com/x", "token": "s3cr3t"});
        let config = config.as_object().unwrap().clone();
        manifest.validate_config(&config).unwrap();
        let split = split_config(&manifest, config);
        assert_eq!(split.secrets["token"], "s3cr3t");
        assert!(!split.plain.contains_key("token"));
    }

    #[test]
    fn bad_manifests_and_configs_name_every_problem() {
        let bad = MANIFEST
            .replace("acme.webhook", "Acme Webhook")
            .replace("1.2.0", "one")
            .replace("Hooks.Example.com", "https://x/");
        let errors = PluginManifest::from_toml(&bad).unwrap_err();
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["manifest.id", "manifest.version", "manifest.http_hosts[0]"]
        );
        let manifest = PluginManifest::from_toml(MANIFEST).unwrap();
        let config = serde_json::json!({"url": 7, "token": 12345});
        let errors = manifest
            .validate_config(config.as_object().unwrap())
            .unwrap_err();
        assert_eq!(errors.0.len(), 2);
        assert!(errors.0.iter().all(|e| !e.message.contains("12345")));
    }
}
