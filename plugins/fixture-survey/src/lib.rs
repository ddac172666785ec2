//! The smallest useful survey channel: posts each delivery as JSON to the tenant's webhook,
//! authorised by a bearer token kept as a secret, and reads SMS-like replies
//! (`"<delivery-id> <score>"`) posted to its inbound endpoint.
//!
//! It maps HTTP answers the way the host expects: 2xx is a receipt, 429 and 5xx are retryable,
//! other statuses and refused hosts are fatal. It also logs its token on purpose, so the tests
//! can prove that the host redacts secrets from the run log.

use rapport_sdk::http::{self, HttpError, Response};
use rapport_sdk::survey::{Delivery, InboundAnswer, InboundRequest, Receipt};
use rapport_sdk::{PluginError, SurveyChannel, config, log};
use serde_json::Value;

struct Webhook;

/// The configuration schema, the same as the manifest's.
const CONFIG_SCHEMA: &str = r#"{"type":"object","required":["webhook_url","token"],"properties":{"webhook_url":{"type":"string"},"token":{"type":"string","writeOnly":true}}}"#;

fn setting(key: &str) -> Result<String, PluginError> {
    config::get(key)
        .filter(|value| !value.is_empty())
        .ok_or_else(|| PluginError::fatal("bad-config", format!("{key} is not configured")))
}

/// The recipient's address for a webhook: e-mail first, then phone, then WeChat id.
fn address(delivery: &Delivery) -> Result<String, PluginError> {
    let recipient = &delivery.recipient;
    recipient
        .email
        .clone()
        .or_else(|| recipient.phone.clone())
        .or_else(|| recipient.wechat_id.clone())
        .ok_or_else(|| {
            PluginError::fatal(
                "no-address",
                format!(
                    "contact {} has no e-mail, phone or WeChat id",
                    recipient.contact_id
                ),
            )
        })
}

fn payload(delivery: &Delivery, to: &str) -> Vec<u8> {
    serde_json::json!({
        "delivery_id": delivery.delivery_id,
        "to": to,
        "subject": delivery.subject,
        "text": delivery.body,
        "link": delivery.response_link,
    })
    .to_string()
    .into_bytes()
}

/// A 2xx answer is a receipt, with the webhook's `id` when its body gives one.
fn receipt(response: &Response, delivery_id: &str) -> Result<Receipt, PluginError> {
    let status = response.status;
    match status {
        200..=299 => {
            let id = serde_json::from_slice::<Value>(&response.body)
                .ok()
                .and_then(|body| body.get("id").and_then(Value::as_str).map(str::to_owned));
            Ok(Receipt {
                external_id: Some(id.unwrap_or_else(|| delivery_id.to_owned())),
            })
        }
        429 | 500..=599 => Err(PluginError::retryable(
            format!("http-{status}"),
            format!("the webhook is unavailable (HTTP {status}); try again later"),
        )),
        _ => Err(PluginError::fatal(
            format!("http-{status}"),
            format!("the webhook refused the delivery (HTTP {status})"),
        )),
    }
}

fn http_failure(error: HttpError) -> PluginError {
    match error {
        HttpError::Denied(why) => PluginError::fatal("http-denied", why),
        HttpError::Timeout => {
            PluginError::retryable("http-timeout", "the webhook did not answer in time")
        }
        HttpError::Transport(why) => PluginError::retryable("http-transport", why),
        HttpError::TooLarge => {
            PluginError::fatal("http-too-large", "the webhook's answer is too large")
        }
        HttpError::InvalidRequest(why) => {
            PluginError::fatal("bad-config", format!("webhook_url: {why}"))
        }
    }
}

/// One reply line, `"<delivery-id> <score>"` with a score from 0 to 10.
fn answer(line: &str, sender: &str) -> Result<InboundAnswer, PluginError> {
    let bad = || {
        PluginError::fatal(
            "bad-answer",
            format!("expected \"<delivery-id> <score>\", got {line:?}"),
        )
    };
    let mut words = line.split_whitespace();
    let (Some(delivery_id), Some(score), None) = (words.next(), words.next(), words.next()) else {
        return Err(bad());
    };
    match score.parse::<u8>() {
        Ok(0..=10) => Ok(InboundAnswer {
            delivery_id: Some(delivery_id.to_owned()),
            sender: sender.to_owned(),
            text: score.to_owned(),
        }),
        _ => Err(bad()),
    }
}

impl SurveyChannel for Webhook {
    fn send(delivery: Delivery) -> Result<Receipt, PluginError> {
        let url = setting("webhook_url")?;
        let token = setting("token")?;
        let to = address(&delivery)?;
        log::log(
            log::LogLevel::Info,
            "sending survey",
            &[("delivery_id", &delivery.delivery_id)],
        );
        // Deliberately careless: the host must redact the secret from the run log.
        log::log(
            log::LogLevel::Debug,
            &format!("authorising with Bearer {token}"),
            &[],
        );
        let authorization = format!("Bearer {token}");
        let headers = [
            ("content-type", "application/json"),
            ("authorization", authorization.as_str()),
        ];
        let response = http::post(&url, &headers, payload(&delivery, &to)).map_err(http_failure)?;
        receipt(&response, &delivery.delivery_id)
    }

    fn parse_inbound(request: InboundRequest) -> Result<Vec<InboundAnswer>, PluginError> {
        let sender = request
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("from"))
            .map(|(_, value)| value.clone())
            .ok_or_else(|| {
                PluginError::fatal("bad-request", "no `from` header naming the sender")
            })?;
        let body = String::from_utf8(request.body)
            .map_err(|_| PluginError::fatal("bad-request", "the body is not UTF-8 text"))?;
        body.lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(|line| answer(line, &sender))
            .collect()
    }

    fn config_schema() -> String {
        CONFIG_SCHEMA.to_owned()
    }
}

rapport_sdk::export_survey_channel!(Webhook, manifest = "rapport-plugin.toml");
