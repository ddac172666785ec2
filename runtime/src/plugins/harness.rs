//! A kind-agnostic runner: any export of any plugin kind, called with JSON in and JSON out. It
//! backs the local harness `rapport plugin test FILE --input fixture.json`, so a vendor can try
//! a plugin against the real host (sandbox, limits, grants, run log) without a server.
//!
//! Input is checked before anything runs: an export the kind lacks, or input that does not
//! deserialize into the export's parameters, is a `PluginError::BadInput` and the plugin is
//! never instantiated.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::engine::{Invocation, LoadedComponent, PluginEngine};
use super::erp::ErpPlugin;
use super::error::PluginError;
use super::host::{Grants, RunLog};
use super::limits::{KindLimits, LimitOverrides, Limits};
use super::survey::SurveyPlugin;
use super::tiering::TieringPlugin;
use crate::domain::erp_records::ReadRequest;
use crate::domain::plugin::{PluginKind, PluginManifest, config_text};
use crate::domain::survey_delivery::{Delivery, InboundRequest};
use crate::domain::tiering::CustomerFacts;

/// Every kind, in the order `detect` tries them.
const KINDS: [PluginKind; 3] = [
    PluginKind::TieringPolicy,
    PluginKind::SurveyChannel,
    PluginKind::ErpConnector,
];

/// A linked plugin of any kind.
#[derive(Debug)]
pub enum AnyPlugin {
    Tiering(TieringPlugin),
    Survey(SurveyPlugin),
    Erp(ErpPlugin),
}

