//! Rapport's ERPNext connector, over the Frappe REST API.
//!
//! Streams: `customers` from `GET {base_url}/api/resource/Customer` and `orders` from
//! `GET {base_url}/api/resource/Sales%20Order`, each with `fields=[…]`, `filters=[…]` (JSON,
//! URL-encoded), `order_by=modified asc, name asc`, `limit_start=0` and `limit_page_length` =
//! the page size (config `page_size`, default 500, or the host's page size when it is smaller),
//! authorised by `Authorization: token <api_key>:<api_secret>`.
//!
//! ## Records
//!
//! A Customer becomes a customer with its `name` as external id, `customer_name`,
//! `customer_type` `Company` as a company, `tax_id`, `email_id`, `mobile_no` as phone and
//! `industry` (else `customer_group`). A Sales Order becomes an order with its `name`,
//! `customer`, `grand_total` as a decimal string, `currency`, `transaction_date` as midnight
//! UTC, `status` (`Cancelled` whenever `docstatus` is 2) and `modified`. Empty values (`null`,
//! `""`) are absent.
//!
//! ## Incremental reads without skipping or repeating ties
//!
//! The cursor is the JSON object `{"modified":"YYYY-MM-DD HH:MM:SS.ffffff","name":"…"}`: the
//! key of the last record handed out, `modified` exactly as the site stores it (its own time
//! zone, microseconds). A read after a cursor `(T, N)` is two keyset queries in key order:
//!
//! 1. `filters=[["modified","=",T],["name",">",N]]`: the rest of the records sharing `T`;
//! 2. only when that did not fill the page, `filters=[["modified",">",T]]` for the remainder.
//!
//! Together they are exactly `(modified, name) > (T, N)` under the order the site sorts by
//! (`name` compared in the database's own collation on both sides), so any number of records
//! sharing one timestamp is read page by page, each once. Offsets (`limit_start` within a tie)
//! would not be safe: a record of the tie modified between two pages leaves it, the offsets of
//! the others shift down, and the next page would skip one. With keys a record modified after
//! it was read moves to a later `modified` and is simply read again (upserted by its name).
//!
//! `modified` is in the site's time zone (config `time_zone`: `UTC` by default, a fixed offset
//! such as `+08:00`, or an IANA name such as `Asia/Shanghai`); the cursor and the filters keep
//! the site's own values, and only `modified-at` is converted to UTC. During the repeated hour
//! when a zone with daylight saving time falls back, local times are ambiguous: the earlier
//! instant is taken, and records written in the second pass of that hour sort before ones
//! already read, which a full resync picks up (sites on a zone without DST are unaffected).
//!
//! `has-more` is true when a page came back full; the cursor is returned with every page (the
//! incoming one for an empty page) so the next sync resumes where this one stopped.
//!
//! ## Errors
//!
//! `{code, message, retryable}` with stable codes: `invalid-config` (before any traffic),
//! `invalid-cursor`, `unknown-stream`, `bad-credentials` (401/403), `rate-limited` (429),
//! `upstream-error` (5xx retryable; 417 and every other status fatal), `timeout` and
//! `transport` (retryable), `host-denied`, `response-too-large` (lower `page_size`) and
//! `malformed-response`. The API secret never appears in a message or a log line.

use chrono::{Datelike, NaiveDate, NaiveDateTime, Offset, TimeDelta, TimeZone, Timelike};
use chrono_tz::Tz;
use rapport_sdk::erp::{
    ConnectorSpec, ExternalCustomer, ExternalOrder, ExternalRecord, Page, RecordKind,
    StreamDescriptor,
};
use rapport_sdk::http::{self, HttpError, Response};
use rapport_sdk::{ErpConnector, PluginError, config, log};
use serde_json::{Map, Value, json};

struct Erpnext;

/// The configuration schema, the same as the manifest's (the tests compare them).
const CONFIG_SCHEMA: &str = r#"{"type":"object","required":["base_url","api_key","api_secret"],"properties":{"base_url":{"type":"string","description":"The site's root URL, e.g. https://acme.erpnext.com; https, or http on a loopback host only","pattern":"^https?://"},"api_key":{"type":"string","description":"The API user's API key","minLength":1},"api_secret":{"type":"string","description":"The API user's API secret","minLength":1,"writeOnly":true},"time_zone":{"type":"string","description":"The site's time zone (System Settings), in which ERPNext writes `modified`: an IANA name such as Asia/Shanghai, UTC, or a fixed offset such as +08:00","default":"UTC"},"page_size":{"type":"integer","description":"Records per request (the host's page size wins when it is smaller)","minimum":1,"maximum":5000,"default":500}}}"#;

