//! What tiering reads and writes: the facts of a page of customers (aggregated in a few
//! queries per page), and the decisions written back with history and events.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, LockBehavior, LockType, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Set, Statement, Value,
};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::entity::{
    customer, customer_tag, interaction, order, satisfaction_record, ticket, tier_history,
    tier_request, tier_service_policy,
};
use super::{StoreError, StoreResult, json_rows};
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

#[derive(Debug, Deserialize)]
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

#[derive(Debug, Deserialize)]
struct ComplaintTotals {
    customer_id: Id,
    open: i64,
    count_90: i64,
    count_prior_90: i64,
}

#[derive(Debug, Deserialize)]
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
#[derive(Debug, Clone, Deserialize)]
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
    let query = subjects_query()
        .filter(customer::Column::TenantId.eq(tenant_id))
        .filter(customer::Column::Id.gt(after_id))
        .order_by_asc(customer::Column::Id)
        .limit(limit);
    sorted_subjects(db, query).await
}

/// The subjects of the tenant's customers among `ids` (missing ones are left out), in id order.
pub async fn subjects_by_id(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    ids: &[Id],
) -> StoreResult<Vec<FactsSubject>> {
    let query = subjects_query()
        .filter(customer::Column::TenantId.eq(tenant_id))
        .filter(customer::Column::Id.is_in(ids.to_vec()));
    sorted_subjects(db, query).await
}

/// The subjects `query` selects, in id order (the rows come back as one JSON array, whose
/// order the databases do not promise).
async fn sorted_subjects(
    db: &impl ConnectionTrait,
    query: sea_orm::Select<customer::Entity>,
) -> StoreResult<Vec<FactsSubject>> {
    let columns = ["id", "stage", "created_at", "custom_fields"];
    let mut subjects: Vec<FactsSubject> =
        json_rows::fetch(db, &query.into_query(), &columns).await?;
    subjects.sort_unstable_by_key(|subject| subject.id);
    Ok(subjects)
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
    // One query after the other: a tier run reads on a task of its own beside the writer,
    // and on two cores five concurrent reads only took CPU from it.
    let orders = order_totals(db, tenant_id, currency, ids, now).await?;
    let interactions = interaction_totals(db, tenant_id, ids, now).await?;
    let latest = latest_satisfaction(db, tenant_id, ids).await?;
    let tags = tags_of(db, tenant_id, ids).await?;
    let complaints = complaint_totals(db, tenant_id, ids, now).await?;
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
    let query = order::Entity::find()
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
        .into_query();
    json_rows::fetch(
        db,
        &query,
        &[
            "customer_id",
            "value_90_e4",
            "value_365_e4",
            "count_90",
            "count_365",
            "count_730",
            "first_730_at",
            "last_at",
        ],
    )
    .await
}

async fn interaction_totals(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    ids: &[Id],
    now: DateTime<Utc>,
) -> StoreResult<Vec<InteractionTotals>> {
    let since =
        |days: i64| Expr::col(interaction::Column::OccurredAt).gte(now - Duration::days(days));
    let query = interaction::Entity::find()
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
        .into_query();
    json_rows::fetch(
        db,
        &query,
        &[
            "customer_id",
            "count_30",
            "count_90",
            "count_prior_365",
            "last_at",
        ],
    )
    .await
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
    let query = ticket::Entity::find()
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
        .into_query();
    json_rows::fetch(
        db,
        &query,
        &["customer_id", "open", "count_90", "count_prior_90"],
    )
    .await
}

/// One satisfaction record, as `latest_satisfaction` compares them.
#[derive(Debug, Deserialize)]
struct SatisfactionValue {
    customer_id: Id,
    kind: String,
    value: f64,
    recorded_at: DateTime<Utc>,
    id: Id,
}

