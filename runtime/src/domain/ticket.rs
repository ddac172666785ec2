//! Service tickets: what a customer asked for or complained about, who owns it, by when it must be
//! answered and resolved, and how it ended.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Id;
use super::sla::{BusinessCalendar, SlaClock, at_risk_target};
use super::validation::{self, ValidationErrors};

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
            strum::EnumString, strum::IntoStaticStr, strum::EnumIter,
        )]
        #[serde(rename_all = "snake_case")]
        #[strum(serialize_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }
    };
}

text_enum!(
    /// What the customer came with.
    TicketType { Complaint, Requirement, Inquiry, AfterSales }
);

text_enum!(
    /// Lowest first, so `Ord` follows urgency.
    TicketPriority { Low, Normal, High, Urgent }
);

impl TicketPriority {
    /// One step more urgent; `urgent` stays `urgent`.
    pub fn raised(self) -> TicketPriority {
        match self {
            TicketPriority::Low => TicketPriority::Normal,
            TicketPriority::Normal => TicketPriority::High,
            TicketPriority::High | TicketPriority::Urgent => TicketPriority::Urgent,
        }
    }
}

text_enum!(TicketStatus {
    New,
    Assigned,
    InProgress,
    WaitingOnCustomer,
    Resolved,
    Closed
});

impl TicketStatus {
    /// Still someone's work: counts in the backlog and runs the SLA clock (unless waiting).
    pub fn is_open(self) -> bool {
        !matches!(self, TicketStatus::Resolved | TicketStatus::Closed)
    }

    /// Whether the SLA clock runs in this status: not while the customer owes an answer, and
    /// not once the work is done.
    pub fn clock_runs(self) -> bool {
        self.is_open() && self != TicketStatus::WaitingOnCustomer
    }

    /// The statuses a ticket may move to by hand. Leaving `resolved` or `closed` for an open
    /// status is a reopen.
    pub fn may_become(self, next: TicketStatus) -> bool {
        use TicketStatus::*;
        match self {
            New => matches!(next, Assigned | InProgress | WaitingOnCustomer | Resolved),
            Assigned => matches!(next, New | InProgress | WaitingOnCustomer | Resolved),
            InProgress => matches!(next, Assigned | WaitingOnCustomer | Resolved),
            WaitingOnCustomer => matches!(next, InProgress | Resolved),
            Resolved => matches!(next, Closed | InProgress),
            Closed => next == InProgress,
        }
    }
}

text_enum!(
    /// How a resolved ticket ended, as the account manager records it (the seeds' "已解决 /
    /// 客户满意 / 待跟进").
    ResolutionResult { Resolved, CustomerSatisfied, NeedsFollowUp }
);

text_enum!(
    /// Where a ticket stands against its SLA. `breached` is final.
    SlaState { NoSla, OnTrack, AtRisk, Breached }
);

text_enum!(
    /// Which clock an SLA policy counts on.
    SlaClockKind {
        /// The tenant's business calendar (hours, holidays, time zone).
        Business,
        /// Every hour of every day.
        AroundTheClock,
    }
);

text_enum!(
    /// How a routing rule picks an assignee among the department's active members.
    RoutingStrategy {
        /// The next member after the one this rule assigned last, by user id.
        RoundRobin,
        /// The member with the fewest open tickets (lowest id on ties).
        LeastLoaded,
    }
);

