//! Rapport's SMS survey channel over Twilio's Programmable Messaging API (or a compatible one).
//!
//! `send` form-posts `To` (the recipient's E.164 phone), `From` or `MessagingServiceSid`, `Body`
//! (the subject and the response link, kept to one 160-character message) and, when configured,
//! `StatusCallback` to `{base_url}/2010-04-01/Accounts/{account_sid}/Messages.json` with HTTP
//! Basic authentication `account_sid:auth_token`. 2xx is a receipt carrying the message `sid`.
//! Errors: 400 with code 21211 or 21614 is `invalid-recipient`, 21610 (the recipient replied
//! STOP) `recipient-opted-out`, 401 `bad-credentials`, 429 a retryable `rate-limited`, 5xx,
//! timeouts and connection failures retryable, the rest a fatal `upstream-error`.
//!
//! `parse-inbound` reads the provider's inbound-message webhook, a form post with `From`, `To`,
//! `Body` and `MessageSid`, as one answer from `From` with the trimmed `Body` as its text. It
//! first checks the request's `X-Twilio-Signature`: base64 of HMAC-SHA1, keyed with the auth
//! token, over `inbound_url` (the URL the provider posts to, as configured there) followed by
//! every POST parameter sorted by name, each name then its value. A missing or wrong signature,
//! or no `inbound_url` configured, is a fatal `bad-signature`, and nothing is read: the inbound
//! URL is public, and anyone who knows it could otherwise answer surveys in a customer's name.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use rapport_sdk::http::{self, HttpError, Response};
use rapport_sdk::survey::{Delivery, InboundAnswer, InboundRequest, Receipt};
use rapport_sdk::{PluginError, SurveyChannel, config, log};
use serde_json::Value;
use sha1::Sha1;

struct Sms;

/// The configuration schema, the same as the manifest's (the tests compare them).
const CONFIG_SCHEMA: &str = r#"{"type":"object","required":["account_sid","auth_token"],"anyOf":[{"required":["from"]},{"required":["messaging_service_sid"]}],"properties":{"base_url":{"type":"string","description":"The Messages API root; https, or http on a loopback host only","default":"https://api.twilio.com","pattern":"^https?://"},"account_sid":{"type":"string","description":"The account SID (AC…), also the user name of HTTP Basic authentication","pattern":"^[A-Za-z0-9]+$"},"auth_token":{"type":"string","description":"The account's auth token","minLength":1,"writeOnly":true},"from":{"type":"string","description":"The sending number in E.164 (or an alphanumeric sender id); messaging_service_sid wins when both are set"},"messaging_service_sid":{"type":"string","description":"A Messaging Service (MG…) to send from instead of one number"},"status_callback":{"type":"string","description":"Optional URL the provider posts delivery status updates to"},"inbound_url":{"type":"string","description":"The URL the provider posts SMS replies to, exactly as configured there: {public base URL}/api/v1/surveys/inbound/{tenant id}/rapport.sms-channel. Replies are read only when signed for it","pattern":"^https?://"}}}"#;

const DEFAULT_BASE_URL: &str = "https://api.twilio.com";

/// One GSM-7 SMS segment; longer texts are split and billed per segment.
const MAX_TEXT_CHARS: usize = 160;

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

/// The API root without a trailing slash: https, or plain http to a loopback host (a local
/// relay or test double) only, since the auth token travels in a header.
fn base_url() -> Result<String, PluginError> {
    let url = setting("base_url").unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
    rapport_sdk::url::secure_base(&url).map_err(|why| invalid_config(format!("`base_url` {why}")))
}

