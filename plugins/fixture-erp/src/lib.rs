//! The smallest useful ERP connector: reads two streams, `customers` and `orders`, page by page
//! from a JSON API (`GET <base_url>/<stream>?cursor=<c>&limit=<n>` answering
//! `{"records": [...], "next_cursor": ...}`), authorised by a bearer API key kept as a secret.
//! `check` calls `GET <base_url>/ping` so a tenant learns about bad credentials before a sync.

use rapport_sdk::erp::{
    ConnectorSpec, ExternalCustomer, ExternalOrder, ExternalRecord, Page, RecordKind,
    StreamDescriptor,
};
use rapport_sdk::http::{self, HttpError, Response};
use rapport_sdk::{ErpConnector, PluginError, config, log};
use serde_json::Value;

struct JsonApi;

/// The configuration schema, the same as the manifest's.
const CONFIG_SCHEMA: &str = r#"{"type":"object","required":["base_url","api_key"],"properties":{"base_url":{"type":"string"},"api_key":{"type":"string","writeOnly":true}}}"#;

const STREAMS: [(&str, RecordKind); 2] = [
    ("customers", RecordKind::Customer),
    ("orders", RecordKind::Order),
];

fn setting(key: &str) -> Result<String, PluginError> {
    config::get(key)
        .filter(|value| !value.is_empty())
        .ok_or_else(|| PluginError::fatal("bad-config", format!("{key} is not configured")))
}

/// `GET <base_url><path>` with the API key; any non-2xx answer becomes the matching error.
fn get(path: &str) -> Result<Value, PluginError> {
    let url = format!("{}{path}", setting("base_url")?.trim_end_matches('/'));
    let authorization = format!("Bearer {}", setting("api_key")?);
    let response = http::get(
        &url,
        &[
            ("authorization", &authorization),
            ("accept", "application/json"),
        ],
    )
    .map_err(http_failure)?;
    check_status(&response)?;
    if response.body.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&response.body).map_err(|error| {
        PluginError::fatal(
            "bad-response",
            format!("{path}: the answer is not JSON: {error}"),
        )
    })
}

fn check_status(response: &Response) -> Result<(), PluginError> {
    let status = response.status;
    match status {
        200..=299 => Ok(()),
        401 | 403 => Err(PluginError::fatal(
            "bad-credentials",
            format!("the ERP refused the API key (HTTP {status})"),
        )),
        429 | 500..=599 => Err(PluginError::retryable(
            format!("http-{status}"),
            format!("the ERP is unavailable (HTTP {status}); try again later"),
        )),
        _ => Err(PluginError::fatal(
            format!("http-{status}"),
            format!("the ERP refused the request (HTTP {status})"),
        )),
    }
}

fn http_failure(error: HttpError) -> PluginError {
    match error {
        HttpError::Denied(why) => PluginError::fatal("http-denied", why),
        HttpError::Timeout => {
            PluginError::retryable("http-timeout", "the ERP did not answer in time")
        }
        HttpError::Transport(why) => PluginError::retryable("http-transport", why),
        HttpError::TooLarge => PluginError::fatal(
            "http-too-large",
            "the ERP's page is too large; lower the page size",
        ),
        HttpError::InvalidRequest(why) => {
            PluginError::fatal("bad-config", format!("base_url: {why}"))
        }
    }
}

/// Percent-encodes a query value, keeping only RFC 3986 unreserved characters as they are.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// A field as text: ERPs send ids and amounts as strings or numbers alike.
fn optional(record: &Value, key: &str) -> Option<String> {
    match record.get(key)? {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn required(record: &Value, key: &str) -> Result<String, PluginError> {
    optional(record, key).ok_or_else(|| {
        PluginError::fatal("bad-record", format!("a record has no `{key}`: {record}"))
    })
}

fn customer(record: &Value) -> Result<ExternalRecord, PluginError> {
    Ok(ExternalRecord::Customer(ExternalCustomer {
        external_id: required(record, "id")?,
        name: required(record, "name")?,
        is_company: record
            .get("is_company")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        tax_id: optional(record, "tax_id"),
        email: optional(record, "email"),
        phone: optional(record, "phone"),
        industry: optional(record, "industry"),
        modified_at: required(record, "modified_at")?,
    }))
}

fn order(record: &Value) -> Result<ExternalRecord, PluginError> {
    Ok(ExternalRecord::Order(ExternalOrder {
        external_id: required(record, "id")?,
        customer_external_id: required(record, "customer_id")?,
        amount: required(record, "amount")?,
        currency: required(record, "currency")?,
        ordered_at: required(record, "ordered_at")?,
        status: required(record, "status")?,
        modified_at: required(record, "modified_at")?,
    }))
}

fn to_page(body: &Value, kind: RecordKind) -> Result<Page, PluginError> {
    let records = body
        .get("records")
        .and_then(Value::as_array)
        .ok_or_else(|| PluginError::fatal("bad-response", "the answer has no `records` array"))?;
    let convert = match kind {
        RecordKind::Customer => customer,
        RecordKind::Order => order,
    };
    let records = records.iter().map(convert).collect::<Result<Vec<_>, _>>()?;
    let next_cursor = optional(body, "next_cursor");
    Ok(Page {
        records,
        has_more: next_cursor.is_some(),
        next_cursor,
    })
}

impl ErpConnector for JsonApi {
    fn spec() -> ConnectorSpec {
        ConnectorSpec {
            config_schema: CONFIG_SCHEMA.to_owned(),
            streams: STREAMS
                .iter()
                .map(|(name, kind)| StreamDescriptor {
                    name: (*name).to_owned(),
                    kind: *kind,
                })
                .collect(),
        }
    }

    fn check() -> Result<(), PluginError> {
        get("/ping").map(|_| ())
    }

    fn read(
        stream_name: String,
        cursor: Option<String>,
        page_size: u32,
    ) -> Result<Page, PluginError> {
        let (name, kind) = STREAMS
            .iter()
            .find(|(name, _)| *name == stream_name)
            .ok_or_else(|| {
                PluginError::fatal(
                    "unknown-stream",
                    format!("no stream {stream_name:?}; try customers or orders"),
                )
            })?;
        let cursor = cursor
            .map(|c| format!("cursor={}&", encode(&c)))
            .unwrap_or_default();
        let body = get(&format!("/{name}?{cursor}limit={page_size}"))?;
        let page = to_page(&body, *kind)?;
        log::log(
            log::LogLevel::Info,
            "read a page",
            &[
                ("stream", name),
                ("records", &page.records.len().to_string()),
            ],
        );
        Ok(page)
    }
}

rapport_sdk::export_erp_connector!(JsonApi, manifest = "rapport-plugin.toml");