/// The latest value of each satisfaction kind per customer (by record time, then id).
async fn latest_satisfaction(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    ids: &[Id],
) -> StoreResult<HashMap<(Id, String), f64>> {
    let query = satisfaction_record::Entity::find()
        .select_only()
        .column(satisfaction_record::Column::CustomerId)
        .column(satisfaction_record::Column::Kind)
        .column(satisfaction_record::Column::Value)
        .column(satisfaction_record::Column::RecordedAt)
        .column(satisfaction_record::Column::Id)
        .filter(satisfaction_record::Column::TenantId.eq(tenant_id))
        .filter(of_customers(satisfaction_record::Column::CustomerId, ids))
        .into_query();
    let columns = ["customer_id", "kind", "value", "recorded_at", "id"];
    let rows: Vec<SatisfactionValue> = json_rows::fetch(db, &query, &columns).await?;
    let mut latest: HashMap<(Id, String), (DateTime<Utc>, Id, f64)> = HashMap::new();
    for row in rows {
        let record = (row.recorded_at, row.id, row.value);
        latest
            .entry((row.customer_id, row.kind))
            .and_modify(|kept| {
                if (record.0, record.1) > (kept.0, kept.1) {
                    *kept = record;
                }
            })
            .or_insert(record);
    }
    Ok(latest
        .into_iter()
        .map(|(key, (_, _, value))| (key, value))
        .collect())
}

/// Each customer's tags, sorted.
async fn tags_of(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    ids: &[Id],
) -> StoreResult<HashMap<Id, Vec<String>>> {
    let query = customer_tag::Entity::find()
        .select_only()
        .column(customer_tag::Column::CustomerId)
        .column(customer_tag::Column::Tag)
        .filter(customer_tag::Column::TenantId.eq(tenant_id))
        .filter(of_customers(customer_tag::Column::CustomerId, ids))
        .into_query();
    let rows: Vec<(Id, String)> = json_rows::fetch::<TagRow>(db, &query, &["customer_id", "tag"])
        .await?
        .into_iter()
        .map(|row| (row.customer_id, row.tag))
        .collect();
    let mut tags: HashMap<Id, Vec<String>> = HashMap::new();
    for (customer_id, tag) in rows {
        tags.entry(customer_id).or_default().push(tag);
    }
    for list in tags.values_mut() {
        list.sort_unstable();
    }
    Ok(tags)
}

#[derive(Debug, Deserialize)]
struct TagRow {
    customer_id: Id,
    tag: String,
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
    // A customer deleted since its facts were read has no current row and is skipped. The
    // reasons are serialised once for the customer row, the history and the event.
    let live: Vec<Written> = decisions
        .iter()
        .filter_map(|decision| {
            let previous = current.get(&decision.customer_id)?;
            Some(Written {
                decision,
                reasons: serde_json::value::to_raw_value(&decision.reasons).ok()?,
                changed_from: (previous.as_deref() != Some(decision.tier.as_str()))
                    .then(|| previous.clone()),
            })
        })
        .collect();
    for chunk in live.chunks(UPDATE_CHUNK) {
        write_decisions(db, tenant_id, chunk, now).await?;
    }
    let changes: Vec<&Written> = live.iter().filter(|w| w.changed_from.is_some()).collect();
    record_changes(db, tenant_id, &changes, plugin, now).await?;
    Ok(changes.len() as u64)
}

/// A decision on its way to the store.
struct Written<'a> {
    decision: &'a TierDecision,
    /// The reasons as a JSON array.
    reasons: Box<RawValue>,
    /// The tier before, when the tier changed (`Some(None)`: the customer had none).
    changed_from: Option<Option<String>>,
}

/// Rows per statement: a few parameters a row stay far below SQLite's and PostgreSQL's
/// parameter limits.
const UPDATE_CHUNK: usize = 500;

/// Placeholders for a raw statement, in the order their values are pushed: SQLite's `?` are
/// positional, PostgreSQL's are numbered.
struct Params {
    postgres: bool,
    values: Vec<Value>,
}

impl Params {
    fn new(backend: DbBackend, capacity: usize) -> Self {
        Params {
            postgres: backend == DbBackend::Postgres,
            values: Vec::with_capacity(capacity),
        }
    }

    fn push(&mut self, value: impl Into<Value>) -> String {
        self.values.push(value.into());
        if self.postgres {
            format!("${}", self.values.len())
        } else {
            "?".to_owned()
        }
    }

    /// Runs `sql`, whose placeholders these are.
    async fn execute(self, db: &impl ConnectionTrait, sql: String) -> StoreResult<()> {
        let backend = db.get_database_backend();
        db.execute_raw(Statement::from_sql_and_values(backend, sql, self.values))
            .await?;
        Ok(())
    }
}

