//! Rapport's signed webhook survey channel.
//!
//! `send` posts each delivery as JSON to the tenant's `url`, signed the way Stripe and GitHub
//! sign their webhooks: the header `X-Rapport-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
//! "<t>.<body>" under the tenant's secret>`, so the receiver can check both origin and freshness.
//! The host's clock gives the time. A 2xx answer is a receipt (with the answer's JSON `id` when it
//! has one); 408, 429 and 5xx, timeouts and connection failures are retryable, every other
//! failure is fatal.
//!
//! `parse-inbound` takes answers posted back to the channel, `{"delivery_id": "…", "answer": "9"}`
//! or a list of them, signed with the same header and secret. A missing, malformed or wrong
//! signature, or a timestamp more than five minutes away from now, is refused as `bad-signature`
//! before the body is even read.

use hmac::{Hmac, KeyInit, Mac};
use rapport_sdk::http::{self, HttpError, Response};
use rapport_sdk::survey::{Delivery, InboundAnswer, InboundRequest, Receipt};
use rapport_sdk::{PluginError, SurveyChannel, clock, config, log};
use serde_json::{Value, json};
use sha2::Sha256;

struct Webhook;

/// The configuration schema, the same as the manifest's (the tests compare them).
const CONFIG_SCHEMA: &str = r#"{"type":"object","required":["url","secret"],"properties":{"url":{"type":"string","description":"The receiver's URL; https, or http on a loopback host only","pattern":"^https?://"},"secret":{"type":"string","description":"Shared signing secret of X-Rapport-Signature, outbound and inbound","minLength":16,"writeOnly":true}}}"#;

/// The signature header, outbound and inbound.
const SIGNATURE_HEADER: &str = "x-rapport-signature";

/// How far a signed timestamp may be from the host's clock, either way.
const TOLERANCE_SECONDS: i64 = 5 * 60;

type HmacSha256 = Hmac<Sha256>;

fn setting(key: &str) -> Result<String, PluginError> {
    config::get(key)
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
        .ok_or_else(|| PluginError::fatal("invalid-config", format!("`{key}` is not configured")))
}

/// The receiver's URL: https, or plain http only to a receiver on the same machine, so that
/// deliveries (names, phone numbers, e-mail addresses) never cross a network in clear text.
fn receiver_url() -> Result<String, PluginError> {
    let url = setting("url")?;
    rapport_sdk::url::check_secure(&url)
        .map(|()| url)
        .map_err(|why| PluginError::fatal("invalid-config", format!("`url` {why}")))
}

/// The MAC of `<t>.<body>` under `secret`, ready to finalize or verify.
fn mac(secret: &str, timestamp: &str, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `X-Rapport-Signature` value for `body` sent at `timestamp` (Unix seconds).
fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let timestamp = timestamp.to_string();
    let code = mac(secret, &timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(code))
}

