//! Assembles the 360° view with a handful of indexed queries in one read transaction.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect, TransactionSession, TransactionTrait,
};

use super::entity::order;
use super::{StoreResult, contacts, customers, interactions, orders, satisfaction};
use crate::domain::Id;
use crate::domain::access::Visibility;
use crate::domain::customer360::{self as view, Customer360, OrderStats, SatisfactionSummary};
use crate::domain::money::Money;
use crate::domain::order::OrderStatus;

/// The view of a customer within `visibility`; one out of it is `NotFound`, as a missing one is.
///
/// Every part is read in one read transaction: the parts agree with each other (no order
/// counted that the last order does not show), and the view costs one pooled connection
/// instead of one per part, which is what bounds a busy server on SQLite.
pub async fn load(
    db: &impl TransactionTrait,
    tenant_id: Id,
    customer_id: Id,
    visibility: Visibility,
    recent_interactions: u64,
    now: DateTime<Utc>,
) -> StoreResult<Customer360> {
    let tx = db.begin().await?;
    let profile = customers::get_visible(&tx, tenant_id, customer_id, visibility).await?;
    let contacts = contacts::all_of_customer(&tx, customer_id, view::MAX_CONTACTS).await?;
    let recent_interactions =
        interactions::latest_of_customer(&tx, customer_id, recent_interactions).await?;
    let order_stats = order_stats(&tx, tenant_id, customer_id, now).await?;
    let history =
        satisfaction::latest_of_customer(&tx, customer_id, view::SATISFACTION_HISTORY).await?;
    tx.commit().await?;
    let last_contact_at = recent_interactions.first().map(|i| i.occurred_at);
    Ok(Customer360 {
        profile,
        contacts,
        recent_interactions,
        last_contact_at,
        days_since_last_contact: view::days_since(last_contact_at, now),
        order_stats,
        satisfaction: SatisfactionSummary::from_history(history),
        withheld: Vec::new(),
    })
}

#[derive(Debug, FromQueryResult)]
struct CurrencyTotals {
    currency: String,
    order_count: i64,
    total_e4: i64,
    recent_count: i64,
    recent_e4: i64,
}

fn counted_statuses() -> Vec<&'static str> {
    OrderStatus::NOT_COUNTED
        .iter()
        .map(|status| (*status).into())
        .collect()
}

/// SUMs are cast back to BIGINT because PostgreSQL widens `SUM(bigint)` to NUMERIC.
fn sum_bigint(expr: Expr) -> Expr {
    expr.sum().cast_as(Alias::new("BIGINT"))
}

async fn order_stats(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    customer_id: Id,
    now: DateTime<Utc>,
) -> StoreResult<OrderStats> {
    let since = now - Duration::days(view::RECENT_ORDER_DAYS);
    let is_recent = || Expr::col(order::Column::OrderedAt).gte(since);
    let totals_query = order::Entity::find()
        .select_only()
        .column(order::Column::Currency)
        .column_as(Expr::col(order::Column::Id).count(), "order_count")
        .column_as(sum_bigint(Expr::col(order::Column::AmountE4)), "total_e4")
        .column_as(
            sum_bigint(Expr::case(is_recent(), 1).finally(0).into()),
            "recent_count",
        )
        .column_as(
            sum_bigint(
                Expr::case(is_recent(), Expr::col(order::Column::AmountE4))
                    .finally(0)
                    .into(),
            ),
            "recent_e4",
        )
        .filter(order::Column::TenantId.eq(tenant_id))
        .filter(order::Column::CustomerId.eq(customer_id))
        .filter(order::Column::Status.is_not_in(counted_statuses()))
        .group_by(order::Column::Currency)
        .order_by_asc(order::Column::Currency)
        .into_model::<CurrencyTotals>()
        .all(db);
    let last_query = order::Entity::find()
        .filter(order::Column::TenantId.eq(tenant_id))
        .filter(order::Column::CustomerId.eq(customer_id))
        .filter(order::Column::Status.is_not_in(counted_statuses()))
        .order_by_desc(order::Column::OrderedAt)
        .order_by_desc(order::Column::Id)
        .one(db);
    let totals = totals_query.await?;
    let last = last_query.await?;
    let mut stats = OrderStats {
        last_order: last.map(orders::to_domain).transpose()?,
        total_value: Some(Vec::new()),
        value_last_90_days: Some(Vec::new()),
        ..OrderStats::default()
    };
    for row in totals {
        stats.order_count += row.order_count;
        stats.orders_last_90_days += row.recent_count;
        stats
            .total_value
            .get_or_insert_with(Vec::new)
            .push(Money::from_storage(row.total_e4, row.currency.clone()));
        if row.recent_count > 0 {
            stats
                .value_last_90_days
                .get_or_insert_with(Vec::new)
                .push(Money::from_storage(row.recent_e4, row.currency));
        }
    }
    Ok(stats)
}