const DEFAULT_PAGE_SIZE: u32 = 500;
const MAX_PAGE_SIZE: u32 = 5000;

/// The one order that makes (`modified`, `name`) a keyset.
const ORDER_BY: &str = "modified asc, name asc";

// ---- configuration -----------------------------------------------------------------------

fn invalid_config(why: impl Into<String>) -> PluginError {
    PluginError::fatal("invalid-config", why)
}

fn setting(key: &str) -> Option<String> {
    config::get(key)
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

fn required(key: &str) -> Result<String, PluginError> {
    setting(key).ok_or_else(|| invalid_config(format!("`{key}` is not configured")))
}

/// The site's time zone.
#[derive(Clone, Copy)]
enum Zone {
    /// Seconds east of UTC.
    Fixed(i32),
    Named(Tz),
}

impl Zone {
    /// `UTC`, a fixed offset (`+08:00`, `-0530`, `+08`, also after `UTC`), or an IANA name.
    fn parse(text: &str) -> Option<Zone> {
        if matches!(
            text.to_ascii_uppercase().as_str(),
            "UTC" | "Z" | "GMT" | "ETC/UTC"
        ) {
            return Some(Zone::Fixed(0));
        }
        let offset = text
            .strip_prefix("UTC")
            .or_else(|| text.strip_prefix("GMT"))
            .unwrap_or(text);
        if let Some(sign) = offset.chars().next().filter(|c| matches!(c, '+' | '-')) {
            let digits = offset[1..].replace(':', "");
            if !digits.bytes().all(|b| b.is_ascii_digit()) || !matches!(digits.len(), 2 | 4) {
                return None;
            }
            let hours: i32 = digits[..2].parse().ok()?;
            let minutes: i32 = digits.get(2..).map_or(Some(0), |m| m.parse().ok())?;
            if hours > 14 || minutes > 59 || (offset[1..].contains(':') && digits.len() != 4) {
                return None;
            }
            let seconds = hours * 3600 + minutes * 60;
            return Some(Zone::Fixed(if sign == '-' { -seconds } else { seconds }));
        }
        text.parse::<Tz>().ok().map(Zone::Named)
    }

    /// The UTC instant of a local time of the site; the earlier one when it is ambiguous.
    fn to_utc(self, local: NaiveDateTime) -> NaiveDateTime {
        let offset = match self {
            Zone::Fixed(seconds) => seconds,
            Zone::Named(tz) => match tz.offset_from_local_datetime(&local).earliest() {
                Some(offset) => offset.fix().local_minus_utc(),
                // A time skipped by a DST change: ERPNext never writes one; use the offset of
                // the instant that reads the same in UTC.
                None => tz.offset_from_utc_datetime(&local).fix().local_minus_utc(),
            },
        };
        local
            .checked_sub_signed(TimeDelta::seconds(i64::from(offset)))
            .unwrap_or(local)
    }
}

struct Settings {
    base: String,
    /// `token <api_key>:<api_secret>`.
    authorization: String,
    secret: String,
    zone: Zone,
    page_size: u32,
}

fn settings() -> Result<Settings, PluginError> {
    let base = base_url()?;
    let api_key = required("api_key")?;
    let secret = config::get("api_secret")
        .filter(|secret| !secret.is_empty())
        .ok_or_else(|| invalid_config("`api_secret` is not configured"))?;
    let zone_name = setting("time_zone").unwrap_or_else(|| "UTC".to_owned());
    let zone = Zone::parse(&zone_name).ok_or_else(|| {
        invalid_config(
            "`time_zone` must be UTC, a fixed offset such as +08:00 or an IANA name such as Asia/Shanghai",
        )
    })?;
    let page_size = match setting("page_size") {
        None => DEFAULT_PAGE_SIZE,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|size| (1..=MAX_PAGE_SIZE).contains(size))
            .ok_or_else(|| {
                invalid_config(format!(
                    "`page_size` must be a whole number from 1 to {MAX_PAGE_SIZE}"
                ))
            })?,
    };
    Ok(Settings {
        base,
        authorization: format!("token {api_key}:{secret}"),
        secret,
        zone,
        page_size,
    })
}

