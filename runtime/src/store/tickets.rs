//! Service tickets: creation with routing and SLA, the status workflow with its history, comments,
//! the SLA clock and its escalation, and the customer-facing view behind the progress token.
//!
//! A ticket is within a caller's reach when its customer is, or when it is assigned to someone
//! (or sits in a department) within the caller's scope.

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sea_orm::sea_query::{LockType, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::json;

use super::entity::{
    contact, customer, routing_rule, task, ticket, ticket_change, ticket_comment, user,
};
use super::service_settings::{self, clock_calendar};
use super::tasks::{self, Origin};
use super::{StoreError, StoreResult, access, customers, departments, events, parse_column};
use crate::domain::access::{MANAGER, Visibility};
use crate::domain::page::{Cursor, Page, PageRequest};
use crate::domain::service_kpi::KpiTicket;
use crate::domain::sla::SlaClock;
use crate::domain::task::{TaskFields, TaskPriority, TaskStatus};
use crate::domain::ticket::{
    NewTicket, PublicComment, PublicStatusChange, PublicTicket, Resolution, ResolutionResult,
    SlaProgress, SlaState, StatusChange, Ticket, TicketChange, TicketComment, TicketContent,
    TicketFilter, TicketPriority, TicketSla, TicketStatus, TicketTraits, choose_policy,
    pick_assignee, sla_outlook,
};
use crate::domain::{Id, ValidationErrors};

/// Newest first; the cursor carries the last id.
pub const SORT: &str = "-id";

/// A revisit after resolution is due within a day (the seeds' 24-hour revisit).
const REVISIT_WITHIN: i64 = 24;
/// A "needs follow-up" task is due within three days.
const FOLLOW_UP_WITHIN_DAYS: i64 = 3;

fn as_text<T: Into<&'static str>>(value: T) -> String {
    value.into().to_owned()
}

fn to_domain(row: ticket::Model) -> StoreResult<Ticket> {
    let resolution = match row.resolution_result.as_deref() {
        Some(result) => Some(Resolution {
            result: parse_column("tickets.resolution_result", result)?,
            note: row.resolution_note.clone(),
        }),
        None => None,
    };
    Ok(Ticket {
        ticket_type: parse_column("tickets.ticket_type", &row.ticket_type)?,
        priority: parse_column("tickets.priority", &row.priority)?,
        status: parse_column("tickets.status", &row.status)?,
        sla: TicketSla {
            policy_id: row.sla_policy_id,
            state: parse_column("tickets.sla_state", &row.sla_state)?,
            first_response_due_at: row.first_response_due_at,
            resolution_due_at: row.resolution_due_at,
            paused: row.sla_policy_id.is_some() && row.sla_running_since.is_none(),
            escalated_at: row.escalated_at,
        },
        resolution,
        progress_url: format!("/progress/{}", row.public_token),
        id: row.id,
        customer_id: row.customer_id,
        contact_id: row.contact_id,
        category: row.category,
        subject: row.subject,
        description: row.description,
        department_id: row.department_id,
        assignee_id: row.assignee_id,
        created_by: row.created_by,
        created_at: row.created_at,
        updated_at: row.updated_at,
        first_responded_at: row.first_responded_at,
        resolved_at: row.resolved_at,
        closed_at: row.closed_at,
    })
}

fn members_of(tenant_id: Id, department: Id) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(user::Column::Id)
        .from(user::Entity)
        .and_where(user::Column::TenantId.eq(tenant_id))
        .and_where(user::Column::DepartmentId.eq(department))
        .to_owned()
}

/// The tickets a caller with `visibility` may reach.
fn visible(tenant_id: Id, visibility: Visibility) -> Condition {
    let own = match visibility {
        Visibility::All => return Condition::all(),
        Visibility::OwnedBy(user_id) => {
            Condition::any().add(ticket::Column::AssigneeId.eq(user_id))
        }
        Visibility::Department(department) => Condition::any()
            .add(ticket::Column::DepartmentId.eq(department))
            .add(ticket::Column::AssigneeId.in_subquery(members_of(tenant_id, department))),
    };
    let reachable_customers = Query::select()
        .column(customer::Column::Id)
        .from(customer::Entity)
        .and_where(customer::Column::TenantId.eq(tenant_id))
        .cond_where(customers::visible(tenant_id, visibility))
        .to_owned();
    own.add(ticket::Column::CustomerId.in_subquery(reachable_customers))
}

async fn find(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    id: Id,
    visibility: Visibility,
) -> StoreResult<ticket::Model> {
    ticket::Entity::find_by_id(id)
        .filter(ticket::Column::TenantId.eq(tenant_id))
        .filter(visible(tenant_id, visibility))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("ticket"))
}