/// A ticket as staff see it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Ticket {
    pub id: Id,
    pub customer_id: Id,
    pub contact_id: Option<Id>,
    #[serde(rename = "type")]
    pub ticket_type: TicketType,
    pub priority: TicketPriority,
    pub category: Option<String>,
    pub subject: String,
    pub description: String,
    pub status: TicketStatus,
    pub department_id: Option<Id>,
    pub assignee_id: Option<Id>,
    pub sla: TicketSla,
    pub resolution: Option<Resolution>,
    /// Path of the customer-facing progress page (an unguessable token link).
    pub progress_url: String,
    pub created_by: Option<Id>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub first_responded_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TicketSla {
    /// The policy the ticket matched at creation; `null` means no SLA.
    pub policy_id: Option<Id>,
    pub state: SlaState,
    /// `null` while the clock is paused or when the policy sets no such target.
    pub first_response_due_at: Option<DateTime<Utc>>,
    pub resolution_due_at: Option<DateTime<Utc>>,
    pub paused: bool,
    pub escalated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolution {
    pub result: ResolutionResult,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketInput {
    pub customer_id: Id,
    pub contact_id: Option<Id>,
    #[serde(rename = "type")]
    pub ticket_type: TicketType,
    /// Defaults to `normal`.
    pub priority: Option<TicketPriority>,
    pub category: Option<String>,
    pub subject: String,
    #[serde(default)]
    pub description: String,
}

/// A validated new ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTicket {
    pub customer_id: Id,
    pub contact_id: Option<Id>,
    pub ticket_type: TicketType,
    pub priority: TicketPriority,
    pub category: Option<String>,
    pub subject: String,
    pub description: String,
}

fn category(errors: &mut ValidationErrors, value: Option<&str>) -> Option<String> {
    validation::optional_text(errors, "category", value, 100).map(|c| c.to_lowercase())
}

fn description(errors: &mut ValidationErrors, value: &str) -> String {
    let text = value.trim();
    if text.chars().count() > 20_000 {
        errors.add(
            "description",
            "too_long",
            "description has at most 20000 characters",
        );
    }
    text.to_owned()
}

impl TicketInput {
    pub fn validate(self) -> Result<NewTicket, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let subject = validation::required_text(&mut errors, "subject", &self.subject, 200);
        let category = category(&mut errors, self.category.as_deref());
        let description = description(&mut errors, &self.description);
        errors.into_result(NewTicket {
            customer_id: self.customer_id,
            contact_id: self.contact_id,
            ticket_type: self.ticket_type,
            priority: self.priority.unwrap_or(TicketPriority::Normal),
            category,
            subject: subject.unwrap_or_default(),
            description,
        })
    }
}

/// Edits of a ticket's content; status and assignment have their own routes.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketPatch {
    pub subject: Option<String>,
    pub description: Option<String>,
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<String>)]
    pub category: Option<Option<String>>,
    pub priority: Option<TicketPriority>,
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<i64>)]
    pub contact_id: Option<Option<Id>>,
}

/// The editable content of a ticket after a patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketContent {
    pub subject: String,
    pub description: String,
    pub category: Option<String>,
    pub priority: TicketPriority,
    pub contact_id: Option<Id>,
}

impl TicketPatch {
    pub fn apply(self, current: &Ticket) -> Result<TicketContent, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let subject = match &self.subject {
            Some(subject) => validation::required_text(&mut errors, "subject", subject, 200),
            None => Some(current.subject.clone()),
        };
        let description = match &self.description {
            Some(text) => description(&mut errors, text),
            None => current.description.clone(),
        };
        let category = match self.category {
            Some(value) => category(&mut errors, value.as_deref()),
            None => current.category.clone(),
        };
        errors.into_result(TicketContent {
            subject: subject.unwrap_or_default(),
            description,
            category,
            priority: self.priority.unwrap_or(current.priority),
            contact_id: self.contact_id.unwrap_or(current.contact_id),
        })
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    pub status: TicketStatus,
    /// Required when `status` is `resolved`.
    pub resolution: Option<Resolution>,
    /// Why, kept in the history.
    pub note: Option<String>,
}