/// The site's root without a trailing slash: https, or plain http to a loopback host only,
/// since the API secret travels in every request.
fn base_url() -> Result<String, PluginError> {
    let url = required("base_url")?;
    rapport_sdk::url::secure_base(&url).map_err(|why| invalid_config(format!("`base_url` {why}")))
}

// ---- HTTP --------------------------------------------------------------------------------

fn malformed(why: impl Into<String>) -> PluginError {
    PluginError::fatal("malformed-response", why)
}

/// Percent-encodes a query value or path segment, keeping only RFC 3986 unreserved characters.
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

fn http_failure(error: HttpError) -> PluginError {
    match error {
        HttpError::Denied(why) => PluginError::fatal("host-denied", why),
        HttpError::Timeout => PluginError::retryable("timeout", "ERPNext did not answer in time"),
        HttpError::Transport(why) => PluginError::retryable("transport", why),
        HttpError::TooLarge => PluginError::fatal(
            "response-too-large",
            "ERPNext's answer is larger than the host accepts; lower `page_size`",
        ),
        HttpError::InvalidRequest(why) => invalid_config(format!("`base_url`: {why}")),
    }
}

/// Frappe's exception class from an error body (`exc_type`), when it names one.
fn exc_type(body: &[u8]) -> Option<String> {
    let body: Value = serde_json::from_slice(body).ok()?;
    let name = body.get("exc_type")?.as_str()?;
    (!name.is_empty() && name.len() <= 80 && name.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| name.to_owned())
}

fn check_status(response: &Response, what: &str) -> Result<(), PluginError> {
    let status = response.status;
    let class = exc_type(&response.body)
        .map(|name| format!(", {name}"))
        .unwrap_or_default();
    match status {
        200..=299 => Ok(()),
        401 | 403 => Err(PluginError::fatal(
            "bad-credentials",
            format!(
                "ERPNext refused to list {what} (HTTP {status}{class}); check the API key and secret and the user's permissions"
            ),
        )),
        408 => Err(PluginError::retryable(
            "timeout",
            format!("ERPNext timed out listing {what} (HTTP 408)"),
        )),
        429 => Err(PluginError::retryable(
            "rate-limited",
            format!("ERPNext is rate limiting requests (HTTP 429{class})"),
        )),
        500..=599 => Err(PluginError::retryable(
            "upstream-error",
            format!("ERPNext failed listing {what} (HTTP {status}{class}); try again later"),
        )),
        _ => Err(PluginError::fatal(
            "upstream-error",
            format!("ERPNext refused to list {what} (HTTP {status}{class})"),
        )),
    }
}

/// `GET /api/resource/{doctype}` with these fields, filters and page length, in key order.
fn list(
    settings: &Settings,
    doctype: &str,
    fields: &[&str],
    filters: Option<&Value>,
    length: u32,
) -> Result<Vec<Map<String, Value>>, PluginError> {
    let mut query = format!("fields={}", encode(&json!(fields).to_string()));
    if let Some(filters) = filters {
        query.push_str(&format!("&filters={}", encode(&filters.to_string())));
    }
    query.push_str(&format!(
        "&order_by={}&limit_start=0&limit_page_length={length}",
        encode(ORDER_BY)
    ));
    let url = format!("{}/api/resource/{}?{query}", settings.base, encode(doctype));
    let response = http::get(
        &url,
        &[
            ("authorization", settings.authorization.as_str()),
            ("accept", "application/json"),
            ("user-agent", "rapport-erpnext-connector/0.1"),
        ],
    )
    .map_err(http_failure)?;
    check_status(&response, doctype)?;
    let body: Value = serde_json::from_slice(&response.body)
        .map_err(|_| malformed(format!("ERPNext's list of {doctype} is not JSON")))?;
    let Some(Value::Array(rows)) = body.get("data") else {
        return Err(malformed(format!(
            "ERPNext's list of {doctype} has no `data` list"
        )));
    };
    rows.iter()
        .map(|row| match row {
            Value::Object(row) => Ok(row.clone()),
            _ => Err(malformed(format!(
                "ERPNext's list of {doctype} holds a row that is not an object"
            ))),
        })
        .collect()
}

