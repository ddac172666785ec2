//! ERP sync: a tenant's settings for running a connector, how external records map onto
//! customers and orders, and what the run history and the review queue show.
//!
//! The engine (`crate::sync`) reads pages from a connector plugin and the store
//! (`store::sync`) commits each page with its stream's cursor; this module holds the rules
//! both follow, free of either.

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::erp_records::{ExternalCustomer, ExternalOrder};
use super::money::Money;
use super::order::OrderStatus;
use super::{Id, ValidationErrors};

/// How a synced customer with no link yet is matched to a CRM customer, after its external id
/// and its tax id found nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(tag = "by", rename_all = "snake_case", deny_unknown_fields)]
pub enum MatchRule {
    /// No further rule: unmatched customers follow the `unmatched` policy.
    #[default]
    None,
    /// The one customer with a contact of this e-mail address (case-insensitive).
    Email,
    /// The one customer with a contact of this phone number.
    Phone,
    /// The one customer of exactly this name (case-insensitive, trimmed).
    Name,
    /// The one customer whose custom field `key` holds the external id, e.g. an ERP code
    /// entered in the CRM before the sync existed.
    CustomField { key: String },
}

impl MatchRule {
    /// The name recorded on a link made by this rule.
    pub fn label(&self) -> &'static str {
        match self {
            MatchRule::None => "none",
            MatchRule::Email => "email",
            MatchRule::Phone => "phone",
            MatchRule::Name => "name",
            MatchRule::CustomField { .. } => "custom_field",
        }
    }
}

/// What happens to a synced customer that matches no CRM customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnmatchedPolicy {
    /// Queue it for review; someone links it to a customer or creates one.
    #[default]
    Review,
    /// Create a CRM customer from it.
    Create,
}

/// A tenant's settings for syncing one connector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncSettings {
    /// What the connector's orders and customer links are filed under, e.g. `odoo`; unique
    /// per tenant, and fixed once records were synced under it.
    pub source: String,
    /// Run every this many minutes; absent: only on demand.
    #[serde(default)]
    pub interval_minutes: Option<u32>,
    /// Records asked for per read (the connector may cap it lower).
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// At most this many reads of the connector per minute, across all runs of this process.
    #[serde(default = "default_reads_per_minute")]
    pub reads_per_minute: u32,
    /// Tries of one read before a retryable error fails the run.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// The first retry waits this long; each next one twice as long (capped at 5 minutes).
    #[serde(default = "default_retry_base_ms")]
    pub retry_base_ms: u32,
    #[serde(default)]
    pub match_rule: MatchRule,
    #[serde(default)]
    pub unmatched: UnmatchedPolicy,
    /// Paused connectors are not scheduled and cannot be started.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn default_page_size() -> u32 {
    500
}
fn default_reads_per_minute() -> u32 {
    600
}
fn default_max_attempts() -> u32 {
    5
}
fn default_retry_base_ms() -> u32 {
    1000
}
fn enabled_by_default() -> bool {
    true
}

pub const MAX_PAGE_SIZE: u32 = 5000;
const MAX_RETRY_DELAY_MS: u64 = 5 * 60 * 1000;

impl SyncSettings {
    pub fn validate(mut self) -> Result<SyncSettings, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        self.source = self.source.trim().to_ascii_lowercase();
        let source_ok = (1..=32).contains(&self.source.len())
            && self
                .source
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !source_ok {
            errors.add(
                "source",
                "invalid_source",
                "1–32 letters, digits, '-' or '_', e.g. odoo",
            );
        } else if self.source == super::order::MANUAL_SOURCE {
            errors.add(
                "source",
                "reserved_source",
                "`manual` is the source of orders entered in the CRM",
            );
        }
        let ranges: [(&str, u32, u32, u32); 4] = [
            ("page_size", self.page_size, 1, MAX_PAGE_SIZE),
            ("reads_per_minute", self.reads_per_minute, 1, 60_000),
            ("max_attempts", self.max_attempts, 1, 10),
            ("retry_base_ms", self.retry_base_ms, 10, 60_000),
        ];
        for (field, value, low, high) in ranges {
            if !(low..=high).contains(&value) {
                errors.add(field, "out_of_range", format!("{low}–{high}"));
            }
        }
        if let Some(minutes) = self.interval_minutes
            && !(1..=7 * 24 * 60).contains(&minutes)
        {
            errors.add("interval_minutes", "out_of_range", "1–10080 minutes");
        }
        if let MatchRule::CustomField { key } = &mut self.match_rule {
            *key = key.trim().to_owned();
            let well_formed = key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if key.is_empty() || key.len() > 64 || !well_formed {
                errors.add(
                    "match_rule.key",
                    "invalid_key",
                    "1–64 ASCII letters, digits or '_'",
                );
            }
        }
        errors.into_result(self)
    }

    /// How long to wait before try `attempt` (2, 3, …) of a read.
    pub fn retry_delay(&self, attempt: u32) -> std::time::Duration {
        let doublings = attempt.saturating_sub(2).min(20);
        let delay = u64::from(self.retry_base_ms).saturating_mul(1 << doublings);
        std::time::Duration::from_millis(delay.min(MAX_RETRY_DELAY_MS))
    }

    /// When a scheduled connector runs next after a run that ended at `now`.
    pub fn next_run_after(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.interval_minutes
            .filter(|_| self.enabled)
            .map(|minutes| now + Duration::minutes(i64::from(minutes)))
    }
}