/// One export with its parsed arguments, bound to the plugin that runs it. Built by
/// `AnyPlugin::prepare`, so a call can only exist for an export the plugin's kind has.
enum Call<'a> {
    Evaluate(&'a TieringPlugin, Vec<CustomerFacts>),
    Facts(&'a TieringPlugin),
    Tiers(&'a TieringPlugin),
    TieringSchema(&'a TieringPlugin),
    Send(&'a SurveyPlugin, Delivery),
    ParseInbound(&'a SurveyPlugin, InboundRequest),
    SurveySchema(&'a SurveyPlugin),
    Spec(&'a ErpPlugin),
    Check(&'a ErpPlugin),
    Read(&'a ErpPlugin, ReadRequest),
}

impl AnyPlugin {
    /// Links `component` as a plugin of `kind`; a component that does not implement that
    /// kind's world is an `InvalidComponent` naming the world.
    pub fn new(
        engine: Arc<PluginEngine>,
        component: &LoadedComponent,
        kind: PluginKind,
    ) -> Result<AnyPlugin, PluginError> {
        Ok(match kind {
            PluginKind::TieringPolicy => AnyPlugin::Tiering(TieringPlugin::new(engine, component)?),
            PluginKind::SurveyChannel => AnyPlugin::Survey(SurveyPlugin::new(engine, component)?),
            PluginKind::ErpConnector => AnyPlugin::Erp(ErpPlugin::new(engine, component)?),
        })
    }

    /// Links `component` as whichever plugin world it implements.
    pub fn detect(
        engine: Arc<PluginEngine>,
        component: &LoadedComponent,
    ) -> Result<AnyPlugin, PluginError> {
        // An import the host lacks fails every world alike: report it as it is.
        engine
            .linker
            .instantiate_pre(&component.component)
            .map_err(|error| PluginError::InvalidComponent(format!("{error:#}")))?;
        KINDS
            .into_iter()
            .find_map(|kind| AnyPlugin::new(engine.clone(), component, kind).ok())
            .ok_or_else(|| {
                PluginError::InvalidComponent(
                    "exports none of the worlds tiering-policy, survey-channel, erp-connector"
                        .into(),
                )
            })
    }

    pub fn kind(&self) -> PluginKind {
        match self {
            AnyPlugin::Tiering(_) => PluginKind::TieringPolicy,
            AnyPlugin::Survey(_) => PluginKind::SurveyChannel,
            AnyPlugin::Erp(_) => PluginKind::ErpConnector,
        }
    }

    /// The exports of a kind's world, named as in WIT.
    pub fn exports(kind: PluginKind) -> &'static [&'static str] {
        match kind {
            PluginKind::TieringPolicy => &["evaluate", "facts", "tiers", "config-schema"],
            PluginKind::SurveyChannel => &["send", "parse-inbound", "config-schema"],
            PluginKind::ErpConnector => &["spec", "check", "read"],
        }
    }

    /// Calls `export` with `input` as its JSON arguments and answers with the result as JSON.
    /// Inputs: `evaluate` a JSON array of customer facts, `send` a delivery, `parse-inbound` an
    /// inbound request, `read` `{"stream", "cursor", "page_size"}`; the other exports take
    /// `null`. A bad export or input is refused without running the plugin.
    pub async fn call_json(
        &self,
        export: &str,
        input: &Value,
        grants: Arc<Grants>,
        limits: &Limits,
    ) -> Invocation<Value> {
        match self.prepare(export, input) {
            Ok(call) => call.run(grants, limits).await,
            Err(error) => Invocation {
                outcome: Err(error),
                log: RunLog::default(),
                duration: Duration::ZERO,
                fuel_used: None,
            },
        }
    }

    /// Checks the export against the kind and parses the input into its arguments.
    fn prepare(&self, export: &str, input: &Value) -> Result<Call<'_>, PluginError> {
        Ok(match (self, export) {
            (AnyPlugin::Tiering(p), "evaluate") => Call::Evaluate(p, parse(export, input)?),
            (AnyPlugin::Tiering(p), "facts") => no_input(export, input, Call::Facts(p))?,
            (AnyPlugin::Tiering(p), "tiers") => no_input(export, input, Call::Tiers(p))?,
            (AnyPlugin::Tiering(p), "config-schema") => {
                no_input(export, input, Call::TieringSchema(p))?
            }
            (AnyPlugin::Survey(p), "send") => Call::Send(p, parse(export, input)?),
            (AnyPlugin::Survey(p), "parse-inbound") => Call::ParseInbound(p, parse(export, input)?),
            (AnyPlugin::Survey(p), "config-schema") => {
                no_input(export, input, Call::SurveySchema(p))?
            }
            (AnyPlugin::Erp(p), "spec") => no_input(export, input, Call::Spec(p))?,
            (AnyPlugin::Erp(p), "check") => no_input(export, input, Call::Check(p))?,
            (AnyPlugin::Erp(p), "read") => Call::Read(p, read_request(input)?),
            _ => {
                let kind = self.kind();
                return Err(PluginError::BadInput(format!(
                    "a {kind} has no export `{export}`; its exports are {}",
                    AnyPlugin::exports(kind).join(", ")
                )));
            }
        })
    }
}

impl Call<'_> {
    async fn run(self, grants: Arc<Grants>, limits: &Limits) -> Invocation<Value> {
        match self {
            Call::Evaluate(p, batch) => to_json(p.evaluate(&batch, grants, limits).await),
            Call::Facts(p) => to_json(p.facts(grants, limits).await),
            Call::Tiers(p) => to_json(p.tiers(grants, limits).await),
            Call::TieringSchema(p) => p.config_schema(grants, limits).await,
            Call::Send(p, delivery) => to_json(p.send(&delivery, grants, limits).await),
            Call::ParseInbound(p, request) => {
                to_json(p.parse_inbound(&request, grants, limits).await)
            }
            Call::SurveySchema(p) => p.config_schema(grants, limits).await,
            Call::Spec(p) => to_json(p.spec(grants, limits).await),
            Call::Check(p) => to_json(p.check(grants, limits).await),
            Call::Read(p, request) => to_json(p.read(&request, grants, limits).await),
        }
    }
}

fn parse<T: DeserializeOwned>(export: &str, input: &Value) -> Result<T, PluginError> {
    T::deserialize(input)
        .map_err(|error| PluginError::BadInput(format!("input of `{export}`: {error}")))
}

/// Exports without parameters take `null`: any other input is a mistake worth reporting.
fn no_input<'a>(export: &str, input: &Value, call: Call<'a>) -> Result<Call<'a>, PluginError> {
    if !input.is_null() {
        return Err(PluginError::BadInput(format!(
            "`{export}` takes no input; leave `input` out or null"
        )));
    }
    Ok(call)
}

fn read_request(input: &Value) -> Result<ReadRequest, PluginError> {
    let request: ReadRequest = parse("read", input)?;
    if request.page_size == 0 {
        return Err(PluginError::BadInput(
            "input of `read`: page_size must be at least 1".into(),
        ));
    }
    Ok(request)
}

fn to_json<T: Serialize>(invocation: Invocation<T>) -> Invocation<Value> {
    invocation.and_then(|value| {
        serde_json::to_value(value).map_err(|error| {
            PluginError::Host(format!("the result does not serialise to JSON: {error}"))
        })
    })
}

/// One call of the local harness, read from a JSON file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// The export to call, named as in WIT (`evaluate`, `send`, `read`, ...).
    pub export: String,
    /// The export's input; see `AnyPlugin::call_json`.
    #[serde(default)]
    pub input: Value,
    /// The tenant configuration the plugin reads through `config.get`.
    #[serde(default)]
    pub config: BTreeMap<String, Value>,
    /// Keys of `config` whose values are redacted from the run log.
    #[serde(default)]
    pub secret_keys: Vec<String>,
    /// Hosts the plugin may reach over HTTP.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// The plugin's kind; detected from its exports when absent.
    #[serde(default)]
    pub kind: Option<PluginKind>,
}

impl Fixture {
    /// The grants the fixture describes, as a tenant's would reach the host.
    pub fn grants(&self) -> Grants {
        Grants {
            config: self
                .config
                .iter()
                .map(|(key, value)| (key.clone(), config_text(value)))
                .collect::<HashMap<_, _>>(),
            secret_keys: self.secret_keys.iter().cloned().collect(),
            allowed_hosts: self
                .allowed_hosts
                .iter()
                .map(|host| host.trim().to_ascii_lowercase())
                .collect(),
        }
    }
}

/// Whether the call produced a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FixtureOutcome {
    Ok,
    Error,
}

/// A failed call as the harness prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorReport {
    /// The host's stable code (`plugin_error` when the plugin reported the error itself).
    pub code: String,
    pub message: String,
    /// The plugin's own code, when it reported the error itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reported_code: Option<String>,
    /// Whether the plugin marked its own error as worth retrying.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
}

impl From<&PluginError> for ErrorReport {
    fn from(error: &PluginError) -> ErrorReport {
        let (reported_code, retryable) = match error {
            PluginError::Reported {
                code, retryable, ..
            } => (Some(code.clone()), Some(*retryable)),
            _ => (None, None),
        };
        ErrorReport {
            code: error.code().to_owned(),
            message: error.to_string(),
            reported_code,
            retryable,
        }
    }
}

/// What one fixture run did: its outcome, what the plugin logged, and what it cost.
#[derive(Debug, Clone, Serialize)]
pub struct FixtureReport {
    pub kind: PluginKind,
    pub export: String,
    pub outcome: FixtureOutcome,
    pub output: Option<Value>,
    pub error: Option<ErrorReport>,
    pub duration_ms: u64,
    pub fuel_used: Option<u64>,
    pub log: RunLog,
    /// The limits the call ran with: its kind's defaults with the operator's overrides.
    pub limits: LimitOverrides,
}

impl FixtureReport {
    fn new(
        kind: PluginKind,
        export: &str,
        run: Invocation<Value>,
        limits: &Limits,
    ) -> FixtureReport {
        let (outcome, output, error) = match &run.outcome {
            Ok(value) => (FixtureOutcome::Ok, Some(value.clone()), None),
            Err(error) => (FixtureOutcome::Error, None, Some(ErrorReport::from(error))),
        };
        FixtureReport {
            kind,
            export: export.to_owned(),
            outcome,
            output,
            error,
            duration_ms: u64::try_from(run.duration.as_millis()).unwrap_or(u64::MAX),
            fuel_used: run.fuel_used,
            log: run.log,
            limits: LimitOverrides::from(limits),
        }
    }
}

/// Runs one fixture against a component with its kind's limits from `limits` (the defaults, or
/// an operator's `plugin-limits.toml`, so a call can be tried as a server would run it). Errors
/// that stop the call from running at all — a component that does not load or link, a bad
/// export or input — are returned as `Err`; anything that happens once the plugin runs is in
/// the report.
pub async fn run_fixture(
    engine: Arc<PluginEngine>,
    component_bytes: &[u8],
    fixture: &Fixture,
    limits: &KindLimits,
) -> Result<FixtureReport, PluginError> {
    let component = engine.load(component_bytes)?;
    let manifest = embedded(component_bytes)?;
    let plugin = match fixture.kind.or(manifest.as_ref().map(|m| m.kind)) {
        Some(kind) => AnyPlugin::new(engine, &component, kind)?,
        None => AnyPlugin::detect(engine, &component)?,
    };
    let call = plugin.prepare(&fixture.export, &fixture.input)?;
    let limits = limits.for_kind(plugin.kind());
    let mut grants = fixture.grants();
    if let Some(manifest) = &manifest {
        // As on the server: the manifest's secrets are redacted and only its hosts reachable.
        grants.secret_keys.extend(manifest.secret_keys());
        grants
            .allowed_hosts
            .retain(|host| manifest.http_hosts.contains(host));
    }
    let run = call.run(Arc::new(grants), &limits).await;
    Ok(FixtureReport::new(
        plugin.kind(),
        &fixture.export,
        run,
        &limits,
    ))
}

/// The manifest the component embeds, if any; a malformed one refuses the component.
fn embedded(component_bytes: &[u8]) -> Result<Option<PluginManifest>, PluginError> {
    let Some(text) = super::engine::embedded_manifest(component_bytes)? else {
        return Ok(None);
    };
    PluginManifest::from_toml(&text)
        .map(Some)
        .map_err(|errors| PluginError::InvalidComponent(format!("embedded manifest: {errors}")))
}
