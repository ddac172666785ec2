//! Customers with their tags and data-quality flags.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionSession, TransactionTrait,
};
use serde_json::Value;

use super::entity::{contact, customer, customer_tag, user};
use super::{StoreError, StoreResult, begin_write, parse_column, users};
use crate::domain::Id;
use crate::domain::ValidationErrors;
use crate::domain::access::Visibility;
use crate::domain::customer::{
    Customer, CustomerFields, CustomerFilter, CustomerSort, CustomerSortKey, QualityFlag,
    TierAssignment, quality_flags,
};
use crate::domain::page::{Cursor, Page, PageRequest};

fn to_domain(row: customer::Model, tags: Vec<String>) -> StoreResult<Customer> {
    let flags: Vec<String> = serde_json::from_value(row.quality_flags.clone())
        .map_err(|_| StoreError::Corrupt(format!("customers.quality_flags of {}", row.id)))?;
    let tier = row.tier.map(|tier| TierAssignment {
        tier,
        score: row.tier_score,
        reasons: row
            .tier_reasons
            .and_then(|reasons| serde_json::from_value(reasons).ok())
            .unwrap_or_default(),
        evaluated_at: row.tier_evaluated_at,
    });
    Ok(Customer {
        kind: parse_column("customers.kind", &row.kind)?,
        stage: parse_column("customers.stage", &row.stage)?,
        quality_flags: flags
            .iter()
            .map(|flag| parse_column::<QualityFlag>("customers.quality_flags", flag))
            .collect::<StoreResult<_>>()?,
        id: row.id,
        code: row.code,
        name: row.name,
        industry: row.industry,
        region: row.region,
        tax_id: row.tax_id,
        owner_id: row.owner_id,
        needs: row.needs,
        tier,
        tags,
        custom_fields: row.custom_fields,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn flags_json(fields: &CustomerFields, has_contact: bool) -> Value {
    let flags: Vec<&'static str> = quality_flags(fields, has_contact)
        .into_iter()
        .map(Into::into)
        .collect();
    serde_json::json!(flags)
}

async fn check_owner(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    owner_id: Option<Id>,
) -> StoreResult<()> {
    match owner_id {
        Some(owner) if !users::belongs_to_tenant(db, tenant_id, owner).await? => {
            Err(ValidationErrors::single(
                "owner_id",
                "unknown_user",
                "owner_id is not a user of this tenant",
            )
            .into())
        }
        _ => Ok(()),
    }
}

async fn has_contact(db: &impl ConnectionTrait, customer_id: Id) -> StoreResult<bool> {
    Ok(contact::Entity::find()
        .filter(contact::Column::CustomerId.eq(customer_id))
        .count(db)
        .await?
        > 0)
}

async fn replace_tags(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    customer_id: Id,
    tags: &[String],
) -> StoreResult<()> {
    customer_tag::Entity::delete_many()
        .filter(customer_tag::Column::CustomerId.eq(customer_id))
        .exec(db)
        .await?;
    if tags.is_empty() {
        return Ok(());
    }
    let rows = tags.iter().map(|tag| customer_tag::ActiveModel {
        tenant_id: Set(tenant_id),
        customer_id: Set(customer_id),
        tag: Set(tag.clone()),
        ..Default::default()
    });
    customer_tag::Entity::insert_many(rows).exec(db).await?;
    Ok(())
}

/// Adds one tag to a customer; a tag it already has is left alone.
pub async fn add_tag(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    customer_id: Id,
    tag: &str,
) -> StoreResult<()> {
    let row = customer_tag::ActiveModel {
        tenant_id: Set(tenant_id),
        customer_id: Set(customer_id),
        tag: Set(tag.to_owned()),
        ..Default::default()
    };
    customer_tag::Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::columns([
                customer_tag::Column::CustomerId,
                customer_tag::Column::Tag,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

fn duplicate_code(error: sea_orm::DbErr) -> StoreError {
    StoreError::conflict_on_unique(
        error,
        "duplicate_code",
        "another customer of this tenant already has this code",
    )
}

pub async fn create(
    db: &impl TransactionTrait,
    tenant_id: Id,
    fields: CustomerFields,
) -> StoreResult<Customer> {
    let tx = begin_write(db).await?;
    check_owner(&tx, tenant_id, fields.owner_id).await?;
    let now = Utc::now();
    let kind: &'static str = fields.kind.into();
    let stage: &'static str = fields.stage.into();
    let row = customer::ActiveModel {
        tenant_id: Set(tenant_id),
        code: Set(fields.code.clone()),
        name: Set(fields.name.clone()),
        kind: Set(kind.to_owned()),
        industry: Set(fields.industry.clone()),
        region: Set(fields.region.clone()),
        tax_id: Set(fields.tax_id.clone()),
        owner_id: Set(fields.owner_id),
        stage: Set(stage.to_owned()),
        needs: Set(fields.needs.clone()),
        custom_fields: Set(fields.custom_fields.clone()),
        quality_flags: Set(flags_json(&fields, false)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&tx)
    .await
    .map_err(duplicate_code)?;
    replace_tags(&tx, tenant_id, row.id, &fields.tags).await?;
    let announced =
        serde_json::json!({"customer_id": row.id, "code": row.code, "owner_id": row.owner_id});
    super::events::append(&tx, tenant_id, "customer.created", row.id, &announced).await?;
    tx.commit().await?;
    to_domain(row, fields.tags)
}

async fn find(db: &impl ConnectionTrait, tenant_id: Id, id: Id) -> StoreResult<customer::Model> {
    customer::Entity::find_by_id(id)
        .filter(customer::Column::TenantId.eq(tenant_id))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("customer"))
}

/// Fails with `NotFound("customer")` unless the customer exists in the tenant; child resources
/// call this first so that another tenant's customer and its children stay invisible.
pub async fn ensure_exists(db: &impl ConnectionTrait, tenant_id: Id, id: Id) -> StoreResult<()> {
    let count = customer::Entity::find_by_id(id)
        .filter(customer::Column::TenantId.eq(tenant_id))
        .count(db)
        .await?;
    if count == 0 {
        Err(StoreError::NotFound("customer"))
    } else {
        Ok(())
    }
}

async fn tags_of(
    db: &impl ConnectionTrait,
    customer_ids: &[Id],
) -> StoreResult<HashMap<Id, Vec<String>>> {
    let mut tags: HashMap<Id, Vec<String>> = HashMap::new();
    if customer_ids.is_empty() {
        return Ok(tags);
    }
    let rows = customer_tag::Entity::find()
        .filter(customer_tag::Column::CustomerId.is_in(customer_ids.iter().copied()))
        .order_by_asc(customer_tag::Column::Tag)
        .all(db)
        .await?;
    for row in rows {
        tags.entry(row.customer_id).or_default().push(row.tag);
    }
    Ok(tags)
}

pub async fn get(db: &impl ConnectionTrait, tenant_id: Id, id: Id) -> StoreResult<Customer> {
    get_visible(db, tenant_id, id, Visibility::All).await
}

/// [`get`] for a caller who sees only `visibility`: a customer out of scope is
/// `NotFound("customer")`, as a missing one is ([`ensure_visible`] and the read in one query).
pub async fn get_visible(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    id: Id,
    visibility: Visibility,
) -> StoreResult<Customer> {
    let row = customer::Entity::find_by_id(id)
        .filter(customer::Column::TenantId.eq(tenant_id))
        .filter(visible(tenant_id, visibility))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("customer"))?;
    let tags = tags_of(db, &[id]).await?.remove(&id).unwrap_or_default();
    to_domain(row, tags)
}

pub async fn update(
    db: &impl TransactionTrait,
    tenant_id: Id,
    id: Id,
    fields: CustomerFields,
) -> StoreResult<Customer> {
    let tx = begin_write(db).await?;
    let current = find(&tx, tenant_id, id).await?;
    check_owner(&tx, tenant_id, fields.owner_id).await?;
    let has_contact = has_contact(&tx, id).await?;
    let kind: &'static str = fields.kind.into();
    let stage: &'static str = fields.stage.into();
    let mut row: customer::ActiveModel = current.into();
    row.code = Set(fields.code.clone());
    row.name = Set(fields.name.clone());
    row.kind = Set(kind.to_owned());
    row.industry = Set(fields.industry.clone());
    row.region = Set(fields.region.clone());
    row.tax_id = Set(fields.tax_id.clone());
    row.owner_id = Set(fields.owner_id);
    row.stage = Set(stage.to_owned());
    row.needs = Set(fields.needs.clone());
    row.custom_fields = Set(fields.custom_fields.clone());
    row.quality_flags = Set(flags_json(&fields, has_contact));
    row.updated_at = Set(Utc::now());
    let row = row.update(&tx).await.map_err(duplicate_code)?;
    replace_tags(&tx, tenant_id, id, &fields.tags).await?;
    tx.commit().await?;
    to_domain(row, fields.tags)
}

/// The ids of the tenant's customers whose tax id is exactly `tax_id` (already normalised with
/// [`crate::domain::customer::normalize_tax_id`]), lowest first and at most two: enough to tell
/// no match, one match and an ambiguous one apart.
pub async fn find_by_tax_id(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    tax_id: &str,
) -> StoreResult<Vec<Id>> {
    Ok(customer::Entity::find()
        .select_only()
        .column(customer::Column::Id)
        .filter(customer::Column::TenantId.eq(tenant_id))
        .filter(customer::Column::TaxId.eq(tax_id))
        .order_by_asc(customer::Column::Id)
        .limit(2)
        .into_tuple::<Id>()
        .all(db)
        .await?)
}

/// Deletes the customer with its contacts, orders, interactions, tags and satisfaction records.
pub async fn delete(db: &impl ConnectionTrait, tenant_id: Id, id: Id) -> StoreResult<()> {
    let result = customer::Entity::delete_many()
        .filter(customer::Column::Id.eq(id))
        .filter(customer::Column::TenantId.eq(tenant_id))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        Err(StoreError::NotFound("customer"))
    } else {
        Ok(())
    }
}

/// Recomputes the stored quality flags after a child (contact) changed.
pub async fn refresh_quality_flags(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    id: Id,
) -> StoreResult<()> {
    let customer = get(db, tenant_id, id).await?;
    let fields = CustomerFields::from(&customer);
    customer::Entity::update_many()
        .col_expr(
            customer::Column::QualityFlags,
            Expr::value(flags_json(&fields, has_contact(db, id).await?)),
        )
        .filter(customer::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

fn sort_column(key: CustomerSortKey) -> customer::Column {
    match key {
        CustomerSortKey::Code => customer::Column::Code,
        CustomerSortKey::Name => customer::Column::Name,
        CustomerSortKey::CreatedAt => customer::Column::CreatedAt,
        CustomerSortKey::UpdatedAt => customer::Column::UpdatedAt,
    }
}

fn sort_value(customer: &Customer, key: CustomerSortKey) -> String {
    match key {
        CustomerSortKey::Code => customer.code.clone(),
        CustomerSortKey::Name => customer.name.clone(),
        CustomerSortKey::CreatedAt => customer.created_at.to_rfc3339(),
        CustomerSortKey::UpdatedAt => customer.updated_at.to_rfc3339(),
    }
}

/// The keyset condition "after the cursor row" in the list's order.
fn after_cursor(sort: CustomerSort, cursor: &Cursor) -> StoreResult<Condition> {
    let column = sort_column(sort.key);
    let value: sea_orm::Value = match sort.key {
        CustomerSortKey::Code | CustomerSortKey::Name => cursor.value.clone().into(),
        CustomerSortKey::CreatedAt | CustomerSortKey::UpdatedAt => {
            DateTime::parse_from_rfc3339(&cursor.value)
                .map_err(|_| {
                    ValidationErrors::single("cursor", "invalid_cursor", "the cursor is malformed")
                })?
                .with_timezone(&Utc)
                .into()
        }
    };
    let (beyond, id_beyond) = if sort.descending {
        (column.lt(value.clone()), customer::Column::Id.lt(cursor.id))
    } else {
        (column.gt(value.clone()), customer::Column::Id.gt(cursor.id))
    };
    Ok(Condition::any()
        .add(beyond)
        .add(Condition::all().add(column.eq(value)).add(id_beyond)))
}

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn filter_condition(tenant_id: Id, filter: &CustomerFilter) -> Condition {
    let mut condition = Condition::all().add(customer::Column::TenantId.eq(tenant_id));
    if let Some(tag) = &filter.tag {
        let tagged = Query::select()
            .column(customer_tag::Column::CustomerId)
            .from(customer_tag::Entity)
            .and_where(customer_tag::Column::TenantId.eq(tenant_id))
            .and_where(customer_tag::Column::Tag.eq(tag.as_str()))
            .to_owned();
        condition = condition.add(customer::Column::Id.in_subquery(tagged));
    }
    if let Some(tier) = &filter.tier {
        condition = condition.add(customer::Column::Tier.eq(tier.as_str()));
    }
    if let Some(owner) = filter.owner_id {
        condition = condition.add(customer::Column::OwnerId.eq(owner));
    }
    if let Some(stage) = filter.stage {
        let stage: &'static str = stage.into();
        condition = condition.add(customer::Column::Stage.eq(stage));
    }
    if let Some(industry) = &filter.industry {
        condition = condition.add(customer::Column::Industry.eq(industry.as_str()));
    }
    if let Some(search) = &filter.search {
        let pattern = format!("%{}%", escape_like(&search.to_lowercase()));
        let like = |column: customer::Column| {
            Expr::expr(Func::lower(Expr::col(column)))
                .like(LikeExpr::new(pattern.clone()).escape('\\'))
        };
        condition = condition.add(
            Condition::any()
                .add(like(customer::Column::Name))
                .add(like(customer::Column::Code)),
        );
    }
    condition
}

/// How many customers the tenant has.
pub async fn count(db: &impl ConnectionTrait, tenant_id: Id) -> StoreResult<u64> {
    Ok(customer::Entity::find()
        .filter(customer::Column::TenantId.eq(tenant_id))
        .count(db)
        .await?)
}

/// The customers a caller with `visibility` may reach.
pub fn visible(tenant_id: Id, visibility: Visibility) -> Condition {
    match visibility {
        Visibility::All => Condition::all(),
        Visibility::OwnedBy(user_id) => Condition::all().add(customer::Column::OwnerId.eq(user_id)),
        Visibility::Department(department_id) => {
            let members = Query::select()
                .column(user::Column::Id)
                .from(user::Entity)
                .and_where(user::Column::TenantId.eq(tenant_id))
                .and_where(user::Column::DepartmentId.eq(department_id))
                .to_owned();
            Condition::all().add(customer::Column::OwnerId.in_subquery(members))
        }
    }
}

/// Fails with `NotFound("customer")` unless the customer exists in the tenant *and* is within
/// the caller's reach: a customer out of scope is indistinguishable from a missing one.
pub async fn ensure_visible(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    id: Id,
    visibility: Visibility,
) -> StoreResult<()> {
    let count = customer::Entity::find_by_id(id)
        .filter(customer::Column::TenantId.eq(tenant_id))
        .filter(visible(tenant_id, visibility))
        .count(db)
        .await?;
    if count == 0 {
        Err(StoreError::NotFound("customer"))
    } else {
        Ok(())
    }
}

/// Whether a customer owned by `owner_id` would be within `visibility`.
pub async fn owner_within(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    owner_id: Option<Id>,
    visibility: Visibility,
) -> StoreResult<bool> {
    Ok(match (visibility, owner_id) {
        (Visibility::All, _) => true,
        (_, None) => false,
        (Visibility::OwnedBy(user_id), Some(owner)) => owner == user_id,
        (Visibility::Department(department_id), Some(owner)) => {
            match users::department_of(db, tenant_id, owner).await {
                Ok(department) => department == Some(department_id),
                // An unknown user is nobody's teammate.
                Err(StoreError::NotFound(_)) => false,
                Err(error) => return Err(error),
            }
        }
    })
}

/// Customers of the tenant within `visibility`, filtered, sorted and paged.
pub async fn list(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    visibility: Visibility,
    filter: &CustomerFilter,
    sort: CustomerSort,
    page: &PageRequest,
) -> StoreResult<Page<Customer>> {
    let mut condition = filter_condition(tenant_id, filter).add(visible(tenant_id, visibility));
    if let Some(cursor) = &page.after {
        condition = condition.add(after_cursor(sort, cursor)?);
    }
    let column = sort_column(sort.key);
    let query = customer::Entity::find().filter(condition);
    let query = if sort.descending {
        query
            .order_by_desc(column)
            .order_by_desc(customer::Column::Id)
    } else {
        query
            .order_by_asc(column)
            .order_by_asc(customer::Column::Id)
    };
    let rows = query.limit(page.limit + 1).all(db).await?;
    let ids: Vec<Id> = rows.iter().map(|row| row.id).collect();
    let mut tags = tags_of(db, &ids).await?;
    let customers = rows
        .into_iter()
        .map(|row| {
            let row_tags = tags.remove(&row.id).unwrap_or_default();
            to_domain(row, row_tags)
        })
        .collect::<StoreResult<Vec<_>>>()?;
    let sort_name = sort.to_string();
    Ok(Page::from_rows(customers, page.limit, |customer| Cursor {
        sort: sort_name.clone(),
        value: sort_value(customer, sort.key),
        id: customer.id,
    }))
}
