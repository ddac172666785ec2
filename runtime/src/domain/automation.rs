//! Automation rules: a trigger (an event, or a schedule), conditions over a customer's facts,
//! and actions. Rules are data (JSON), validated here and evaluated here; the store keeps them
//! and the automation engine (`runtime/src/automation.rs`) carries the actions out.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::Id;
use super::task::TaskPriority;
use super::ticket::{TicketPriority, TicketType};
use super::tiering::CustomerFacts;
use super::validation::{self, ValidationErrors};

/// The events a rule can react to.
pub const EVENTS: [&str; 8] = [
    "customer.created",
    "customer.tier_changed",
    "order.created",
    "interaction.recorded",
    "satisfaction.recorded",
    "ticket.created",
    "ticket.resolved",
    "ticket.sla_breached",
];

/// One row of the events outbox.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Event {
    pub id: Id,
    pub tenant_id: Id,
    pub kind: String,
    pub subject_id: Option<Id>,
    pub payload: Value,
    pub occurred_at: DateTime<Utc>,
}

/// When a rule runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// Over every customer of the tenant, every `every_hours` hours.
    Schedule { every_hours: u32 },
    /// For the customer an event is about, when it happens.
    Event { event: String },
}

/// A comparison of one fact with a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    In,
    NotIn,
    /// The fact (a list, e.g. `tags`) contains the value.
    Contains,
    NotContains,
    /// The fact is a date (`YYYY-MM-DD`) between today and `value` days from today.
    WithinNextDays,
    IsSet,
    IsNotSet,
}

/// `fact` is one of [`FACTS`] or `custom.<field>` for a custom field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub fact: String,
    pub op: Operator,
    #[serde(default)]
    pub value: Value,
}

/// Who gets a task: the customer's owner, or the member of a role with the fewest open tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Assignee {
    Owner,
    Role(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// `{customer}` in the title is replaced by the customer's name.
    CreateTask {
        title: String,
        assignee: Assignee,
        #[serde(default)]
        due_in_days: u32,
        #[serde(default = "normal")]
        priority: TaskPriority,
        #[serde(default)]
        notes: Option<String>,
    },
    AddTag {
        tag: String,
    },
    /// An `automation.notification` event for the customer's owner, for channels to deliver.
    Notify {
        message: String,
    },
    /// A ticket about the customer, routed and given an SLA like any other. `{customer}` in
    /// the subject is replaced by the customer's name.
    CreateTicket {
        subject: String,
        #[serde(default = "inquiry")]
        ticket_type: TicketType,
        #[serde(default = "normal_ticket")]
        priority: TicketPriority,
        #[serde(default)]
        category: Option<String>,
        #[serde(default)]
        description: String,
    },
}

fn inquiry() -> TicketType {
    TicketType::Inquiry
}

fn normal_ticket() -> TicketPriority {
    TicketPriority::Normal
}

fn normal() -> TaskPriority {
    TaskPriority::Normal
}

/// The longest quiet period after a rule fired for a customer: ten years, as for task due dates.
pub const MAX_REPEAT_AFTER_DAYS: u32 = 3650;

/// A rule as clients write it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleDefinition {
    pub name: String,
    #[serde(default = "enabled")]
    pub enabled: bool,
    pub trigger: Trigger,
    #[serde(default)]
    pub conditions: Vec<Condition>,
    pub actions: Vec<Action>,
    /// After firing for a customer, the rule stays quiet for that customer this many days (1 to
    /// 3650); `null` means it fires once per customer, ever.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3650)]
    pub repeat_after_days: Option<u32>,
}

fn enabled() -> bool {
    true
}

/// A stored rule.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Rule {
    pub id: Id,
    /// Set on the rules installed from the seeds (`high-value-revisit`, …).
    pub key: Option<String>,
    #[serde(flatten)]
    pub definition: RuleDefinition,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A recurring job of a tenant: `tiering` (the full re-tier), `task-reminders`, or
/// `rule:<id>` for a scheduled rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Schedule {
    pub job: String,
    pub enabled: bool,
    pub interval_minutes: u32,
    pub next_run_at: DateTime<Utc>,
    /// A process holds the job's lease right now.
    pub running: bool,
    pub runs: u64,
    pub last_started_at: Option<DateTime<Utc>>,
    pub last_finished_at: Option<DateTime<Utc>>,
    /// The process that ran it last.
    pub last_run_by: Option<String>,
    /// What the last run did, or why it failed.
    pub last_outcome: Option<String>,
}

