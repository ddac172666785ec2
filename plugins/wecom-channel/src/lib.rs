//! Rapport's WeCom (企业微信) group-robot survey channel.
//!
//! `send` posts `{"msgtype":"markdown","markdown":{"content":…}}` to
//! `{base_url}/cgi-bin/webhook/send?key=KEY`: the subject in bold, who the survey is for, the body
//! and the response link. WeCom takes at most 4096 bytes of markdown, so a long message loses the
//! end of its body (cut on a UTF-8 character boundary, marked with `…`), never its link.
//!
//! WeCom answers HTTP 200 even when it refuses a message; `errcode` tells: 0 is a receipt, 45009
//! (about 20 messages a minute per robot) is a retryable `rate-limited`, 93000 (unknown key) is
//! `bad-credentials`, -1 (system busy) is retryable, anything else is a fatal `upstream-error`
//! with WeCom's `errmsg`. A group robot receives nothing, so `parse-inbound` returns no answers.

use rapport_sdk::http::{self, HttpError, Response};
use rapport_sdk::survey::{Delivery, InboundAnswer, InboundRequest, Receipt};
use rapport_sdk::{PluginError, SurveyChannel, config, log};
use serde_json::{Value, json};

struct WeCom;

/// The configuration schema, the same as the manifest's (the tests compare them).
const CONFIG_SCHEMA: &str = r#"{"type":"object","required":["key"],"properties":{"base_url":{"type":"string","description":"WeCom's API root; https, or http on a loopback host only","default":"https://qyapi.weixin.qq.com","pattern":"^https?://"},"key":{"type":"string","description":"The group robot's webhook key (the `key` of its webhook URL)","minLength":1,"writeOnly":true}}}"#;

const DEFAULT_BASE_URL: &str = "https://qyapi.weixin.qq.com";

/// WeCom's limit on markdown content, in bytes of UTF-8.
const MAX_CONTENT_BYTES: usize = 4096;

const ELLIPSIS: &str = "…";

fn invalid_config(why: impl Into<String>) -> PluginError {
    PluginError::fatal("invalid-config", why)
}

