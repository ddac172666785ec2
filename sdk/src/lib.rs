//! The Rapport plugin SDK.
//!
//! A plugin is a Rust crate of type `cdylib` built with `cargo build --target wasm32-wasip2
//! --release`. It implements one trait — [`TieringPolicy`], [`SurveyChannel`] or
//! [`ErpConnector`] — and names its type in the matching export macro. The SDK hides the
//! generated WIT bindings and offers the host services as plain functions: [`log`],
//! [`config`], [`http`], [`clock`].
//!
//! ```ignore
//! use rapport_sdk::tiering::{Batch, Decisions, Tier};
//! use rapport_sdk::{PluginError, TieringPolicy};
//!
//! struct Policy;
//!
//! impl TieringPolicy for Policy {
//!     fn evaluate(batch: &Batch, decisions: &mut Decisions) -> Result<(), PluginError> { … }
//!     fn tiers() -> Vec<Tier> { … }
//! }
//!
//! rapport_sdk::export_tiering_policy!(Policy);
//! ```

// The generated bindings refer to this crate by name, also from inside it.
extern crate self as rapport_sdk;

#[doc(hidden)]
pub use wit_bindgen;

/// The WIT API version this SDK implements; the host refuses plugins of a version it lacks.
pub const API_VERSION: &str = "0.4.0";

#[doc(hidden)]
pub mod host_bindings {
    wit_bindgen::generate!({
        path: "../wit/rapport-plugin@0.4.0",
        world: "host-services",
        runtime_path: "rapport_sdk::wit_bindgen::rt",
    });
}

use host_bindings::rapport::plugin as host;

pub use host::types::{KeyValue, LogLevel, PluginError};

pub mod tiering;

/// Survey channels: deliver a survey, optionally parse answers received on the channel.
pub mod survey {
    wit_bindgen::generate!({
        path: "../wit/rapport-plugin@0.4.0",
        world: "survey-channel",
        runtime_path: "rapport_sdk::wit_bindgen::rt",
        with: {
            "rapport:plugin/types@0.4.0": crate::host_bindings::rapport::plugin::types,
            "rapport:plugin/log@0.4.0": crate::host_bindings::rapport::plugin::log,
            "rapport:plugin/config@0.4.0": crate::host_bindings::rapport::plugin::config,
            "rapport:plugin/http@0.4.0": crate::host_bindings::rapport::plugin::http,
            "rapport:plugin/clock@0.4.0": crate::host_bindings::rapport::plugin::clock,
        },
        pub_export_macro: true,
        export_macro_name: "__export_survey_channel_world",
        default_bindings_module: "rapport_sdk::survey",
    });
    pub use self::rapport::plugin::survey_types::*;
}

/// ERP connectors: an Airbyte-like spec / check / read protocol over streams.
pub mod erp {
    wit_bindgen::generate!({
        path: "../wit/rapport-plugin@0.4.0",
        world: "erp-connector",
        runtime_path: "rapport_sdk::wit_bindgen::rt",
        with: {
            "rapport:plugin/types@0.4.0": crate::host_bindings::rapport::plugin::types,
            "rapport:plugin/log@0.4.0": crate::host_bindings::rapport::plugin::log,
            "rapport:plugin/config@0.4.0": crate::host_bindings::rapport::plugin::config,
            "rapport:plugin/http@0.4.0": crate::host_bindings::rapport::plugin::http,
            "rapport:plugin/clock@0.4.0": crate::host_bindings::rapport::plugin::clock,
        },
        pub_export_macro: true,
        export_macro_name: "__export_erp_connector_world",
        default_bindings_module: "rapport_sdk::erp",
    });
    pub use self::rapport::plugin::erp_types::*;
}

/// A tiering policy. Implement it and name the type in [`export_tiering_policy!`].
pub trait TieringPolicy {
    /// Decides the tier of every profile of the batch, in the batch's order, with
    /// [`tiering::Decisions::decide`].
    fn evaluate(
        batch: &tiering::Batch,
        decisions: &mut tiering::Decisions,
    ) -> Result<(), PluginError>;
    /// The tiers this policy assigns.
    fn tiers() -> Vec<tiering::Tier>;
    /// The facts the policy reads; the host sends only those columns, and a
    /// [`tiering::Profile`] getter of any other fact panics (a trap, naming the fact). Every
    /// fact by default; a policy that names its few facts spares the host and itself copying
    /// the rest of each batch.
    fn facts() -> Vec<tiering::Fact> {
        tiering::Fact::ALL.to_vec()
    }
    /// JSON Schema of the tenant configuration; an empty object schema by default.
    fn config_schema() -> String {
        EMPTY_SCHEMA.to_owned()
    }
}

