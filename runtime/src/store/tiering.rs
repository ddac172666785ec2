//! What tiering reads and writes: the facts of a page of customers (aggregated in a few
//! queries per page), and the decisions written back with history and events.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, LockBehavior, LockType, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, QuerySelect, Set, Statement, Value,
};
use serde_json::json;

use super::entity::{
    customer, customer_tag, interaction, order, satisfaction_record, ticket, tier_history,
    tier_request, tier_service_policy,
};
use super::{StoreError, StoreResult, bulk};
use crate::domain::Id;
use crate::domain::order::OrderStatus;
use crate::domain::tiering::{
    CustomerFacts, SignalInputs, TierChange, TierDecision, TierServicePolicy, churn_signals,
    default_service_policies,
};

/// SUMs are cast back to BIGINT because PostgreSQL widens `SUM(bigint)` to NUMERIC.
fn sum_bigint(expr: Expr) -> Expr {
    expr.sum().cast_as(Alias::new("BIGINT"))
}

fn days_between(then: DateTime<Utc>, now: DateTime<Utc>) -> u32 {
    (now - then).num_days().clamp(0, i64::from(u32::MAX)) as u32
}

#[derive(Debug, FromQueryResult)]
struct OrderTotals {
    customer_id: Id,
    value_90_e4: i64,
    value_365_e4: i64,
    count_90: i64,
    count_365: i64,
    count_730: i64,
    first_730_at: Option<DateTime<Utc>>,
    last_at: Option<DateTime<Utc>>,
}

#[derive(Debug, FromQueryResult)]
struct ComplaintTotals {
    customer_id: Id,
    open: i64,
    count_90: i64,
    count_prior_90: i64,
}

#[derive(Debug, FromQueryResult)]
struct InteractionTotals {
    customer_id: Id,
    count_30: i64,
    count_90: i64,
    count_prior_365: i64,
    last_at: Option<DateTime<Utc>>,
}

fn counted(column: order::Column) -> sea_orm::sea_query::SimpleExpr {
    let excluded: Vec<&'static str> = OrderStatus::NOT_COUNTED
        .iter()
        .map(|s| (*s).into())
        .collect();
    column.is_not_in(excluded)
}

/// What the facts of a customer start from: its own row's part of them.
#[derive(Debug, Clone, FromQueryResult)]
pub struct FactsSubject {
    pub id: Id,
    pub stage: String,
    pub created_at: DateTime<Utc>,
    pub custom_fields: String,
}

impl From<&customer::Model> for FactsSubject {
    fn from(row: &customer::Model) -> Self {
        FactsSubject {
            id: row.id,
            stage: row.stage.clone(),
            created_at: row.created_at,
            custom_fields: row.custom_fields.to_string(),
        }
    }
}

/// The facts of up to `limit` customers of the tenant after `after_id`, in id order. Order
/// values count only orders in `currency` (the tenant's default) that were not cancelled or
/// refunded. Complaints are complaint tickets.
pub async fn facts_page(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    currency: &str,
    after_id: Id,
    limit: u64,
    now: DateTime<Utc>,
) -> StoreResult<Vec<CustomerFacts>> {
    let subjects = subjects_page(db, tenant_id, after_id, limit).await?;
    facts_of(db, tenant_id, currency, subjects, now).await
}