fn setting(key: &str) -> Option<String> {
    config::get(key)
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// WeCom's API root without a trailing slash: https, or plain http to a loopback host (a local
/// relay or test double) only, since the robot key travels in the URL.
fn base_url() -> Result<String, PluginError> {
    let url = setting("base_url").unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
    rapport_sdk::url::secure_base(&url).map_err(|why| invalid_config(format!("`base_url` {why}")))
}

/// The words around the message, in the recipient's locale: "for" and the link's label.
fn words(locale: &str) -> (&'static str, &'static str) {
    let locale = locale.to_ascii_lowercase().replace('_', "-");
    let traditional = ["zh-tw", "zh-hk", "zh-mo", "zh-hant"]
        .iter()
        .any(|tag| locale == *tag || locale.starts_with(&format!("{tag}-")));
    if traditional {
        ("致：", "填寫問卷")
    } else if locale == "zh" || locale.starts_with("zh-") {
        ("致：", "填写问卷")
    } else {
        ("For: ", "Take the survey")
    }
}

/// The largest index ≤ `at` that is a character boundary of `text`.
fn floor_char_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// The markdown message: bold subject, who it is for, the body, then the response link. The body
/// (and, for an absurdly long subject, the subject) gives way to the 4096-byte limit; the link
/// is always whole.
fn content(delivery: &Delivery) -> Result<String, PluginError> {
    let (for_word, link_label) = words(&delivery.locale);
    let mut text = format!("**{}**\n", delivery.subject.trim());
    let name = delivery.recipient.name.trim();
    if !name.is_empty() {
        text.push_str(&format!("> {for_word}{name}\n"));
    }
    text.push('\n');
    text.push_str(delivery.body.trim());
    // Spaces and parentheses would end a markdown link early.
    let link = delivery
        .response_link
        .trim()
        .replace(' ', "%20")
        .replace('(', "%28")
        .replace(')', "%29");
    let tail = format!("\n\n[{link_label}]({link})");
    let budget = MAX_CONTENT_BYTES
        .checked_sub(tail.len() + ELLIPSIS.len())
        .ok_or_else(|| {
            PluginError::fatal(
                "invalid-delivery",
                "the response link alone is longer than a WeCom message may be",
            )
        })?;
    if text.len() + tail.len() > MAX_CONTENT_BYTES {
        text.truncate(floor_char_boundary(&text, budget));
        text.push_str(ELLIPSIS);
    }
    text.push_str(&tail);
    Ok(text)
}

/// WeCom's answer: HTTP 200 with `errcode`/`errmsg`, whether it took the message or not.
fn receipt(response: &Response) -> Result<Receipt, PluginError> {
    let status = response.status;
    match status {
        200..=299 => {}
        429 => {
            return Err(PluginError::retryable(
                "rate-limited",
                "WeCom is rate limiting this robot (HTTP 429)",
            ));
        }
        500..=599 => {
            return Err(PluginError::retryable(
                "upstream-error",
                format!("WeCom failed (HTTP {status}); try again later"),
            ));
        }
        _ => {
            return Err(PluginError::fatal(
                "upstream-error",
                format!("WeCom refused the request (HTTP {status})"),
            ));
        }
    }
    let malformed = || {
        PluginError::fatal(
            "malformed-response",
            "WeCom's answer is not a JSON object with an `errcode`",
        )
    };
    let body: Value = serde_json::from_slice(&response.body).map_err(|_| malformed())?;
    let code = body
        .get("errcode")
        .and_then(Value::as_i64)
        .ok_or_else(malformed)?;
    let message = body
        .get("errmsg")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match code {
        0 => Ok(Receipt { external_id: None }),
        45009 => Err(PluginError::retryable(
            "rate-limited",
            format!("WeCom's rate limit (about 20 messages a minute per robot): 45009 {message}"),
        )),
        93000 => Err(PluginError::fatal(
            "bad-credentials",
            format!("WeCom does not know this robot key: 93000 {message}"),
        )),
        -1 => Err(PluginError::retryable(
            "upstream-error",
            format!("WeCom is busy: -1 {message}"),
        )),
        code => Err(PluginError::fatal(
            "upstream-error",
            format!("WeCom refused the message: {code} {message}"),
        )),
    }
}

/// Maps a failed exchange; `secrets` (the key, as is and URL-encoded) are cut out of messages,
/// since the key is part of the URL a transport error may quote.
fn http_failure(error: HttpError, secrets: &[&str]) -> PluginError {
    let scrub = |text: String| {
        secrets
            .iter()
            .filter(|secret| !secret.is_empty())
            .fold(text, |text, secret| text.replace(secret, "[redacted]"))
    };
    match error {
        HttpError::Denied(why) => PluginError::fatal("host-denied", scrub(why)),
        HttpError::Timeout => PluginError::retryable("timeout", "WeCom did not answer in time"),
        HttpError::Transport(why) => PluginError::retryable("transport", scrub(why)),
        HttpError::TooLarge => {
            PluginError::fatal("malformed-response", "WeCom's answer is too large")
        }
        HttpError::InvalidRequest(why) => invalid_config(format!("`base_url`: {}", scrub(why))),
    }
}

impl SurveyChannel for WeCom {
    fn send(delivery: Delivery) -> Result<Receipt, PluginError> {
        let base = base_url()?;
        let key = setting("key").ok_or_else(|| invalid_config("`key` is not configured"))?;
        let encoded_key: String = form_urlencoded::byte_serialize(key.as_bytes()).collect();
        let url = format!("{base}/cgi-bin/webhook/send?key={encoded_key}");
        let message = json!({
            "msgtype": "markdown",
            "markdown": {"content": content(&delivery)?},
        });
        log::log(
            log::LogLevel::Info,
            "posting survey to the WeCom group robot",
            &[("delivery_id", &delivery.delivery_id)],
        );
        let headers = [("content-type", "application/json")];
        let response = http::post(&url, &headers, message.to_string().into_bytes())
            .map_err(|error| http_failure(error, &[&key, &encoded_key]))?;
        receipt(&response)
    }

    /// A group robot only sends; answers come back through the response link.
    fn parse_inbound(_request: InboundRequest) -> Result<Vec<InboundAnswer>, PluginError> {
        Ok(Vec::new())
    }

    fn config_schema() -> String {
        CONFIG_SCHEMA.to_owned()
    }
}

rapport_sdk::export_survey_channel!(WeCom, manifest = "rapport-plugin.toml");
