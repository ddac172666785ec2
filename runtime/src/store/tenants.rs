//! Tenants, including the platform tenant that holds the platform admin.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionSession, TransactionTrait,
};

use super::entity::tenant;
use super::{StoreError, StoreResult, access, begin_write, tokens, users};
use crate::domain::Id;
use crate::domain::access::TENANT_ADMIN;
use crate::domain::identity::{IssuedToken, Tenant, TenantFields, User, UserInput};

/// The slug of the tenant that holds platform administrators; it owns no customer data.
pub const PLATFORM_SLUG: &str = "platform";

impl From<tenant::Model> for Tenant {
    fn from(row: tenant::Model) -> Self {
        Tenant {
            id: row.id,
            slug: row.slug,
            name: row.name,
            default_region: row.default_region,
            default_currency: row.default_currency,
            custom_field_schema: row.custom_field_schema,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

async fn insert(
    db: &impl ConnectionTrait,
    fields: TenantFields,
    is_platform: bool,
) -> StoreResult<Tenant> {
    let now = Utc::now();
    let row = tenant::ActiveModel {
        slug: Set(fields.slug),
        name: Set(fields.name),
        is_platform: Set(is_platform),
        default_region: Set(fields.default_region),
        default_currency: Set(fields.default_currency),
        custom_field_schema: Set(fields.custom_field_schema),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(|e| {
        StoreError::conflict_on_unique(e, "slug_taken", "a tenant with this slug already exists")
    })?;
    Ok(row.into())
}

/// Creates a tenant, its first administrator and that administrator's first token, atomically.
pub async fn create_with_admin(
    db: &impl TransactionTrait,
    fields: TenantFields,
    admin: UserInput,
) -> StoreResult<(Tenant, User, IssuedToken)> {
    let tx = begin_write(db).await?;
    let tenant = insert(&tx, fields, false).await?;
    access::seed_built_in_roles(&tx, tenant.id, false).await?;
    super::schedules::ensure_tenant_jobs(&tx, tenant.id).await?;
    super::automation::install_defaults(&tx, tenant.id).await?;
    super::service_settings::install_default_policies(&tx, tenant.id).await?;
    super::surveys::install_default_templates(&tx, tenant.id).await?;
    let admin = UserInput {
        role: Some(TENANT_ADMIN.to_owned()),
        ..admin
    };
    let user = users::create(&tx, tenant.id, admin).await?;
    let token = tokens::issue(&tx, tenant.id, user.id, "initial admin token", None, None).await?;
    tx.commit().await?;
    Ok((tenant, user, token))
}

/// The ids of every tenant but the platform's.
pub async fn customer_tenant_ids(db: &impl ConnectionTrait) -> StoreResult<Vec<Id>> {
    Ok(tenant::Entity::find()
        .select_only()
        .column(tenant::Column::Id)
        .filter(tenant::Column::IsPlatform.eq(false))
        .into_tuple()
        .all(db)
        .await?)
}

pub async fn get(db: &impl ConnectionTrait, id: Id) -> StoreResult<Tenant> {
    tenant::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(Tenant::from)
        .ok_or(StoreError::NotFound("tenant"))
}

pub async fn find_by_slug(db: &impl ConnectionTrait, slug: &str) -> StoreResult<Option<Tenant>> {
    Ok(tenant::Entity::find()
        .filter(tenant::Column::Slug.eq(slug))
        .one(db)
        .await?
        .map(Tenant::from))
}

/// Customer tenants, oldest first (the platform tenant is not listed).
pub async fn list(db: &impl ConnectionTrait) -> StoreResult<Vec<Tenant>> {
    Ok(tenant::Entity::find()
        .filter(tenant::Column::IsPlatform.eq(false))
        .order_by_asc(tenant::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(Tenant::from)
        .collect())
}

pub async fn update_settings(
    db: &impl ConnectionTrait,
    id: Id,
    fields: TenantFields,
) -> StoreResult<Tenant> {
    let row = tenant::ActiveModel {
        id: Set(id),
        name: Set(fields.name),
        default_region: Set(fields.default_region),
        default_currency: Set(fields.default_currency),
        custom_field_schema: Set(fields.custom_field_schema),
        updated_at: Set(Utc::now()),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(row.into())
}

/// On first start, creates the platform tenant and its administrator and returns the
/// administrator's token (using `secret` when given). Returns `None` when already set up.
pub async fn ensure_platform(
    db: &impl TransactionTrait,
    admin_email: &str,
    secret: Option<String>,
) -> StoreResult<Option<IssuedToken>> {
    let tx = begin_write(db).await?;
    if find_by_slug(&tx, PLATFORM_SLUG).await?.is_some() {
        return Ok(None);
    }
    let fields = TenantFields {
        slug: PLATFORM_SLUG.to_owned(),
        name: "Rapport platform".to_owned(),
        default_region: "CN".to_owned(),
        default_currency: "CNY".to_owned(),
        custom_field_schema: None,
    };
    let tenant = insert(&tx, fields, true).await?;
    access::seed_built_in_roles(&tx, tenant.id, true).await?;
    let admin = UserInput {
        email: admin_email.to_owned(),
        display_name: "Platform administrator".to_owned(),
        role: Some(TENANT_ADMIN.to_owned()),
        department_id: None,
    };
    let user = users::create(&tx, tenant.id, admin).await?;
    access::assign_platform_admin(&tx, tenant.id, user.id).await?;
    let token = tokens::issue(&tx, tenant.id, user.id, "bootstrap", None, secret).await?;
    tx.commit().await?;
    Ok(Some(token))
}
