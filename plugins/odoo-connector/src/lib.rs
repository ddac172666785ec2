//! Rapport's Odoo connector, over Odoo's external JSON-RPC API (`POST {base_url}/jsonrpc`).
//!
//! Every call logs in first (`common.login` with the database, the login and the API key; a
//! `false` uid is `bad-credentials`), then reads with `object.execute_kw` `search_read`:
//! `res.partner` is the stream `customers`, `sale.order` the stream `orders`, both ordered
//! `write_date asc, id asc` and limited to the page size (config `page_size`, default 500, or
//! the host's page size when it is smaller).
//!
//! ## Records
//!
//! A partner becomes a customer with its Odoo id as external id, `name` (else its e-mail, else
//! `res.partner <id>`), `is_company`, `vat` as tax id, `email`, `phone` (else `mobile`, which
//! Odoo 18.2 dropped: on a server without it the read is asked again without that field),
//! `industry_id`'s display name and `write_date`. A sale order becomes an order with its id,
//! `partner_id`'s id as the customer, `amount_total` as a decimal string, `currency_id`'s
//! display name (the ISO code), `date_order`, `state` and `write_date`. Empty chars (`false`)
//! are absent; Odoo's UTC datetimes become RFC 3339 (`2024-01-02T03:04:05Z`).
//!
//! ## Incremental reads without skipping or repeating ties
//!
//! The cursor is the JSON object `{"write_date":"YYYY-MM-DD HH:MM:SS","id":N}`: the key of the
//! last record handed out, where `write_date` is what Odoo shows (UTC, whole seconds). The next
//! read asks for everything after that key:
//!
//! ```text
//! ["|", ["write_date", ">=", T+1s],
//!       "&", "&", ["write_date", ">=", T], ["write_date", "<", T+1s], ["id", ">", N]]
//! ```
//!
//! This is `write_date > T or (write_date = T and id > N)` written with whole-second bounds,
//! because Odoo stores `write_date` with the microseconds of `now()` but serialises whole
//! seconds: before Odoo 18.4 (which rewrites such conditions to whole seconds itself) a bare
//! `write_date > T` would return again every record of the second `T`, and `write_date = T`
//! none of them, so a second holding more records than a page would be read forever.
//!
//! For the same reason the answer's order within one second follows the hidden microseconds,
//! not the id, so the last second of a full page may be incomplete. A full page therefore hands
//! out only its complete seconds and its cursor names the last of them with the greatest id
//! read in it; when a full page holds one second only, that second is read again ordered by
//! `id` alone (`write_date` within the second and `id > N`), page by page, and the cursor walks
//! its ids. Each record is handed out once, in (`write_date`, `id`) order of whole seconds,
//! however many records share a timestamp. A record changed after it was read moves to a later
//! `write_date` and is read again, as incremental syncs expect (upserts by external id).
//!
//! `has-more` is true when a page came back full; the cursor is returned with every page (the
//! incoming one for an empty page) so the next sync resumes where this one stopped.
//!
//! ## Errors
//!
//! `{code, message, retryable}` with stable codes: `invalid-config` (before any traffic),
//! `invalid-cursor`, `unknown-stream`, `bad-credentials` (login `false`, `AccessDenied`,
//! `AccessError`), `session-expired` (JSON-RPC error 100, retryable), `rate-limited` (HTTP 429)
//! and `upstream-error` (5xx) retryable, `timeout` and `transport` retryable, `host-denied`,
//! `response-too-large` (lower `page_size`), `malformed-response`, and `upstream-error` for any
//! other Odoo error. The API key never appears in a message or a log line.

use rapport_sdk::erp::{
    ConnectorSpec, ExternalCustomer, ExternalOrder, ExternalRecord, Page, RecordKind,
    StreamDescriptor,
};
use rapport_sdk::http::{self, HttpError, Response};
use rapport_sdk::{ErpConnector, PluginError, config, log};
use serde_json::{Map, Value, json};

struct Odoo;

/// The configuration schema, the same as the manifest's (the tests compare them).
const CONFIG_SCHEMA: &str = r#"{"type":"object","required":["base_url","database","login","api_key"],"properties":{"base_url":{"type":"string","description":"The Odoo server's root URL, e.g. https://acme.odoo.com; https, or http on a loopback host only","pattern":"^https?://"},"database":{"type":"string","description":"The Odoo database name","minLength":1},"login":{"type":"string","description":"The login of the Odoo user the connector reads as","minLength":1},"api_key":{"type":"string","description":"That user's API key (or password)","minLength":1,"writeOnly":true},"page_size":{"type":"integer","description":"Records per search_read (the host's page size wins when it is smaller)","minimum":1,"maximum":5000,"default":500}}}"#;

