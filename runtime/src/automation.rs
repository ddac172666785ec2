//! The automation engine: runs scheduled rules over a tenant's customers, reacts to events from
//! the outbox (event rules, and re-tier requests for the events that move a customer's facts),
//! and carries out rule actions.
//!
//! A rule fires for a customer at most once per repeat window and never while a task it made
//! for that customer is open; the check and the actions share one write transaction, so a
//! retry after a crash or a second process cannot fire it twice.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::json;

use crate::domain::Id;
use crate::domain::access::TENANT_ADMIN;
use crate::domain::automation::{
    Action, Assignee, Event, Rule, RuleRunReport, RuleSubject, Trigger,
};
use crate::domain::task::{TaskFields, TaskStatus};
use crate::domain::ticket::NewTicket;
use crate::store::entity::customer;
use crate::store::tasks::Origin;
use crate::store::{
    StoreError, StoreResult, automation, begin_write, commit, customers, events, surveys, tasks,
    tenants, tickets, tiering,
};

/// Customers per page when a scheduled rule scans a tenant.
const PAGE: u64 = 500;

/// The events after which a customer's tier may have moved.
const RETIER_EVENTS: [&str; 4] = [
    "order.created",
    "interaction.recorded",
    "satisfaction.recorded",
    // Complaints are churn signals.
    "ticket.created",
];

