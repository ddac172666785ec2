//! What an ERP connector reads: its declared streams, and pages of external customers and
//! orders, resumable by an opaque cursor. Values stay as the ERP gave them (decimal strings,
//! RFC 3339 times); mapping them onto customers and orders is the import's job.

use serde::{Deserialize, Serialize};

/// The kind of record a stream yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Customer,
    Order,
}

/// A stream the connector can read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamDescriptor {
    /// e.g. `customers`, `orders`.
    pub name: String,
    pub kind: RecordKind,
}

/// What a connector declares about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorSpec {
    /// JSON Schema of the connector's configuration.
    pub config_schema: serde_json::Value,
    pub streams: Vec<StreamDescriptor>,
}

/// A customer as the ERP knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalCustomer {
    pub external_id: String,
    pub name: String,
    pub is_company: bool,
    pub tax_id: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub industry: Option<String>,
    /// The ERP's last-modified time, RFC 3339 UTC.
    pub modified_at: String,
}

/// An order as the ERP knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalOrder {
    pub external_id: String,
    pub customer_external_id: String,
    /// Decimal string.
    pub amount: String,
    /// ISO 4217.
    pub currency: String,
    /// RFC 3339 UTC.
    pub ordered_at: String,
    /// The ERP's status word.
    pub status: String,
    pub modified_at: String,
}

/// One record of a stream, tagged with its kind (`{"kind": "customer", ...}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExternalRecord {
    Customer(ExternalCustomer),
    Order(ExternalOrder),
}

/// One page of a stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    pub records: Vec<ExternalRecord>,
    /// Opaque; passed to the next read of the stream and stored with the page's records.
    pub next_cursor: Option<String>,
    pub has_more: bool,
}

/// A request for one page: the stream, where to resume (none: from the beginning), how many.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadRequest {
    pub stream: String,
    #[serde(default)]
    pub cursor: Option<String>,
    pub page_size: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_carry_their_kind_as_a_tag() {
        let record = ExternalRecord::Order(ExternalOrder {
            external_id: "SO-1".into(),
            customer_external_id: "C-1".into(),
            amount: "12.50".into(),
            currency: "CNY".into(),
            ordered_at: "2026-01-02T03:04:05Z".into(),
            status: "paid".into(),
            modified_at: "2026-01-02T03:04:05Z".into(),
        });
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["kind"], "order");
        assert_eq!(json["customer_external_id"], "C-1");
        assert_eq!(
            serde_json::from_value::<ExternalRecord>(json).unwrap(),
            record
        );
    }
}