/// A survey channel. Implement it and name the type in [`export_survey_channel!`].
pub trait SurveyChannel {
    /// Delivers one survey; return a retryable error for transient failures.
    fn send(delivery: survey::Delivery) -> Result<survey::Receipt, PluginError>;
    /// Parses answers received on the channel itself; none by default.
    fn parse_inbound(
        _request: survey::InboundRequest,
    ) -> Result<Vec<survey::InboundAnswer>, PluginError> {
        Ok(Vec::new())
    }
    fn config_schema() -> String {
        EMPTY_SCHEMA.to_owned()
    }
}

/// An ERP connector. Implement it and name the type in [`export_erp_connector!`].
pub trait ErpConnector {
    fn spec() -> erp::ConnectorSpec;
    /// Verifies configuration and credentials.
    fn check() -> Result<(), PluginError>;
    /// Reads one page of the stream `stream_name` after `cursor`.
    fn read(
        stream_name: String,
        cursor: Option<String>,
        page_size: u32,
    ) -> Result<erp::Page, PluginError>;
}

const EMPTY_SCHEMA: &str = r#"{"type":"object","properties":{}}"#;

impl PluginError {
    /// A failure that will not go away by retrying (bad configuration, bad credentials).
    pub fn fatal(code: impl Into<String>, message: impl Into<String>) -> Self {
        PluginError {
            code: code.into(),
            message: message.into(),
            retryable: false,
        }
    }

    /// A transient failure the host may retry with backoff.
    pub fn retryable(code: impl Into<String>, message: impl Into<String>) -> Self {
        PluginError {
            code: code.into(),
            message: message.into(),
            retryable: true,
        }
    }
}

/// Writes the API version into the component as the custom section `rapport-plugin-api`, which
/// the host reads before running anything.
#[doc(hidden)]
#[macro_export]
macro_rules! __api_version_section {
    () => {
        #[unsafe(link_section = "rapport-plugin-api")]
        #[used]
        static __RAPPORT_PLUGIN_API: [u8; 5] = *b"0.4.0";
    };
}

/// Embeds the plugin's manifest (a TOML file, relative to the plugin crate's root) as the custom
/// section `rapport-plugin-manifest`, so that the component installs without a sidecar file.
#[doc(hidden)]
#[macro_export]
macro_rules! __manifest_section {
    ($path:literal) => {
        #[unsafe(link_section = "rapport-plugin-manifest")]
        #[used]
        static __RAPPORT_PLUGIN_MANIFEST: [u8; include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/",
            $path
        ))
        .len()] = *include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $path));
    };
}

/// Exports a [`TieringPolicy`] implementation as the plugin's `tiering-policy` world. With
/// `manifest = "rapport-plugin.toml"`, the manifest is embedded too.
#[macro_export]
macro_rules! export_tiering_policy {
    ($policy:ident, manifest = $manifest:literal) => {
        $crate::export_tiering_policy!($policy);
        $crate::__manifest_section!($manifest);
    };
    ($policy:ident) => {
        impl $crate::tiering::bindings::Guest for $policy {
            fn evaluate(
                batch: $crate::tiering::bindings::ProfileBatch,
            ) -> ::std::result::Result<$crate::tiering::bindings::Decisions, $crate::PluginError> {
                let batch = $crate::tiering::Batch::from_wit(batch);
                let mut decisions = $crate::tiering::Decisions::new(batch.len());
                <$policy as $crate::TieringPolicy>::evaluate(&batch, &mut decisions)?;
                Ok(decisions.into_wit())
            }
            fn tiers() -> ::std::vec::Vec<$crate::tiering::Tier> {
                <$policy as $crate::TieringPolicy>::tiers()
            }
            fn facts() -> ::std::vec::Vec<$crate::tiering::Fact> {
                <$policy as $crate::TieringPolicy>::facts()
            }
            fn config_schema() -> ::std::string::String {
                <$policy as $crate::TieringPolicy>::config_schema()
            }
        }
        $crate::tiering::bindings::__export_tiering_policy_world!($policy with_types_in $crate::tiering::bindings);
        $crate::__api_version_section!();
    };
}