const DEFAULT_PAGE_SIZE: u32 = 500;
const MAX_PAGE_SIZE: u32 = 5000;

/// The one order that makes (`write_date`, `id`) a keyset.
const ORDER: &str = "write_date asc, id asc";

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

struct Settings {
    /// `{base_url}/jsonrpc`.
    endpoint: String,
    database: String,
    login: String,
    api_key: String,
    page_size: u32,
}

fn settings() -> Result<Settings, PluginError> {
    let base = base_url()?;
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
        endpoint: format!("{base}/jsonrpc"),
        database: required("database")?,
        login: required("login")?,
        api_key: config::get("api_key")
            .filter(|key| !key.is_empty())
            .ok_or_else(|| invalid_config("`api_key` is not configured"))?,
        page_size,
    })
}

/// The server's root without a trailing slash: https, or plain http to a loopback host only,
/// since the API key travels in every request body.
fn base_url() -> Result<String, PluginError> {
    let url = required("base_url")?;
    rapport_sdk::url::secure_base(&url).map_err(|why| invalid_config(format!("`base_url` {why}")))
}

// ---- JSON-RPC ----------------------------------------------------------------------------

fn malformed(why: impl Into<String>) -> PluginError {
    PluginError::fatal("malformed-response", why)
}

/// An `error` member of a JSON-RPC answer, as Odoo sends it.
struct Fault {
    code: i64,
    message: String,
    /// `data.name`, e.g. `odoo.exceptions.AccessDenied`.
    name: String,
    /// `data.message`.
    detail: String,
}

impl Fault {
    /// The stable error for this fault. Odoo's own texts are quoted shortened, and the API key
    /// is cut out of them should a server ever echo it.
    fn into_error(self, secret: &str) -> PluginError {
        let short_name = self.name.rsplit('.').next().unwrap_or_default();
        if matches!(short_name, "AccessDenied" | "AccessError") {
            return PluginError::fatal(
                "bad-credentials",
                format!(
                    "Odoo refused access ({short_name}); check the login, the API key and the user's rights"
                ),
            );
        }
        if self.code == 100 {
            return PluginError::retryable(
                "session-expired",
                "Odoo answered that the session expired (error 100); try again",
            );
        }
        let detail = if self.detail.is_empty() {
            &self.message
        } else {
            &self.detail
        };
        PluginError::fatal(
            "upstream-error",
            format!(
                "Odoo failed (error {}, {}): {}",
                self.code,
                if self.name.is_empty() {
                    "no name"
                } else {
                    &self.name
                },
                quote(detail, secret)
            ),
        )
    }

    /// Odoo 18.2 and later dropped `res.partner.mobile`; asking for it is a `ValueError`.
    fn is_missing_mobile(&self) -> bool {
        self.detail.contains("Invalid field") && self.detail.contains("mobile")
    }
}

/// A server's text, at most 200 characters, with `secret` cut out.
fn quote(text: &str, secret: &str) -> String {
    let text = if secret.is_empty() {
        text.to_owned()
    } else {
        text.replace(secret, "***")
    };
    let mut short: String = text.chars().take(200).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

fn http_failure(error: HttpError) -> PluginError {
    match error {
        HttpError::Denied(why) => PluginError::fatal("host-denied", why),
        HttpError::Timeout => PluginError::retryable("timeout", "Odoo did not answer in time"),
        HttpError::Transport(why) => PluginError::retryable("transport", why),
        HttpError::TooLarge => PluginError::fatal(
            "response-too-large",
            "Odoo's answer is larger than the host accepts; lower `page_size`",
        ),
        HttpError::InvalidRequest(why) => invalid_config(format!("`base_url`: {why}")),
    }
}

fn check_status(response: &Response) -> Result<(), PluginError> {
    let status = response.status;
    match status {
        200..=299 => Ok(()),
        408 => Err(PluginError::retryable(
            "timeout",
            "Odoo timed out (HTTP 408)",
        )),
        429 => Err(PluginError::retryable(
            "rate-limited",
            "Odoo is rate limiting requests (HTTP 429)",
        )),
        500..=599 => Err(PluginError::retryable(
            "upstream-error",
            format!("Odoo failed (HTTP {status}); try again later"),
        )),
        404 => Err(PluginError::fatal(
            "upstream-error",
            "Odoo has no /jsonrpc here (HTTP 404); check `base_url`",
        )),
        _ => Err(PluginError::fatal(
            "upstream-error",
            format!("Odoo refused the request (HTTP {status})"),
        )),
    }
}

/// A JSON-RPC session: numbered calls to `{base_url}/jsonrpc`.
struct Rpc<'a> {
    settings: &'a Settings,
    next_id: u64,
}

