//! Follow-up tasks. A task is within a caller's reach when its assignee is, or its customer is.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use super::entity::{customer, event, task, user};
use super::{StoreError, StoreResult, customers, events, parse_column, users};
use crate::domain::access::Visibility;
use crate::domain::page::{Cursor, Page, PageRequest};
use crate::domain::task::{Task, TaskFields, TaskFilter, TaskStatus};
use crate::domain::{Id, ValidationErrors};

/// Tasks list by due time, soonest first; the cursor carries the last due time and id.
pub const SORT: &str = "due_at";

fn to_domain(row: task::Model) -> StoreResult<Task> {
    Ok(Task {
        priority: parse_column("tasks.priority", &row.priority)?,
        status: parse_column("tasks.status", &row.status)?,
        id: row.id,
        customer_id: row.customer_id,
        assignee_id: row.assignee_id,
        title: row.title,
        notes: row.notes,
        due_at: row.due_at,
        source: row.source,
        rule_id: row.rule_id,
        ticket_id: row.ticket_id,
        created_by: row.created_by,
        created_at: row.created_at,
        updated_at: row.updated_at,
        completed_at: row.completed_at,
    })
}

/// The tasks a caller with `visibility` may reach.
fn visible(tenant_id: Id, visibility: Visibility) -> Condition {
    let members = |department: Id| {
        Query::select()
            .column(user::Column::Id)
            .from(user::Entity)
            .and_where(user::Column::TenantId.eq(tenant_id))
            .and_where(user::Column::DepartmentId.eq(department))
            .to_owned()
    };
    let assignee = match visibility {
        Visibility::All => return Condition::all(),
        Visibility::OwnedBy(user_id) => task::Column::AssigneeId.eq(user_id),
        Visibility::Department(department) => {
            task::Column::AssigneeId.in_subquery(members(department))
        }
    };
    let reachable_customers = Query::select()
        .column(customer::Column::Id)
        .from(customer::Entity)
        .and_where(customer::Column::TenantId.eq(tenant_id))
        .cond_where(customers::visible(tenant_id, visibility))
        .to_owned();
    Condition::any()
        .add(assignee)
        .add(task::Column::CustomerId.in_subquery(reachable_customers))
}

async fn check_references(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    fields: &TaskFields,
) -> StoreResult<()> {
    if !users::belongs_to_tenant(db, tenant_id, fields.assignee_id).await? {
        return Err(ValidationErrors::single(
            "assignee_id",
            "unknown_user",
            "assignee_id is not a user of this tenant",
        )
        .into());
    }
    if let Some(customer_id) = fields.customer_id {
        customers::ensure_exists(db, tenant_id, customer_id).await?;
    }
    Ok(())
}

/// Where a task comes from: a person, or an automation rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Manual {
        created_by: Id,
    },
    Rule {
        rule_id: String,
    },
    /// The revisit after a ticket's resolution, or a manager's look at a breached ticket.
    Ticket {
        ticket_id: Id,
    },
    /// The follow-up a "needs follow-up" resolution asks for; the ticket cannot close before it
    /// is done.
    TicketFollowUp {
        ticket_id: Id,
    },
}

pub async fn create(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    fields: TaskFields,
    origin: Origin,
) -> StoreResult<Task> {
    check_references(db, tenant_id, &fields).await?;
    let now = Utc::now();
    let (source, rule_id, created_by, ticket_id) = match origin {
        Origin::Manual { created_by } => ("manual", None, Some(created_by), None),
        Origin::Rule { rule_id } => ("rule", Some(rule_id), None, None),
        Origin::Ticket { ticket_id } => ("ticket", None, None, Some(ticket_id)),
        Origin::TicketFollowUp { ticket_id } => ("ticket-follow-up", None, None, Some(ticket_id)),
    };
    let priority: &'static str = fields.priority.into();
    let status: &'static str = fields.status.into();
    let row = task::ActiveModel {
        tenant_id: Set(tenant_id),
        customer_id: Set(fields.customer_id),
        assignee_id: Set(fields.assignee_id),
        title: Set(fields.title),
        notes: Set(fields.notes),
        due_at: Set(fields.due_at),
        priority: Set(priority.to_owned()),
        status: Set(status.to_owned()),
        source: Set(source.to_owned()),
        rule_id: Set(rule_id),
        ticket_id: Set(ticket_id),
        created_by: Set(created_by),
        created_at: Set(now),
        updated_at: Set(now),
        completed_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    to_domain(row)
}

async fn find(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    id: Id,
    visibility: Visibility,
) -> StoreResult<task::Model> {
    task::Entity::find_by_id(id)
        .filter(task::Column::TenantId.eq(tenant_id))
        .filter(visible(tenant_id, visibility))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("task"))
}

/// A task within `visibility`; others are indistinguishable from missing ones.
pub async fn get(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    id: Id,
    visibility: Visibility,
) -> StoreResult<Task> {
    to_domain(find(db, tenant_id, id, visibility).await?)
}