// ---- values ------------------------------------------------------------------------------

/// An amount as exact decimal text: integers as they are, floats through the SDK's rounding.
fn decimal(number: &serde_json::Number) -> Option<String> {
    if number.is_i64() || number.is_u64() {
        return Some(number.to_string());
    }
    rapport_sdk::money::float_amount(number.as_f64()?)
}

/// A plain decimal given as text (`-12.50`), kept as it is.
fn is_decimal_text(text: &str) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, "0"));
    !whole.is_empty()
        && !fraction.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// A text field; Frappe sends `null` or `""` for an empty one.
fn text(row: &Map<String, Value>, key: &str) -> Option<String> {
    match row.get(key) {
        Some(Value::String(text)) if !text.trim().is_empty() => Some(text.trim().to_owned()),
        _ => None,
    }
}

/// Frappe's `YYYY-MM-DD HH:MM:SS[.ffffff]` (Python's `str(datetime)` drops a zero fraction).
fn parse_datetime(text: &str) -> Option<NaiveDateTime> {
    let (date, time) = text.split_once(' ')?;
    let date = parse_date(date)?;
    let (clock, fraction) = time.split_once('.').unwrap_or((time, ""));
    let parts: Vec<&str> = clock.split(':').collect();
    let [hour, minute, second] = parts.as_slice() else {
        return None;
    };
    let number = |part: &str| {
        (part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit()))
            .then(|| part.parse::<u32>().ok())
            .flatten()
    };
    if fraction.len() > 6 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if time.contains('.') && fraction.is_empty() {
        return None;
    }
    let micros: u32 = format!("{fraction:0<6}").parse().ok()?;
    date.and_hms_micro_opt(number(hour)?, number(minute)?, number(second)?, micros)
}

/// `YYYY-MM-DD`.
fn parse_date(text: &str) -> Option<NaiveDate> {
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(at, b)| at == 4 || at == 7 || b.is_ascii_digit());
    if !shaped {
        return None;
    }
    NaiveDate::from_ymd_opt(
        text[0..4].parse().ok()?,
        text[5..7].parse().ok()?,
        text[8..10].parse().ok()?,
    )
}

fn date_text(date: NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day())
}

fn micros(time: NaiveDateTime) -> u32 {
    time.nanosecond() / 1000
}

/// The site's form with all six fraction digits, as the cursor and the filters carry it.
fn site_text(time: NaiveDateTime) -> String {
    format!(
        "{} {:02}:{:02}:{:02}.{:06}",
        date_text(time.date()),
        time.hour(),
        time.minute(),
        time.second(),
        micros(time)
    )
}

/// RFC 3339 UTC, with microseconds when there are any.
fn rfc3339(utc: NaiveDateTime) -> String {
    let fraction = match micros(utc) {
        0 => String::new(),
        micros => format!(".{micros:06}"),
    };
    format!(
        "{}T{:02}:{:02}:{:02}{fraction}Z",
        date_text(utc.date()),
        utc.hour(),
        utc.minute(),
        utc.second()
    )
}

// ---- streams -----------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stream {
    Customers,
    Orders,
}

const CUSTOMER_FIELDS: [&str; 9] = [
    "name",
    "customer_name",
    "customer_type",
    "customer_group",
    "industry",
    "tax_id",
    "email_id",
    "mobile_no",
    "modified",
];

const ORDER_FIELDS: [&str; 8] = [
    "name",
    "customer",
    "grand_total",
    "currency",
    "transaction_date",
    "status",
    "docstatus",
    "modified",
];

impl Stream {
    const ALL: [Stream; 2] = [Stream::Customers, Stream::Orders];