impl<'a> Rpc<'a> {
    fn new(settings: &'a Settings) -> Self {
        Rpc {
            settings,
            next_id: 1,
        }
    }

    /// Calls `service.method(args)`: the result, or the fault Odoo answered with.
    fn call(
        &mut self,
        service: &str,
        method: &str,
        args: Value,
    ) -> Result<Result<Value, Fault>, PluginError> {
        let id = self.next_id;
        self.next_id += 1;
        let body = json!({
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"service": service, "method": method, "args": args},
            "id": id,
        });
        let response = http::post(
            &self.settings.endpoint,
            &[
                ("content-type", "application/json"),
                ("accept", "application/json"),
                ("user-agent", "rapport-odoo-connector/0.1"),
            ],
            body.to_string().into_bytes(),
        )
        .map_err(http_failure)?;
        check_status(&response)?;
        let answer: Value = serde_json::from_slice(&response.body)
            .map_err(|_| malformed(format!("Odoo's answer to {service}.{method} is not JSON")))?;
        let answer = answer.as_object().ok_or_else(|| {
            malformed(format!(
                "Odoo's answer to {service}.{method} is not a JSON-RPC object"
            ))
        })?;
        if let Some(error) = answer.get("error").filter(|error| !error.is_null()) {
            let text = |value: Option<&Value>| {
                value.and_then(Value::as_str).unwrap_or_default().to_owned()
            };
            let data = error.get("data");
            return Ok(Err(Fault {
                code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: text(error.get("message")),
                name: text(data.and_then(|data| data.get("name"))),
                detail: text(data.and_then(|data| data.get("message"))),
            }));
        }
        answer.get("result").cloned().map(Ok).ok_or_else(|| {
            malformed(format!(
                "Odoo's answer to {service}.{method} has neither `result` nor `error`"
            ))
        })
    }

    /// `common.login`: the user's id, or `bad-credentials` when Odoo answers `false`.
    fn login(&mut self) -> Result<i64, PluginError> {
        let settings = self.settings;
        let result = self
            .call(
                "common",
                "login",
                json!([settings.database, settings.login, settings.api_key]),
            )?
            .map_err(|fault| fault.into_error(&settings.api_key))?;
        match result {
            Value::Bool(false) => Err(PluginError::fatal(
                "bad-credentials",
                "Odoo refused the login and API key",
            )),
            Value::Number(uid) => uid
                .as_i64()
                .filter(|uid| *uid > 0)
                .ok_or_else(|| malformed("Odoo's login answered an invalid user id")),
            _ => Err(malformed(
                "Odoo's login answered neither a user id nor false",
            )),
        }
    }

    /// `object.execute_kw(model, "search_read", [domain], {fields, order, limit, offset: 0})`.
    fn search_read(
        &mut self,
        uid: i64,
        model: &str,
        domain: Value,
        fields: &[&str],
        order: &str,
        limit: u32,
    ) -> Result<Result<Vec<Map<String, Value>>, Fault>, PluginError> {
        let settings = self.settings;
        let args = json!([
            settings.database,
            uid,
            settings.api_key,
            model,
            "search_read",
            [domain],
            {"fields": fields, "order": order, "limit": limit, "offset": 0},
        ]);
        let result = match self.call("object", "execute_kw", args)? {
            Ok(result) => result,
            Err(fault) => return Ok(Err(fault)),
        };
        let Value::Array(rows) = result else {
            return Err(malformed(format!(
                "Odoo's search_read on {model} did not answer a list"
            )));
        };
        rows.into_iter()
            .map(|row| match row {
                Value::Object(row) => Ok(row),
                _ => Err(malformed(format!(
                    "Odoo's search_read on {model} answered a record that is not an object"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Ok)
    }
}

// ---- times -------------------------------------------------------------------------------

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day since 1970-01-01 (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    (year_of_era + era * 400 + i64::from(month <= 2), month, day)
}

/// Seconds since the epoch of Odoo's `YYYY-MM-DD HH:MM:SS` (UTC); `None` unless exactly that
/// form and a real date and time.
fn parse_datetime(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() != 19 {
        return None;
    }
    let separators = [(4, b'-'), (7, b'-'), (10, b' '), (13, b':'), (16, b':')];
    for (index, byte) in bytes.iter().enumerate() {
        let separator = separators.iter().find(|(at, _)| *at == index);
        match separator {
            Some((_, expected)) if byte != expected => return None,
            None if !byte.is_ascii_digit() => return None,
            _ => {}
        }
    }
    let number = |from: usize, to: usize| text[from..to].parse::<i64>().ok();
    let (year, month, day) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
    let (hour, minute, second) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
    if !(1..=12).contains(&month) || hour > 23 || minute > 59 || second > 59 || day < 1 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    // A day past the month's end lands in the next month: refuse it.
    if civil_from_days(days) != (year, month, day) {
        return None;
    }
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Odoo's form of a time, `YYYY-MM-DD HH:MM:SS`.
fn odoo_datetime(seconds: i64) -> String {
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let of_day = seconds.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// RFC 3339 UTC, `YYYY-MM-DDTHH:MM:SSZ`.
fn rfc3339(seconds: i64) -> String {
    let text = odoo_datetime(seconds);
    format!("{}T{}Z", &text[..10], &text[11..])
}

// ---- values ------------------------------------------------------------------------------

/// An amount as exact decimal text: integers as they are, floats through the SDK's rounding.
fn decimal(number: &serde_json::Number) -> Option<String> {
    if number.is_i64() || number.is_u64() {
        return Some(number.to_string());
    }
    rapport_sdk::money::float_amount(number.as_f64()?)
}

/// A char field: Odoo sends `false` for an empty one.
fn text(row: &Map<String, Value>, key: &str) -> Option<String> {
    match row.get(key) {
        Some(Value::String(text)) if !text.trim().is_empty() => Some(text.trim().to_owned()),
        _ => None,
    }
}

/// A many2one field, `[id, "Display Name"]` or `false`.
fn many2one(row: &Map<String, Value>, key: &str) -> Option<(i64, String)> {
    match row.get(key)? {
        Value::Array(pair) => match pair.as_slice() {
            [Value::Number(id), Value::String(name)] => Some((id.as_i64()?, name.clone())),
            _ => None,
        },
        _ => None,
    }
}

fn record_id(row: &Map<String, Value>, model: &str) -> Result<i64, PluginError> {
    row.get("id")
        .and_then(Value::as_i64)
        .filter(|id| *id > 0)
        .ok_or_else(|| malformed(format!("a {model} record has no integer `id`")))
}

fn datetime_field(
    row: &Map<String, Value>,
    key: &str,
    model: &str,
    id: i64,
) -> Result<i64, PluginError> {
    row.get(key)
        .and_then(Value::as_str)
        .and_then(parse_datetime)
        .ok_or_else(|| {
            malformed(format!(
                "{model} {id}: `{key}` is not a \"YYYY-MM-DD HH:MM:SS\" datetime"
            ))
        })
}

// ---- streams -----------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stream {
    Customers,
    Orders,
}

const PARTNER_FIELDS: [&str; 9] = [
    "id",
    "name",
    "is_company",
    "vat",
    "email",
    "phone",
    "mobile",
    "industry_id",
    "write_date",
];

const ORDER_FIELDS: [&str; 8] = [
    "id",
    "name",
    "partner_id",
    "amount_total",
    "currency_id",
    "date_order",
    "state",
    "write_date",
];

impl Stream {
    const ALL: [Stream; 2] = [Stream::Customers, Stream::Orders];

    fn name(self) -> &'static str {
        match self {
            Stream::Customers => "customers",
            Stream::Orders => "orders",
        }
    }

    fn model(self) -> &'static str {
        match self {
            Stream::Customers => "res.partner",
            Stream::Orders => "sale.order",
        }
    }

    fn kind(self) -> RecordKind {
        match self {
            Stream::Customers => RecordKind::Customer,
            Stream::Orders => RecordKind::Order,
        }
    }

    fn fields(self, with_mobile: bool) -> Vec<&'static str> {
        match self {
            Stream::Customers => PARTNER_FIELDS
                .iter()
                .copied()
                .filter(|field| with_mobile || *field != "mobile")
                .collect(),
            Stream::Orders => ORDER_FIELDS.to_vec(),
        }
    }

    /// One row as a record, with its key.
    fn convert(self, row: &Map<String, Value>) -> Result<(Key, ExternalRecord), PluginError> {
        let model = self.model();
        let id = record_id(row, model)?;
        let write_date = datetime_field(row, "write_date", model, id)?;
        let record = match self {
            Stream::Customers => ExternalRecord::Customer(ExternalCustomer {
                external_id: id.to_string(),
                name: text(row, "name")
                    .or_else(|| text(row, "email"))
                    .unwrap_or_else(|| format!("res.partner {id}")),
                is_company: row
                    .get("is_company")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                tax_id: text(row, "vat"),
                email: text(row, "email"),
                phone: text(row, "phone").or_else(|| text(row, "mobile")),
                industry: many2one(row, "industry_id").map(|(_, name)| name),
                modified_at: rfc3339(write_date),
            }),
            Stream::Orders => {
                let (partner, _) = many2one(row, "partner_id").ok_or_else(|| {
                    malformed(format!("sale.order {id} has no customer (`partner_id`)"))
                })?;
                let amount = match row.get("amount_total") {
                    Some(Value::Number(number)) => decimal(number),
                    _ => None,
                }
                .ok_or_else(|| {
                    malformed(format!("sale.order {id}: `amount_total` is not a number"))
                })?;
                let (_, currency) = many2one(row, "currency_id").ok_or_else(|| {
                    malformed(format!("sale.order {id} has no currency (`currency_id`)"))
                })?;
                let ordered_at = datetime_field(row, "date_order", model, id)?;
                ExternalRecord::Order(ExternalOrder {
                    external_id: id.to_string(),
                    customer_external_id: partner.to_string(),
                    amount,
                    currency: currency.trim().to_owned(),
                    ordered_at: rfc3339(ordered_at),
                    status: text(row, "state")
                        .ok_or_else(|| malformed(format!("sale.order {id} has no `state`")))?,
                    modified_at: rfc3339(write_date),
                })
            }
        };
        Ok((Key { write_date, id }, record))
    }
}

/// Where a stream stands: the whole second of `write_date` and an id within that second.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    write_date: i64,
    id: i64,
}

