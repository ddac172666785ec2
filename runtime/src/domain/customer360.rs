//! The 360° view: everything about one customer, assembled in one answer.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::contact::Contact;
use super::customer::Customer;
use super::interaction::Interaction;
use super::money::Money;
use super::order::Order;
use super::satisfaction::{SatisfactionKind, SatisfactionRecord};

/// The window of "recent" order statistics.
pub const RECENT_ORDER_DAYS: i64 = 90;
pub const DEFAULT_RECENT_INTERACTIONS: u64 = 10;
pub const MAX_RECENT_INTERACTIONS: u64 = 100;
pub const SATISFACTION_HISTORY: u64 = 50;
pub const MAX_CONTACTS: u64 = 100;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Customer360 {
    /// The profile, including tags and tier.
    pub profile: Customer,
    pub contacts: Vec<Contact>,
    pub recent_interactions: Vec<Interaction>,
    pub last_contact_at: Option<DateTime<Utc>>,
    /// Whole days since the last interaction; `null` when there was none.
    pub days_since_last_contact: Option<i64>,
    pub order_stats: OrderStats,
    pub satisfaction: SatisfactionSummary,
    /// The parts your role may not read for this customer (no `read` grant on their resource
    /// whose scope reaches it): left empty, and named here so that empty is not read as none.
    pub withheld: Vec<Section>,
}

/// A part of the view that has its own read permission, beyond `customers:read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    Contacts,
    Interactions,
    Orders,
    Satisfaction,
}

impl Section {
    pub const ALL: [Section; 4] = [
        Section::Contacts,
        Section::Interactions,
        Section::Orders,
        Section::Satisfaction,
    ];

    /// The resource whose `read` grant the section needs.
    pub const fn resource(self) -> &'static str {
        match self {
            Section::Contacts => "contacts",
            Section::Interactions => "interactions",
            Section::Orders => "orders",
            Section::Satisfaction => "satisfaction",
        }
    }
}

impl Customer360 {
    /// Empties `section` and names it in `withheld`; what derives from it goes too (the last
    /// contact comes from the interactions).
    pub fn withhold(&mut self, section: Section) {
        match section {
            Section::Contacts => self.contacts.clear(),
            Section::Interactions => {
                self.recent_interactions.clear();
                self.last_contact_at = None;
                self.days_since_last_contact = None;
            }
            Section::Orders => self.order_stats = OrderStats::default(),
            Section::Satisfaction => self.satisfaction = SatisfactionSummary::default(),
        }
        self.withheld.push(section);
    }
}

/// Order statistics over counted orders (cancelled and refunded ones are excluded).
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct OrderStats {
    pub order_count: i64,
    /// Total value, one entry per currency; `null` when your role may not read order amounts.
    pub total_value: Option<Vec<Money>>,
    pub last_order: Option<Order>,
    pub orders_last_90_days: i64,
    /// `null` when your role may not read order amounts.
    pub value_last_90_days: Option<Vec<Money>>,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct SatisfactionSummary {
    /// The most recent record of each kind (CSAT, NPS, CES) that has one.
    pub latest: Vec<SatisfactionRecord>,
    /// Newest first, at most 50 records.
    pub history: Vec<SatisfactionRecord>,
}

impl SatisfactionSummary {
    pub fn from_history(history: Vec<SatisfactionRecord>) -> Self {
        let latest = [
            SatisfactionKind::Csat,
            SatisfactionKind::Nps,
            SatisfactionKind::Ces,
        ]
        .into_iter()
        .filter_map(|kind| history.iter().find(|record| record.kind == kind).cloned())
        .collect();
        SatisfactionSummary { latest, history }
    }
}

pub fn days_since(then: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Option<i64> {
    then.map(|then| (now - then).num_days().max(0))
}