/// `+` and 2 to 15 digits, the first not 0 (ITU-T E.164).
fn is_e164(phone: &str) -> bool {
    phone.strip_prefix('+').is_some_and(|digits| {
        (2..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
    })
}

/// The recipient's number, or a fatal `invalid-recipient` before any traffic.
fn recipient_phone(delivery: &Delivery) -> Result<String, PluginError> {
    let recipient = &delivery.recipient;
    let phone = recipient
        .phone
        .as_deref()
        .map(str::trim)
        .filter(|phone| !phone.is_empty())
        .ok_or_else(|| {
            PluginError::fatal(
                "invalid-recipient",
                format!("contact {} has no phone number", recipient.contact_id),
            )
        })?;
    if !is_e164(phone) {
        return Err(PluginError::fatal(
            "invalid-recipient",
            format!(
                "the phone number of contact {} is not in E.164 form (+ and up to 15 digits)",
                recipient.contact_id
            ),
        ));
    }
    Ok(phone.to_owned())
}

/// The SMS text: the subject, then the response link on its own line, within one 160-character
/// message; a long subject is shortened (marked with `…`), the link never.
fn text(delivery: &Delivery) -> String {
    let link = delivery.response_link.trim();
    let subject = delivery.subject.trim();
    let room = MAX_TEXT_CHARS.saturating_sub(link.chars().count() + 1);
    if subject.is_empty() || room < 2 {
        return link.to_owned();
    }
    if subject.chars().count() <= room {
        format!("{subject}\n{link}")
    } else {
        let short: String = subject.chars().take(room - 1).collect();
        format!("{}…\n{link}", short.trim_end())
    }
}

/// The provider's answer: 2xx with the message's `sid`, or an error with Twilio's `code`.
fn receipt(response: &Response) -> Result<Receipt, PluginError> {
    let status = response.status;
    let body = serde_json::from_slice::<Value>(&response.body).ok();
    let field = |name: &str| body.as_ref().and_then(|body| body.get(name));
    let code = field("code").and_then(Value::as_i64);
    let message = field("message").and_then(Value::as_str).unwrap_or_default();
    let described = || match code {
        Some(code) => format!("HTTP {status}, error {code}: {message}"),
        None => format!("HTTP {status}"),
    };
    match status {
        200..=299 => field("sid")
            .and_then(Value::as_str)
            .filter(|sid| !sid.is_empty())
            .map(|sid| Receipt {
                external_id: Some(sid.to_owned()),
            })
            .ok_or_else(|| {
                PluginError::fatal(
                    "malformed-response",
                    format!("the provider accepted the message (HTTP {status}) without a `sid`"),
                )
            }),
        400 => match code {
            Some(21211 | 21614) => Err(PluginError::fatal(
                "invalid-recipient",
                format!("the provider cannot text this number ({})", described()),
            )),
            Some(21610) => Err(PluginError::fatal(
                "recipient-opted-out",
                "the recipient has opted out of messages from this sender (error 21610)",
            )),
            _ => Err(PluginError::fatal(
                "upstream-error",
                format!("the provider refused the message ({})", described()),
            )),
        },
        401 => Err(PluginError::fatal(
            "bad-credentials",
            format!(
                "the provider refused the account SID or auth token ({})",
                described()
            ),
        )),
        429 => Err(PluginError::retryable(
            "rate-limited",
            format!("the provider is rate limiting messages ({})", described()),
        )),
        500..=599 => Err(PluginError::retryable(
            "upstream-error",
            format!("the provider failed ({}); try again later", described()),
        )),
        _ => Err(PluginError::fatal(
            "upstream-error",
            format!("the provider refused the message ({})", described()),
        )),
    }
}

fn http_failure(error: HttpError, token: &str) -> PluginError {
    let scrub = |text: String| text.replace(token, "[redacted]");
    match error {
        HttpError::Denied(why) => PluginError::fatal("host-denied", why),
        HttpError::Timeout => {
            PluginError::retryable("timeout", "the SMS provider did not answer in time")
        }
        HttpError::Transport(why) => PluginError::retryable("transport", scrub(why)),
        HttpError::TooLarge => PluginError::fatal(
            "malformed-response",
            "the SMS provider's answer is too large",
        ),
        HttpError::InvalidRequest(why) => {
            invalid_config(format!("`base_url` or `account_sid`: {}", scrub(why)))
        }
    }
}

impl SurveyChannel for Sms {
    fn send(delivery: Delivery) -> Result<Receipt, PluginError> {
        let base = base_url()?;
        let account = required("account_sid")?;
        if !account.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(invalid_config(
                "`account_sid` must be letters and digits only",
            ));
        }
        let token = required("auth_token")?;
        let sender = match (setting("messaging_service_sid"), setting("from")) {
            (Some(service), _) => ("MessagingServiceSid", service),
            (None, Some(from)) => ("From", from),
            (None, None) => {
                return Err(invalid_config(
                    "neither `from` nor `messaging_service_sid` is configured",
                ));
            }
        };
        let to = recipient_phone(&delivery)?;
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("To", &to)
            .append_pair(sender.0, &sender.1)
            .append_pair("Body", &text(&delivery));
        if let Some(callback) = setting("status_callback") {
            form.append_pair("StatusCallback", &callback);
        }
        let form = form.finish();
        let url = format!("{base}/2010-04-01/Accounts/{account}/Messages.json");
        let authorization = format!("Basic {}", BASE64.encode(format!("{account}:{token}")));
        let headers = [
            ("authorization", authorization.as_str()),
            ("content-type", "application/x-www-form-urlencoded"),
            ("accept", "application/json"),
        ];
        log::log(
            log::LogLevel::Info,
            "sending survey by SMS",
            &[("delivery_id", &delivery.delivery_id)],
        );
        let response =
            http::post(&url, &headers, form.into_bytes()).map_err(|e| http_failure(e, &token))?;
        receipt(&response)
    }

    fn parse_inbound(request: InboundRequest) -> Result<Vec<InboundAnswer>, PluginError> {
        check_signature(&request)?;
        let (mut from, mut body) = (None, None);
        for (name, value) in form_urlencoded::parse(&request.body) {
            match name.as_ref() {
                "From" if from.is_none() => from = Some(value.trim().to_owned()),
                "Body" if body.is_none() => body = Some(value.trim().to_owned()),
                _ => {}
            }
        }
        let sender = from.filter(|from| !from.is_empty()).ok_or_else(|| {
            PluginError::fatal("bad-request", "the inbound message has no `From`")
        })?;
        let text = body.ok_or_else(|| {
            PluginError::fatal("bad-request", "the inbound message has no `Body`")
        })?;
        if text.is_empty() {
            // An empty reply (e.g. a picture only) answers nothing.
            return Ok(Vec::new());
        }
        Ok(vec![InboundAnswer {
            delivery_id: None,
            sender,
            text,
        }])
    }

    fn config_schema() -> String {
        CONFIG_SCHEMA.to_owned()
    }
}

fn bad_signature(why: impl Into<String>) -> PluginError {
    PluginError::fatal("bad-signature", why)
}

/// Whether the provider signed `request` for this tenant's `inbound_url` with its auth token
/// (see the module documentation for the scheme).
fn check_signature(request: &InboundRequest) -> Result<(), PluginError> {
    let url = setting("inbound_url").ok_or_else(|| {
        bad_signature("`inbound_url` is not configured, so no reply can be verified")
    })?;
    let token = required("auth_token")?;
    let header = request
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("x-twilio-signature"))
        .ok_or_else(|| bad_signature("no X-Twilio-Signature header"))?;
    let signature = BASE64
        .decode(header.1.trim())
        .map_err(|_| bad_signature("X-Twilio-Signature is not base64"))?;
    let mut parameters: Vec<(String, String)> =
        form_urlencoded::parse(&request.body).into_owned().collect();
    parameters.sort();
    let mut mac =
        Hmac::<Sha1>::new_from_slice(token.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(url.as_bytes());
    for (name, value) in &parameters {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac.verify_slice(&signature)
        .map_err(|_| bad_signature("X-Twilio-Signature does not match"))
}

rapport_sdk::export_survey_channel!(Sms, manifest = "rapport-plugin.toml");
