//! The state of one invocation's store and the host services plugins import: log, config,
//! http, clock. A fresh state is built for every call, so nothing leaks between tenants or calls.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::bindings::{clock, config, erp_types, http, log, survey_types, tiering_types, types};
use super::limits::Limits;

/// What a tenant gave one plugin: its configuration and the hosts it may reach. The caller
/// computes `allowed_hosts` as the manifest's requested hosts ∩ the tenant's grants.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    pub config: HashMap<String, String>,
    /// Keys of `config` whose values are secrets: redacted from everything the plugin logs.
    pub secret_keys: HashSet<String>,
    /// Lower-case host names.
    pub allowed_hosts: HashSet<String>,
}

/// One record the plugin logged, secrets already redacted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LogRecord {
    pub level: String,
    pub message: String,
    pub fields: Vec<(String, String)>,
}

/// What the plugin said during one invocation.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RunLog {
    pub records: Vec<LogRecord>,
    /// Records dropped because the log volume cap was reached.
    pub dropped: usize,
    pub stdout: String,
    pub stderr: String,
}

/// Grants linear memory up to a cap and remembers a refusal, so that the resulting trap can be
/// reported as a memory limit rather than a generic failure.
pub(crate) struct MemoryCap {
    pub bytes: usize,
    pub exceeded: bool,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.bytes {
            self.exceeded = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) memory: MemoryCap,
    pub(crate) log: RunLog,
    log_bytes: usize,
    limits: Limits,
    grants: Arc<Grants>,
    http: reqwest::Client,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
}

impl HostState {
    /// A sandbox with no filesystem, no environment, no arguments and no sockets; stdout and
    /// stderr go to the run log.
    pub(crate) fn new(limits: &Limits, grants: Arc<Grants>, http: reqwest::Client) -> HostState {
        let stdout = MemoryOutputPipe::new(limits.log_bytes);
        let stderr = MemoryOutputPipe::new(limits.log_bytes);
        let wasi = WasiCtxBuilder::new()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        HostState {
            wasi,
            table: ResourceTable::new(),
            memory: MemoryCap {
                bytes: limits.memory_bytes,
                exceeded: false,
            },
            log: RunLog::default(),
            log_bytes: 0,
            limits: limits.clone(),
            grants,
            http,
            stdout,
            stderr,
        }
    }

    /// The run log, with stdout/stderr attached and secrets redacted.
    pub(crate) fn take_log(&mut self) -> RunLog {
        let mut log = std::mem::take(&mut self.log);
        log.stdout = self.redact(&String::from_utf8_lossy(&self.stdout.contents()));
        log.stderr = self.redact(&String::from_utf8_lossy(&self.stderr.contents()));
        log
    }

    fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for key in &self.grants.secret_keys {
            if let Some(secret) = self
                .grants
                .config
                .get(key)
                .filter(|secret| !secret.is_empty())
            {
                text = text.replace(secret.as_str(), "[redacted]");
            }
        }
        text
    }
}

/// An outbound request on behalf of a plugin. Takes owned parts, not the store state, so the
/// future stays `Send` while the plugin waits on it.
async fn send_request(
    client: reqwest::Client,
    grants: Arc<Grants>,
    limits: Limits,
    request: http::Request,
) -> Result<http::Response, http::HttpError> {
    let url = reqwest::Url::parse(&request.url)
        .map_err(|error| http::HttpError::InvalidRequest(format!("bad URL: {error}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(http::HttpError::InvalidRequest(
            "only http and https URLs".into(),
        ));
    }
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    if !grants.allowed_hosts.contains(&host) {
        return Err(http::HttpError::Denied(format!(
            "host {host} is not granted to this plugin"
        )));
    }
    let method = reqwest::Method::from_bytes(request.method.as_bytes())
        .map_err(|_| http::HttpError::InvalidRequest(format!("bad method {}", request.method)))?;
    let timeout = request.timeout_ms.map_or(limits.http_timeout, |ms| {
        Duration::from_millis(u64::from(ms)).min(limits.http_timeout)
    });
    let mut builder = client.request(method, url);
    for header in request.headers {
        builder = builder.header(header.key, header.value);
    }
    if let Some(body) = request.body {
        builder = builder.body(body);
    }
    let exchange = async {
        let mut response = builder.send().await.map_err(transport_error)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| types::KeyValue {
                key: name.as_str().to_owned(),
                value: String::from_utf8_lossy(value.as_bytes()).into_owned(),
            })
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
            if body.len() + chunk.len() > limits.http_response_bytes {
                return Err(http::HttpError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(http::Response {
            status,
            headers,
            body,
        })
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or(Err(http::HttpError::Timeout))
}

fn transport_error(error: reqwest::Error) -> http::HttpError {
    if error.is_timeout() {
        http::HttpError::Timeout
    } else if error.is_builder() {
        http::HttpError::InvalidRequest(error.to_string())
    } else {
        http::HttpError::Transport(error.to_string())
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for HostState {}

// The worlds' type interfaces declare no functions; the linker still needs these to define them.
impl tiering_types::Host for HostState {}

impl survey_types::Host for HostState {}

impl erp_types::Host for HostState {}

impl log::Host for HostState {
    async fn log(
        &mut self,
        level: types::LogLevel,
        message: String,
        fields: Vec<types::KeyValue>,
    ) -> wasmtime::Result<()> {
        let size = message.len()
            + fields
                .iter()
                .map(|f| f.key.len() + f.value.len())
                .sum::<usize>();
        if self.log_bytes + size > self.limits.log_bytes {
            self.log.dropped += 1;
            return Ok(());
        }
        self.log_bytes += size;
        let record = LogRecord {
            level: level_name(level).to_owned(),
            message: self.redact(&message),
            fields: fields
                .into_iter()
                .map(|f| (f.key, self.redact(&f.value)))
                .collect(),
        };
        self.log.records.push(record);
        Ok(())
    }
}

/// The WIT name of a level (`info`, ...): the generated enum's `Debug` reads `LogLevel::Info`.
fn level_name(level: types::LogLevel) -> &'static str {
    match level {
        types::LogLevel::Trace => "trace",
        types::LogLevel::Debug => "debug",
        types::LogLevel::Info => "info",
        types::LogLevel::Warn => "warn",
        types::LogLevel::Error => "error",
    }
}

impl config::Host for HostState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.grants.config.get(&key).cloned())
    }
}

impl http::Host for HostState {
    async fn send(
        &mut self,
        request: http::Request,
    ) -> wasmtime::Result<Result<http::Response, http::HttpError>> {
        let (client, grants, limits) =
            (self.http.clone(), self.grants.clone(), self.limits.clone());
        Ok(send_request(client, grants, limits, request).await)
    }
}

impl clock::Host for HostState {
    async fn now_ms(&mut self) -> wasmtime::Result<i64> {
        Ok(chrono::Utc::now().timestamp_millis())
    }
}