pub async fn get(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    id: Id,
    visibility: Visibility,
) -> StoreResult<Ticket> {
    to_domain(find(db, tenant_id, id, visibility).await?)
}

fn new_public_token() -> String {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// One line of a ticket's history; `actor: None` is the scheduler.
struct ChangeRecord<'a> {
    actor: Option<Id>,
    field: &'a str,
    from: Option<String>,
    to: Option<String>,
    note: Option<String>,
}

async fn record_change(
    db: &impl ConnectionTrait,
    row: &ticket::Model,
    change: ChangeRecord<'_>,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    ticket_change::ActiveModel {
        tenant_id: Set(row.tenant_id),
        ticket_id: Set(row.id),
        actor_id: Set(change.actor),
        field: Set(change.field.to_owned()),
        from_value: Set(change.from),
        to_value: Set(change.to),
        note: Set(change.note),
        created_at: Set(at),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

async fn check_contact(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    customer_id: Id,
    contact_id: Option<Id>,
) -> StoreResult<()> {
    let Some(contact_id) = contact_id else {
        return Ok(());
    };
    let found = contact::Entity::find_by_id(contact_id)
        .filter(contact::Column::TenantId.eq(tenant_id))
        .filter(contact::Column::CustomerId.eq(customer_id))
        .count(db)
        .await?;
    if found == 0 {
        return Err(ValidationErrors::single(
            "contact_id",
            "unknown_contact",
            "contact_id is not a contact of this customer",
        )
        .into());
    }
    Ok(())
}

/// Where routing sends a new ticket.
struct Route {
    rule: routing_rule::Model,
    assignee_id: Option<Id>,
}

/// Active members of a department with their open ticket counts, ascending ids.
async fn department_load(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    department_id: Id,
) -> StoreResult<Vec<(Id, u64)>> {
    let members: Vec<Id> = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::TenantId.eq(tenant_id))
        .filter(user::Column::DepartmentId.eq(department_id))
        .filter(user::Column::Active.eq(true))
        .order_by_asc(user::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let mut load = Vec::with_capacity(members.len());
    for member in members {
        let open = ticket::Entity::find()
            .filter(ticket::Column::TenantId.eq(tenant_id))
            .filter(ticket::Column::AssigneeId.eq(member))
            .filter(ticket::Column::Status.is_not_in(["resolved", "closed"]))
            .count(db)
            .await?;
        load.push((member, open));
    }
    Ok(load)
}

/// The first matching routing rule and the member it picks. On PostgreSQL the rule's row is
/// locked, so concurrent tickets take turns in the round-robin.
async fn route(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    traits: &TicketTraits<'_>,
) -> StoreResult<Option<Route>> {
    let rules = service_settings::routing_rules(db, tenant_id).await?;
    let Some(rule) = rules.iter().find(|rule| rule.matches(traits)) else {
        return Ok(None);
    };
    let mut query = routing_rule::Entity::find_by_id(rule.id);
    if db.get_database_backend() == DbBackend::Postgres {
        query = query.lock(LockType::Update);
    }
    let row = query
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("routing rule"))?;
    let load = department_load(db, tenant_id, rule.department_id).await?;
    let assignee_id = pick_assignee(rule.strategy, &load, row.last_assignee_id);
    if assignee_id.is_some() {
        let mut update: routing_rule::ActiveModel = row.clone().into();
        update.last_assignee_id = Set(assignee_id);
        update.update(db).await?;
    }
    Ok(Some(Route {
        rule: row,
        assignee_id,
    }))
}

async fn customer_row(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    customer_id: Id,
) -> StoreResult<customer::Model> {
    customer::Entity::find_by_id(customer_id)
        .filter(customer::Column::TenantId.eq(tenant_id))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("customer"))
}