    fn name(self) -> &'static str {
        match self {
            Stream::Customers => "customers",
            Stream::Orders => "orders",
        }
    }

    fn doctype(self) -> &'static str {
        match self {
            Stream::Customers => "Customer",
            Stream::Orders => "Sales Order",
        }
    }

    fn kind(self) -> RecordKind {
        match self {
            Stream::Customers => RecordKind::Customer,
            Stream::Orders => RecordKind::Order,
        }
    }

    fn fields(self) -> &'static [&'static str] {
        match self {
            Stream::Customers => &CUSTOMER_FIELDS,
            Stream::Orders => &ORDER_FIELDS,
        }
    }

    /// One row as a record, with its key.
    fn convert(
        self,
        row: &Map<String, Value>,
        zone: Zone,
    ) -> Result<(Key, ExternalRecord), PluginError> {
        let doctype = self.doctype();
        let name =
            text(row, "name").ok_or_else(|| malformed(format!("a {doctype} row has no `name`")))?;
        let modified = row
            .get("modified")
            .and_then(Value::as_str)
            .and_then(parse_datetime)
            .ok_or_else(|| {
                malformed(format!(
                    "{doctype} {name}: `modified` is not a \"YYYY-MM-DD HH:MM:SS.ffffff\" datetime"
                ))
            })?;
        let modified_at = rfc3339(zone.to_utc(modified));
        let record = match self {
            Stream::Customers => ExternalRecord::Customer(ExternalCustomer {
                external_id: name.clone(),
                name: text(row, "customer_name").unwrap_or_else(|| name.clone()),
                is_company: text(row, "customer_type").as_deref() == Some("Company"),
                tax_id: text(row, "tax_id"),
                email: text(row, "email_id"),
                phone: text(row, "mobile_no"),
                industry: text(row, "industry").or_else(|| text(row, "customer_group")),
                modified_at,
            }),
            Stream::Orders => {
                let amount = match row.get("grand_total") {
                    Some(Value::Number(number)) => decimal(number),
                    Some(Value::String(text)) if is_decimal_text(text) => Some(text.clone()),
                    _ => None,
                }
                .ok_or_else(|| {
                    malformed(format!("Sales Order {name}: `grand_total` is not a number"))
                })?;
                let ordered_on = row
                    .get("transaction_date")
                    .and_then(Value::as_str)
                    .and_then(parse_date)
                    .ok_or_else(|| {
                        malformed(format!(
                            "Sales Order {name}: `transaction_date` is not a \"YYYY-MM-DD\" date"
                        ))
                    })?;
                let docstatus = row.get("docstatus").and_then(Value::as_i64);
                let status = match (docstatus, text(row, "status")) {
                    (Some(2), _) => "Cancelled".to_owned(),
                    (_, Some(status)) => status,
                    (Some(1), None) => "Submitted".to_owned(),
                    (_, None) => "Draft".to_owned(),
                };
                ExternalRecord::Order(ExternalOrder {
                    external_id: name.clone(),
                    customer_external_id: text(row, "customer").ok_or_else(|| {
                        malformed(format!("Sales Order {name} has no `customer`"))
                    })?,
                    amount,
                    currency: text(row, "currency").ok_or_else(|| {
                        malformed(format!("Sales Order {name} has no `currency`"))
                    })?,
                    ordered_at: format!("{}T00:00:00Z", date_text(ordered_on)),
                    status,
                    modified_at,
                })
            }
        };
        Ok((Key { modified, name }, record))
    }
}

/// Where a stream stands: `modified` as the site stores it, and the `name` within it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Key {
    modified: NaiveDateTime,
    name: String,
}

impl Key {
    fn cursor(&self) -> String {
        json!({"modified": site_text(self.modified), "name": self.name}).to_string()
    }

    fn from_cursor(cursor: &str) -> Result<Key, PluginError> {
        let invalid = || {
            PluginError::fatal(
                "invalid-cursor",
                "the cursor is not one this connector returned",
            )
        };
        let value: Value = serde_json::from_str(cursor).map_err(|_| invalid())?;
        let modified = value
            .get("modified")
            .and_then(Value::as_str)
            .and_then(parse_datetime)
            .ok_or_else(invalid)?;
        let name = value
            .get("name")
            .and_then(Value::as_str)
            .filter(|name| !name.is_empty())
            .ok_or_else(invalid)?;
        Ok(Key {
            modified,
            name: name.to_owned(),
        })
    }
}