impl StatusChange {
    /// Checks the change against the current status; returns the resolution to store when
    /// resolving.
    pub fn check(&self, current: TicketStatus) -> Result<Option<Resolution>, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if !current.may_become(self.status) {
            let from: &str = current.into();
            let to: &str = self.status.into();
            errors.add(
                "status",
                "invalid_transition",
                format!("a {from} ticket cannot become {to}"),
            );
        }
        let resolution = match (&self.resolution, self.status) {
            (Some(resolution), TicketStatus::Resolved) => {
                let note = validation::optional_text(
                    &mut errors,
                    "resolution.note",
                    resolution.note.as_deref(),
                    5000,
                );
                Some(Resolution {
                    result: resolution.result,
                    note,
                })
            }
            (None, TicketStatus::Resolved) => {
                errors.add(
                    "resolution",
                    "resolution_required",
                    "resolving needs a result: resolved, customer_satisfied or needs_follow_up",
                );
                None
            }
            (Some(_), _) => {
                errors.add(
                    "resolution",
                    "unexpected_resolution",
                    "only a change to resolved carries a resolution",
                );
                None
            }
            (None, _) => None,
        };
        validation::optional_text(&mut errors, "note", self.note.as_deref(), 2000);
        errors.into_result(resolution)
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentInput {
    /// Moves the ticket to this department; kept when absent.
    pub department_id: Option<Id>,
    /// `null` leaves the ticket unassigned within its department.
    pub assignee_id: Option<Id>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TicketComment {
    pub id: Id,
    pub ticket_id: Id,
    pub author_id: Option<Id>,
    /// Public comments reach the customer's progress page; internal ones never do.
    pub public: bool,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentInput {
    pub body: String,
    /// Defaults to `false`: internal unless said otherwise.
    #[serde(default)]
    pub public: bool,
}

impl CommentInput {
    pub fn validate(self) -> Result<CommentInput, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let body = validation::required_text(&mut errors, "body", &self.body, 10_000);
        errors.into_result(CommentInput {
            body: body.unwrap_or_default(),
            public: self.public,
        })
    }
}

/// One entry of a ticket's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TicketChange {
    pub id: Id,
    /// `null` when the scheduler made the change (routing, escalation).
    pub actor_id: Option<Id>,
    /// `status` (the first one records the creation), `reopened`, `priority`, `department`, `assignee`, `sla_state`.
    pub field: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub note: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketFilter {
    pub status: Option<TicketStatus>,
    pub open: Option<bool>,
    pub ticket_type: Option<TicketType>,
    pub customer_id: Option<Id>,
    pub assignee_id: Option<Id>,
    pub department_id: Option<Id>,
    pub sla_state: Option<SlaState>,
}

/// What decides a ticket's policy and route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketTraits<'a> {
    pub ticket_type: TicketType,
    pub priority: TicketPriority,
    pub category: Option<&'a str>,
    pub tier: Option<&'a str>,
}

// ---------------------------------------------------------------------------------------------
// SLA policies

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SlaPolicy {
    pub id: Id,
    pub name: String,
    /// Criteria; `null` matches any value.
    pub ticket_type: Option<TicketType>,
    pub priority: Option<TicketPriority>,
    pub tier: Option<String>,
    pub clock: SlaClockKind,
    pub first_response_minutes: Option<u32>,
    pub resolution_minutes: Option<u32>,
    /// Share of a target after which a ticket is at risk.
    pub at_risk_percent: u8,
    /// Installed from the seed material (`complaint-24h`, `requirement-3-business-days`).
    pub key: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaPolicyInput {
    pub name: String,
    #[serde(rename = "type")]
    pub ticket_type: Option<TicketType>,
    pub priority: Option<TicketPriority>,
    pub tier: Option<String>,
    /// Defaults to `business`.
    pub clock: Option<SlaClockKind>,
    pub first_response_minutes: Option<u32>,
    pub resolution_minutes: Option<u32>,
    /// 1–99, default 80.
    pub at_risk_percent: Option<u8>,
}

/// The stored shape of a policy, without id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaPolicyFields {
    pub key: Option<String>,
    pub name: String,
    pub ticket_type: Option<TicketType>,
    pub priority: Option<TicketPriority>,
    pub tier: Option<String>,
    pub clock: SlaClockKind,
    pub first_response_minutes: Option<u32>,
    pub resolution_minutes: Option<u32>,
    pub at_risk_percent: u8,
}

/// A year of minutes: longer targets are typing mistakes.
const MAX_TARGET_MINUTES: u32 = 525_600;

fn target(errors: &mut ValidationErrors, field: &str, minutes: Option<u32>) {
    if minutes.is_some_and(|m| m == 0 || m > MAX_TARGET_MINUTES) {
        errors.add(
            field,
            "out_of_range",
            format!("{field} is 1–{MAX_TARGET_MINUTES}"),
        );
    }
}

fn tier_criterion(errors: &mut ValidationErrors, tier: Option<&str>) -> Option<String> {
    validation::optional_text(errors, "tier", tier, 50).map(|t| t.to_lowercase())
}

impl SlaPolicyInput {
    pub fn validate(self) -> Result<SlaPolicyFields, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let name = validation::required_text(&mut errors, "name", &self.name, 100);
        target(
            &mut errors,
            "first_response_minutes",
            self.first_response_minutes,
        );
        target(&mut errors, "resolution_minutes", self.resolution_minutes);
        if self.first_response_minutes.is_none() && self.resolution_minutes.is_none() {
            errors.add(
                "resolution_minutes",
                "no_target",
                "a policy sets a first-response or a resolution target, or both",
            );
        }
        let at_risk_percent = self.at_risk_percent.unwrap_or(80);
        if !(1..=99).contains(&at_risk_percent) {
            errors.add("at_risk_percent", "out_of_range", "at_risk_percent is 1–99");
        }
        let tier = tier_criterion(&mut errors, self.tier.as_deref());
        errors.into_result(SlaPolicyFields {
            key: None,
            name: name.unwrap_or_default(),
            ticket_type: self.ticket_type,
            priority: self.priority,
            tier,
            clock: self.clock.unwrap_or(SlaClockKind::Business),
            first_response_minutes: self.first_response_minutes,
            resolution_minutes: self.resolution_minutes,
            at_risk_percent,
        })
    }
}