impl Key {
    fn cursor(self) -> String {
        json!({"write_date": odoo_datetime(self.write_date), "id": self.id}).to_string()
    }

    fn from_cursor(cursor: &str) -> Result<Key, PluginError> {
        let invalid = || {
            PluginError::fatal(
                "invalid-cursor",
                "the cursor is not one this connector returned",
            )
        };
        let value: Value = serde_json::from_str(cursor).map_err(|_| invalid())?;
        let write_date = value
            .get("write_date")
            .and_then(Value::as_str)
            .and_then(parse_datetime)
            .ok_or_else(invalid)?;
        let id = value
            .get("id")
            .and_then(Value::as_i64)
            .filter(|id| *id >= 0)
            .ok_or_else(invalid)?;
        Ok(Key { write_date, id })
    }
}

/// The records after `key`: `write_date > T or (write_date = T and id > N)` in whole seconds.
fn after(key: Option<Key>) -> Value {
    let Some(Key { write_date, id }) = key else {
        return json!([]);
    };
    let (second, next) = (odoo_datetime(write_date), odoo_datetime(write_date + 1));
    json!([
        "|",
        ["write_date", ">=", next],
        "&",
        "&",
        ["write_date", ">=", second],
        ["write_date", "<", next],
        ["id", ">", id],
    ])
}

