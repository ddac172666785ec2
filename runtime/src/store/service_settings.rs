//! A tenant's service settings: its business calendar, SLA policies and ticket routing rules.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set,
};

use super::entity::{business_calendar, routing_rule, sla_policy, ticket};
use super::{StoreError, StoreResult, departments, parse_column, tenants};
use crate::domain::Id;
use crate::domain::sla::{BusinessCalendar, BusinessCalendarSpec};
use crate::domain::ticket::{
    RoutingRule, RoutingRuleFields, SlaClockKind, SlaPolicy, SlaPolicyFields, default_sla_policies,
};

// ---------------------------------------------------------------------------------------------
// Business calendar

/// The tenant's calendar; office hours (Mon–Fri 09:00–18:00 UTC) until it sets one.
pub async fn calendar(db: &impl ConnectionTrait, tenant_id: Id) -> StoreResult<BusinessCalendar> {
    let Some(row) = business_calendar::Entity::find()
        .filter(business_calendar::Column::TenantId.eq(tenant_id))
        .one(db)
        .await?
    else {
        return Ok(BusinessCalendar::office_hours());
    };
    let spec: BusinessCalendarSpec = serde_json::from_str(&row.spec)
        .map_err(|error| StoreError::Corrupt(format!("business_calendars.spec: {error}")))?;
    spec.validate()
        .map_err(|error| StoreError::Corrupt(format!("business_calendars.spec: {error}")))
}

/// The calendar an SLA policy counts on.
pub async fn clock_calendar(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    clock: SlaClockKind,
) -> StoreResult<BusinessCalendar> {
    match clock {
        SlaClockKind::Business => calendar(db, tenant_id).await,
        SlaClockKind::AroundTheClock => Ok(BusinessCalendar::around_the_clock()),
    }
}