/// Creates a ticket: picks its SLA policy (none is fine), routes it, starts its clock, records
/// its first history entries and emits `ticket.created`.
pub async fn create(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    new: NewTicket,
    created_by: Option<Id>,
) -> StoreResult<Ticket> {
    let now = Utc::now();
    let customer = customer_row(db, tenant_id, new.customer_id).await?;
    check_contact(db, tenant_id, new.customer_id, new.contact_id).await?;
    let traits = TicketTraits {
        ticket_type: new.ticket_type,
        priority: new.priority,
        category: new.category.as_deref(),
        tier: customer.tier.as_deref(),
    };
    let policies = service_settings::policies(db, tenant_id).await?;
    let policy = choose_policy(&policies, &traits).cloned();
    let route = route(db, tenant_id, &traits).await?;
    let assignee_id = route.as_ref().and_then(|r| r.assignee_id);
    let status = match assignee_id {
        Some(_) => TicketStatus::Assigned,
        None => TicketStatus::New,
    };
    let row = ticket::ActiveModel {
        tenant_id: Set(tenant_id),
        customer_id: Set(new.customer_id),
        contact_id: Set(new.contact_id),
        ticket_type: Set(as_text(new.ticket_type)),
        priority: Set(as_text(new.priority)),
        category: Set(new.category.clone()),
        subject: Set(new.subject),
        description: Set(new.description),
        status: Set(as_text(status)),
        department_id: Set(route.as_ref().map(|r| r.rule.department_id)),
        assignee_id: Set(assignee_id),
        sla_policy_id: Set(policy.as_ref().map(|p| p.id)),
        sla_state: Set(as_text(if policy.is_some() {
            SlaState::OnTrack
        } else {
            SlaState::NoSla
        })),
        sla_consumed_seconds: Set(0),
        sla_running_since: Set(policy.as_ref().map(|_| now)),
        public_token: Set(new_public_token()),
        created_by: Set(created_by),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    record_change(
        db,
        &row,
        ChangeRecord {
            actor: created_by,
            field: "status",
            from: None,
            to: Some(as_text(TicketStatus::New)),
            note: None,
        },
        now,
    )
    .await?;
    if let Some(route) = &route {
        let note = Some(format!("routing rule {}", route.rule.id));
        let department = Some(route.rule.department_id.to_string());
        record_change(
            db,
            &row,
            ChangeRecord {
                actor: None,
                field: "department",
                from: None,
                to: department,
                note: note.clone(),
            },
            now,
        )
        .await?;
        if let Some(assignee) = assignee_id {
            record_change(
                db,
                &row,
                ChangeRecord {
                    actor: None,
                    field: "assignee",
                    from: None,
                    to: Some(assignee.to_string()),
                    note: note.clone(),
                },
                now,
            )
            .await?;
            record_change(
                db,
                &row,
                ChangeRecord {
                    actor: None,
                    field: "status",
                    from: Some(as_text(TicketStatus::New)),
                    to: Some(as_text(status)),
                    note,
                },
                now,
            )
            .await?;
        }
    }
    let row = refresh_sla(db, row, now).await?;
    let ticket = to_domain(row)?;
    events::append(
        db,
        tenant_id,
        "ticket.created",
        ticket.id,
        &event_payload(&ticket),
    )
    .await?;
    Ok(ticket)
}

fn event_payload(ticket: &Ticket) -> serde_json::Value {
    json!({
        "ticket_id": ticket.id,
        "customer_id": ticket.customer_id,
        "type": ticket.ticket_type,
        "priority": ticket.priority,
        "status": ticket.status,
        "department_id": ticket.department_id,
        "assignee_id": ticket.assignee_id,
        "sla_state": ticket.sla.state,
    })
}

fn progress(row: &ticket::Model) -> StoreResult<SlaProgress> {
    Ok(SlaProgress {
        clock: SlaClock {
            consumed: Duration::seconds(row.sla_consumed_seconds),
            running_since: row.sla_running_since,
        },
        first_responded_at: row.first_responded_at,
        resolved_at: row.resolved_at,
        first_response_due_at: row.first_response_due_at,
        resolution_due_at: row.resolution_due_at,
        state: parse_column("tickets.sla_state", &row.sla_state)?,
    })
}

/// Recomputes a ticket's deadlines and SLA state at `now`, saves them, and acts on a state
/// change: at risk → a warning event; breached → escalation.
async fn refresh_sla(
    db: &impl ConnectionTrait,
    row: ticket::Model,
    now: DateTime<Utc>,
) -> StoreResult<ticket::Model> {
    let policy = match row.sla_policy_id {
        Some(id) => Some(service_settings::policy(db, row.tenant_id, id).await?),
        None => None,
    };
    let calendar = match &policy {
        Some(policy) => Some(clock_calendar(db, row.tenant_id, policy.clock).await?),
        None => None,
    };
    let before = progress(&row)?;
    let targets = policy.as_ref().map(|p| p.targets());
    let outlook = match &calendar {
        Some(calendar) => sla_outlook(calendar, targets.as_ref(), &before, now),
        None => sla_outlook(
            &crate::domain::sla::BusinessCalendar::around_the_clock(),
            None,
            &before,
            now,
        ),
    };
    let mut update: ticket::ActiveModel = row.clone().into();
    update.first_response_due_at = Set(outlook.first_response_due_at);
    update.resolution_due_at = Set(outlook.resolution_due_at);
    update.next_sla_check_at = Set(outlook.next_check_at);
    update.sla_state = Set(as_text(outlook.state));
    let row = update.update(db).await?;
    if outlook.state == before.state {
        return Ok(row);
    }
    record_change(
        db,
        &row,
        ChangeRecord {
            actor: None,
            field: "sla_state",
            from: Some(as_text(before.state)),
            to: Some(as_text(outlook.state)),
            note: None,
        },
        now,
    )
    .await?;
    match outlook.state {
        SlaState::AtRisk => {
            let ticket = to_domain(row.clone())?;
            events::append(
                db,
                row.tenant_id,
                "ticket.sla_at_risk",
                row.id,
                &event_payload(&ticket),
            )
            .await?;
            Ok(row)
        }
        SlaState::Breached => escalate(db, row, now).await,
        SlaState::NoSla | SlaState::OnTrack => Ok(row),
    }
}

/// The managers to tell about a ticket: managers of its department, else every manager.
async fn managers_for(db: &impl ConnectionTrait, row: &ticket::Model) -> StoreResult<Vec<Id>> {
    department_managers(db, row.tenant_id, row.department_id).await
}

/// The active managers of a department, or every manager when it has none (or no department).
pub async fn department_managers(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    department_id: Option<Id>,
) -> StoreResult<Vec<Id>> {
    let managers = access::role_members(db, tenant_id, MANAGER).await?;
    let Some(department) = department_id else {
        return Ok(managers);
    };
    let in_department: Vec<Id> = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::TenantId.eq(tenant_id))
        .filter(user::Column::DepartmentId.eq(department))
        .filter(user::Column::Id.is_in(managers.clone()))
        .filter(user::Column::Active.eq(true))
        .into_tuple()
        .all(db)
        .await?;
    Ok(if in_department.is_empty() {
        managers
    } else {
        in_department
    })
}