/// What running a rule once did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct RuleRunReport {
    /// Customers whose facts were checked.
    pub evaluated: u64,
    /// Customers the rule fired for.
    pub fired: u64,
    /// Customers that matched but where the rule had fired within its repeat window or its
    /// task is still open.
    pub skipped: u64,
    /// Customers that matched but the actions could not be carried out for (logged).
    pub failed: u64,
}

/// The kind of value a fact holds, which decides the operators it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FactKind {
    Text,
    Number,
    List,
    /// Custom fields: whatever JSON the tenant's schema allows.
    Any,
}

/// The facts conditions can name, besides `custom.<field>`.
pub const FACTS: [&str; 12] = [
    "tier",
    "lifecycle_stage",
    "tags",
    "tenure_days",
    "days_since_contact",
    "days_since_order",
    "order_value_365d",
    "order_count_90d",
    "interaction_count_90d",
    "latest_csat",
    "latest_nps",
    "latest_ces",
];

fn fact_kind(fact: &str) -> Option<FactKind> {
    if let Some(field) = fact.strip_prefix("custom.") {
        return (!field.is_empty()).then_some(FactKind::Any);
    }
    match fact {
        "tier" | "lifecycle_stage" => Some(FactKind::Text),
        "tags" => Some(FactKind::List),
        _ if FACTS.contains(&fact) => Some(FactKind::Number),
        _ => None,
    }
}

fn operator_fits(kind: FactKind, op: Operator, value: &Value) -> bool {
    use Operator::*;
    match (op, kind) {
        (IsSet | IsNotSet, _) => true,
        (Contains | NotContains, FactKind::List | FactKind::Any) => value.is_string(),
        (Contains | NotContains, _) => false,
        (In | NotIn, FactKind::List) => false,
        (In | NotIn, _) => value.as_array().is_some_and(|items| !items.is_empty()),
        (WithinNextDays, FactKind::Any) => value.as_u64().is_some(),
        (WithinNextDays, _) => false,
        (Gt | Gte | Lt | Lte, FactKind::Number | FactKind::Any) => value.is_number(),
        (Gt | Gte | Lt | Lte, _) => false,
        (Eq | Ne, FactKind::Number) => value.is_number(),
        (Eq | Ne, FactKind::Text) => value.is_string(),
        (Eq | Ne, FactKind::List) => false,
        (Eq | Ne, FactKind::Any) => !value.is_null(),
    }
}

impl RuleDefinition {
    /// Checks names, limits, that every condition's operator fits its fact and value, and
    /// that the trigger and actions are ones this version runs.
    pub fn validate(mut self) -> Result<RuleDefinition, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if let Some(name) = validation::required_text(&mut errors, "name", &self.name, 200) {
            self.name = name;
        }
        match &self.trigger {
            Trigger::Schedule { every_hours } if !(1..=8760).contains(every_hours) => errors.add(
                "trigger.every_hours",
                "out_of_range",
                "every_hours must be between 1 and 8760",
            ),
            Trigger::Event { event } if !EVENTS.contains(&event.as_str()) => errors.add(
                "trigger.event",
                "unknown_event",
                format!("rules react to {}", EVENTS.join(", ")),
            ),
            _ => {}
        }
        if self.conditions.len() > 20 {
            errors.add("conditions", "too_many", "a rule has at most 20 conditions");
        }
        for (index, condition) in self.conditions.iter().enumerate() {
            let field = format!("conditions[{index}]");
            match fact_kind(&condition.fact) {
                None => errors.add(
                    format!("{field}.fact"),
                    "unknown_fact",
                    format!("facts are {} or custom.<field>", FACTS.join(", ")),
                ),
                Some(kind) if !operator_fits(kind, condition.op, &condition.value) => errors.add(
                    field,
                    "operator_mismatch",
                    format!(
                        "{:?} does not apply to {} with this value",
                        condition.op, condition.fact
                    ),
                ),
                Some(_) => {}
            }
        }
        if self.actions.is_empty() || self.actions.len() > 10 {
            errors.add("actions", "out_of_range", "a rule has 1 to 10 actions");
        }
        for (index, action) in self.actions.iter_mut().enumerate() {
            check_action(&mut errors, &format!("actions[{index}]"), action);
        }
        if self
            .repeat_after_days
            .is_some_and(|days| !(1..=MAX_REPEAT_AFTER_DAYS).contains(&days))
        {
            errors.add(
                "repeat_after_days",
                "out_of_range",
                format!(
                    "repeat_after_days is 1 to {MAX_REPEAT_AFTER_DAYS}, or null for once per customer"
                ),
            );
        }
        errors.into_result(self)
    }

    /// The roles the rule's actions assign tasks to (the store checks they exist).
    pub fn assigned_roles(&self) -> impl Iterator<Item = &str> {
        self.actions.iter().filter_map(|action| match action {
            Action::CreateTask {
                assignee: Assignee::Role(role),
                ..
            } => Some(role.as_str()),
            _ => None,
        })
    }

    /// Whether every condition holds for `subject` (all conditions, no condition = always).
    pub fn matches(&self, subject: &RuleSubject) -> bool {
        self.conditions
            .iter()
            .all(|condition| condition.holds(subject))
    }
}

