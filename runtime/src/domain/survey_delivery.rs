//! Survey deliveries as the host hands them to a survey channel, and what the channel answers:
//! a receipt for a delivery, or the answers it collected itself (e.g. SMS replies).

use serde::{Deserialize, Serialize};

use super::Id;

/// The person a survey goes to; a channel uses the address that fits its medium.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipient {
    pub contact_id: Id,
    pub name: String,
    /// E.164.
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub wechat_id: Option<String>,
}

/// One rendered survey to deliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    /// The host's id of this delivery; channels may use it for idempotency.
    pub delivery_id: String,
    pub recipient: Recipient,
    /// Already in the recipient's locale.
    pub subject: String,
    pub body: String,
    /// The one-use link to the response page.
    pub response_link: String,
    /// BCP 47, e.g. `zh-CN`.
    pub locale: String,
}

/// Proof that the channel accepted a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// The channel's own message id, when it gives one.
    pub external_id: Option<String>,
}

/// A request received on a channel's inbound endpoint. The body is bytes; in JSON it reads and
/// writes as text when it is UTF-8 (webhooks almost always are) and as an array of bytes
/// otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundRequest {
    /// Header name and value pairs, in the order received (names may repeat).
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default, with = "text_or_bytes")]
    pub body: Vec<u8>,
}

/// An answer a channel collected itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundAnswer {
    /// The delivery the answer belongs to, when the channel can tell.
    pub delivery_id: Option<String>,
    /// The sender, e.g. an E.164 number.
    pub sender: String,
    /// The raw answer text, e.g. `9`.
    pub text: String,
}

/// Bytes as UTF-8 text when possible, so JSON fixtures and reports stay readable.
mod text_or_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Body {
        Text(String),
        Bytes(Vec<u8>),
    }

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(bytes) {
            Ok(text) => serializer.serialize_str(text),
            Err(_) => serializer.collect_seq(bytes),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        Ok(match Body::deserialize(deserializer)? {
            Body::Text(text) => text.into_bytes(),
            Body::Bytes(bytes) => bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inbound_body_reads_as_text_or_bytes_and_writes_back_the_same_way() {
        let text: InboundRequest =
            serde_json::from_str(r#"{"headers": [["from", "+8613800000000"]], "body": "d-1 9"}"#)
                .unwrap();
        assert_eq!(text.body, b"d-1 9");
        assert_eq!(serde_json::to_value(&text).unwrap()["body"], "d-1 9");
        let binary: InboundRequest = serde_json::from_str(r#"{"body": [255, 0]}"#).unwrap();
        assert_eq!(binary.body, [255, 0]);
        assert_eq!(
            serde_json::to_value(&binary).unwrap()["body"],
            serde_json::json!([255, 0])
        );
        assert!(serde_json::from_str::<InboundRequest>(r#"{"bdy": "x"}"#).is_err());
    }
}
