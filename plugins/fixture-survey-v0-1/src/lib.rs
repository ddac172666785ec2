//! A survey channel as a vendor built it against `rapport:plugin@0.1.0`, straight from the
//! frozen WIT with wit-bindgen: it posts each delivery to the tenant's `webhook_url` through the
//! host's `http@0.1.0` and stamps it with `clock@0.1.0`. The host runs it through its 0.1.0
//! shim, against the latest world bindings.

wit_bindgen::generate!({
    path: "../../wit/rapport-plugin@0.1.0",
    world: "survey-channel",
});

use rapport::plugin::http::{self, Request};
use rapport::plugin::{clock, config};

struct Webhook;

fn fatal(code: &str, message: String) -> PluginError {
    PluginError {
        code: code.into(),
        message,
        retryable: false,
    }
}

impl Guest for Webhook {
    fn send(delivery: Delivery) -> Result<Receipt, PluginError> {
        let url = config::get("webhook_url")
            .ok_or_else(|| fatal("bad-config", "webhook_url is not configured".into()))?;
        let body = format!(
            r#"{{"delivery_id":"{}","sent_at_ms":{}}}"#,
            delivery.delivery_id,
            clock::now_ms()
        );
        let request = Request {
            method: "POST".into(),
            url,
            headers: Vec::new(),
            body: Some(body.into_bytes()),
            timeout_ms: None,
        };
        match http::send(&request) {
            Ok(response) if (200..300).contains(&response.status) => Ok(Receipt {
                external_id: Some(delivery.delivery_id),
            }),
            Ok(response) => Err(fatal("rejected", format!("status {}", response.status))),
            Err(error) => Err(fatal("unreachable", format!("{error:?}"))),
        }
    }

    fn parse_inbound(_request: InboundRequest) -> Result<Vec<InboundAnswer>, PluginError> {
        Ok(Vec::new())
    }

    fn config_schema() -> String {
        r#"{"type":"object","properties":{"webhook_url":{"type":"string"}}}"#.into()
    }
}

export!(Webhook);

/// What the 0.1.0 SDK wrote: the API version the host checks before running anything.
#[unsafe(link_section = "rapport-plugin-api")]
#[used]
static API_VERSION: [u8; 5] = *b"0.1.0";
