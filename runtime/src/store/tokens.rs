//! API tokens: random secrets, shown once, stored as SHA-256 hashes.
//!
//! A secret carries 256 random bits, so a plain (unsalted, fast) hash is enough: there is nothing
//! to brute-force, and lookup by hash keeps authentication a single indexed read.

use std::collections::BTreeSet;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, Set,
};
use sha2::{Digest, Sha256};

use super::entity::{api_token, user};
use super::{StoreError, StoreResult};
use crate::domain::Id;
use crate::domain::access::Permission;
use crate::domain::identity::{ApiToken, IssuedToken, Principal};

const SECRET_PREFIX: &str = "rpt_";
/// `last_used_at` is refreshed at most this often, so reads do not turn into writes.
const LAST_USED_GRANULARITY: Duration = Duration::minutes(5);

pub fn generate_secret() -> String {
    let mut bytes = [0_u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn to_domain(row: api_token::Model) -> ApiToken {
    ApiToken {
        scopes: row
            .scopes
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok()),
        id: row.id,
        user_id: row.user_id,
        name: row.name,
        prefix: row.prefix,
        expires_at: row.expires_at,
        last_used_at: row.last_used_at,
        revoked_at: row.revoked_at,
        created_at: row.created_at,
    }
}

/// Issues a token for a user of the tenant; `secret` lets an operator pin the bootstrap token.
pub async fn issue(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    user_id: Id,
    name: &str,
    expires_at: Option<DateTime<Utc>>,
    secret: Option<String>,
) -> StoreResult<IssuedToken> {
    let token = NewToken {
        name,
        expires_at,
        scopes: None,
    };
    issue_with(db, tenant_id, user_id, token, secret).await
}

/// What an integration token is: its name, expiry and validated scopes.
#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    pub name: &'a str,
    pub expires_at: Option<DateTime<Utc>>,
    pub scopes: Option<Vec<String>>,
}

pub async fn issue_with(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    user_id: Id,
    token: NewToken<'_>,
    secret: Option<String>,
) -> StoreResult<IssuedToken> {
    let NewToken {
        name,
        expires_at,
        scopes,
    } = token;
    let secret = secret.unwrap_or_else(generate_secret);
    let row = api_token::ActiveModel {
        tenant_id: Set(tenant_id),
        user_id: Set(user_id),
        name: Set(name.to_owned()),
        token_hash: Set(hash_secret(&secret)),
        prefix: Set(secret.chars().take(SECRET_PREFIX.len() + 6).collect()),
        expires_at: Set(expires_at),
        scopes: Set(scopes.map(|scopes| serde_json::Value::from(scopes).to_string())),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(|e| {
        StoreError::conflict_on_unique(e, "token_exists", "this token secret is already in use")
    })?;
    Ok(IssuedToken {
        token: to_domain(row),
        secret,
    })
}

/// Resolves a presented secret to its principal. Unknown, revoked and expired tokens and
/// deactivated users all give `None`, so callers cannot tell them apart.
pub async fn authenticate(
    db: &impl ConnectionTrait,
    secret: &str,
) -> StoreResult<Option<Principal>> {
    let now = Utc::now();
    let found = api_token::Entity::find()
        .filter(api_token::Column::TokenHash.eq(hash_secret(secret)))
        .filter(api_token::Column::Kind.ne("refresh"))
        .filter(api_token::Column::RevokedAt.is_null())
        .filter(
            Condition::any()
                .add(api_token::Column::ExpiresAt.is_null())
                .add(api_token::Column::ExpiresAt.gt(now)),
        )
        .find_also_related(user::Entity)
        .one(db)
        .await?;
    let Some((token, Some(user))) = found else {
        return Ok(None);
    };
    if !user.active || user.tenant_id != token.tenant_id {
        return Ok(None);
    }
    if token
        .last_used_at
        .is_none_or(|used| now - used > LAST_USED_GRANULARITY)
    {
        api_token::Entity::update_many()
            .col_expr(api_token::Column::LastUsedAt, Expr::value(now))
            .filter(api_token::Column::Id.eq(token.id))
            .exec(db)
            .await?;
    }
    let token_scopes = match token.scopes.as_deref() {
        None => None,
        Some(text) => Some(Arc::new(parse_scopes(token.id, text)?)),
    };
    Ok(Some(Principal {
        user_id: user.id,
        tenant_id: token.tenant_id,
        department_id: user.department_id,
        token_id: token.id,
        token_scopes,
    }))
}

/// Tokens of the tenant, optionally of one user, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    user_id: Option<Id>,
) -> StoreResult<Vec<ApiToken>> {
    let mut query = api_token::Entity::find()
        .filter(api_token::Column::TenantId.eq(tenant_id))
        .filter(api_token::Column::Kind.eq("api"));
    if let Some(user_id) = user_id {
        query = query.filter(api_token::Column::UserId.eq(user_id));
    }
    Ok(query
        .order_by_desc(api_token::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(to_domain)
        .collect())
}

/// Revokes a token; `owner` restricts it to that user's tokens. Revoking twice is harmless.
pub async fn revoke(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    id: Id,
    owner: Option<Id>,
) -> StoreResult<ApiToken> {
    let mut query =
        api_token::Entity::find_by_id(id).filter(api_token::Column::TenantId.eq(tenant_id));
    if let Some(owner) = owner {
        query = query.filter(api_token::Column::UserId.eq(owner));
    }
    let token = query.one(db).await?.ok_or(StoreError::NotFound("token"))?;
    if token.revoked_at.is_some() {
        return Ok(to_domain(token));
    }
    let mut row: api_token::ActiveModel = token.into();
    row.revoked_at = Set(Some(Utc::now()));
    Ok(to_domain(row.update(db).await?))
}

/// Scopes were validated when stored; a line this version cannot read is dropped, which only
/// narrows the token further.
fn parse_scopes(token_id: Id, text: &str) -> StoreResult<BTreeSet<Permission>> {
    let texts: Vec<String> = serde_json::from_str(text)
        .map_err(|_| StoreError::Corrupt(format!("api_tokens.scopes of {token_id}")))?;
    Ok(texts.iter().filter_map(|text| text.parse().ok()).collect())
}