/// Exports a [`SurveyChannel`] implementation as the plugin's `survey-channel` world.
#[macro_export]
macro_rules! export_survey_channel {
    ($channel:ident, manifest = $manifest:literal) => {
        $crate::export_survey_channel!($channel);
        $crate::__manifest_section!($manifest);
    };
    ($channel:ident) => {
        impl $crate::survey::Guest for $channel {
            fn send(delivery: $crate::survey::Delivery) -> ::std::result::Result<$crate::survey::Receipt, $crate::PluginError> {
                <$channel as $crate::SurveyChannel>::send(delivery)
            }
            fn parse_inbound(
                request: $crate::survey::InboundRequest,
            ) -> ::std::result::Result<::std::vec::Vec<$crate::survey::InboundAnswer>, $crate::PluginError> {
                <$channel as $crate::SurveyChannel>::parse_inbound(request)
            }
            fn config_schema() -> ::std::string::String {
                <$channel as $crate::SurveyChannel>::config_schema()
            }
        }
        $crate::survey::__export_survey_channel_world!($channel with_types_in $crate::survey);
        $crate::__api_version_section!();
    };
}

/// Exports an [`ErpConnector`] implementation as the plugin's `erp-connector` world.
#[macro_export]
macro_rules! export_erp_connector {
    ($connector:ident, manifest = $manifest:literal) => {
        $crate::export_erp_connector!($connector);
        $crate::__manifest_section!($manifest);
    };
    ($connector:ident) => {
        impl $crate::erp::Guest for $connector {
            fn spec() -> $crate::erp::ConnectorSpec {
                <$connector as $crate::ErpConnector>::spec()
            }
            fn check() -> ::std::result::Result<(), $crate::PluginError> {
                <$connector as $crate::ErpConnector>::check()
            }
            fn read(
                stream_name: ::std::string::String,
                cursor: ::std::option::Option<::std::string::String>,
                page_size: u32,
            ) -> ::std::result::Result<$crate::erp::Page, $crate::PluginError> {
                <$connector as $crate::ErpConnector>::read(stream_name, cursor, page_size)
            }
        }
        $crate::erp::__export_erp_connector_world!($connector with_types_in $crate::erp);
        $crate::__api_version_section!();
    };
}

/// Structured logging into the host's plugin run log.
pub mod log {
    use super::host::log as raw;
    pub use super::{KeyValue, LogLevel};

    pub fn log(level: LogLevel, message: &str, fields: &[(&str, &str)]) {
        let fields: Vec<KeyValue> = fields
            .iter()
            .map(|(key, value)| KeyValue {
                key: (*key).to_owned(),
                value: (*value).to_owned(),
            })
            .collect();
        raw::log(level, message, &fields);
    }

    pub fn info(message: &str) {
        log(LogLevel::Info, message, &[]);
    }

    pub fn warn(message: &str) {
        log(LogLevel::Warn, message, &[]);
    }

    pub fn error(message: &str) {
        log(LogLevel::Error, message, &[]);
    }
}

/// The tenant's configuration of this plugin (secrets included, decrypted for the plugin only).
pub mod config {
    /// The value of a key the manifest declares, or `None` when unset.
    pub fn get(key: &str) -> Option<String> {
        super::host::config::get(key)
    }
}

/// Outbound HTTP through the host, limited to the hosts the manifest requests and the tenant
/// granted.
pub mod http {
    use super::KeyValue;
    pub use super::host::http::{HttpError, Request, Response};

    pub fn send(request: &Request) -> Result<Response, HttpError> {
        super::host::http::send(request)
    }

    /// A GET with the given headers.
    pub fn get(url: &str, headers: &[(&str, &str)]) -> Result<Response, HttpError> {
        send(&Request {
            method: "GET".into(),
            url: url.into(),
            headers: pairs(headers),
            body: None,
            timeout_ms: None,
        })
    }