/// A breach raises the priority one step, marks the ticket escalated, gives each manager a task
/// to look at it, and emits `ticket.sla_breached`.
async fn escalate(
    db: &impl ConnectionTrait,
    row: ticket::Model,
    now: DateTime<Utc>,
) -> StoreResult<ticket::Model> {
    let priority: TicketPriority = parse_column("tickets.priority", &row.priority)?;
    let raised = priority.raised();
    let mut update: ticket::ActiveModel = row.clone().into();
    update.priority = Set(as_text(raised));
    update.escalated_at = Set(Some(now));
    update.updated_at = Set(now);
    let row = update.update(db).await?;
    if raised != priority {
        let note = Some("SLA breached".to_owned());
        record_change(
            db,
            &row,
            ChangeRecord {
                actor: None,
                field: "priority",
                from: Some(as_text(priority)),
                to: Some(as_text(raised)),
                note,
            },
            now,
        )
        .await?;
    }
    let managers = managers_for(db, &row).await?;
    for manager in &managers {
        let fields = TaskFields {
            title: format!("SLA breached: ticket #{} ({})", row.id, row.subject),
            customer_id: Some(row.customer_id),
            assignee_id: *manager,
            due_at: now,
            priority: TaskPriority::Urgent,
            notes: None,
            status: TaskStatus::Open,
        };
        tasks::create(
            db,
            row.tenant_id,
            fields,
            Origin::Ticket { ticket_id: row.id },
        )
        .await?;
    }
    let mut payload = event_payload(&to_domain(row.clone())?);
    payload["manager_ids"] = json!(managers);
    events::append(db, row.tenant_id, "ticket.sla_breached", row.id, &payload).await?;
    Ok(row)
}

/// Edits subject, description, category, priority or contact.
pub async fn update_content(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    id: Id,
    visibility: Visibility,
    content: TicketContent,
    actor: Id,
) -> StoreResult<Ticket> {
    let row = find(db, tenant_id, id, visibility).await?;
    check_contact(db, tenant_id, row.customer_id, content.contact_id).await?;
    let now = Utc::now();
    let new_priority = as_text(content.priority);
    if new_priority != row.priority {
        record_change(
            db,
            &row,
            ChangeRecord {
                actor: Some(actor),
                field: "priority",
                from: Some(row.priority.clone()),
                to: Some(new_priority.clone()),
                note: None,
            },
            now,
        )
        .await?;
    }
    let mut update: ticket::ActiveModel = row.into();
    update.subject = Set(content.subject);
    update.description = Set(content.description);
    update.category = Set(content.category);
    update.priority = Set(new_priority);
    update.contact_id = Set(content.contact_id);
    update.updated_at = Set(now);
    to_domain(update.update(db).await?)
}