fn check_action(errors: &mut ValidationErrors, field: &str, action: &mut Action) {
    match action {
        Action::CreateTask {
            title,
            due_in_days,
            notes,
            ..
        } => {
            if let Some(text) =
                validation::required_text(errors, &format!("{field}.title"), title, 200)
            {
                *title = text;
            }
            *notes = validation::optional_text(
                errors,
                &format!("{field}.notes"),
                notes.as_deref(),
                4000,
            );
            if *due_in_days > 3650 {
                errors.add(
                    format!("{field}.due_in_days"),
                    "out_of_range",
                    "due_in_days is at most 3650",
                );
            }
        }
        Action::AddTag { tag } => {
            if let Some(text) = validation::required_text(errors, &format!("{field}.tag"), tag, 64)
            {
                *tag = text;
            }
        }
        Action::Notify { message } => {
            if let Some(text) =
                validation::required_text(errors, &format!("{field}.message"), message, 1000)
            {
                *message = text;
            }
        }
        Action::CreateTicket {
            subject,
            category,
            description,
            ..
        } => {
            if let Some(text) =
                validation::required_text(errors, &format!("{field}.subject"), subject, 200)
            {
                *subject = text;
            }
            *category = validation::optional_text(
                errors,
                &format!("{field}.category"),
                category.as_deref(),
                100,
            )
            .map(|c| c.to_lowercase());
            if description.chars().count() > 20_000 {
                errors.add(
                    format!("{field}.description"),
                    "too_long",
                    "description has at most 20000 characters",
                );
            }
        }
    }
}

/// What a rule's conditions see about one customer.
#[derive(Debug, Clone)]
pub struct RuleSubject {
    pub customer_id: Id,
    pub name: String,
    pub owner_id: Option<Id>,
    pub tier: Option<String>,
    pub facts: CustomerFacts,
    pub custom_fields: Value,
    pub today: NaiveDate,
}

impl RuleSubject {
    fn fact(&self, fact: &str) -> Value {
        let facts = &self.facts;
        // Never contacted (or never ordered) counts from the day the customer was created.
        let since_or_tenure = |days: Option<u32>| days.unwrap_or(facts.tenure_days);
        match fact {
            "tier" => self.tier.clone().map_or(Value::Null, Value::from),
            "lifecycle_stage" => Value::from(facts.lifecycle_stage.clone()),
            "tags" => Value::from(facts.tags.clone()),
            "tenure_days" => Value::from(facts.tenure_days),
            "days_since_contact" => Value::from(since_or_tenure(facts.days_since_last_contact)),
            "days_since_order" => Value::from(since_or_tenure(facts.days_since_last_order)),
            "order_value_365d" => Value::from(facts.order_value_365d),
            "order_count_90d" => Value::from(facts.order_count_90d),
            "interaction_count_90d" => Value::from(facts.interaction_count_90d),
            "latest_csat" => facts.latest_csat.map_or(Value::Null, Value::from),
            "latest_nps" => facts.latest_nps.map_or(Value::Null, Value::from),
            "latest_ces" => facts.latest_ces.map_or(Value::Null, Value::from),
            custom => custom
                .strip_prefix("custom.")
                .and_then(|field| self.custom_fields.get(field))
                .cloned()
                .unwrap_or(Value::Null),
        }
    }
}