/// The records of the second `write_date` with a greater id than `id`.
fn within_second(write_date: i64, id: i64) -> Value {
    json!([
        ["write_date", ">=", odoo_datetime(write_date)],
        ["write_date", "<", odoo_datetime(write_date + 1)],
        ["id", ">", id],
    ])
}

/// Reads one stream for one call: logged in once, remembering whether `mobile` exists.
struct Reader<'a> {
    rpc: Rpc<'a>,
    uid: i64,
    stream: Stream,
    with_mobile: bool,
}

impl Reader<'_> {
    /// `search_read` with this stream's fields, converted; retried once without `mobile` on a
    /// server that no longer has it.
    fn search(
        &mut self,
        domain: Value,
        order: &str,
        limit: u32,
    ) -> Result<Vec<(Key, ExternalRecord)>, PluginError> {
        loop {
            let fields = self.stream.fields(self.with_mobile);
            let answer = self.rpc.search_read(
                self.uid,
                self.stream.model(),
                domain.clone(),
                &fields,
                order,
                limit,
            )?;
            match answer {
                Ok(rows) => {
                    return rows.iter().map(|row| self.stream.convert(row)).collect();
                }
                Err(fault)
                    if self.stream == Stream::Customers
                        && self.with_mobile
                        && fault.is_missing_mobile() =>
                {
                    log::info("this Odoo has no res.partner.mobile; reading without it");
                    self.with_mobile = false;
                }
                Err(fault) => return Err(fault.into_error(&self.rpc.settings.api_key)),
            }
        }
    }

    /// One page after `cursor`; see the crate documentation for why full pages hand out whole
    /// seconds only.
    fn page(&mut self, cursor: Option<Key>, limit: u32) -> Result<Page, PluginError> {
        let rows = self.search(after(cursor), ORDER, limit)?;
        check_keyset(&rows, cursor)?;
        let full = rows.len() >= limit as usize;
        if !full {
            let next = last_key(&rows).or(cursor);
            return Ok(page(rows, next, false));
        }
        let last_second = rows.last().map(|(key, _)| key.write_date);
        let cut = rows
            .iter()
            .position(|(key, _)| Some(key.write_date) == last_second)
            .unwrap_or(0);
        if cut > 0 {
            let mut rows = rows;
            rows.truncate(cut);
            let next = last_key(&rows);
            return Ok(page(rows, next, true));
        }
        // The whole page is one second: walk it by id.
        let second = last_second.unwrap_or_default();
        let from_id = match cursor {
            Some(key) if key.write_date == second => key.id,
            _ => 0,
        };
        let rows = self.search(within_second(second, from_id), "id asc", limit)?;
        let mut previous = from_id;
        for (key, _) in &rows {
            if key.write_date != second || key.id <= previous {
                return Err(malformed(format!(
                    "Odoo answered {} {} outside the second or the id order asked for",
                    self.stream.model(),
                    key.id
                )));
            }
            previous = key.id;
        }
        let next = Key {
            write_date: second,
            id: previous,
        };
        Ok(page(rows, Some(next), true))
    }
}