/// One statement for the whole chunk: a statement per customer would cost a round trip each,
/// which dominates a re-tier of a million customers.
async fn write_decisions(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    written: &[Written<'_>],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    if written.is_empty() {
        return Ok(());
    }
    let backend = db.get_database_backend();
    let mut params = Params::new(backend, written.len() * 4 + 2);
    let evaluated_at = params.push(now);
    let rows: Vec<String> = written
        .iter()
        .map(|w| {
            let id = params.push(w.decision.customer_id);
            let tier = params.push(w.decision.tier.as_str());
            let score = params.push(w.decision.score);
            let reasons = params.push(w.reasons.get());
            format!("({id}, {tier}, {score}, {reasons})")
        })
        .collect();
    let tenant = params.push(tenant_id);
    let json_cast = if params.postgres { "::json" } else { "" };
    let sql = format!(
        "UPDATE customers SET tier = v.column2, tier_score = v.column3, \
         tier_reasons = v.column4{json_cast}, tier_evaluated_at = {evaluated_at} \
         FROM (VALUES {}) AS v WHERE customers.id = v.column1 AND customers.tenant_id = {tenant}",
        rows.join(", ")
    );
    params.execute(db, sql).await
}

/// The payload of a `customer.tier_changed` event (fields in the order `json!` wrote them).
#[derive(Serialize)]
struct TierChanged<'a> {
    customer_id: Id,
    from_tier: Option<&'a str>,
    plugin_id: &'a str,
    plugin_version: &'a str,
    reasons: &'a RawValue,
    score: f64,
    to_tier: &'a str,
}

/// History rows and events for the changed customers, a statement each per chunk; what is
/// the same for every row (tenant, plugin, time) is bound once.
async fn record_changes(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    changes: &[&Written<'_>],
    plugin: (&str, &str),
    now: DateTime<Utc>,
) -> StoreResult<()> {
    for chunk in changes.chunks(UPDATE_CHUNK) {
        insert_history(db, chunk, tenant_id, plugin, now).await?;
        insert_events(db, chunk, tenant_id, plugin, now).await?;
    }
    Ok(())
}

async fn insert_history(
    db: &impl ConnectionTrait,
    changes: &[&Written<'_>],
    tenant_id: Id,
    (plugin_id, plugin_version): (&str, &str),
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let backend = db.get_database_backend();
    // Constants first: SQLite's `?` take their values in the order they appear.
    let mut params = Params::new(backend, changes.len() * 5 + 4);
    let (tenant, plugin, version, at) = (
        params.push(tenant_id),
        params.push(plugin_id),
        params.push(plugin_version),
        params.push(now),
    );
    let rows: Vec<String> = changes
        .iter()
        .map(|written| {
            let decision = written.decision;
            format!(
                "({}, {}, {}, {}, {})",
                params.push(decision.customer_id),
                params.push(written.changed_from.clone().flatten()),
                params.push(decision.tier.as_str()),
                params.push(decision.score),
                params.push(written.reasons.get()),
            )
        })
        .collect();
    let sql = format!(
        "INSERT INTO tier_history (tenant_id, plugin_id, plugin_version, changed_at, \
         customer_id, from_tier, to_tier, score, reasons) \
         SELECT {tenant}, {plugin}, {version}, {at}, v.column1, v.column2, v.column3, \
         v.column4, v.column5 FROM (VALUES {}) AS v",
        rows.join(", ")
    );
    params.execute(db, sql).await
}

async fn insert_events(
    db: &impl ConnectionTrait,
    changes: &[&Written<'_>],
    tenant_id: Id,
    (plugin_id, plugin_version): (&str, &str),
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let backend = db.get_database_backend();
    let mut params = Params::new(backend, changes.len() * 2 + 3);
    let (tenant, kind, at) = (
        params.push(tenant_id),
        params.push("customer.tier_changed"),
        params.push(now),
    );
    let mut rows = Vec::with_capacity(changes.len());
    for written in changes {
        let decision = written.decision;
        let from_tier = written.changed_from.clone().flatten();
        let payload = serde_json::to_string(&TierChanged {
            customer_id: decision.customer_id,
            from_tier: from_tier.as_deref(),
            plugin_id,
            plugin_version,
            reasons: &written.reasons,
            score: decision.score,
            to_tier: &decision.tier,
        })
        .map_err(|e| StoreError::Corrupt(format!("tier change event: {e}")))?;
        rows.push(format!(
            "({}, {})",
            params.push(decision.customer_id.to_string()),
            params.push(payload),
        ));
    }
    let sql = format!(
        "INSERT INTO events (tenant_id, kind, occurred_at, subject_id, payload) \
         SELECT {tenant}, {kind}, {at}, v.column1, v.column2 FROM (VALUES {}) AS v",
        rows.join(", ")
    );
    params.execute(db, sql).await
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