impl Condition {
    fn holds(&self, subject: &RuleSubject) -> bool {
        let fact = subject.fact(&self.fact);
        let number = |v: &Value| v.as_f64();
        let compare = |test: fn(f64, f64) -> bool| match (number(&fact), number(&self.value)) {
            (Some(a), Some(b)) => test(a, b),
            _ => false,
        };
        match self.op {
            Operator::IsSet => !fact.is_null(),
            Operator::IsNotSet => fact.is_null(),
            Operator::Eq => !fact.is_null() && same(&fact, &self.value),
            Operator::Ne => fact.is_null() || !same(&fact, &self.value),
            Operator::Gt => compare(|a, b| a > b),
            Operator::Gte => compare(|a, b| a >= b),
            Operator::Lt => compare(|a, b| a < b),
            Operator::Lte => compare(|a, b| a <= b),
            Operator::In => self.listed(&fact),
            Operator::NotIn => !self.listed(&fact),
            Operator::Contains => contains(&fact, &self.value),
            Operator::NotContains => !contains(&fact, &self.value),
            Operator::WithinNextDays => {
                let date = fact
                    .as_str()
                    .and_then(|text| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok());
                match (date, self.value.as_i64()) {
                    (Some(date), Some(days)) => {
                        (0..=days).contains(&(date - subject.today).num_days())
                    }
                    _ => false,
                }
            }
        }
    }

    fn listed(&self, fact: &Value) -> bool {
        self.value
            .as_array()
            .is_some_and(|items| items.iter().any(|item| same(fact, item)))
    }
}

/// Numbers compare by value (30 == 30.0); everything else structurally.
fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn contains(fact: &Value, item: &Value) -> bool {
    match fact {
        Value::Array(items) => items.iter().any(|i| same(i, item)),
        Value::String(text) => item.as_str().is_some_and(|needle| text.contains(needle)),
        _ => false,
    }
}