/// A connector as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SyncConnector {
    pub plugin_id: String,
    pub settings: SyncSettings,
    pub next_run_at: Option<DateTime<Utc>>,
    /// Set while a process runs it.
    pub running_until: Option<DateTime<Utc>>,
    pub streams: Vec<StreamState>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where one stream stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StreamState {
    pub stream: String,
    /// The connector's opaque cursor committed with the last imported page.
    pub cursor: Option<String>,
    pub last_run_id: Option<Id>,
    /// When the stream last read to its end.
    pub last_success_at: Option<DateTime<Utc>>,
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    ToSchema,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum RunTrigger {
    Schedule,
    Manual,
    Cli,
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    ToSchema,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum RunOutcome {
    Running,
    Succeeded,
    Failed,
    /// Its process died or lost the connector's lease; the next run resumes from the last
    /// committed page.
    Interrupted,
}

/// What one stream of a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct StreamCounts {
    pub pages: i64,
    pub records_read: i64,
    pub inserted: i64,
    pub updated: i64,
    /// Read again exactly as stored: nothing written.
    pub unchanged: i64,
    /// Sent to the review queue.
    pub unmatched: i64,
}

impl StreamCounts {
    pub fn add(&mut self, other: &StreamCounts) {
        self.pages += other.pages;
        self.records_read += other.records_read;
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.unmatched += other.unmatched;
    }
}

/// One stream within a run.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StreamRun {
    pub stream: String,
    pub outcome: RunOutcome,
    #[serde(flatten)]
    pub counts: StreamCounts,
    pub error: Option<RunError>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
}

/// Why a run or stream failed: the connector's stable code and message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RunError {
    pub code: String,
    pub message: String,
}

/// One sync run.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SyncRun {
    pub id: Id,
    pub plugin_id: String,
    pub trigger: RunTrigger,
    /// The process that ran it.
    pub run_by: String,
    pub outcome: RunOutcome,
    /// Reads tried again after a retryable error.
    pub retries: i32,
    pub error: Option<RunError>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub streams: Vec<StreamRun>,
}

// ---- the review queue ----------------------------------------------------------------------

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    ToSchema,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ReviewReason {
    /// No CRM customer matched.
    NoMatch,
    /// The rule matched several customers.
    Ambiguous,
    /// An order whose customer is not linked yet; imported as soon as it is.
    CustomerUnmatched,
    /// The record cannot be stored as it is (see the detail).
    Invalid,
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    ToSchema,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ReviewStatus {
    Pending,
    /// Linked to an existing customer.
    Linked,
    /// A customer was created from it.
    Created,
    /// An order imported once its customer was linked.
    Imported,
    Dismissed,
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    ToSchema,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ReviewKind {
    Customer,
    Order,
}

/// A record waiting in (or resolved from) the review queue.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReviewItem {
    pub id: Id,
    pub plugin_id: String,
    pub source: String,
    pub kind: ReviewKind,
    pub external_id: String,
    /// For orders: the external customer they belong to.
    pub customer_external_id: Option<String>,
    /// The record as the connector read it.
    #[schema(value_type = Object)]
    pub record: serde_json::Value,
    pub reason: ReviewReason,
    pub detail: String,
    pub status: ReviewStatus,
    pub customer_id: Option<Id>,
    pub resolved_by: Option<Id>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// How a reviewer resolves a queued customer.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum ReviewResolution {
    /// It is this existing customer.
    Link { customer_id: Id },
    /// It is a new customer: create it from the record.
    Create {
        /// The new customer's code; derived from the source and external id when absent.
        #[serde(default)]
        code: Option<String>,
        #[serde(default)]
        owner_id: Option<Id>,
    },
    /// Neither: drop it from the queue (read again, it comes back only if it changed).
    Dismiss,
}

// ---- mapping -------------------------------------------------------------------------------

/// An external order ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedOrder {
    pub external_id: String,
    pub customer_external_id: String,
    pub amount: Money,
    pub ordered_at: DateTime<Utc>,
    pub status: OrderStatus,
}