fn clock_of(row: &ticket::Model) -> SlaClock {
    SlaClock {
        consumed: Duration::seconds(row.sla_consumed_seconds),
        running_since: row.sla_running_since,
    }
}

/// Pauses or resumes the ticket's clock to match `status`.
async fn move_clock(
    db: &impl ConnectionTrait,
    row: &ticket::Model,
    update: &mut ticket::ActiveModel,
    status: TicketStatus,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let Some(policy_id) = row.sla_policy_id else {
        return Ok(());
    };
    let clock = clock_of(row);
    let moved = if status.clock_runs() {
        clock.resume(now)
    } else {
        let policy = service_settings::policy(db, row.tenant_id, policy_id).await?;
        let calendar = clock_calendar(db, row.tenant_id, policy.clock).await?;
        clock.pause(&calendar, now)
    };
    update.sla_consumed_seconds = Set(moved.consumed.num_seconds());
    update.sla_running_since = Set(moved.running_since);
    Ok(())
}

/// The user who should revisit the customer: the account owner, else the ticket's assignee,
/// else whoever resolved it.
fn revisit_owner(customer: &customer::Model, row: &ticket::Model, actor: Id) -> Id {
    customer.owner_id.or(row.assignee_id).unwrap_or(actor)
}

async fn open_follow_ups(db: &impl ConnectionTrait, row: &ticket::Model) -> StoreResult<u64> {
    Ok(task::Entity::find()
        .filter(task::Column::TenantId.eq(row.tenant_id))
        .filter(task::Column::TicketId.eq(row.id))
        .filter(task::Column::Source.eq("ticket-follow-up"))
        .filter(task::Column::Status.eq("open"))
        .count(db)
        .await?)
}

/// The revisit task for the account owner and, when the result needs it, a follow-up task that
/// keeps the ticket from closing until it is done.
async fn close_the_loop(
    db: &impl ConnectionTrait,
    row: &ticket::Model,
    resolution: &Resolution,
    actor: Id,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let customer = customer_row(db, row.tenant_id, row.customer_id).await?;
    let owner = revisit_owner(&customer, row, actor);
    let revisit = TaskFields {
        title: format!(
            "Revisit {} about ticket #{}: {}",
            customer.name, row.id, row.subject
        ),
        customer_id: Some(row.customer_id),
        assignee_id: owner,
        due_at: now + Duration::hours(REVISIT_WITHIN),
        priority: TaskPriority::High,
        notes: Some("Confirm the customer is satisfied and record their feedback.".to_owned()),
        status: TaskStatus::Open,
    };
    tasks::create(
        db,
        row.tenant_id,
        revisit,
        Origin::Ticket { ticket_id: row.id },
    )
    .await?;
    if resolution.result == ResolutionResult::NeedsFollowUp {
        let follow_up = TaskFields {
            title: format!("Follow up on ticket #{}: {}", row.id, row.subject),
            customer_id: Some(row.customer_id),
            assignee_id: row.assignee_id.unwrap_or(owner),
            due_at: now + Duration::days(FOLLOW_UP_WITHIN_DAYS),
            priority: TaskPriority::Normal,
            notes: resolution.note.clone(),
            status: TaskStatus::Open,
        };
        tasks::create(
            db,
            row.tenant_id,
            follow_up,
            Origin::TicketFollowUp { ticket_id: row.id },
        )
        .await?;
    }
    Ok(())
}