/// What rules see about `rows` (customers of one tenant).
async fn subjects(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    currency: &str,
    rows: Vec<customer::Model>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<RuleSubject>> {
    let people: Vec<(String, Option<Id>, Option<String>, serde_json::Value)> = rows
        .iter()
        .map(|row| {
            (
                row.name.clone(),
                row.owner_id,
                row.tier.clone(),
                row.custom_fields.clone(),
            )
        })
        .collect();
    let subjects = rows.iter().map(tiering::FactsSubject::from).collect();
    let facts = tiering::facts_of(db, tenant_id, currency, subjects, now).await?;
    Ok(facts
        .into_iter()
        .zip(people)
        .map(
            |(facts, (name, owner_id, tier, custom_fields))| RuleSubject {
                customer_id: facts.customer_id,
                name,
                owner_id,
                tier,
                facts,
                custom_fields,
                today: now.date_naive(),
            },
        )
        .collect())
}

/// Runs a scheduled rule over every customer of its tenant; each firing commits on its own.
pub async fn run_rule(
    db: &DatabaseConnection,
    tenant_id: Id,
    rule: &Rule,
    now: DateTime<Utc>,
) -> StoreResult<RuleRunReport> {
    let currency = tenants::get(db, tenant_id).await?.default_currency;
    let mut report = RuleRunReport::default();
    let mut after = 0;
    loop {
        let page = tiering::customers_page(db, tenant_id, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for subject in subjects(db, tenant_id, &currency, page, now).await? {
            report.evaluated += 1;
            if !rule.definition.matches(&subject) {
                continue;
            }
            let tx = begin_write(db).await?;
            match fire(&tx, tenant_id, rule, &subject, now).await {
                Ok(true) => {
                    commit(tx).await?;
                    report.fired += 1;
                }
                Ok(false) => report.skipped += 1,
                Err(error @ StoreError::Database(_)) => return Err(error),
                // One customer the rule cannot act on (e.g. nobody to assign to) does not stop
                // the rule for the others; its transaction is rolled back.
                Err(error) => {
                    tracing::warn!(tenant_id, rule_id = rule.id, customer_id = subject.customer_id, %error, "rule not applied");
                    report.failed += 1;
                }
            }
        }
    }
    Ok(report)
}

/// Fires `rule` for `subject` unless it may not fire yet; returns whether it fired. Run it in a
/// write transaction with the caller's commit.
async fn fire(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    rule: &Rule,
    subject: &RuleSubject,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    automation::lock_firing(db, rule.id, subject.customer_id).await?;
    if !automation::may_fire(db, tenant_id, rule, subject.customer_id, now).await? {
        return Ok(false);
    }
    for action in &rule.definition.actions {
        perform(db, tenant_id, rule, subject, action, now).await?;
    }
    automation::record_firing(db, tenant_id, rule.id, subject.customer_id, now).await?;
    Ok(true)
}

async fn perform(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    rule: &Rule,
    subject: &RuleSubject,
    action: &Action,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    match action {
        Action::CreateTask {
            title,
            assignee,
            due_in_days,
            priority,
            notes,
        } => {
            let assignee_id = assignee_for(db, tenant_id, assignee, subject.owner_id).await?;
            let fields = TaskFields {
                title: title.replace("{customer}", &subject.name),
                customer_id: Some(subject.customer_id),
                assignee_id,
                due_at: now + Duration::days((*due_in_days).into()),
                priority: *priority,
                notes: notes.clone(),
                status: TaskStatus::Open,
            };
            let origin = Origin::Rule {
                rule_id: rule.id.to_string(),
            };
            tasks::create(db, tenant_id, fields, origin).await?;
        }
        Action::AddTag { tag } => {
            customers::add_tag(db, tenant_id, subject.customer_id, tag).await?;
        }
        Action::Notify { message } => {
            let payload = json!({
                "rule_id": rule.id,
                "rule": rule.definition.name,
                "customer_id": subject.customer_id,
                "recipient_id": subject.owner_id,
                "message": message.replace("{customer}", &subject.name),
            });
            events::append(
                db,
                tenant_id,
                "automation.notification",
                subject.customer_id,
                &payload,
            )
            .await?;
        }
        Action::CreateTicket {
            subject: title,
            ticket_type,
            priority,
            category,
            description,
        } => {
            let new = NewTicket {
                customer_id: subject.customer_id,
                contact_id: None,
                ticket_type: *ticket_type,
                priority: *priority,
                category: category.clone(),
                subject: title.replace("{customer}", &subject.name),
                description: description.clone(),
            };
            tickets::create(db, tenant_id, new, None).await?;
        }
    }
    Ok(())
}

/// The owner for `owner` (the least busy tenant admin when the customer has none); the least
/// busy member for a role (the owner when the role has no members).
async fn assignee_for(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    assignee: &Assignee,
    owner_id: Option<Id>,
) -> StoreResult<Id> {
    let from_role = match assignee {
        Assignee::Role(role) => automation::least_busy_with_role(db, tenant_id, role).await?,
        Assignee::Owner => None,
    };
    if let Some(user_id) = from_role.or(owner_id) {
        return Ok(user_id);
    }
    automation::least_busy_with_role(db, tenant_id, TENANT_ADMIN)
        .await?
        .ok_or(StoreError::Conflict {
            code: "no_assignee",
            message: "the customer has no owner and the tenant no administrator".to_owned(),
        })
}

/// Handles one event in the dispatcher's transaction: fires the tenant's rules for it, and
/// queues a debounced re-tier when it can move the customer's facts.
pub async fn handle_event(
    db: &impl ConnectionTrait,
    event: &Event,
    debounce: Duration,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    if event.kind == "ticket.resolved"
        && let Some(ticket_id) = event.subject_id
    {
        match surveys::after_ticket_resolved(db, event.tenant_id, ticket_id, now).await {
            Ok(_) => {}
            Err(error @ StoreError::Database(_)) => return Err(error),
            // The survey cannot be queued (say, its template was removed): the event's rules
            // still run.
            Err(error) => tracing::warn!(ticket_id, %error, "no survey after the resolution"),
        }
    }
    let Some(customer_id) = customer_of(event) else {
        return Ok(0);
    };
    if RETIER_EVENTS.contains(&event.kind.as_str()) {
        tiering::request_retier(db, event.tenant_id, customer_id, now + debounce).await?;
    }
    let rules = automation::for_event(db, event.tenant_id, &event.kind).await?;
    if rules.is_empty() {
        return Ok(0);
    }
    let rows = tiering::customers_by_id(db, event.tenant_id, &[customer_id]).await?;
    let currency = tenants::get(db, event.tenant_id).await?.default_currency;
    let Some(subject) = subjects(db, event.tenant_id, &currency, rows, now)
        .await?
        .pop()
    else {
        return Ok(0); // the customer is gone
    };
    let mut fired = 0;
    for rule in rules {
        if rule.definition.matches(&subject)
            && fire(db, event.tenant_id, &rule, &subject, now).await?
        {
            fired += 1;
        }
    }
    Ok(fired)
}

/// The customer an event is about: its subject for `customer.*` events, the payload's
/// `customer_id` for the others.
fn customer_of(event: &Event) -> Option<Id> {
    if event.kind.starts_with("customer.") {
        return event.subject_id;
    }
    event.payload.get("customer_id").and_then(|id| id.as_i64())
}

/// Whether a rule runs on a schedule (and so can be run on demand).
pub fn is_scheduled(rule: &Rule) -> bool {
    matches!(rule.definition.trigger, Trigger::Schedule { .. })
}