pub async fn update(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    id: Id,
    visibility: Visibility,
    fields: TaskFields,
) -> StoreResult<Task> {
    let current = find(db, tenant_id, id, visibility).await?;
    check_references(db, tenant_id, &fields).await?;
    let now = Utc::now();
    let completed_at = match fields.status {
        TaskStatus::Done => current.completed_at.or(Some(now)),
        TaskStatus::Open | TaskStatus::Cancelled => None,
    };
    let priority: &'static str = fields.priority.into();
    let status: &'static str = fields.status.into();
    let mut row: task::ActiveModel = current.into();
    row.title = Set(fields.title);
    row.notes = Set(fields.notes);
    row.assignee_id = Set(fields.assignee_id);
    row.due_at = Set(fields.due_at);
    row.priority = Set(priority.to_owned());
    row.status = Set(status.to_owned());
    row.completed_at = Set(completed_at);
    row.updated_at = Set(now);
    to_domain(row.update(db).await?)
}

pub async fn delete(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    id: Id,
    visibility: Visibility,
) -> StoreResult<()> {
    let row = find(db, tenant_id, id, visibility).await?;
    task::Entity::delete_by_id(row.id).exec(db).await?;
    Ok(())
}

fn after_cursor(cursor: &Cursor) -> StoreResult<Condition> {
    let at = DateTime::parse_from_rfc3339(&cursor.value)
        .map_err(|_| {
            ValidationErrors::single("cursor", "invalid_cursor", "the cursor is malformed")
        })?
        .with_timezone(&Utc);
    Ok(Condition::any().add(task::Column::DueAt.gt(at)).add(
        Condition::all()
            .add(task::Column::DueAt.eq(at))
            .add(task::Column::Id.gt(cursor.id)),
    ))
}

/// Tasks within `visibility` matching `filter`, soonest due first.
pub async fn list(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    visibility: Visibility,
    filter: &TaskFilter,
    page: &PageRequest,
) -> StoreResult<Page<Task>> {
    let mut condition = Condition::all()
        .add(task::Column::TenantId.eq(tenant_id))
        .add(visible(tenant_id, visibility));
    if let Some(assignee) = filter.assignee_id {
        condition = condition.add(task::Column::AssigneeId.eq(assignee));
    }
    if let Some(customer) = filter.customer_id {
        condition = condition.add(task::Column::CustomerId.eq(customer));
    }
    if let Some(status) = filter.status {
        let status: &'static str = status.into();
        condition = condition.add(task::Column::Status.eq(status));
    }
    if let Some(from) = filter.due_from {
        condition = condition.add(task::Column::DueAt.gte(from));
    }
    if let Some(until) = filter.due_until {
        condition = condition.add(task::Column::DueAt.lt(until));
    }
    if let Some(cursor) = &page.after {
        condition = condition.add(after_cursor(cursor)?);
    }
    let rows = task::Entity::find()
        .filter(condition)
        .order_by_asc(task::Column::DueAt)
        .order_by_asc(task::Column::Id)
        .limit(page.limit + 1)
        .all(db)
        .await?
        .into_iter()
        .map(to_domain)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_rows(rows, page.limit, |task| Cursor {
        sort: SORT.to_owned(),
        value: task.due_at.to_rfc3339(),
        id: task.id,
    }))
}

/// Emits `task.due_soon` for open tasks due within `soon`, and `task.overdue` for open tasks
/// past due, once each per task. Returns how many of each.
pub async fn remind(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    now: DateTime<Utc>,
    soon: chrono::Duration,
) -> StoreResult<(u64, u64)> {
    let open = || {
        task::Entity::find()
            .filter(task::Column::TenantId.eq(tenant_id))
            .filter(task::Column::Status.eq("open"))
    };
    let due_soon = open()
        .filter(task::Column::DueSoonRemindedAt.is_null())
        .filter(task::Column::DueAt.gte(now))
        .filter(task::Column::DueAt.lt(now + soon))
        .all(db)
        .await?;
    let overdue = open()
        .filter(task::Column::OverdueRemindedAt.is_null())
        .filter(task::Column::DueAt.lt(now))
        .all(db)
        .await?;
    let reminders = [
        ("task.due_soon", &due_soon, task::Column::DueSoonRemindedAt),
        ("task.overdue", &overdue, task::Column::OverdueRemindedAt),
    ];
    for (kind, tasks, reminded) in reminders {
        if tasks.is_empty() {
            continue;
        }
        let rows = tasks.iter().map(|task| {
            let payload = serde_json::json!({
                "task_id": task.id,
                "title": task.title,
                "assignee_id": task.assignee_id,
                "customer_id": task.customer_id,
                "due_at": task.due_at,
                "priority": task.priority,
            });
            events::new_event(tenant_id, kind, task.id, &payload, now)
        });
        event::Entity::insert_many(rows).exec(db).await?;
        task::Entity::update_many()
            .col_expr(reminded, sea_orm::sea_query::Expr::value(now))
            .filter(task::Column::Id.is_in(tasks.iter().map(|t| t.id)))
            .exec(db)
            .await?;
    }
    Ok((due_soon.len() as u64, overdue.len() as u64))
}