/// One page of `stream` after `cursor`: the rest of the cursor's timestamp by name, then, if
/// the page has room, the later timestamps.
fn read_page(
    settings: &Settings,
    stream: Stream,
    cursor: Option<Key>,
    limit: u32,
) -> Result<Page, PluginError> {
    let doctype = stream.doctype();
    let convert = |rows: Vec<Map<String, Value>>| {
        rows.iter()
            .map(|row| stream.convert(row, settings.zone))
            .collect::<Result<Vec<_>, _>>()
    };
    let out_of_order = |name: &str| {
        malformed(format!(
            "ERPNext answered {doctype} {name} out of order or outside the filter"
        ))
    };
    let mut rows = Vec::new();
    if let Some(cursor) = &cursor {
        let tie = json!([
            ["modified", "=", site_text(cursor.modified)],
            ["name", ">", cursor.name],
        ]);
        rows = convert(list(settings, doctype, stream.fields(), Some(&tie), limit)?)?;
        if let Some((key, _)) = rows
            .iter()
            .find(|(key, _)| key.modified != cursor.modified || key.name == cursor.name)
        {
            return Err(out_of_order(&key.name));
        }
    }
    let room = limit.saturating_sub(u32::try_from(rows.len()).unwrap_or(u32::MAX));
    if room > 0 {
        let later = cursor
            .as_ref()
            .map(|cursor| json!([["modified", ">", site_text(cursor.modified)]]));
        let more = convert(list(
            settings,
            doctype,
            stream.fields(),
            later.as_ref(),
            room,
        )?)?;
        let mut previous = cursor.as_ref().map(|cursor| cursor.modified);
        for (key, _) in &more {
            let after_cursor = cursor
                .as_ref()
                .is_none_or(|cursor| key.modified > cursor.modified);
            if !after_cursor || previous.is_some_and(|previous| key.modified < previous) {
                return Err(out_of_order(&key.name));
            }
            previous = Some(key.modified);
        }
        rows.extend(more);
    }
    let has_more = rows.len() >= limit as usize;
    let next = rows.last().map(|(key, _)| key.clone()).or(cursor);
    Ok(Page {
        records: rows.into_iter().map(|(_, record)| record).collect(),
        next_cursor: next.as_ref().map(Key::cursor),
        has_more,
    })
}

/// A secret-free message: the API secret cut out should anything ever echo it.
fn scrub(error: PluginError, secret: &str) -> PluginError {
    if secret.is_empty() || !error.message.contains(secret) {
        return error;
    }
    PluginError {
        message: error.message.replace(secret, "***"),
        ..error
    }
}

impl ErpConnector for Erpnext {
    fn spec() -> ConnectorSpec {
        ConnectorSpec {
            config_schema: CONFIG_SCHEMA.to_owned(),
            streams: Stream::ALL
                .iter()
                .map(|stream| StreamDescriptor {
                    name: stream.name().to_owned(),
                    kind: stream.kind(),
                })
                .collect(),
        }
    }

    /// Lists one row of each doctype: the credentials work and may read both streams.
    fn check() -> Result<(), PluginError> {
        let settings = settings()?;
        for stream in Stream::ALL {
            list(&settings, stream.doctype(), &["name"], None, 1)
                .map_err(|error| scrub(error, &settings.secret))?;
        }
        log::info("ERPNext accepted the API key for Customer and Sales Order");
        Ok(())
    }

    fn read(
        stream_name: String,
        cursor: Option<String>,
        page_size: u32,
    ) -> Result<Page, PluginError> {
        let stream = Stream::ALL
            .into_iter()
            .find(|stream| stream.name() == stream_name)
            .ok_or_else(|| {
                PluginError::fatal(
                    "unknown-stream",
                    format!("no stream {stream_name:?}; try customers or orders"),
                )
            })?;
        let cursor = cursor
            .as_deref()
            .filter(|cursor| !cursor.is_empty())
            .map(Key::from_cursor)
            .transpose()?;
        let settings = settings()?;
        let limit = match page_size {
            0 => settings.page_size,
            host => host.min(settings.page_size),
        };
        let page = read_page(&settings, stream, cursor, limit)
            .map_err(|error| scrub(error, &settings.secret))?;
        log::log(
            log::LogLevel::Info,
            "read a page",
            &[
                ("stream", stream.name()),
                ("records", &page.records.len().to_string()),
                ("has_more", if page.has_more { "true" } else { "false" }),
            ],
        );
        Ok(page)
    }
}

rapport_sdk::export_erp_connector!(Erpnext, manifest = "rapport-plugin.toml");
