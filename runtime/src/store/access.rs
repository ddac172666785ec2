//! Roles, grants and role assignments, stored as casbin policy lines plus a `roles` row per
//! role. Every change bumps the tenant's `authz_revision` in the same transaction, which is how
//! every replica learns that its loaded policy is stale (see `authz`).
//!
//! Line layout (RBAC with domains): `p, <role>, <tenant id>, <resource>, <action>` and
//! `g, user:<user id>, <role>, <tenant id>`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionSession, TransactionTrait,
};

use super::entity::{casbin_rule, role, tenant};
use super::{StoreError, StoreResult, begin_write};
use crate::domain::Id;
use crate::domain::access::{
    BuiltInRole, EffectivePermissions, NewRole, Permission, RESOURCES, Role, built_in_role,
    built_in_roles_for,
};

/// The casbin domain of a tenant.
pub fn domain(tenant_id: Id) -> String {
    tenant_id.to_string()
}

/// The casbin subject of a user.
pub fn subject(user_id: Id) -> String {
    format!("user:{user_id}")
}

fn policy_line(tenant_id: Id, role: &str, permission: &Permission) -> casbin_rule::ActiveModel {
    line(
        "p",
        [
            role,
            &domain(tenant_id),
            &permission.resource,
            &permission.casbin_action(),
        ],
    )
}

fn grouping_line(tenant_id: Id, user_id: Id, role: &str) -> casbin_rule::ActiveModel {
    line("g", [&subject(user_id), role, &domain(tenant_id)])
}

/// A policy line from its values; missing trailing values are empty.
pub(crate) fn line<const N: usize>(ptype: &str, values: [&str; N]) -> casbin_rule::ActiveModel {
    let value = |index: usize| Set(values.get(index).copied().unwrap_or_default().to_owned());
    casbin_rule::ActiveModel {
        ptype: Set(ptype.to_owned()),
        v0: value(0),
        v1: value(1),
        v2: value(2),
        v3: value(3),
        v4: value(4),
        v5: value(5),
        ..Default::default()
    }
}

/// Lines of one tenant: its roles' grants and its users' roles.
pub fn tenant_lines(tenant_id: Id) -> Condition {
    let domain = domain(tenant_id);
    Condition::any()
        .add(
            Condition::all()
                .add(casbin_rule::Column::Ptype.eq("p"))
                .add(casbin_rule::Column::V1.eq(domain.clone())),
        )
        .add(
            Condition::all()
                .add(casbin_rule::Column::Ptype.eq("g"))
                .add(casbin_rule::Column::V2.eq(domain)),
        )
}