/// Up to `limit` customers of the tenant after `after_id`, in id order.
pub async fn customers_page(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    after_id: Id,
    limit: u64,
) -> StoreResult<Vec<customer::Model>> {
    Ok(customer::Entity::find()
        .filter(customer::Column::TenantId.eq(tenant_id))
        .filter(customer::Column::Id.gt(after_id))
        .order_by_asc(customer::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// The subjects of up to `limit` customers of the tenant after `after_id`, in id order: the
/// columns facts need, not whole rows (a tier run reads every customer).
pub async fn subjects_page(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    after_id: Id,
    limit: u64,
) -> StoreResult<Vec<FactsSubject>> {
    Ok(subjects_query()
        .filter(customer::Column::TenantId.eq(tenant_id))
        .filter(customer::Column::Id.gt(after_id))
        .order_by_asc(customer::Column::Id)
        .limit(limit)
        .into_model::<FactsSubject>()
        .all(db)
        .await?)
}

/// The subjects of the tenant's customers among `ids` (missing ones are left out), in id order.
pub async fn subjects_by_id(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    ids: &[Id],
) -> StoreResult<Vec<FactsSubject>> {
    Ok(subjects_query()
        .filter(customer::Column::TenantId.eq(tenant_id))
        .filter(customer::Column::Id.is_in(ids.to_vec()))
        .order_by_asc(customer::Column::Id)
        .into_model::<FactsSubject>()
        .all(db)
        .await?)
}

fn subjects_query() -> sea_orm::Select<customer::Entity> {
    customer::Entity::find()
        .select_only()
        .column(customer::Column::Id)
        .column(customer::Column::Stage)
        .column(customer::Column::CreatedAt)
        // Text on both backends: the policy gets the JSON as text anyway.
        .column_as(
            Expr::col(customer::Column::CustomFields).cast_as(Alias::new("TEXT")),
            "custom_fields",
        )
}

/// The tenant's customers among `ids` (missing ones are left out), in id order.
pub async fn customers_by_id(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    ids: &[Id],
) -> StoreResult<Vec<customer::Model>> {
    Ok(customer::Entity::find()
        .filter(customer::Column::TenantId.eq(tenant_id))
        .filter(customer::Column::Id.is_in(ids.to_vec()))
        .order_by_asc(customer::Column::Id)
        .all(db)
        .await?)
}

/// Selects rows of the customers among `ids` (sorted, not empty) by `column`. Dense ids (a page
/// of a tier run) become one range, which SQLite reads as a single index range instead of
/// a seek per id through a temporary table; rows of other customers in the range are left
/// out by the callers, which look rows up by customer.
fn of_customers(column: impl ColumnTrait, ids: &[Id]) -> sea_orm::sea_query::SimpleExpr {
    let (first, last) = (ids[0], ids[ids.len() - 1]);
    let span = u64::try_from(last - first).unwrap_or(u64::MAX);
    if span < 2 * ids.len() as u64 {
        column.between(first, last)
    } else {
        column.is_in(ids.to_vec())
    }
}

/// The facts of `subjects` (customers of the tenant, in id order), in their order.
pub async fn facts_of(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    currency: &str,
    subjects: Vec<FactsSubject>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<CustomerFacts>> {
    if subjects.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids: Vec<Id> = subjects.iter().map(|c| c.id).collect();
    ids.sort_unstable();
    let ids = ids.as_slice();
    let (orders, interactions, latest, tags, complaints) = tokio::try_join!(
        order_totals(db, tenant_id, currency, ids, now),
        interaction_totals(db, tenant_id, ids, now),
        latest_satisfaction(db, tenant_id, ids),
        tags_of(db, tenant_id, ids),
        complaint_totals(db, tenant_id, ids, now),
    )?;
    let mut complaints: HashMap<Id, ComplaintTotals> =
        complaints.into_iter().map(|c| (c.customer_id, c)).collect();
    let mut orders: HashMap<Id, OrderTotals> =
        orders.into_iter().map(|o| (o.customer_id, o)).collect();
    let mut interactions: HashMap<Id, InteractionTotals> = interactions
        .into_iter()
        .map(|i| (i.customer_id, i))
        .collect();
    let mut tags = tags;
    Ok(subjects
        .into_iter()
        .map(|row| {
            let orders = orders.remove(&row.id);
            let interactions = interactions.remove(&row.id);
            let complaints = complaints.remove(&row.id);
            let complaints_90d = complaints.as_ref().map_or(0, |c| c.count_90 as u32);
            // Storage units are 1/10,000 of the currency unit; facts carry plain numbers.
            let value = |e4: i64| e4 as f64 / 10_000.0;
            let satisfaction = |kind: &str| latest.get(&(row.id, kind.to_owned())).copied();
            let days_since_last_order = orders
                .as_ref()
                .and_then(|o| o.last_at)
                .map(|at| days_between(at, now));
            let signals = churn_signals(&SignalInputs {
                interactions_90d: interactions.as_ref().map_or(0, |i| i.count_90 as u32),
                interactions_prior_365d: interactions
                    .as_ref()
                    .map_or(0, |i| i.count_prior_365 as u32),
                complaints_90d,
                complaints_prior_90d: complaints.as_ref().map_or(0, |c| c.count_prior_90 as u32),
                latest_csat: satisfaction("csat"),
                latest_nps: satisfaction("nps"),
                orders_730d: orders.as_ref().map_or(0, |o| o.count_730 as u32),
                days_since_first_order_730d: orders
                    .as_ref()
                    .and_then(|o| o.first_730_at)
                    .map(|at| days_between(at, now)),
                days_since_last_order,
            });
            CustomerFacts {
                customer_id: row.id,
                lifecycle_stage: row.stage,
                tenure_days: days_between(row.created_at, now),
                tags: tags.remove(&row.id).unwrap_or_default(),
                custom_fields_json: row.custom_fields,
                order_value_90d: orders.as_ref().map_or(0.0, |o| value(o.value_90_e4)),
                order_value_365d: orders.as_ref().map_or(0.0, |o| value(o.value_365_e4)),
                order_count_90d: orders.as_ref().map_or(0, |o| o.count_90 as u32),
                order_count_365d: orders.as_ref().map_or(0, |o| o.count_365 as u32),
                days_since_last_order,
                interaction_count_30d: interactions.as_ref().map_or(0, |i| i.count_30 as u32),
                interaction_count_90d: interactions.as_ref().map_or(0, |i| i.count_90 as u32),
                days_since_last_contact: interactions
                    .as_ref()
                    .and_then(|i| i.last_at)
                    .map(|at| days_between(at, now)),
                open_complaints: complaints.as_ref().map_or(0, |c| c.open as u32),
                complaints_90d,
                latest_csat: satisfaction("csat"),
                latest_nps: satisfaction("nps"),
                latest_ces: satisfaction("ces"),
                churn_signals: signals,
            }
        })
        .collect())
}

async fn order_totals(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    currency: &str,
    ids: &[Id],
    now: DateTime<Utc>,
) -> StoreResult<Vec<OrderTotals>> {
    let since = |days: i64| Expr::col(order::Column::OrderedAt).gte(now - Duration::days(days));
    let amount = || Expr::col(order::Column::AmountE4);
    Ok(order::Entity::find()
        .select_only()
        .column(order::Column::CustomerId)
        .column_as(
            sum_bigint(Expr::case(since(90), amount()).finally(0).into()),
            "value_90_e4",
        )
        .column_as(
            sum_bigint(Expr::case(since(365), amount()).finally(0).into()),
            "value_365_e4",
        )
        .column_as(
            sum_bigint(Expr::case(since(90), 1).finally(0).into()),
            "count_90",
        )
        .column_as(
            sum_bigint(Expr::case(since(365), 1).finally(0).into()),
            "count_365",
        )
        .column_as(
            sum_bigint(Expr::case(since(730), 1).finally(0).into()),
            "count_730",
        )
        .column_as(
            Expr::case(since(730), Expr::col(order::Column::OrderedAt))
                .finally(Expr::value(Option::<DateTime<Utc>>::None))
                .min(),
            "first_730_at",
        )
        .column_as(Expr::col(order::Column::OrderedAt).max(), "last_at")
        .filter(order::Column::TenantId.eq(tenant_id))
        .filter(of_customers(order::Column::CustomerId, ids))
        .filter(order::Column::Currency.eq(currency))
        .filter(counted(order::Column::Status))
        .group_by(order::Column::CustomerId)
        .into_model::<OrderTotals>()
        .all(db)
        .await?)
}

async fn interaction_totals(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    ids: &[Id],
    now: DateTime<Utc>,
) -> StoreResult<Vec<InteractionTotals>> {
    let since =
        |days: i64| Expr::col(interaction::Column::OccurredAt).gte(now - Duration::days(days));
    Ok(interaction::Entity::find()
        .select_only()
        .column(interaction::Column::CustomerId)
        .column_as(
            sum_bigint(Expr::case(since(30), 1).finally(0).into()),
            "count_30",
        )
        .column_as(
            sum_bigint(Expr::case(since(90), 1).finally(0).into()),
            "count_90",
        )
        .column_as(
            sum_bigint(
                Expr::case(since(455).and(since(90).not()), 1)
                    .finally(0)
                    .into(),
            ),
            "count_prior_365",
        )
        .column_as(Expr::col(interaction::Column::OccurredAt).max(), "last_at")
        .filter(interaction::Column::TenantId.eq(tenant_id))
        .filter(of_customers(interaction::Column::CustomerId, ids))
        .group_by(interaction::Column::CustomerId)
        .into_model::<InteractionTotals>()
        .all(db)
        .await?)
}

/// Complaint tickets per customer: open now, raised in the last 90 days, and in the 90 before.
async fn complaint_totals(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    ids: &[Id],
    now: DateTime<Utc>,
) -> StoreResult<Vec<ComplaintTotals>> {
    let since = |days: i64| Expr::col(ticket::Column::CreatedAt).gte(now - Duration::days(days));
    let open = Expr::col(ticket::Column::Status).is_not_in(["resolved", "closed"]);
    Ok(ticket::Entity::find()
        .select_only()
        .column(ticket::Column::CustomerId)
        .column_as(sum_bigint(Expr::case(open, 1).finally(0).into()), "open")
        .column_as(
            sum_bigint(Expr::case(since(90), 1).finally(0).into()),
            "count_90",
        )
        .column_as(
            sum_bigint(
                Expr::case(since(180).and(since(90).not()), 1)
                    .finally(0)
                    .into(),
            ),
            "count_prior_90",
        )
        .filter(ticket::Column::TenantId.eq(tenant_id))
        .filter(of_customers(ticket::Column::CustomerId, ids))
        .filter(ticket::Column::TicketType.eq("complaint"))
        .group_by(ticket::Column::CustomerId)
        .into_model::<ComplaintTotals>()
        .all(db)
        .await?)
}

/// The latest value of each satisfaction kind per customer.
async fn latest_satisfaction(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    ids: &[Id],
) -> StoreResult<HashMap<(Id, String), f64>> {
    let rows = satisfaction_record::Entity::find()
        .filter(satisfaction_record::Column::TenantId.eq(tenant_id))
        .filter(of_customers(satisfaction_record::Column::CustomerId, ids))
        .order_by_desc(satisfaction_record::Column::RecordedAt)
        .order_by_desc(satisfaction_record::Column::Id)
        .all(db)
        .await?;
    let mut latest = HashMap::new();
    for row in rows {
        latest
            .entry((row.customer_id, row.kind.clone()))
            .or_insert(row.value);
    }
    Ok(latest)
}

async fn tags_of(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    ids: &[Id],
) -> StoreResult<HashMap<Id, Vec<String>>> {
    let mut tags: HashMap<Id, Vec<String>> = HashMap::new();
    for row in customer_tag::Entity::find()
        .filter(customer_tag::Column::TenantId.eq(tenant_id))
        .filter(of_customers(customer_tag::Column::CustomerId, ids))
        .order_by_asc(customer_tag::Column::CustomerId)
        .order_by_asc(customer_tag::Column::Tag)
        .all(db)
        .await?
    {
        tags.entry(row.customer_id).or_default().push(row.tag);
    }
    Ok(tags)
}

/// Writes a batch of decisions: every customer gets its tier, score, reasons and evaluation
/// time; a customer whose tier changed also gets a history row and a `customer.tier_changed`
/// event. Returns how many changed. Run it in one transaction per batch.
pub async fn apply(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    decisions: &[TierDecision],
    plugin: (&str, &str),
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let ids: Vec<Id> = decisions.iter().map(|d| d.customer_id).collect();
    // Looked up by primary key, the tenant checked here: with `tenant_id = ?` in the query,
    // SQLite answers from the covering (tenant, tier) index and reads the whole tenant.
    let current: HashMap<Id, Option<String>> = customer::Entity::find()
        .select_only()
        .column(customer::Column::Id)
        .column(customer::Column::TenantId)
        .column(customer::Column::Tier)
        .filter(customer::Column::Id.is_in(ids))
        .into_tuple::<(Id, Id, Option<String>)>()
        .all(db)
        .await?
        .into_iter()
        .filter(|(_, tenant, _)| *tenant == tenant_id)
        .map(|(id, _, tier)| (id, tier))
        .collect();
    // A customer deleted since its facts were read has no current row and is skipped.
    let live: Vec<&TierDecision> = decisions
        .iter()
        .filter(|d| current.contains_key(&d.customer_id))
        .collect();
    for chunk in live.chunks(UPDATE_CHUNK) {
        write_decisions(db, tenant_id, chunk, now).await?;
    }
    let changes: Vec<(Option<String>, &TierDecision)> = live
        .into_iter()
        .filter_map(|decision| {
            let previous = current.get(&decision.customer_id)?;
            (previous.as_deref() != Some(decision.tier.as_str()))
                .then(|| (previous.clone(), decision))
        })
        .collect();
    record_changes(db, tenant_id, &changes, plugin, now).await?;
    Ok(changes.len() as u64)
}

/// Rows per `UPDATE … FROM (VALUES …)`: four parameters a row stays far below SQLite's and
/// PostgreSQL's parameter limits.
const UPDATE_CHUNK: usize = 500;

/// One statement for the whole chunk: a statement per customer would cost a round trip each,
/// which dominates a re-tier of a million customers.
async fn write_decisions(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    decisions: &[&TierDecision],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    if decisions.is_empty() {
        return Ok(());
    }
    let backend = db.get_database_backend();
    let postgres = backend == DbBackend::Postgres;
    let mut values: Vec<Value> = Vec::with_capacity(decisions.len() * 4 + 2);
    let mut rows = Vec::with_capacity(decisions.len());
    let mut next = 0usize;
    let mut param = |value: Value, values: &mut Vec<Value>| {
        values.push(value);
        next += 1;
        if postgres {
            format!("${next}")
        } else {
            "?".to_owned()
        }
    };
    // Parameters go in the order they appear in the statement: SQLite's `?` are positional.
    let evaluated_at = param(now.into(), &mut values);
    for decision in decisions {
        let id = param(decision.customer_id.into(), &mut values);
        let tier = param(decision.tier.clone().into(), &mut values);
        let score = param(decision.score.into(), &mut values);
        let reasons = param(json!(decision.reasons).to_string().into(), &mut values);
        rows.push(format!("({id}, {tier}, {score}, {reasons})"));
    }
    let tenant = param(tenant_id.into(), &mut values);
    let json_cast = if postgres { "::json" } else { "" };
    let sql = format!(
        "UPDATE customers SET tier = v.column2, tier_score = v.column3, \
         tier_reasons = v.column4{json_cast}, tier_evaluated_at = {evaluated_at} \
         FROM (VALUES {}) AS v WHERE customers.id = v.column1 AND customers.tenant_id = {tenant}",
        rows.join(", ")
    );
    db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(())
}

async fn record_changes(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    changes: &[(Option<String>, &TierDecision)],
    (plugin_id, plugin_version): (&str, &str),
    now: DateTime<Utc>,
) -> StoreResult<()> {
    const HISTORY: [&str; 9] = [
        "tenant_id",
        "customer_id",
        "from_tier",
        "to_tier",
        "score",
        "reasons",
        "plugin_id",
        "plugin_version",
        "changed_at",
    ];
    const EVENTS: [&str; 5] = ["tenant_id", "kind", "subject_id", "payload", "occurred_at"];
    for chunk in changes.chunks(UPDATE_CHUNK) {
        let mut history = Vec::with_capacity(chunk.len() * HISTORY.len());
        let mut events = Vec::with_capacity(chunk.len() * EVENTS.len());
        for (from_tier, decision) in chunk {
            let payload = json!({
                "customer_id": decision.customer_id,
                "from_tier": from_tier,
                "to_tier": decision.tier,
                "score": decision.score,
                "reasons": decision.reasons,
                "plugin_id": plugin_id,
                "plugin_version": plugin_version,
            });
            history.extend::<[Value; 9]>([
                tenant_id.into(),
                decision.customer_id.into(),
                from_tier.clone().into(),
                decision.tier.clone().into(),
                decision.score.into(),
                json!(decision.reasons).to_string().into(),
                plugin_id.into(),
                plugin_version.into(),
                now.into(),
            ]);
            events.extend::<[Value; 5]>([
                tenant_id.into(),
                "customer.tier_changed".into(),
                decision.customer_id.to_string().into(),
                payload.to_string().into(),
                now.into(),
            ]);
        }
        bulk::insert_rows(db, "tier_history", &HISTORY, history).await?;
        bulk::insert_rows(db, "events", &EVENTS, events).await?;
    }
    Ok(())
}

/// A customer's tier changes, newest first.
pub async fn history(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    customer_id: Id,
) -> StoreResult<Vec<TierChange>> {
    tier_history::Entity::find()
        .filter(tier_history::Column::TenantId.eq(tenant_id))
        .filter(tier_history::Column::CustomerId.eq(customer_id))
        .order_by_desc(tier_history::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|row| {
            let reasons = serde_json::from_str(&row.reasons)
                .map_err(|_| StoreError::Corrupt(format!("tier_history.reasons of {}", row.id)))?;
            Ok(TierChange {
                id: row.id,
                customer_id: row.customer_id,
                from_tier: row.from_tier,
                to_tier: row.to_tier,
                score: row.score,
                reasons,
                plugin_id: row.plugin_id,
                plugin_version: row.plugin_version,
                changed_at: row.changed_at,
            })
        })
        .collect()
}

/// The tenant's service policy per tier: its own rows, with the defaults for tiers it has not
/// set; default tiers first, then its other tiers by name.
pub async fn service_policies(
    db: &impl ConnectionTrait,
    tenant_id: Id,
) -> StoreResult<Vec<TierServicePolicy>> {
    let rows = tier_service_policy::Entity::find()
        .filter(tier_service_policy::Column::TenantId.eq(tenant_id))
        .order_by_asc(tier_service_policy::Column::Tier)
        .all(db)
        .await?;
    // Stored values were validated positive; a negative one can only come from a manual edit.
    let count = |value: i32| u32::try_from(value).unwrap_or(0);
    let mut own: Vec<TierServicePolicy> = rows
        .into_iter()
        .map(|row| TierServicePolicy {
            tier: row.tier,
            revisit_every_days: count(row.revisit_every_days),
            first_response_hours: count(row.first_response_hours),
            resolution_hours: count(row.resolution_hours),
            customised: true,
        })
        .collect();
    let mut policies = Vec::new();
    for default in default_service_policies() {
        match own.iter().position(|p| p.tier == default.tier) {
            Some(index) => policies.push(own.remove(index)),
            None => policies.push(default),
        }
    }
    policies.extend(own);
    Ok(policies)
}

/// Sets the service policy of one tier.
pub async fn set_service_policy(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    policy: &TierServicePolicy,
) -> StoreResult<()> {
    let to_i32 = |value: u32| i32::try_from(value).unwrap_or(i32::MAX);
    let existing = tier_service_policy::Entity::find()
        .filter(tier_service_policy::Column::TenantId.eq(tenant_id))
        .filter(tier_service_policy::Column::Tier.eq(policy.tier.as_str()))
        .one(db)
        .await?;
    let mut row: tier_service_policy::ActiveModel = match existing {
        Some(row) => row.into(),
        None => tier_service_policy::ActiveModel {
            tenant_id: Set(tenant_id),
            tier: Set(policy.tier.clone()),
            ..Default::default()
        },
    };
    row.revisit_every_days = Set(to_i32(policy.revisit_every_days));
    row.first_response_hours = Set(to_i32(policy.first_response_hours));
    row.resolution_hours = Set(to_i32(policy.resolution_hours));
    row.updated_at = Set(Utc::now());
    row.save(db).await?;
    Ok(())
}

/// Asks for `customer_id` to be re-tiered at `due_at`; a pending request moves to the later
/// time, which is what debounces a burst of events into one evaluation.
pub async fn request_retier(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    customer_id: Id,
    due_at: DateTime<Utc>,
) -> StoreResult<()> {
    let request = tier_request::ActiveModel {
        tenant_id: Set(tenant_id),
        customer_id: Set(customer_id),
        due_at: Set(due_at),
        ..Default::default()
    };
    tier_request::Entity::insert(request)
        .on_conflict(
            OnConflict::columns([
                tier_request::Column::TenantId,
                tier_request::Column::CustomerId,
            ])
            .update_column(tier_request::Column::DueAt)
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Takes up to `limit` due re-tier requests of one tenant off the queue (in the caller's
/// transaction; PostgreSQL skips rows another process is taking). Returns the tenant and its
/// customer ids.
pub async fn take_due_requests(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> StoreResult<Option<(Id, Vec<Id>)>> {
    let lock = |query: sea_orm::Select<tier_request::Entity>| {
        if db.get_database_backend() == DbBackend::Postgres {
            query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        } else {
            query
        }
    };
    let Some(first) = lock(
        tier_request::Entity::find()
            .filter(tier_request::Column::DueAt.lte(now))
            .order_by_asc(tier_request::Column::DueAt),
    )
    .one(db)
    .await?
    else {
        return Ok(None);
    };
    let due = lock(
        tier_request::Entity::find()
            .filter(tier_request::Column::TenantId.eq(first.tenant_id))
            .filter(tier_request::Column::DueAt.lte(now))
            .order_by_asc(tier_request::Column::DueAt)
            .limit(limit),
    )
    .all(db)
    .await?;
    let ids: Vec<Id> = due.iter().map(|r| r.id).collect();
    tier_request::Entity::delete_many()
        .filter(tier_request::Column::Id.is_in(ids))
        .exec(db)
        .await?;
    Ok(Some((
        first.tenant_id,
        due.into_iter().map(|r| r.customer_id).collect(),
    )))
}