/// The answer must be in whole-second order and after the cursor, or the walk could loop.
fn check_keyset(rows: &[(Key, ExternalRecord)], cursor: Option<Key>) -> Result<(), PluginError> {
    let mut previous_second = cursor.map(|key| key.write_date);
    for (key, _) in rows {
        let after_cursor = match cursor {
            None => true,
            Some(cursor) => {
                key.write_date > cursor.write_date
                    || (key.write_date == cursor.write_date && key.id > cursor.id)
            }
        };
        if !after_cursor || previous_second.is_some_and(|second| key.write_date < second) {
            return Err(malformed(format!(
                "Odoo answered record {} out of order or before the cursor",
                key.id
            )));
        }
        previous_second = Some(key.write_date);
    }
    Ok(())
}

/// The key to resume after `rows`: their last second, with the greatest id read in it.
fn last_key(rows: &[(Key, ExternalRecord)]) -> Option<Key> {
    let second = rows.last()?.0.write_date;
    rows.iter()
        .filter(|(key, _)| key.write_date == second)
        .map(|(key, _)| *key)
        .max()
}

fn page(rows: Vec<(Key, ExternalRecord)>, next: Option<Key>, has_more: bool) -> Page {
    Page {
        records: rows.into_iter().map(|(_, record)| record).collect(),
        next_cursor: next.map(Key::cursor),
        has_more,
    }
}

impl ErpConnector for Odoo {
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

    fn check() -> Result<(), PluginError> {
        let settings = settings()?;
        let uid = Rpc::new(&settings).login()?;
        log::log(
            log::LogLevel::Info,
            "logged in to Odoo",
            &[("uid", &uid.to_string())],
        );
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
        let mut rpc = Rpc::new(&settings);
        let uid = rpc.login()?;
        let mut reader = Reader {
            rpc,
            uid,
            stream,
            with_mobile: true,
        };
        let page = reader.page(cursor, limit)?;
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

rapport_sdk::export_erp_connector!(Odoo, manifest = "rapport-plugin.toml");