/// The rules every tenant starts with, from the seed material, keyed for upgrades.
pub fn default_rules() -> Vec<(&'static str, RuleDefinition)> {
    let task = |title: &str, due_in_days: u32, priority: TaskPriority| Action::CreateTask {
        title: title.to_owned(),
        assignee: Assignee::Owner,
        due_in_days,
        priority,
        notes: None,
    };
    let tier_is = |tier: &str| Condition {
        fact: "tier".to_owned(),
        op: Operator::Eq,
        value: Value::from(tier),
    };
    let daily = Trigger::Schedule { every_hours: 24 };
    let rule =
        |name: &str, trigger: Trigger, conditions, actions, repeat: Option<u32>| RuleDefinition {
            name: name.to_owned(),
            enabled: true,
            trigger,
            conditions,
            actions,
            repeat_after_days: repeat,
        };
    vec![
        (
            "high-value-revisit",
            rule(
                "High-value customer without contact for 30 days: revisit",
                daily.clone(),
                vec![
                    tier_is("high-value"),
                    Condition {
                        fact: "days_since_contact".to_owned(),
                        op: Operator::Gte,
                        value: Value::from(30),
                    },
                ],
                vec![task("Revisit {customer}", 0, TaskPriority::High)],
                Some(30),
            ),
        ),
        (
            "potential-nurture",
            rule(
                "Potential customer: quarterly nurture",
                daily.clone(),
                vec![tier_is("potential")],
                vec![task(
                    "Nurture {customer}: share news and offers",
                    3,
                    TaskPriority::Normal,
                )],
                Some(90),
            ),
        ),
        (
            "churn-risk-follow-up",
            rule(
                "Churn-risk customer: weekly follow-up",
                daily.clone(),
                vec![tier_is("churn-risk")],
                vec![task(
                    "Follow up with {customer} (churn risk)",
                    0,
                    TaskPriority::Urgent,
                )],
                Some(7),
            ),
        ),
        (
            "contract-renewal",
            rule(
                "Contract ends within 30 days: renewal",
                daily,
                vec![Condition {
                    fact: "custom.contract_end".to_owned(),
                    op: Operator::WithinNextDays,
                    value: Value::from(30),
                }],
                vec![task(
                    "Renew the contract of {customer}",
                    1,
                    TaskPriority::High,
                )],
                Some(60),
            ),
        ),
        (
            "new-customer-onboarding",
            rule(
                "New customer: onboarding on days 1, 7 and 30",
                Trigger::Event {
                    event: "customer.created".to_owned(),
                },
                Vec::new(),
                vec![
                    task(
                        "Onboarding day 1: welcome {customer}",
                        1,
                        TaskPriority::High,
                    ),
                    task(
                        "Onboarding day 7: check in with {customer}",
                        7,
                        TaskPriority::Normal,
                    ),
                    task(
                        "Onboarding day 30: review {customer}'s first month",
                        30,
                        TaskPriority::Normal,
                    ),
                ],
                None,
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn subject(tier: Option<&str>, days_since_contact: Option<u32>, custom: Value) -> RuleSubject {
        RuleSubject {
            customer_id: 1,
            name: "Acme".to_owned(),
            owner_id: Some(7),
            tier: tier.map(str::to_owned),
            facts: CustomerFacts {
                customer_id: 1,
                lifecycle_stage: "customer".to_owned(),
                tenure_days: 400,
                tags: vec!["vip".to_owned()],
                custom_fields_json: custom.to_string(),
                order_value_90d: 0.0,
                order_value_365d: 1000.0,
                order_count_90d: 0,
                order_count_365d: 2,
                days_since_last_order: Some(100),
                interaction_count_30d: 0,
                interaction_count_90d: 1,
                days_since_last_contact: days_since_contact,
                open_complaints: 0,
                complaints_90d: 0,
                latest_csat: None,
                latest_nps: Some(9.0),
                latest_ces: None,
                churn_signals: Vec::new(),
            },
            custom_fields: custom,
            today: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        }
    }

    fn rule(key: &str) -> RuleDefinition {
        default_rules()
            .into_iter()
            .find(|(k, _)| *k == key)
            .unwrap()
            .1
    }

    #[test]
    fn default_rules_are_valid() {
        for (key, rule) in default_rules() {
            assert!(rule.clone().validate().is_ok(), "{key}");
        }
    }

    #[test]
    fn revisit_needs_high_value_and_thirty_silent_days() {
        let revisit = rule("high-value-revisit");
        assert!(revisit.matches(&subject(Some("high-value"), Some(30), json!({}))));
        assert!(!revisit.matches(&subject(Some("high-value"), Some(29), json!({}))));
        assert!(!revisit.matches(&subject(Some("regular"), Some(90), json!({}))));
        // Never contacted counts from creation (tenure 400 days).
        assert!(revisit.matches(&subject(Some("high-value"), None, json!({}))));
    }

    #[test]
    fn renewal_looks_at_the_contract_end_date() {
        let renewal = rule("contract-renewal");
        let ends = |date: &str| subject(None, None, json!({"contract_end": date}));
        assert!(renewal.matches(&ends("2026-12-20")));
        assert!(renewal.matches(&ends("2026-11-23")));
        assert!(!renewal.matches(&ends("2026-12-24")));
        assert!(!renewal.matches(&ends("2026-11-22")));
        assert!(!renewal.matches(&subject(None, None, json!({}))));
    }

    #[test]
    fn operators_check_their_values() {
        let bad = |fact: &str, op: Operator, value: Value| RuleDefinition {
            conditions: vec![Condition {
                fact: fact.to_owned(),
                op,
                value,
            }],
            ..rule("potential-nurture")
        };
        let code = |definition: RuleDefinition| definition.validate().unwrap_err().0[0].code;
        assert_eq!(
            code(bad("tier", Operator::Gt, json!(3))),
            "operator_mismatch"
        );
        assert_eq!(
            code(bad("tags", Operator::Eq, json!("x"))),
            "operator_mismatch"
        );
        assert_eq!(code(bad("mood", Operator::Eq, json!("x"))), "unknown_fact");
        assert_eq!(
            code(bad("custom.", Operator::IsSet, json!(null))),
            "unknown_fact"
        );
        let tags = bad("tags", Operator::Contains, json!("vip"))
            .validate()
            .unwrap();
        assert!(tags.matches(&subject(None, None, json!({}))));
        let nps = bad("latest_nps", Operator::In, json!([9, 10]))
            .validate()
            .unwrap();
        assert!(nps.matches(&subject(None, None, json!({}))));
    }

    #[test]
    fn a_ticket_action_needs_a_subject() {
        let mut definition = rule("potential-nurture");
        definition.actions = vec![Action::CreateTicket {
            subject: " ".to_owned(),
            ticket_type: TicketType::Complaint,
            priority: TicketPriority::High,
            category: Some("Quality".to_owned()),
            description: String::new(),
        }];
        let errors = definition.validate().unwrap_err();
        assert_eq!(errors.0[0].field, "actions[0].subject");
        assert_eq!(errors.0[0].code, "required");
    }
}