/// Milliseconds since the epoch as RFC 3339 UTC with milliseconds, e.g.
/// `2026-01-02T03:04:05.678Z` (the civil-from-days algorithm of H. Hinnant's date library).
fn rfc3339(ms: i64) -> String {
    let (seconds, millis) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    let (days, of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
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
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

fn payload(delivery: &Delivery, sent_at_ms: i64) -> Vec<u8> {
    let recipient = &delivery.recipient;
    json!({
        "delivery_id": delivery.delivery_id,
        "recipient": {
            "contact_id": recipient.contact_id,
            "name": recipient.name,
            "phone": recipient.phone,
            "email": recipient.email,
            "wechat_id": recipient.wechat_id,
        },
        "subject": delivery.subject,
        "body": delivery.body,
        "response_link": delivery.response_link,
        "locale": delivery.locale,
        "sent_at": rfc3339(sent_at_ms),
    })
    .to_string()
    .into_bytes()
}

/// A 2xx answer is a receipt, with the receiver's `id` (a string or a number) when it gives one.
fn receipt(response: &Response) -> Result<Receipt, PluginError> {
    let status = response.status;
    match status {
        200..=299 => {
            let external_id = serde_json::from_slice::<Value>(&response.body)
                .ok()
                .and_then(|body| match body.get("id") {
                    Some(Value::String(id)) if !id.is_empty() => Some(id.clone()),
                    Some(Value::Number(id)) => Some(id.to_string()),
                    _ => None,
                });
            Ok(Receipt { external_id })
        }
        408 => Err(PluginError::retryable(
            "timeout",
            "the receiver timed out (HTTP 408)",
        )),
        429 => Err(PluginError::retryable(
            "rate-limited",
            "the receiver is rate limiting deliveries (HTTP 429)",
        )),
        500..=599 => Err(PluginError::retryable(
            "upstream-error",
            format!("the receiver failed (HTTP {status}); try again later"),
        )),
        401 | 403 => Err(PluginError::fatal(
            "bad-credentials",
            format!("the receiver refused the signature (HTTP {status}); check the shared secret"),
        )),
        _ => Err(PluginError::fatal(
            "upstream-error",
            format!("the receiver refused the delivery (HTTP {status})"),
        )),
    }
}

fn http_failure(error: HttpError) -> PluginError {
    match error {
        HttpError::Denied(why) => PluginError::fatal("host-denied", why),
        HttpError::Timeout => {
            PluginError::retryable("timeout", "the receiver did not answer in time")
        }
        HttpError::Transport(why) => PluginError::retryable("transport", why),
        HttpError::TooLarge => {
            PluginError::fatal("malformed-response", "the receiver's answer is too large")
        }
        HttpError::InvalidRequest(why) => {
            PluginError::fatal("invalid-config", format!("`url`: {why}"))
        }
    }
}

fn bad_signature(why: &str) -> PluginError {
    PluginError::fatal("bad-signature", why)
}

/// Checks `X-Rapport-Signature` on an inbound body: one `t` and one or more `v1` (several while
/// a receiver rotates secrets); one matching `v1` within the time tolerance is enough.
fn verify(request: &InboundRequest, secret: &str, now_ms: i64) -> Result<(), PluginError> {
    let header = request
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(SIGNATURE_HEADER))
        .map(|(_, value)| value.as_str())
        .ok_or_else(|| bad_signature("no X-Rapport-Signature header"))?;
    let mut timestamp = None;
    let mut codes = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) if timestamp.is_none() => timestamp = Some(value),
            Some(("v1", value)) => codes
                .push(hex::decode(value).map_err(|_| bad_signature("a v1 signature is not hex"))?),
            Some(("t", _)) => return Err(bad_signature("more than one timestamp")),
            // Other schemes (a later v2) are ignored, as Stripe's receivers do.
            Some(_) => {}
            None => return Err(bad_signature("malformed X-Rapport-Signature header")),
        }
    }
    let timestamp = timestamp.ok_or_else(|| bad_signature("no timestamp (t=) in the signature"))?;
    if codes.is_empty() {
        return Err(bad_signature("no v1 signature"));
    }
    let seconds: i64 = timestamp
        .parse()
        .ok()
        .filter(|_| timestamp.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| bad_signature("the timestamp is not Unix seconds"))?;
    let now = now_ms.div_euclid(1000);
    if now.saturating_sub(seconds) > TOLERANCE_SECONDS {
        return Err(bad_signature("the timestamp is older than 5 minutes"));
    }
    if seconds.saturating_sub(now) > TOLERANCE_SECONDS {
        return Err(bad_signature("the timestamp is more than 5 minutes ahead"));
    }
    let genuine = codes.iter().any(|code| {
        mac(secret, timestamp, &request.body)
            .verify_slice(code)
            .is_ok()
    });
    if genuine {
        Ok(())
    } else {
        Err(bad_signature("the signature does not match the body"))
    }
}

fn bad_request(why: impl Into<String>) -> PluginError {
    PluginError::fatal("bad-request", why)
}

/// One posted answer: `{"delivery_id": "…", "answer": "9"}` (a number is accepted for `answer`).
fn answer(item: &Value) -> Result<InboundAnswer, PluginError> {
    let delivery_id = item
        .get("delivery_id")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| bad_request("an answer without a `delivery_id` string"))?;
    let text = match item.get("answer") {
        Some(Value::String(text)) => text.trim().to_owned(),
        Some(Value::Number(number)) => number.to_string(),
        _ => String::new(),
    };
    if text.is_empty() {
        return Err(bad_request(format!(
            "the answer to {delivery_id} has no `answer` text"
        )));
    }
    Ok(InboundAnswer {
        delivery_id: Some(delivery_id.to_owned()),
        sender: "webhook".to_owned(),
        text,
    })
}

impl SurveyChannel for Webhook {
    fn send(delivery: Delivery) -> Result<Receipt, PluginError> {
        let url = receiver_url()?;
        let secret = setting("secret")?;
        let now_ms = clock::now_ms();
        let body = payload(&delivery, now_ms);
        let signed = signature(&secret, now_ms.div_euclid(1000), &body);
        log::log(
            log::LogLevel::Info,
            "posting survey to the webhook",
            &[("delivery_id", &delivery.delivery_id)],
        );
        let headers = [
            ("content-type", "application/json"),
            ("user-agent", "rapport-webhook-channel/0.1"),
            (SIGNATURE_HEADER, signed.as_str()),
            // Retries of a delivery carry the same key, so receivers can drop duplicates.
            ("idempotency-key", delivery.delivery_id.as_str()),
        ];
        let response = http::post(&url, &headers, body).map_err(http_failure)?;
        receipt(&response)
    }

    fn parse_inbound(request: InboundRequest) -> Result<Vec<InboundAnswer>, PluginError> {
        let secret = setting("secret")?;
        verify(&request, &secret, clock::now_ms())?;
        let body: Value = serde_json::from_slice(&request.body)
            .map_err(|_| bad_request("the body is not JSON"))?;
        match &body {
            Value::Array(items) => items.iter().map(answer).collect(),
            Value::Object(_) => Ok(vec![answer(&body)?]),
            _ => Err(bad_request("expected an answer object or a list of them")),
        }
    }

    fn config_schema() -> String {
        CONFIG_SCHEMA.to_owned()
    }
}

rapport_sdk::export_survey_channel!(Webhook, manifest = "rapport-plugin.toml");