/// Moves a ticket through its workflow; see [`TicketStatus::may_become`].
pub async fn change_status(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    id: Id,
    visibility: Visibility,
    change: &StatusChange,
    actor: Id,
) -> StoreResult<Ticket> {
    let row = find(db, tenant_id, id, visibility).await?;
    let current: TicketStatus = parse_column("tickets.status", &row.status)?;
    let resolution = change.check(current)?;
    let next = change.status;
    let now = Utc::now();
    let mut update: ticket::ActiveModel = row.clone().into();
    match next {
        TicketStatus::Assigned if row.assignee_id.is_none() => {
            return Err(conflict(
                "no_assignee",
                "assign the ticket to someone first",
            ));
        }
        TicketStatus::InProgress if row.assignee_id.is_none() => {
            update.assignee_id = Set(Some(actor));
            record_change(
                db,
                &row,
                ChangeRecord {
                    actor: Some(actor),
                    field: "assignee",
                    from: None,
                    to: Some(actor.to_string()),
                    note: None,
                },
                now,
            )
            .await?;
        }
        TicketStatus::New => update.assignee_id = Set(None),
        TicketStatus::Resolved => {
            let resolution = resolution.as_ref().expect("checked");
            update.resolved_at = Set(Some(now));
            update.resolution_result = Set(Some(as_text(resolution.result)));
            update.resolution_note = Set(resolution.note.clone());
            if row.first_responded_at.is_none() {
                update.first_responded_at = Set(Some(now));
            }
        }
        TicketStatus::Closed => {
            if row.resolution_result.as_deref() == Some("needs_follow_up")
                && open_follow_ups(db, &row).await? > 0
            {
                return Err(conflict(
                    "follow_up_open",
                    "the ticket needs follow-up: finish its follow-up task before closing it",
                ));
            }
            update.closed_at = Set(Some(now));
        }
        _ => {}
    }
    if !current.is_open() && next.is_open() {
        update.resolved_at = Set(None);
        update.closed_at = Set(None);
        update.resolution_result = Set(None);
        update.resolution_note = Set(None);
    }
    move_clock(db, &row, &mut update, next, now).await?;
    update.status = Set(as_text(next));
    update.updated_at = Set(now);
    let saved = update.update(db).await?;
    let field = if !current.is_open() && next.is_open() {
        "reopened"
    } else {
        "status"
    };
    record_change(
        db,
        &saved,
        ChangeRecord {
            actor: Some(actor),
            field,
            from: Some(as_text(current)),
            to: Some(as_text(next)),
            note: change.note.clone(),
        },
        now,
    )
    .await?;
    if let (TicketStatus::Resolved, Some(resolution)) = (next, &resolution) {
        close_the_loop(db, &saved, resolution, actor, now).await?;
    }
    let saved = refresh_sla(db, saved, now).await?;
    let ticket = to_domain(saved)?;
    let kind = format!("ticket.{}", <&str>::from(next));
    events::append(db, tenant_id, &kind, ticket.id, &event_payload(&ticket)).await?;
    Ok(ticket)
}

fn conflict(code: &'static str, message: &str) -> StoreError {
    StoreError::Conflict {
        code,
        message: message.to_owned(),
    }
}

/// Reassigns: a department (kept when `None`) and an assignee (`None` unassigns); `actor` is
/// `None` when the system assigns (a survey's recovery ticket goes to the account owner).
pub async fn assign(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    id: Id,
    visibility: Visibility,
    department_id: Option<Id>,
    assignee_id: Option<Id>,
    actor: Option<Id>,
) -> StoreResult<Ticket> {
    let row = find(db, tenant_id, id, visibility).await?;
    if let Some(department) = department_id {
        departments::ensure_exists(db, tenant_id, department).await?;
    }
    if let Some(assignee) = assignee_id {
        check_assignee(db, tenant_id, assignee).await?;
    }
    let status: TicketStatus = parse_column("tickets.status", &row.status)?;
    if !status.is_open() {
        return Err(conflict(
            "ticket_not_open",
            "reopen the ticket before reassigning it",
        ));
    }
    let now = Utc::now();
    let department = department_id.or(row.department_id);
    let text = |id: Option<Id>| id.map(|id| id.to_string());
    if department != row.department_id {
        record_change(
            db,
            &row,
            ChangeRecord {
                actor,
                field: "department",
                from: text(row.department_id),
                to: text(department),
                note: None,
            },
            now,
        )
        .await?;
    }
    if assignee_id != row.assignee_id {
        record_change(
            db,
            &row,
            ChangeRecord {
                actor,
                field: "assignee",
                from: text(row.assignee_id),
                to: text(assignee_id),
                note: None,
            },
            now,
        )
        .await?;
    }
    let next = match (status, assignee_id) {
        (TicketStatus::New, Some(_)) => TicketStatus::Assigned,
        (TicketStatus::Assigned, None) => TicketStatus::New,
        (status, _) => status,
    };
    if next != status {
        record_change(
            db,
            &row,
            ChangeRecord {
                actor,
                field: "status",
                from: Some(as_text(status)),
                to: Some(as_text(next)),
                note: None,
            },
            now,
        )
        .await?;
    }
    let mut update: ticket::ActiveModel = row.into();
    update.department_id = Set(department);
    update.assignee_id = Set(assignee_id);
    update.status = Set(as_text(next));
    update.updated_at = Set(now);
    to_domain(update.update(db).await?)
}

async fn check_assignee(db: &impl ConnectionTrait, tenant_id: Id, assignee: Id) -> StoreResult<()> {
    let active = user::Entity::find_by_id(assignee)
        .filter(user::Column::TenantId.eq(tenant_id))
        .filter(user::Column::Active.eq(true))
        .count(db)
        .await?;
    if active == 0 {
        return Err(ValidationErrors::single(
            "assignee_id",
            "unknown_user",
            "assignee_id is not an active user of this tenant",
        )
        .into());
    }
    Ok(())
}