impl SlaPolicy {
    fn matches(&self, traits: &TicketTraits<'_>) -> bool {
        self.ticket_type.is_none_or(|t| t == traits.ticket_type)
            && self.priority.is_none_or(|p| p == traits.priority)
            && self
                .tier
                .as_deref()
                .is_none_or(|tier| Some(tier) == traits.tier)
    }

    fn specificity(&self) -> usize {
        [
            self.ticket_type.is_some(),
            self.priority.is_some(),
            self.tier.is_some(),
        ]
        .into_iter()
        .filter(|set| *set)
        .count()
    }

    pub fn targets(&self) -> SlaTargets {
        let minutes = |m: Option<u32>| m.map(|m| Duration::minutes(i64::from(m)));
        SlaTargets {
            first_response: minutes(self.first_response_minutes),
            resolution: minutes(self.resolution_minutes),
            at_risk_percent: self.at_risk_percent,
        }
    }
}

/// The policy for a ticket: the most specific match (most criteria set), the oldest on ties.
pub fn choose_policy<'a>(
    policies: &'a [SlaPolicy],
    traits: &TicketTraits<'_>,
) -> Option<&'a SlaPolicy> {
    policies
        .iter()
        .filter(|policy| policy.matches(traits))
        .max_by(|a, b| {
            (a.specificity(), std::cmp::Reverse(a.id))
                .cmp(&(b.specificity(), std::cmp::Reverse(b.id)))
        })
}

/// The seed material's service levels: complaints resolved within 24 hours, requirements'
/// feasibility answered within 3 business days (3 × 9 h of the default office hours).
pub fn default_sla_policies() -> Vec<SlaPolicyFields> {
    vec![
        SlaPolicyFields {
            key: Some("complaint-24h".to_owned()),
            name: "Complaints resolved within 24 hours".to_owned(),
            ticket_type: Some(TicketType::Complaint),
            priority: None,
            tier: None,
            clock: SlaClockKind::AroundTheClock,
            first_response_minutes: Some(4 * 60),
            resolution_minutes: Some(24 * 60),
            at_risk_percent: 80,
        },
        SlaPolicyFields {
            key: Some("requirement-3-business-days".to_owned()),
            name: "Requirement feasibility answered within 3 business days".to_owned(),
            ticket_type: Some(TicketType::Requirement),
            priority: None,
            tier: None,
            clock: SlaClockKind::Business,
            first_response_minutes: Some(3 * 9 * 60),
            resolution_minutes: None,
            at_risk_percent: 80,
        },
    ]
}

