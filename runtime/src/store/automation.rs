//! Automation rules and their firings. A rule's definition is stored as JSON and validated by
//! the domain before it gets here; a scheduled rule has a `rule:<id>` schedule row.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, Statement,
};

use super::entity::{automation_rule, rule_firing, task};
use super::{StoreError, StoreResult, access, schedules, tenants};
use crate::domain::automation::{Rule, RuleDefinition, Trigger, default_rules};
use crate::domain::{Id, ValidationErrors};

/// The schedule job of a scheduled rule.
pub fn job_of(rule_id: Id) -> String {
    format!("rule:{rule_id}")
}

fn to_domain(row: automation_rule::Model) -> StoreResult<Rule> {
    let definition = serde_json::from_str(&row.definition)
        .map_err(|_| StoreError::Corrupt(format!("automation_rules.definition of {}", row.id)))?;
    Ok(Rule {
        id: row.id,
        key: row.key,
        definition,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn encode(definition: &RuleDefinition) -> String {
    serde_json::to_string(definition).expect("a rule definition serialises")
}

/// Every role a rule assigns to must exist in the tenant.
async fn check_roles(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    definition: &RuleDefinition,
) -> StoreResult<()> {
    for role in definition.assigned_roles() {
        if access::get_role(db, tenant_id, role).await.is_err() {
            return Err(ValidationErrors::single(
                "actions",
                "unknown_role",
                format!("no role named {role} in this tenant"),
            )
            .into());
        }
    }
    Ok(())
}

/// Keeps the rule's schedule row in step with its trigger: scheduled rules run first right
/// away, then every `every_hours`; other rules have none.
async fn sync_schedule(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    rule_id: Id,
    definition: &RuleDefinition,
) -> StoreResult<()> {
    let job = job_of(rule_id);
    match definition.trigger {
        Trigger::Schedule { every_hours } => {
            let minutes = i32::try_from(every_hours * 60).unwrap_or(i32::MAX);
            schedules::upsert(db, tenant_id, &job, minutes, definition.enabled).await
        }
        Trigger::Event { .. } => schedules::remove(db, tenant_id, &job).await,
    }
}

pub async fn create(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    key: Option<&str>,
    definition: RuleDefinition,
) -> StoreResult<Rule> {
    check_roles(db, tenant_id, &definition).await?;
    let now = Utc::now();
    let row = automation_rule::ActiveModel {
        tenant_id: Set(tenant_id),
        key: Set(key.map(str::to_owned)),
        definition: Set(encode(&definition)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    sync_schedule(db, tenant_id, row.id, &definition).await?;
    to_domain(row)
}

async fn find(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    id: Id,
) -> StoreResult<automation_rule::Model> {
    automation_rule::Entity::find_by_id(id)
        .filter(automation_rule::Column::TenantId.eq(tenant_id))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("automation rule"))
}

pub async fn get(db: &impl ConnectionTrait, tenant_id: Id, id: Id) -> StoreResult<Rule> {
    to_domain(find(db, tenant_id, id).await?)
}

pub async fn list(db: &impl ConnectionTrait, tenant_id: Id) -> StoreResult<Vec<Rule>> {
    automation_rule::Entity::find()
        .filter(automation_rule::Column::TenantId.eq(tenant_id))
        .order_by_asc(automation_rule::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}

/// The tenant's enabled rules triggered by `event`.
pub async fn for_event(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    event: &str,
) -> StoreResult<Vec<Rule>> {
    Ok(list(db, tenant_id)
        .await?
        .into_iter()
        .filter(|rule| {
            rule.definition.enabled
                && matches!(&rule.definition.trigger, Trigger::Event { event: e } if e == event)
        })
        .collect())
}

pub async fn replace(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    id: Id,
    definition: RuleDefinition,
) -> StoreResult<Rule> {
    let current = find(db, tenant_id, id).await?;
    check_roles(db, tenant_id, &definition).await?;
    let mut row: automation_rule::ActiveModel = current.into();
    row.definition = Set(encode(&definition));
    row.updated_at = Set(Utc::now());
    let row = row.update(db).await?;
    sync_schedule(db, tenant_id, id, &definition).await?;
    to_domain(row)
}

/// Deletes a rule the tenant wrote. Rules installed from the seeds are disabled instead, so
/// that upgrades do not bring them back.
pub async fn delete(db: &impl ConnectionTrait, tenant_id: Id, id: Id) -> StoreResult<()> {
    let row = find(db, tenant_id, id).await?;
    if row.key.is_some() {
        return Err(StoreError::Conflict {
            code: "default_rule",
            message: "rules installed by default cannot be deleted; disable them instead"
                .to_owned(),
        });
    }
    schedules::remove(db, tenant_id, &job_of(id)).await?;
    automation_rule::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}

/// Installs the default rules a tenant does not have yet (by key).
pub async fn install_defaults(db: &impl ConnectionTrait, tenant_id: Id) -> StoreResult<()> {
    let existing: Vec<Option<String>> = automation_rule::Entity::find()
        .select_only()
        .column(automation_rule::Column::Key)
        .filter(automation_rule::Column::TenantId.eq(tenant_id))
        .into_tuple()
        .all(db)
        .await?;
    for (key, definition) in default_rules() {
        if !existing.iter().any(|k| k.as_deref() == Some(key)) {
            create(db, tenant_id, Some(key), definition).await?;
        }
    }
    Ok(())
}

/// Installs the defaults in every customer tenant (after the upgrade that introduced them).
pub async fn install_defaults_everywhere(db: &impl ConnectionTrait) -> StoreResult<()> {
    for tenant_id in tenants::customer_tenant_ids(db).await? {
        install_defaults(db, tenant_id).await?;
    }
    Ok(())
}

/// Holds, until the transaction ends, the right to fire `rule_id` for `customer_id`. Two runs
/// of one rule at once (the scheduler's and a manual one, or an event's) would otherwise both
/// find on PostgreSQL that it may fire, and both fire; SQLite's write transactions are serial
/// already. Two pairs may share a lock key, which only makes them wait for each other.
pub async fn lock_firing(
    db: &impl ConnectionTrait,
    rule_id: Id,
    customer_id: Id,
) -> StoreResult<()> {
    let backend = db.get_database_backend();
    if backend != DbBackend::Postgres {
        return Ok(());
    }
    let key = rule_id.wrapping_mul(FIRING_LOCK_MULTIPLIER) ^ customer_id;
    let lock =
        Statement::from_sql_and_values(backend, "SELECT pg_advisory_xact_lock($1)", [key.into()]);
    db.query_one_raw(lock).await?;
    Ok(())
}

/// Spreads rule ids over the lock key space (an odd constant, the 64-bit golden ratio).
const FIRING_LOCK_MULTIPLIER: i64 = 0x9E37_79B9_7F4A_7C15_u64 as i64;

/// Whether `rule` may fire for `customer_id` now: it has not fired within its repeat window
/// (ever, for once-per-customer rules), and no task it made for the customer is still open.
pub async fn may_fire(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    rule: &Rule,
    customer_id: Id,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let mut firings = rule_firing::Entity::find()
        .filter(rule_firing::Column::RuleId.eq(rule.id))
        .filter(rule_firing::Column::CustomerId.eq(customer_id));
    // A window reaching back beyond the calendar (a rule stored before repeats were bounded)
    // counts every firing, as a once-per-customer rule does.
    let window_start = rule
        .definition
        .repeat_after_days
        .and_then(|days| now.checked_sub_signed(Duration::days(days.into())));
    if let Some(start) = window_start {
        firings = firings.filter(rule_firing::Column::FiredAt.gt(start));
    }
    if firings.count(db).await? > 0 {
        return Ok(false);
    }
    let open_tasks = task::Entity::find()
        .filter(task::Column::TenantId.eq(tenant_id))
        .filter(task::Column::RuleId.eq(rule.id.to_string()))
        .filter(task::Column::CustomerId.eq(customer_id))
        .filter(task::Column::Status.eq("open"))
        .count(db)
        .await?;
    Ok(open_tasks == 0)
}

pub async fn record_firing(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    rule_id: Id,
    customer_id: Id,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    rule_firing::ActiveModel {
        tenant_id: Set(tenant_id),
        rule_id: Set(rule_id),
        customer_id: Set(customer_id),
        fired_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The member of `role` with the fewest open tasks (lowest id on a tie), for rules that assign
/// to a role rather than to the owner.
pub async fn least_busy_with_role(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    role: &str,
) -> StoreResult<Option<Id>> {
    let members = access::role_members(db, tenant_id, role).await?;
    let mut best: Option<(u64, Id)> = None;
    for user_id in members {
        let open = task::Entity::find()
            .filter(task::Column::TenantId.eq(tenant_id))
            .filter(task::Column::AssigneeId.eq(user_id))
            .filter(task::Column::Status.eq("open"))
            .count(db)
            .await?;
        if best.is_none_or(|(fewest, id)| (open, user_id) < (fewest, id)) {
            best = Some((open, user_id));
        }
    }
    Ok(best.map(|(_, id)| id))
}