/// Checks an external order and maps its amount, time and status word; the error says why it
/// cannot be stored.
pub fn map_order(order: &ExternalOrder) -> Result<MappedOrder, String> {
    if [
        &order.external_id,
        &order.customer_external_id,
        &order.currency,
        &order.status,
    ]
    .iter()
    .any(|text| text.contains('\0'))
    {
        return Err("the record contains a NUL character, which no database column takes".into());
    }
    if order.external_id.trim().is_empty() || order.external_id.len() > 128 {
        return Err("the external id is empty or longer than 128 characters".into());
    }
    if order.customer_external_id.trim().is_empty() {
        return Err("the order names no customer".into());
    }
    let amount: Decimal = order
        .amount
        .trim()
        .parse()
        .map_err(|_| format!("amount {:?} is not a decimal number", order.amount))?;
    let money = Money {
        amount: amount.round_dp(super::money::STORAGE_SCALE),
        currency: order.currency.trim().to_ascii_uppercase(),
    };
    let mut errors = ValidationErrors::default();
    let money = money
        .validate(&mut errors, "amount")
        .ok_or_else(|| errors.to_string())?;
    let ordered_at = DateTime::parse_from_rfc3339(order.ordered_at.trim())
        .map_err(|_| format!("ordered_at {:?} is not an RFC 3339 time", order.ordered_at))?
        .with_timezone(&Utc);
    let status = map_status(&order.status)
        .ok_or_else(|| format!("status {:?} is not a known order state", order.status))?;
    Ok(MappedOrder {
        external_id: order.external_id.clone(),
        customer_external_id: order.customer_external_id.clone(),
        amount: money,
        ordered_at,
        status,
    })
}

/// The order states of Odoo (`sale.order.state`), ERPNext (`Sales Order.status`) and the
/// usual words of other ERPs, onto ours.
pub fn map_status(word: &str) -> Option<OrderStatus> {
    let word = word.trim().to_ascii_lowercase().replace(['_', '-'], " ");
    Some(match word.as_str() {
        "draft" | "sent" | "quotation" | "on hold" | "pending" | "new" | "open" => {
            OrderStatus::Pending
        }
        "sale"
        | "confirmed"
        | "submitted"
        | "to deliver and bill"
        | "to bill"
        | "to deliver"
        | "in progress"
        | "processing" => OrderStatus::Confirmed,
        "done" | "completed" | "closed" | "delivered" | "fulfilled" | "locked" => {
            OrderStatus::Fulfilled
        }
        "cancel" | "cancelled" | "canceled" => OrderStatus::Cancelled,
        "refunded" | "returned" | "return" => OrderStatus::Refunded,
        _ => return None,
    })
}