pub async fn set_calendar(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    calendar: &BusinessCalendar,
) -> StoreResult<()> {
    let spec = serde_json::to_string(&calendar.spec()).expect("a spec serialises");
    let existing = business_calendar::Entity::find()
        .filter(business_calendar::Column::TenantId.eq(tenant_id))
        .one(db)
        .await?;
    match existing {
        Some(row) => {
            let mut row: business_calendar::ActiveModel = row.into();
            row.spec = Set(spec);
            row.updated_at = Set(Utc::now());
            row.update(db).await?;
        }
        None => {
            business_calendar::ActiveModel {
                tenant_id: Set(tenant_id),
                spec: Set(spec),
                updated_at: Set(Utc::now()),
                ..Default::default()
            }
            .insert(db)
            .await?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// SLA policies

fn policy_to_domain(row: sla_policy::Model) -> StoreResult<SlaPolicy> {
    let minutes = |value: Option<i32>| value.and_then(|m| u32::try_from(m).ok());
    Ok(SlaPolicy {
        ticket_type: row
            .ticket_type
            .map(|value| parse_column("sla_policies.ticket_type", &value))
            .transpose()?,
        priority: row
            .priority
            .map(|value| parse_column("sla_policies.priority", &value))
            .transpose()?,
        clock: parse_column("sla_policies.clock", &row.clock)?,
        id: row.id,
        name: row.name,
        tier: row.tier,
        first_response_minutes: minutes(row.first_response_minutes),
        resolution_minutes: minutes(row.resolution_minutes),
        at_risk_percent: u8::try_from(row.at_risk_percent).unwrap_or(80),
        key: row.key,
    })
}

fn text<T: Into<&'static str>>(value: Option<T>) -> Option<String> {
    value.map(|value| value.into().to_owned())
}

fn minutes(value: Option<u32>) -> Option<i32> {
    value.map(|m| i32::try_from(m).unwrap_or(i32::MAX))
}

fn write_policy(row: &mut sla_policy::ActiveModel, fields: SlaPolicyFields) {
    let clock: &'static str = fields.clock.into();
    row.name = Set(fields.name);
    row.ticket_type = Set(text(fields.ticket_type));
    row.priority = Set(text(fields.priority));
    row.tier = Set(fields.tier);
    row.clock = Set(clock.to_owned());
    row.first_response_minutes = Set(minutes(fields.first_response_minutes));
    row.resolution_minutes = Set(minutes(fields.resolution_minutes));
    row.at_risk_percent = Set(i32::from(fields.at_risk_percent));
    row.updated_at = Set(Utc::now());
}

pub async fn policies(db: &impl ConnectionTrait, tenant_id: Id) -> StoreResult<Vec<SlaPolicy>> {
    sla_policy::Entity::find()
        .filter(sla_policy::Column::TenantId.eq(tenant_id))
        .order_by_asc(sla_policy::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(policy_to_domain)
        .collect()
}

async fn find_policy(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    id: Id,
) -> StoreResult<sla_policy::Model> {
    sla_policy::Entity::find_by_id(id)
        .filter(sla_policy::Column::TenantId.eq(tenant_id))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("SLA policy"))
}

pub async fn policy(db: &impl ConnectionTrait, tenant_id: Id, id: Id) -> StoreResult<SlaPolicy> {
    policy_to_domain(find_policy(db, tenant_id, id).await?)
}

pub async fn create_policy(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    fields: SlaPolicyFields,
) -> StoreResult<SlaPolicy> {
    let now = Utc::now();
    let mut row = sla_policy::ActiveModel {
        tenant_id: Set(tenant_id),
        key: Set(fields.key.clone()),
        created_at: Set(now),
        ..Default::default()
    };
    write_policy(&mut row, fields);
    policy_to_domain(row.insert(db).await?)
}

/// Replaces a policy's criteria and targets. Open tickets on it move their deadlines at their
/// next change or scheduler check.
pub async fn update_policy(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    id: Id,
    fields: SlaPolicyFields,
) -> StoreResult<SlaPolicy> {
    let mut row: sla_policy::ActiveModel = find_policy(db, tenant_id, id).await?.into();
    write_policy(&mut row, fields);
    policy_to_domain(row.update(db).await?)
}

/// Deletes a policy no open ticket runs on; tickets keep their history either way.
pub async fn delete_policy(db: &impl ConnectionTrait, tenant_id: Id, id: Id) -> StoreResult<()> {
    let row = find_policy(db, tenant_id, id).await?;
    let in_use = ticket::Entity::find()
        .filter(ticket::Column::TenantId.eq(tenant_id))
        .filter(ticket::Column::SlaPolicyId.eq(id))
        .filter(ticket::Column::Status.is_not_in(["resolved", "closed"]))
        .count(db)
        .await?;
    if in_use > 0 {
        return Err(StoreError::Conflict {
            code: "policy_in_use",
            message: format!("{in_use} open tickets run on this policy; change it instead"),
        });
    }
    sla_policy::Entity::delete_by_id(row.id).exec(db).await?;
    Ok(())
}

/// Installs the seed material's policies a tenant lacks (by key), once.
pub async fn install_default_policies(db: &impl ConnectionTrait, tenant_id: Id) -> StoreResult<()> {
    let existing = policies(db, tenant_id).await?;
    for fields in default_sla_policies() {
        if !existing.iter().any(|p| p.key == fields.key) {
            create_policy(db, tenant_id, fields).await?;
        }
    }
    Ok(())
}

pub async fn install_default_policies_everywhere(db: &impl ConnectionTrait) -> StoreResult<()> {
    for tenant_id in tenants::customer_tenant_ids(db).await? {
        install_default_policies(db, tenant_id).await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Routing rules

fn rule_to_domain(row: routing_rule::Model) -> StoreResult<RoutingRule> {
    Ok(RoutingRule {
        ticket_type: row
            .ticket_type
            .map(|t| parse_column("routing_rules.ticket_type", &t))
            .transpose()?,
        strategy: parse_column("routing_rules.strategy", &row.strategy)?,
        id: row.id,
        position: row.position,
        category: row.category,
        tier: row.tier,
        department_id: row.department_id,
    })
}

fn write_rule(row: &mut routing_rule::ActiveModel, fields: RoutingRuleFields) {
    let strategy: &'static str = fields.strategy.into();
    row.position = Set(fields.position);
    row.ticket_type = Set(text(fields.ticket_type));
    row.category = Set(fields.category);
    row.tier = Set(fields.tier);
    row.department_id = Set(fields.department_id);
    row.strategy = Set(strategy.to_owned());
    row.updated_at = Set(Utc::now());
}

/// Routing rules in the order they are tried.
pub async fn routing_rules(
    db: &impl ConnectionTrait,
    tenant_id: Id,
) -> StoreResult<Vec<RoutingRule>> {
    routing_rule::Entity::find()
        .filter(routing_rule::Column::TenantId.eq(tenant_id))
        .order_by_asc(routing_rule::Column::Position)
        .order_by_asc(routing_rule::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(rule_to_domain)
        .collect()
}

pub(crate) async fn find_rule(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    id: Id,
) -> StoreResult<routing_rule::Model> {
    routing_rule::Entity::find_by_id(id)
        .filter(routing_rule::Column::TenantId.eq(tenant_id))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("routing rule"))
}

pub async fn routing_rule(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    id: Id,
) -> StoreResult<RoutingRule> {
    rule_to_domain(find_rule(db, tenant_id, id).await?)
}

pub async fn create_rule(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    fields: RoutingRuleFields,
) -> StoreResult<RoutingRule> {
    departments::ensure_exists(db, tenant_id, fields.department_id).await?;
    let mut row = routing_rule::ActiveModel {
        tenant_id: Set(tenant_id),
        created_at: Set(Utc::now()),
        last_assignee_id: Set(None),
        ..Default::default()
    };
    write_rule(&mut row, fields);
    rule_to_domain(row.insert(db).await?)
}

pub async fn update_rule(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    id: Id,
    fields: RoutingRuleFields,
) -> StoreResult<RoutingRule> {
    departments::ensure_exists(db, tenant_id, fields.department_id).await?;
    let mut row: routing_rule::ActiveModel = find_rule(db, tenant_id, id).await?.into();
    write_rule(&mut row, fields);
    rule_to_domain(row.update(db).await?)
}

pub async fn delete_rule(db: &impl ConnectionTrait, tenant_id: Id, id: Id) -> StoreResult<()> {
    let row = find_rule(db, tenant_id, id).await?;
    routing_rule::Entity::delete_by_id(row.id).exec(db).await?;
    Ok(())
}