// ---------------------------------------------------------------------------------------------
// The SLA outlook of one ticket

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaTargets {
    pub first_response: Option<Duration>,
    pub resolution: Option<Duration>,
    pub at_risk_percent: u8,
}

/// What the store knows of a ticket's SLA progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaProgress {
    pub clock: SlaClock,
    pub first_responded_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// Deadlines as last computed: a met target keeps the deadline it was met against.
    pub first_response_due_at: Option<DateTime<Utc>>,
    pub resolution_due_at: Option<DateTime<Utc>>,
    pub state: SlaState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaOutlook {
    pub first_response_due_at: Option<DateTime<Utc>>,
    pub resolution_due_at: Option<DateTime<Utc>>,
    /// When the scheduler must look again (the next at-risk or due instant); `None` when
    /// nothing can change without a person acting.
    pub next_check_at: Option<DateTime<Utc>>,
    pub state: SlaState,
}

struct TargetOutlook {
    due_at: Option<DateTime<Utc>>,
    at_risk_at: Option<DateTime<Utc>>,
    met_late: bool,
    pending: bool,
}

fn target_outlook(
    calendar: &BusinessCalendar,
    clock: &SlaClock,
    target: Duration,
    at_risk_percent: u8,
    met_at: Option<DateTime<Utc>>,
    stored_due: Option<DateTime<Utc>>,
) -> TargetOutlook {
    match met_at {
        Some(met_at) => TargetOutlook {
            due_at: stored_due,
            at_risk_at: None,
            met_late: stored_due.is_some_and(|due| met_at > due),
            pending: false,
        },
        None => TargetOutlook {
            due_at: clock.deadline(calendar, target),
            at_risk_at: clock.deadline(calendar, at_risk_target(target, at_risk_percent)),
            met_late: false,
            pending: true,
        },
    }
}

/// Where a ticket stands at `now`: its deadlines (moved by pauses), its state and when to look
/// again. Pure, so the scheduler and every ticket change agree.
pub fn sla_outlook(
    calendar: &BusinessCalendar,
    targets: Option<&SlaTargets>,
    progress: &SlaProgress,
    now: DateTime<Utc>,
) -> SlaOutlook {
    let Some(targets) = targets else {
        return SlaOutlook {
            first_response_due_at: None,
            resolution_due_at: None,
            next_check_at: None,
            state: SlaState::NoSla,
        };
    };
    let first_response_met = progress.first_responded_at.or(progress.resolved_at);
    let outlook = |target: Option<Duration>, met_at, stored| {
        target.map(|target| {
            target_outlook(
                calendar,
                &progress.clock,
                target,
                targets.at_risk_percent,
                met_at,
                stored,
            )
        })
    };
    let first = outlook(
        targets.first_response,
        first_response_met,
        progress.first_response_due_at,
    );
    let resolution = outlook(
        targets.resolution,
        progress.resolved_at,
        progress.resolution_due_at,
    );
    let both: Vec<&TargetOutlook> = first.iter().chain(resolution.iter()).collect();
    let reached = |at: Option<DateTime<Utc>>| at.is_some_and(|at| at <= now);
    let breached = progress.state == SlaState::Breached
        || both
            .iter()
            .any(|t| t.met_late || (t.pending && reached(t.due_at)));
    let at_risk = both.iter().any(|t| t.pending && reached(t.at_risk_at));
    let state = if breached {
        SlaState::Breached
    } else if at_risk {
        SlaState::AtRisk
    } else {
        SlaState::OnTrack
    };
    let next_check_at = if breached {
        None
    } else {
        both.iter()
            .filter(|t| t.pending)
            .flat_map(|t| [t.at_risk_at, t.due_at])
            .flatten()
            .filter(|at| *at > now)
            .min()
    };
    SlaOutlook {
        first_response_due_at: first.as_ref().and_then(|t| t.due_at),
        resolution_due_at: resolution.as_ref().and_then(|t| t.due_at),
        next_check_at,
        state,
    }
}