    /// A POST of `body` with the given headers.
    pub fn post(url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Result<Response, HttpError> {
        send(&Request {
            method: "POST".into(),
            url: url.into(),
            headers: pairs(headers),
            body: Some(body),
            timeout_ms: None,
        })
    }

    fn pairs(headers: &[(&str, &str)]) -> Vec<KeyValue> {
        headers
            .iter()
            .map(|(key, value)| KeyValue {
                key: (*key).to_owned(),
                value: (*value).to_owned(),
            })
            .collect()
    }
}

/// Time as the host sees it.
pub mod clock {
    /// Milliseconds since the Unix epoch, UTC.
    pub fn now_ms() -> i64 {
        super::host::clock::now_ms()
    }
}

/// Checks of URLs a tenant configures. Credentials and customer data must not cross a network in
/// clear text, so a configured URL is https, or plain http only to a loopback host (a local relay
/// or a test double).
pub mod url {
    /// Why `url` is refused, if it is: not absolute, credentials in it, no host, or plain http
    /// to a host other than loopback.
    pub fn check_secure(url: &str) -> Result<(), &'static str> {
        let (scheme, rest) = url.split_once("://").ok_or("is not an absolute URL")?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err("must not carry credentials");
        }
        let host = host_of(authority);
        if host.is_empty() {
            return Err("has no host");
        }
        match scheme.to_ascii_lowercase().as_str() {
            "https" => Ok(()),
            "http" if is_loopback(&host) => Ok(()),
            "http" => Err("must use https (plain http only to a loopback host)"),
            _ => Err("must be an http or https URL"),
        }
    }

    /// An API root: a secure URL without query or fragment, returned without a trailing slash
    /// so that paths can be appended.
    pub fn secure_base(url: &str) -> Result<String, &'static str> {
        check_secure(url)?;
        let (_, rest) = url.split_once("://").unwrap_or_default();
        if rest.contains(['?', '#']) {
            return Err("must not have a query or fragment");
        }
        Ok(url.trim_end_matches('/').to_owned())
    }

    /// The host of an authority (`host`, `host:port`, `[v6]:port`), lower-cased.
    fn host_of(authority: &str) -> String {
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => authority.split(':').next().unwrap_or_default(),
        };
        host.to_ascii_lowercase()
    }

    fn is_loopback(host: &str) -> bool {
        host == "localhost"
            || host == "::1"
            || host.strip_prefix("127.").is_some_and(|rest| {
                rest.split('.').count() == 3
                    && rest
                        .split('.')
                        .all(|part| !part.is_empty() && part.parse::<u8>().is_ok())
            })
    }
}

/// Amounts as exact decimal text, for ERPs that send money as JSON floats.
pub mod money {
    /// A float amount as a plain decimal string. A fractional amount (Odoo
    /// sends Python floats) is rounded to 15 significant digits, the precision a double holds for
    /// certain, which drops binary noise such as `0.30000000000000004` without touching any
    /// amount a currency can carry.
    pub fn float_amount(value: f64) -> Option<String> {
        if !value.is_finite() {
            return None;
        }
        if value == 0.0 {
            return Some("0".to_owned());
        }
        let scientific = format!("{value:.14e}");
        let (mantissa, exponent) = scientific.split_once('e')?;
        let exponent: i64 = exponent.parse().ok()?;
        let negative = mantissa.starts_with('-');
        let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
        // `digits` is d.dddddddddddddd without its point: the point sits after 1 + exponent digits.
        let point = 1 + exponent;
        let (whole, fraction) = if point <= 0 {
            let zeros = "0".repeat(usize::try_from(-point).ok()?);
            ("0".to_owned(), format!("{zeros}{digits}"))
        } else if point as usize >= digits.len() {
            let zeros = "0".repeat(point as usize - digits.len());
            (format!("{digits}{zeros}"), String::new())
        } else {
            let (whole, fraction) = digits.split_at(point as usize);
            (whole.to_owned(), fraction.to_owned())
        };
        let fraction = fraction.trim_end_matches('0');
        let sign = if negative { "-" } else { "" };
        Some(if fraction.is_empty() {
            format!("{sign}{whole}")
        } else {
            format!("{sign}{whole}.{fraction}")
        })
    }
}