fn comment_to_domain(row: ticket_comment::Model) -> TicketComment {
    TicketComment {
        id: row.id,
        ticket_id: row.ticket_id,
        author_id: row.author_id,
        public: row.public,
        body: row.body,
        created_at: row.created_at,
    }
}

/// Adds a comment. The first public one is the ticket's first response.
pub async fn add_comment(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    id: Id,
    visibility: Visibility,
    body: String,
    public: bool,
    author: Id,
) -> StoreResult<TicketComment> {
    let row = find(db, tenant_id, id, visibility).await?;
    let now = Utc::now();
    let comment = ticket_comment::ActiveModel {
        tenant_id: Set(tenant_id),
        ticket_id: Set(row.id),
        author_id: Set(Some(author)),
        public: Set(public),
        body: Set(body),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    if public && row.first_responded_at.is_none() {
        let mut update: ticket::ActiveModel = row.into();
        update.first_responded_at = Set(Some(now));
        update.updated_at = Set(now);
        let row = update.update(db).await?;
        refresh_sla(db, row, now).await?;
    }
    Ok(comment_to_domain(comment))
}

pub async fn comments(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    id: Id,
    visibility: Visibility,
) -> StoreResult<Vec<TicketComment>> {
    let row = find(db, tenant_id, id, visibility).await?;
    Ok(ticket_comment::Entity::find()
        .filter(ticket_comment::Column::TicketId.eq(row.id))
        .order_by_asc(ticket_comment::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(comment_to_domain)
        .collect())
}

pub async fn history(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    id: Id,
    visibility: Visibility,
) -> StoreResult<Vec<TicketChange>> {
    let row = find(db, tenant_id, id, visibility).await?;
    Ok(ticket_change::Entity::find()
        .filter(ticket_change::Column::TicketId.eq(row.id))
        .order_by_asc(ticket_change::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|change| TicketChange {
            id: change.id,
            actor_id: change.actor_id,
            field: change.field,
            from: change.from_value,
            to: change.to_value,
            note: change.note,
            at: change.created_at,
        })
        .collect())
}

/// Replaces the progress token: the old link stops working.
pub async fn rotate_public_token(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    id: Id,
    visibility: Visibility,
) -> StoreResult<Ticket> {
    let row = find(db, tenant_id, id, visibility).await?;
    let mut update: ticket::ActiveModel = row.into();
    update.public_token = Set(new_public_token());
    to_domain(update.update(db).await?)
}

/// What the holder of a progress token may see; `NotFound` for any other token.
pub async fn public_view(db: &impl ConnectionTrait, token: &str) -> StoreResult<PublicTicket> {
    // Tokens are URL-safe base64 of 24 random bytes; anything else is not worth a query.
    if token.len() != 32
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(StoreError::NotFound("ticket"));
    }
    let row = ticket::Entity::find()
        .filter(ticket::Column::PublicToken.eq(token))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("ticket"))?;
    let changes = ticket_change::Entity::find()
        .filter(ticket_change::Column::TicketId.eq(row.id))
        .filter(ticket_change::Column::Field.is_in(["status", "reopened"]))
        .order_by_asc(ticket_change::Column::Id)
        .all(db)
        .await?;
    let mut timeline = Vec::with_capacity(changes.len());
    for change in changes {
        if let Some(status) = change.to_value.as_deref() {
            timeline.push(PublicStatusChange {
                status: parse_column("ticket_changes.to_value", status)?,
                at: change.created_at,
            });
        }
    }
    let comments = ticket_comment::Entity::find()
        .filter(ticket_comment::Column::TicketId.eq(row.id))
        .filter(ticket_comment::Column::Public.eq(true))
        .order_by_asc(ticket_comment::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|comment| PublicComment {
            body: comment.body,
            at: comment.created_at,
        })
        .collect();
    Ok(PublicTicket {
        reference: format!("#{}", row.id),
        status: parse_column("tickets.status", &row.status)?,
        subject: row.subject,
        created_at: row.created_at,
        updated_at: row.updated_at,
        timeline,
        comments,
    })
}