// ---------------------------------------------------------------------------------------------
// Routing

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RoutingRule {
    pub id: Id,
    /// Rules are tried by ascending position, then id.
    pub position: i32,
    #[serde(rename = "type")]
    pub ticket_type: Option<TicketType>,
    pub category: Option<String>,
    pub tier: Option<String>,
    pub department_id: Id,
    pub strategy: RoutingStrategy,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutingRuleInput {
    /// Default 100.
    pub position: Option<i32>,
    #[serde(rename = "type")]
    pub ticket_type: Option<TicketType>,
    pub category: Option<String>,
    pub tier: Option<String>,
    pub department_id: Id,
    /// Defaults to `round_robin`.
    pub strategy: Option<RoutingStrategy>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingRuleFields {
    pub position: i32,
    pub ticket_type: Option<TicketType>,
    pub category: Option<String>,
    pub tier: Option<String>,
    pub department_id: Id,
    pub strategy: RoutingStrategy,
}

impl RoutingRuleInput {
    pub fn validate(self) -> Result<RoutingRuleFields, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let position = self.position.unwrap_or(100);
        if !(0..=100_000).contains(&position) {
            errors.add("position", "out_of_range", "position is 0–100000");
        }
        let category = category(&mut errors, self.category.as_deref());
        let tier = tier_criterion(&mut errors, self.tier.as_deref());
        errors.into_result(RoutingRuleFields {
            position,
            ticket_type: self.ticket_type,
            category,
            tier,
            department_id: self.department_id,
            strategy: self.strategy.unwrap_or(RoutingStrategy::RoundRobin),
        })
    }
}

impl RoutingRule {
    pub fn matches(&self, traits: &TicketTraits<'_>) -> bool {
        self.ticket_type.is_none_or(|t| t == traits.ticket_type)
            && self
                .category
                .as_deref()
                .is_none_or(|c| Some(c) == traits.category)
            && self
                .tier
                .as_deref()
                .is_none_or(|tier| Some(tier) == traits.tier)
    }
}

/// The assignee a strategy picks among `members` (active users of the department, ascending
/// ids, each with its count of open tickets).
pub fn pick_assignee(
    strategy: RoutingStrategy,
    members: &[(Id, u64)],
    last_assignee: Option<Id>,
) -> Option<Id> {
    match strategy {
        RoutingStrategy::RoundRobin => members
            .iter()
            .map(|(id, _)| *id)
            .find(|id| last_assignee.is_none_or(|last| *id > last))
            .or_else(|| members.first().map(|(id, _)| *id)),
        RoutingStrategy::LeastLoaded => members
            .iter()
            .min_by_key(|(id, open)| (*open, *id))
            .map(|(id, _)| *id),
    }
}

// ---------------------------------------------------------------------------------------------
// The customer-facing progress page

/// What a customer sees of a ticket: no internal comment, no staff identity, nothing of any
/// other ticket or customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PublicTicket {
    /// `#<id>`, the reference to quote when calling.
    pub reference: String,
    pub subject: String,
    pub status: TicketStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Status changes, oldest first (starting with `new` at creation).
    pub timeline: Vec<PublicStatusChange>,
    /// Public comments, oldest first.
    pub comments: Vec<PublicComment>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PublicStatusChange {
    pub status: TicketStatus,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PublicComment {
    pub body: String,
    pub at: DateTime<Utc>,
}

impl TicketStatus {
    /// Words for customers.
    pub fn label(self) -> &'static str {
        match self {
            TicketStatus::New => "Received",
            TicketStatus::Assigned => "Assigned to our team",
            TicketStatus::InProgress => "In progress",
            TicketStatus::WaitingOnCustomer => "Waiting for your reply",
            TicketStatus::Resolved => "Resolved",
            TicketStatus::Closed => "Closed",
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn policy(id: Id, ticket_type: Option<TicketType>, tier: Option<&str>) -> SlaPolicy {
        SlaPolicy {
            id,
            name: format!("p{id}"),
            ticket_type,
            priority: None,
            tier: tier.map(str::to_owned),
            clock: SlaClockKind::Business,
            first_response_minutes: Some(60),
            resolution_minutes: Some(600),
            at_risk_percent: 80,
            key: None,
        }
    }

    fn traits(ticket_type: TicketType, tier: Option<&str>) -> TicketTraits<'_> {
        TicketTraits {
            ticket_type,
            priority: TicketPriority::Normal,
            category: None,
            tier,
        }
    }

    #[test]
    fn the_most_specific_policy_wins_and_no_match_means_no_sla() {
        let policies = [
            policy(1, Some(TicketType::Complaint), None),
            policy(2, Some(TicketType::Complaint), Some("high-value")),
            policy(3, None, None),
        ];
        let chosen = |t, tier| choose_policy(&policies, &traits(t, tier)).map(|p| p.id);
        assert_eq!(chosen(TicketType::Complaint, Some("high-value")), Some(2));
        assert_eq!(chosen(TicketType::Complaint, Some("regular")), Some(1));
        assert_eq!(chosen(TicketType::Inquiry, None), Some(3));
        assert_eq!(
            choose_policy(&policies[..2], &traits(TicketType::Inquiry, None)),
            None
        );
    }

    #[test]
    fn round_robin_cycles_and_least_loaded_takes_the_idlest() {
        let members = [(3, 2), (5, 0), (9, 1)];
        let rr = |last| pick_assignee(RoutingStrategy::RoundRobin, &members, last);
        assert_eq!(rr(None), Some(3));
        assert_eq!(rr(Some(3)), Some(5));
        assert_eq!(rr(Some(9)), Some(3));
        assert_eq!(
            pick_assignee(RoutingStrategy::LeastLoaded, &members, None),
            Some(5)
        );
        assert_eq!(pick_assignee(RoutingStrategy::RoundRobin, &[], None), None);
    }

    #[test]
    fn transitions_follow_the_workflow() {
        use TicketStatus::*;
        assert!(New.may_become(Assigned));
        assert!(WaitingOnCustomer.may_become(InProgress));
        assert!(Resolved.may_become(InProgress), "reopen");
        assert!(Closed.may_become(InProgress), "reopen");
        assert!(!Closed.may_become(Resolved));
        assert!(!New.may_become(Closed));
        let change = StatusChange {
            status: Resolved,
            resolution: None,
            note: None,
        };
        let errors = change.check(InProgress).unwrap_err();
        assert_eq!(errors.0[0].code, "resolution_required");
    }

    #[test]
    fn the_outlook_warns_then_breaches_and_pauses_move_nothing_while_waiting() {
        let calendar = BusinessCalendar::around_the_clock();
        let created = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
        let targets = SlaTargets {
            first_response: None,
            resolution: Some(Duration::hours(10)),
            at_risk_percent: 80,
        };
        let progress = SlaProgress {
            clock: SlaClock::start(created),
            first_responded_at: None,
            resolved_at: None,
            first_response_due_at: None,
            resolution_due_at: None,
            state: SlaState::OnTrack,
        };
        let at = |h| created + Duration::hours(h);
        let early = sla_outlook(&calendar, Some(&targets), &progress, at(1));
        assert_eq!(early.state, SlaState::OnTrack);
        assert_eq!(early.resolution_due_at, Some(at(10)));
        assert_eq!(early.next_check_at, Some(at(8)));
        assert_eq!(
            sla_outlook(&calendar, Some(&targets), &progress, at(8)).state,
            SlaState::AtRisk
        );
        assert_eq!(
            sla_outlook(&calendar, Some(&targets), &progress, at(10)).state,
            SlaState::Breached
        );
        let paused = SlaProgress {
            clock: progress.clock.pause(&calendar, at(2)),
            ..progress
        };
        let waiting = sla_outlook(&calendar, Some(&targets), &paused, at(30));
        assert_eq!(
            (waiting.state, waiting.next_check_at),
            (SlaState::OnTrack, None)
        );
        let resumed = SlaProgress {
            clock: paused.clock.resume(at(30)),
            ..paused
        };
        let later = sla_outlook(&calendar, Some(&targets), &resumed, at(31));
        assert_eq!(later.resolution_due_at, Some(at(38)));
        assert_eq!(
            sla_outlook(&calendar, None, &progress, at(99)).state,
            SlaState::NoSla
        );
    }
}
