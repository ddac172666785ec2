//! Handover of customers from one owner to another, in one transaction.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionSession, TransactionTrait,
};

use super::entity::{customer, interaction, task, user};
use super::{StoreError, StoreResult, begin_write, customers, users};
use crate::domain::Id;
use crate::domain::access::Visibility;
use crate::domain::handover::{HandoverChecklist, HandoverInput, HandoverItem, HandoverTask};
use crate::domain::task::TaskStatus;

async fn active_user(
    db: &impl sea_orm::ConnectionTrait,
    tenant_id: Id,
    id: Id,
) -> StoreResult<user::Model> {
    user::Entity::find_by_id(id)
        .filter(user::Column::TenantId.eq(tenant_id))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("user"))
}

/// Moves the customers of `from_user_id` that `visibility` reaches (optionally only the named
/// ones) to `to_user_id`, and optionally deactivates the former owner. A named customer that is
/// not theirs or not reachable is a 404, and nothing moves.
pub async fn hand_over(
    db: &impl TransactionTrait,
    tenant_id: Id,
    visibility: Visibility,
    input: &HandoverInput,
) -> StoreResult<HandoverChecklist> {
    let tx = begin_write(db).await?;
    active_user(&tx, tenant_id, input.from_user_id).await?;
    let to = active_user(&tx, tenant_id, input.to_user_id).await?;
    if !to.active {
        return Err(crate::domain::ValidationErrors::single(
            "to_user_id",
            "inactive_user",
            "customers cannot be handed to a deactivated user",
        )
        .into());
    }
    let mut query = customer::Entity::find()
        .filter(customer::Column::TenantId.eq(tenant_id))
        .filter(customer::Column::OwnerId.eq(input.from_user_id))
        .filter(customers::visible(tenant_id, visibility));
    if let Some(ids) = &input.customer_ids {
        query = query.filter(customer::Column::Id.is_in(ids.iter().copied()));
    }
    let moving = query.order_by_asc(customer::Column::Code).all(&tx).await?;
    if let Some(ids) = &input.customer_ids
        && moving.len() != ids.iter().collect::<std::collections::BTreeSet<_>>().len()
    {
        return Err(StoreError::NotFound("customer"));
    }
    let ids: Vec<Id> = moving.iter().map(|row| row.id).collect();
    customer::Entity::update_many()
        .col_expr(customer::Column::OwnerId, Expr::value(input.to_user_id))
        .col_expr(customer::Column::UpdatedAt, Expr::value(chrono::Utc::now()))
        .filter(customer::Column::Id.is_in(ids.iter().copied()))
        .exec(&tx)
        .await?;
    let open_tasks = move_open_tasks(&tx, tenant_id, input, &ids).await?;
    if input.deactivate_from_user {
        users::deactivate(&tx, tenant_id, input.from_user_id).await?;
    }
    let mut items = Vec::with_capacity(moving.len());
    for row in moving {
        let last = interaction::Entity::find()
            .filter(interaction::Column::CustomerId.eq(row.id))
            .order_by_desc(interaction::Column::OccurredAt)
            .one(&tx)
            .await?;
        items.push(HandoverItem {
            customer_id: row.id,
            code: row.code,
            name: row.name,
            last_interaction_at: last.as_ref().map(|i| i.occurred_at),
            last_interaction_summary: last.map(|i| i.summary),
        });
    }
    tx.commit().await?;
    Ok(HandoverChecklist {
        from_user_id: input.from_user_id,
        to_user_id: input.to_user_id,
        customers: items,
        open_tasks,
        from_user_deactivated: input.deactivate_from_user,
    })
}

/// Reassigns the former owner's open tasks on the moved customers (all of them when the former
/// owner is being deactivated) to the new owner.
async fn move_open_tasks(
    db: &impl sea_orm::ConnectionTrait,
    tenant_id: Id,
    input: &HandoverInput,
    customer_ids: &[Id],
) -> StoreResult<Vec<HandoverTask>> {
    let open: &'static str = TaskStatus::Open.into();
    let mut query = task::Entity::find()
        .filter(task::Column::TenantId.eq(tenant_id))
        .filter(task::Column::AssigneeId.eq(input.from_user_id))
        .filter(task::Column::Status.eq(open));
    if !input.deactivate_from_user {
        query = query.filter(task::Column::CustomerId.is_in(customer_ids.iter().copied()));
    }
    let moving = query
        .order_by_asc(task::Column::DueAt)
        .order_by_asc(task::Column::Id)
        .all(db)
        .await?;
    task::Entity::update_many()
        .col_expr(task::Column::AssigneeId, Expr::value(input.to_user_id))
        .col_expr(task::Column::UpdatedAt, Expr::value(chrono::Utc::now()))
        .filter(task::Column::Id.is_in(moving.iter().map(|t| t.id)))
        .exec(db)
        .await?;
    Ok(moving
        .into_iter()
        .map(|t| HandoverTask {
            task_id: t.id,
            title: t.title,
            customer_id: t.customer_id,
            due_at: t.due_at,
        })
        .collect())
}