fn filter_condition(tenant_id: Id, visibility: Visibility, filter: &TicketFilter) -> Condition {
    let mut condition = Condition::all()
        .add(ticket::Column::TenantId.eq(tenant_id))
        .add(visible(tenant_id, visibility));
    if let Some(status) = filter.status {
        condition = condition.add(ticket::Column::Status.eq(as_text(status)));
    }
    match filter.open {
        Some(true) => {
            condition = condition.add(ticket::Column::Status.is_not_in(["resolved", "closed"]))
        }
        Some(false) => {
            condition = condition.add(ticket::Column::Status.is_in(["resolved", "closed"]))
        }
        None => {}
    }
    if let Some(ticket_type) = filter.ticket_type {
        condition = condition.add(ticket::Column::TicketType.eq(as_text(ticket_type)));
    }
    if let Some(customer) = filter.customer_id {
        condition = condition.add(ticket::Column::CustomerId.eq(customer));
    }
    if let Some(assignee) = filter.assignee_id {
        condition = condition.add(ticket::Column::AssigneeId.eq(assignee));
    }
    if let Some(department) = filter.department_id {
        condition = condition.add(ticket::Column::DepartmentId.eq(department));
    }
    if let Some(state) = filter.sla_state {
        condition = condition.add(ticket::Column::SlaState.eq(as_text(state)));
    }
    condition
}

/// Tickets within `visibility` matching `filter`, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    visibility: Visibility,
    filter: &TicketFilter,
    page: &PageRequest,
) -> StoreResult<Page<Ticket>> {
    let mut condition = filter_condition(tenant_id, visibility, filter);
    if let Some(cursor) = &page.after {
        condition = condition.add(ticket::Column::Id.lt(cursor.id));
    }
    let rows = ticket::Entity::find()
        .filter(condition)
        .order_by_desc(ticket::Column::Id)
        .limit(page.limit + 1)
        .all(db)
        .await?
        .into_iter()
        .map(to_domain)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_rows(rows, page.limit, |ticket| Cursor {
        sort: SORT.to_owned(),
        value: ticket.id.to_string(),
        id: ticket.id,
    }))
}

/// Tickets per customer and type in a window: the complaint counts the churn signals read.
pub async fn count_of_type_since(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    customer_id: Id,
    ticket_type: crate::domain::ticket::TicketType,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> StoreResult<u64> {
    Ok(ticket::Entity::find()
        .filter(ticket::Column::TenantId.eq(tenant_id))
        .filter(ticket::Column::CustomerId.eq(customer_id))
        .filter(ticket::Column::TicketType.eq(as_text(ticket_type)))
        .filter(ticket::Column::CreatedAt.gte(from))
        .filter(ticket::Column::CreatedAt.lt(until))
        .count(db)
        .await?)
}

/// The KPI facts of the visible tickets that can matter to `[from, until)`: created before
/// `until` and not resolved before `from`.
pub async fn kpi_facts(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    visibility: Visibility,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> StoreResult<Vec<KpiTicket>> {
    let rows = ticket::Entity::find()
        .filter(filter_condition(
            tenant_id,
            visibility,
            &TicketFilter::default(),
        ))
        .filter(ticket::Column::CreatedAt.lt(until))
        .filter(
            Condition::any()
                .add(ticket::Column::ResolvedAt.is_null())
                .add(ticket::Column::ResolvedAt.gte(from)),
        )
        .all(db)
        .await?;
    rows.into_iter()
        .map(|row| {
            Ok(KpiTicket {
                ticket_type: parse_column("tickets.ticket_type", &row.ticket_type)?,
                created_at: row.created_at,
                first_responded_at: row.first_responded_at,
                resolved_at: row.resolved_at,
                resolution_due_at: row.resolution_due_at,
                department_id: row.department_id,
                assignee_id: row.assignee_id,
            })
        })
        .collect()
}

/// Tickets whose SLA needs a look, locked for this sweep (PostgreSQL: `SKIP LOCKED`, so
/// concurrent workers take different tickets).
async fn due_for_check(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> StoreResult<Vec<ticket::Model>> {
    let mut query = ticket::Entity::find()
        .filter(ticket::Column::NextSlaCheckAt.lte(now))
        .order_by_asc(ticket::Column::NextSlaCheckAt)
        .limit(limit);
    if db.get_database_backend() == DbBackend::Postgres {
        query = query.lock_with_behavior(
            LockType::Update,
            sea_orm::sea_query::LockBehavior::SkipLocked,
        );
    }
    Ok(query.all(db).await?)
}

/// Re-evaluates the SLA of up to `limit` tickets whose next check is due: warnings, breaches
/// and escalations happen here. Returns how many tickets were looked at.
pub async fn sweep_sla(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> StoreResult<usize> {
    let due = due_for_check(db, now, limit).await?;
    let count = due.len();
    for row in due {
        refresh_sla(db, row, now).await?;
    }
    Ok(count)
}