/// A stable hash of what the sync stores of a customer record, so a record read again
/// unchanged writes nothing. The ERP's `modified_at` is left out: a touch that changed no
/// field we keep is no change.
pub fn customer_fingerprint(customer: &ExternalCustomer) -> String {
    use sha2::{Digest, Sha256};
    let fields = [
        customer.name.as_str(),
        if customer.is_company { "1" } else { "0" },
        customer.tax_id.as_deref().unwrap_or(""),
        customer.email.as_deref().unwrap_or(""),
        customer.phone.as_deref().unwrap_or(""),
        customer.industry.as_deref().unwrap_or(""),
    ];
    let mut hasher = Sha256::new();
    for field in fields {
        hasher.update((field.len() as u64).to_le_bytes());
        hasher.update(field.as_bytes());
    }
    hasher
        .finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The code of a customer created from a synced record: `ODOO-42`, upper case, with anything
/// but letters, digits and `-` replaced, at most 64 characters.
pub fn customer_code(source: &str, external_id: &str) -> String {
    let raw = format!("{source}-{external_id}").to_ascii_uppercase();
    raw.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> SyncSettings {
        serde_json::from_value(serde_json::json!({"source": " Odoo "})).unwrap()
    }

    fn order(amount: &str, status: &str, at: &str) -> ExternalOrder {
        ExternalOrder {
            external_id: "SO1".into(),
            customer_external_id: "7".into(),
            amount: amount.into(),
            currency: "eur".into(),
            ordered_at: at.into(),
            status: status.into(),
            modified_at: at.into(),
        }
    }

    #[test]
    fn settings_default_and_normalise() {
        let settings = settings().validate().unwrap();
        assert_eq!(settings.source, "odoo");
        assert_eq!(settings.page_size, 500);
        assert_eq!(settings.match_rule, MatchRule::None);
        assert_eq!(settings.unmatched, UnmatchedPolicy::Review);
        assert!(settings.enabled);
    }

    #[test]
    fn bad_settings_name_each_field() {
        let bad = SyncSettings {
            source: "manual".into(),
            interval_minutes: Some(0),
            page_size: 0,
            reads_per_minute: 0,
            max_attempts: 11,
            retry_base_ms: 1,
            match_rule: MatchRule::CustomField { key: " ".into() },
            ..settings()
        };
        let errors = bad.validate().unwrap_err();
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        for field in [
            "source",
            "interval_minutes",
            "page_size",
            "reads_per_minute",
            "max_attempts",
            "retry_base_ms",
            "match_rule.key",
        ] {
            assert!(fields.contains(&field), "{field} in {fields:?}");
        }
    }

    #[test]
    fn retries_back_off_exponentially_up_to_a_cap() {
        let settings = settings();
        assert_eq!(settings.retry_delay(2).as_millis(), 1000);
        assert_eq!(settings.retry_delay(3).as_millis(), 2000);
        assert_eq!(settings.retry_delay(5).as_millis(), 8000);
        assert_eq!(settings.retry_delay(30).as_millis(), 300_000);
    }

    #[test]
    fn orders_map_amounts_times_and_state_words() {
        let mapped = map_order(&order("1200.50", "sale", "2024-03-01T08:00:00Z")).unwrap();
        assert_eq!(mapped.amount.amount, Decimal::new(120050, 2));
        assert_eq!(mapped.amount.currency, "EUR");
        assert_eq!(mapped.status, OrderStatus::Confirmed);
        for (word, status) in [
            ("draft", OrderStatus::Pending),
            ("To Deliver and Bill", OrderStatus::Confirmed),
            ("Completed", OrderStatus::Fulfilled),
            ("cancel", OrderStatus::Cancelled),
        ] {
            assert_eq!(map_status(word), Some(status), "{word}");
        }
        assert!(map_order(&order("12,5", "sale", "2024-03-01T08:00:00Z")).is_err());
        assert!(map_order(&order("-1", "sale", "2024-03-01T08:00:00Z")).is_err());
        assert!(map_order(&order("1", "weird", "2024-03-01T08:00:00Z")).is_err());
        assert!(map_order(&order("1", "sale", "2024-03-01 08:00")).is_err());
    }

    #[test]
    fn fingerprints_ignore_the_modification_time_only() {
        let customer = ExternalCustomer {
            external_id: "7".into(),
            name: "Acme".into(),
            is_company: true,
            tax_id: None,
            email: None,
            phone: None,
            industry: None,
            modified_at: "2024-01-01T00:00:00Z".into(),
        };
        let touched = ExternalCustomer {
            modified_at: "2024-02-01T00:00:00Z".into(),
            ..customer.clone()
        };
        let renamed = ExternalCustomer {
            name: "Acme Ltd".into(),
            ..customer.clone()
        };
        assert_eq!(
            customer_fingerprint(&customer),
            customer_fingerprint(&touched)
        );
        assert_ne!(
            customer_fingerprint(&customer),
            customer_fingerprint(&renamed)
        );
        assert_eq!(customer_code("odoo", "res.partner/7"), "ODOO-RES-PARTNER-7");
    }
}