/// Marks the tenant's policy as changed.
pub async fn bump_revision(db: &impl ConnectionTrait, tenant_id: Id) -> StoreResult<()> {
    tenant::Entity::update_many()
        .col_expr(
            tenant::Column::AuthzRevision,
            Expr::col(tenant::Column::AuthzRevision).add(1),
        )
        .filter(tenant::Column::Id.eq(tenant_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The tenant's current policy revision.
pub async fn revision(db: &impl ConnectionTrait, tenant_id: Id) -> StoreResult<i64> {
    tenant::Entity::find_by_id(tenant_id)
        .select_only()
        .column(tenant::Column::AuthzRevision)
        .into_tuple::<i64>()
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("tenant"))
}

async fn insert_role_row(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    name: &str,
    description: &str,
    built_in: bool,
) -> StoreResult<()> {
    role::ActiveModel {
        tenant_id: Set(tenant_id),
        name: Set(name.to_owned()),
        description: Set(description.to_owned()),
        built_in: Set(built_in),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(|e| {
        StoreError::conflict_on_unique(e, "role_exists", "a role with this name already exists")
    })?;
    Ok(())
}

async fn insert_grants(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    role: &str,
    permissions: &BTreeSet<Permission>,
) -> StoreResult<()> {
    if permissions.is_empty() {
        return Ok(());
    }
    casbin_rule::Entity::insert_many(
        permissions
            .iter()
            .map(|permission| policy_line(tenant_id, role, permission)),
    )
    .exec(db)
    .await?;
    Ok(())
}

/// Gives a tenant the built-in roles it does not have yet, with their default grants.
pub async fn seed_built_in_roles(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    platform: bool,
) -> StoreResult<()> {
    let existing: BTreeSet<String> = role::Entity::find()
        .filter(role::Column::TenantId.eq(tenant_id))
        .select_only()
        .column(role::Column::Name)
        .into_tuple::<String>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let missing: Vec<&BuiltInRole> = built_in_roles_for(platform)
        .filter(|role| !existing.contains(role.name))
        .collect();
    for role in &missing {
        insert_role_row(db, tenant_id, role.name, role.description, true).await?;
        insert_grants(db, tenant_id, role.name, &role.permissions()).await?;
    }
    let topped_up = top_up_administrators(db, tenant_id, platform).await?;
    let introduced = introduce_new_resources(db, tenant_id, platform).await?;
    if !missing.is_empty() || topped_up || introduced {
        bump_revision(db, tenant_id).await?;
    }
    Ok(())
}

/// Administrator roles cannot be edited, so they always hold every permission of this
/// release: a release that adds a resource grants it to them on start-up. Other built-in roles
/// keep what the tenant made of them.
async fn top_up_administrators(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    platform: bool,
) -> StoreResult<bool> {
    let mut topped_up = false;
    for role in built_in_roles_for(platform).filter(|role| !role.editable) {
        let held = grants_of(db, tenant_id, Some(&[role.name.to_owned()]))
            .await?
            .remove(role.name)
            .unwrap_or_default();
        let lacking: BTreeSet<Permission> = role
            .permissions()
            .into_iter()
            .filter(|permission| !held.contains(&permission.to_string()))
            .collect();
        topped_up |= !lacking.is_empty();
        insert_grants(db, tenant_id, role.name, &lacking).await?;
    }
    Ok(topped_up)
}

/// The resources added by the release that began tracking `known_resources` (the service desk
/// and surveys): a role without the column knew every other resource.
const ADDED_WHEN_TRACKING_BEGAN: &[&str] = &[
    "tickets",
    "service",
    "knowledge",
    "surveys",
    "survey-settings",
];

/// Gives each editable built-in role its default grants on resources added since its grants were
/// last brought up to date, once: a tenant admin's later edits stand. Returns whether any grant
/// was added.
async fn introduce_new_resources(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    platform: bool,
) -> StoreResult<bool> {
    let current: BTreeSet<String> = RESOURCES.iter().map(|r| r.name.to_owned()).collect();
    let mut introduced = false;
    for built_in in built_in_roles_for(platform).filter(|role| role.editable) {
        let row = find_role(db, tenant_id, built_in.name).await?;
        let known: BTreeSet<String> = match &row.known_resources {
            Some(text) => serde_json::from_str(text)
                .map_err(|e| StoreError::Corrupt(format!("roles.known_resources: {e}")))?,
            None => current
                .iter()
                .filter(|name| !ADDED_WHEN_TRACKING_BEGAN.contains(&name.as_str()))
                .cloned()
                .collect(),
        };
        if current.is_subset(&known) {
            continue;
        }
        let held = grants_of(db, tenant_id, Some(&[built_in.name.to_owned()]))
            .await?
            .remove(built_in.name)
            .unwrap_or_default();
        let lacking: BTreeSet<Permission> = built_in
            .permissions()
            .into_iter()
            .filter(|p| current.contains(&p.resource) && !known.contains(&p.resource))
            .filter(|p| !held.contains(&p.to_string()))
            .collect();
        introduced |= !lacking.is_empty();
        insert_grants(db, tenant_id, built_in.name, &lacking).await?;
        let mut active = row.into_active_model();
        active.known_resources = Set(Some(
            serde_json::to_string(&current).expect("names serialize"),
        ));
        active.update(db).await?;
    }
    Ok(introduced)
}

/// Seeds built-in roles for every tenant that lacks some: after the upgrade that introduced
/// them, and whenever a release adds one.
pub async fn seed_all_tenants(db: &impl ConnectionTrait) -> StoreResult<()> {
    let tenants: Vec<(Id, bool)> = tenant::Entity::find()
        .select_only()
        .column(tenant::Column::Id)
        .column(tenant::Column::IsPlatform)
        .into_tuple()
        .all(db)
        .await?;
    for (tenant_id, platform) in tenants {
        seed_built_in_roles(db, tenant_id, platform).await?;
    }
    Ok(())
}

async fn find_role(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    name: &str,
) -> StoreResult<role::Model> {
    role::Entity::find()
        .filter(role::Column::TenantId.eq(tenant_id))
        .filter(role::Column::Name.eq(name))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("role"))
}

/// Grants of the named roles (all roles of the tenant when `roles` is `None`).
async fn grants_of(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    roles: Option<&[String]>,
) -> StoreResult<BTreeMap<String, BTreeSet<String>>> {
    let mut query = casbin_rule::Entity::find()
        .filter(casbin_rule::Column::Ptype.eq("p"))
        .filter(casbin_rule::Column::V1.eq(domain(tenant_id)));
    if let Some(roles) = roles {
        query = query.filter(casbin_rule::Column::V0.is_in(roles.iter().cloned()));
    }
    let mut grants: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in query.all(db).await? {
        let text = format!("{}:{}", line.v2, line.v3);
        grants.entry(line.v0).or_default().insert(text);
    }
    Ok(grants)
}

fn to_domain(row: role::Model, grants: &mut BTreeMap<String, BTreeSet<String>>) -> Role {
    Role {
        permissions: grants
            .remove(&row.name)
            .unwrap_or_default()
            .into_iter()
            .collect(),
        name: row.name,
        description: row.description,
        built_in: row.built_in,
    }
}

pub async fn list_roles(db: &impl ConnectionTrait, tenant_id: Id) -> StoreResult<Vec<Role>> {
    let mut grants = grants_of(db, tenant_id, None).await?;
    Ok(role::Entity::find()
        .filter(role::Column::TenantId.eq(tenant_id))
        .order_by_asc(role::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|row| to_domain(row, &mut grants))
        .collect())
}

pub async fn get_role(db: &impl ConnectionTrait, tenant_id: Id, name: &str) -> StoreResult<Role> {
    let row = find_role(db, tenant_id, name).await?;
    let mut grants = grants_of(db, tenant_id, Some(std::slice::from_ref(&row.name))).await?;
    Ok(to_domain(row, &mut grants))
}

async fn create_role_in(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    role: NewRole,
) -> StoreResult<Role> {
    insert_role_row(db, tenant_id, &role.name, &role.description, false).await?;
    insert_grants(db, tenant_id, &role.name, &role.permissions).await?;
    bump_revision(db, tenant_id).await?;
    get_role(db, tenant_id, &role.name).await
}

fn locked_role(name: &str) -> StoreError {
    StoreError::Conflict {
        code: "role_locked",
        message: format!("the built-in role {name} cannot be changed"),
    }
}

/// Deletes a custom role and takes it from every user who held it.
async fn delete_role_in(db: &impl ConnectionTrait, tenant_id: Id, name: &str) -> StoreResult<()> {
    let row = find_role(db, tenant_id, name).await?;
    if row.built_in {
        return Err(StoreError::Conflict {
            code: "role_built_in",
            message: format!("the built-in role {name} cannot be deleted"),
        });
    }
    casbin_rule::Entity::delete_many()
        .filter(tenant_lines(tenant_id))
        .filter(
            Condition::any()
                .add(
                    Condition::all()
                        .add(casbin_rule::Column::Ptype.eq("p"))
                        .add(casbin_rule::Column::V0.eq(name)),
                )
                .add(
                    Condition::all()
                        .add(casbin_rule::Column::Ptype.eq("g"))
                        .add(casbin_rule::Column::V1.eq(name)),
                ),
        )
        .exec(db)
        .await?;
    role::Entity::delete_by_id(row.id).exec(db).await?;
    bump_revision(db, tenant_id).await
}

async fn editable_role(db: &impl ConnectionTrait, tenant_id: Id, name: &str) -> StoreResult<()> {
    let row = find_role(db, tenant_id, name).await?;
    if row.built_in && built_in_role(name).is_none_or(|role| !role.editable) {
        return Err(locked_role(name));
    }
    Ok(())
}

fn permission_line_filter(tenant_id: Id, role: &str, permission: &Permission) -> Condition {
    Condition::all()
        .add(casbin_rule::Column::Ptype.eq("p"))
        .add(casbin_rule::Column::V0.eq(role))
        .add(casbin_rule::Column::V1.eq(domain(tenant_id)))
        .add(casbin_rule::Column::V2.eq(permission.resource.as_str()))
        .add(casbin_rule::Column::V3.eq(permission.casbin_action()))
}

/// Grants a permission to a role; granting twice is harmless.
async fn grant_in(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    role: &str,
    permission: &Permission,
) -> StoreResult<Role> {
    editable_role(db, tenant_id, role).await?;
    let present = casbin_rule::Entity::find()
        .filter(permission_line_filter(tenant_id, role, permission))
        .one(db)
        .await?
        .is_some();
    if !present {
        policy_line(tenant_id, role, permission).insert(db).await?;
        bump_revision(db, tenant_id).await?;
    }
    get_role(db, tenant_id, role).await
}

/// Revokes a permission from a role; revoking an absent one is harmless.
async fn revoke_in(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    role: &str,
    permission: &Permission,
) -> StoreResult<Role> {
    editable_role(db, tenant_id, role).await?;
    let removed = casbin_rule::Entity::delete_many()
        .filter(permission_line_filter(tenant_id, role, permission))
        .exec(db)
        .await?;
    if removed.rows_affected > 0 {
        bump_revision(db, tenant_id).await?;
    }
    get_role(db, tenant_id, role).await
}

fn assignment_filter(tenant_id: Id, user_id: Id, role: &str) -> Condition {
    Condition::all()
        .add(casbin_rule::Column::Ptype.eq("g"))
        .add(casbin_rule::Column::V0.eq(subject(user_id)))
        .add(casbin_rule::Column::V1.eq(role))
        .add(casbin_rule::Column::V2.eq(domain(tenant_id)))
}

/// Gives a user a role of the tenant. The caller checks the user belongs to the tenant.
pub(crate) async fn assign_in(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    user_id: Id,
    role: &str,
) -> StoreResult<()> {
    let row = find_role(db, tenant_id, role).await.map_err(|_| {
        StoreError::Invalid(crate::domain::ValidationErrors::single(
            "role",
            "unknown_role",
            format!("the tenant has no role {role:?}"),
        ))
    })?;
    if row.name == crate::domain::access::PLATFORM_ADMIN {
        return Err(locked_role(role));
    }
    let present = casbin_rule::Entity::find()
        .filter(assignment_filter(tenant_id, user_id, role))
        .one(db)
        .await?
        .is_some();
    if !present {
        grouping_line(tenant_id, user_id, role).insert(db).await?;
        bump_revision(db, tenant_id).await?;
    }
    Ok(())
}

/// Assigns `platform-admin`, which the API never can.
pub async fn assign_platform_admin(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    user_id: Id,
) -> StoreResult<()> {
    grouping_line(tenant_id, user_id, crate::domain::access::PLATFORM_ADMIN)
        .insert(db)
        .await?;
    bump_revision(db, tenant_id).await
}

async fn unassign_in(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    user_id: Id,
    role: &str,
) -> StoreResult<()> {
    if role == crate::domain::access::PLATFORM_ADMIN {
        return Err(locked_role(role));
    }
    let removed = casbin_rule::Entity::delete_many()
        .filter(assignment_filter(tenant_id, user_id, role))
        .exec(db)
        .await?;
    if removed.rows_affected > 0 {
        bump_revision(db, tenant_id).await?;
    }
    Ok(())
}

/// The roles of each user of the tenant (users without roles are absent).
/// The ids of the users holding `role` in the tenant.
pub async fn role_members(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    role: &str,
) -> StoreResult<Vec<Id>> {
    Ok(casbin_rule::Entity::find()
        .filter(casbin_rule::Column::Ptype.eq("g"))
        .filter(casbin_rule::Column::V1.eq(role))
        .filter(casbin_rule::Column::V2.eq(domain(tenant_id)))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|line| line.v0.strip_prefix("user:")?.parse().ok())
        .collect())
}

pub async fn roles_by_user(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    user_ids: Option<&[Id]>,
) -> StoreResult<BTreeMap<Id, Vec<String>>> {
    let mut query = casbin_rule::Entity::find()
        .filter(casbin_rule::Column::Ptype.eq("g"))
        .filter(casbin_rule::Column::V2.eq(domain(tenant_id)));
    if let Some(ids) = user_ids {
        query = query.filter(casbin_rule::Column::V0.is_in(ids.iter().map(|id| subject(*id))));
    }
    let mut roles: BTreeMap<Id, Vec<String>> = BTreeMap::new();
    for line in query.order_by_asc(casbin_rule::Column::Id).all(db).await? {
        if let Some(user_id) = line.v0.strip_prefix("user:").and_then(|id| id.parse().ok()) {
            roles.entry(user_id).or_default().push(line.v1);
        }
    }
    Ok(roles)
}

pub async fn roles_of(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    user_id: Id,
) -> StoreResult<Vec<String>> {
    Ok(roles_by_user(db, tenant_id, Some(&[user_id]))
        .await?
        .remove(&user_id)
        .unwrap_or_default())
}

/// The union of a user's grants over their roles.
pub async fn effective_permissions(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    user_id: Id,
) -> StoreResult<EffectivePermissions> {
    let roles = roles_of(db, tenant_id, user_id).await?;
    let permissions: BTreeSet<String> = grants_of(db, tenant_id, Some(&roles))
        .await?
        .into_values()
        .flatten()
        .collect();
    Ok(EffectivePermissions {
        user_id,
        roles,
        permissions: permissions.into_iter().collect(),
    })
}

/// Runs one policy change in a write transaction, so its lines and the revision bump land
/// together.
macro_rules! atomically {
    ($db:expr, |$tx:ident| $body:expr) => {{
        let $tx = begin_write($db).await?;
        let result = $body;
        $tx.commit().await?;
        Ok(result)
    }};
}

pub async fn create_role(
    db: &impl TransactionTrait,
    tenant_id: Id,
    role: NewRole,
) -> StoreResult<Role> {
    atomically!(db, |tx| create_role_in(&tx, tenant_id, role).await?)
}

pub async fn delete_role(db: &impl TransactionTrait, tenant_id: Id, name: &str) -> StoreResult<()> {
    atomically!(db, |tx| delete_role_in(&tx, tenant_id, name).await?)
}

pub async fn grant(
    db: &impl TransactionTrait,
    tenant_id: Id,
    role: &str,
    permission: &Permission,
) -> StoreResult<Role> {
    atomically!(db, |tx| grant_in(&tx, tenant_id, role, permission).await?)
}

pub async fn revoke(
    db: &impl TransactionTrait,
    tenant_id: Id,
    role: &str,
    permission: &Permission,
) -> StoreResult<Role> {
    atomically!(db, |tx| revoke_in(&tx, tenant_id, role, permission).await?)
}

pub async fn assign(
    db: &impl TransactionTrait,
    tenant_id: Id,
    user_id: Id,
    role: &str,
) -> StoreResult<()> {
    atomically!(db, |tx| assign_in(&tx, tenant_id, user_id, role).await?)
}

pub async fn unassign(
    db: &impl TransactionTrait,
    tenant_id: Id,
    user_id: Id,
    role: &str,
) -> StoreResult<()> {
    atomically!(db, |tx| unassign_in(&tx, tenant_id, user_id, role).await?)
}
