//! Sign-in sessions: password login with a lock after repeated failures, a short-lived access
//! token plus a one-time refresh token per session, rotation on refresh, and sign-out.
//!
//! Session tokens are rows of `api_tokens` (kind `access` or `refresh`, one `session` id), so
//! authentication, revocation and expiry work the same for every token.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set,
    TransactionSession, TransactionTrait,
};

use super::entity::{api_token, tenant, user};
use super::tokens::{generate_secret, hash_secret};
use super::{StoreError, StoreResult, begin_write, users};
use crate::domain::Id;
use crate::domain::identity::SessionTokens;

pub const ACCESS_TTL: Duration = Duration::minutes(15);
pub const REFRESH_TTL: Duration = Duration::days(30);
/// Failures allowed before the account locks; each further failure doubles the lock.
pub const FAILURES_BEFORE_LOCK: i32 = 5;
const FIRST_LOCK: Duration = Duration::minutes(1);
const LONGEST_LOCK: Duration = Duration::hours(1);

/// Why a sign-in or refresh was refused. Callers answer all but `Locked` identically.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    BadCredentials,
    Locked { until: DateTime<Utc> },
}

/// The active user a login names, with its stored hash (if any password is set).
pub async fn login_candidate(
    db: &impl ConnectionTrait,
    tenant_slug: &str,
    email: &str,
) -> StoreResult<Option<user::Model>> {
    let Some(tenant) = tenant::Entity::find()
        .filter(tenant::Column::Slug.eq(tenant_slug.trim().to_lowercase()))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    Ok(user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant.id))
        .filter(user::Column::Email.eq(email.trim().to_lowercase()))
        .filter(user::Column::Active.eq(true))
        .one(db)
        .await?)
}

/// Counts a failed attempt and locks the account once the allowance is used up.
pub async fn record_failure(db: &impl ConnectionTrait, user: &user::Model) -> StoreResult<()> {
    let failures = user.failed_logins + 1;
    let locked_until = (failures >= FAILURES_BEFORE_LOCK).then(|| {
        let doublings = (failures - FAILURES_BEFORE_LOCK).min(10) as u32;
        Utc::now() + (FIRST_LOCK * 2_i32.pow(doublings)).min(LONGEST_LOCK)
    });
    user::Entity::update_many()
        .col_expr(user::Column::FailedLogins, Expr::value(failures))
        .col_expr(user::Column::LockedUntil, Expr::value(locked_until))
        .filter(user::Column::Id.eq(user.id))
        .exec(db)
        .await?;
    Ok(())
}

/// Starts a session for a user whose password was just verified; clears the failure count.
pub async fn start(
    db: &(impl ConnectionTrait + TransactionTrait),
    user: &user::Model,
) -> StoreResult<SessionTokens> {
    let tx = begin_write(db).await?;
    user::Entity::update_many()
        .col_expr(user::Column::FailedLogins, Expr::value(0))
        .col_expr(
            user::Column::LockedUntil,
            Expr::value(None::<DateTime<Utc>>),
        )
        .filter(user::Column::Id.eq(user.id))
        .exec(&tx)
        .await?;
    let session = uuid::Uuid::new_v4().to_string();
    let tokens = issue_pair(&tx, user, &session).await?;
    tx.commit().await?;
    Ok(tokens)
}

async fn issue_pair(
    db: &impl ConnectionTrait,
    owner: &user::Model,
    session: &str,
) -> StoreResult<SessionTokens> {
    let (tenant_id, user_id) = (owner.tenant_id, owner.id);
    let now = Utc::now();
    let (access_token, access_expires_at) = (generate_secret(), now + ACCESS_TTL);
    let (refresh_token, refresh_expires_at) = (generate_secret(), now + REFRESH_TTL);
    for (kind, secret, expires_at) in [
        ("access", &access_token, access_expires_at),
        ("refresh", &refresh_token, refresh_expires_at),
    ] {
        api_token::ActiveModel {
            tenant_id: Set(tenant_id),
            user_id: Set(user_id),
            name: Set(format!("sign-in {kind}")),
            token_hash: Set(hash_secret(secret)),
            prefix: Set(secret.chars().take(10).collect()),
            expires_at: Set(Some(expires_at)),
            created_at: Set(now),
            kind: Set(kind.to_owned()),
            session: Set(Some(session.to_owned())),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    Ok(SessionTokens {
        access_token,
        access_expires_at,
        refresh_token,
        refresh_expires_at,
        user: users::with_roles(db, owner.clone()).await?,
    })
}

/// Trades a refresh token for a new pair. A refresh token works once: presenting a used one
/// means it leaked, so the whole session is revoked.
pub async fn refresh(
    db: &(impl ConnectionTrait + TransactionTrait),
    refresh_token: &str,
) -> StoreResult<Result<SessionTokens, Refusal>> {
    let tx = begin_write(db).await?;
    let found = api_token::Entity::find()
        .filter(api_token::Column::TokenHash.eq(hash_secret(refresh_token)))
        .filter(api_token::Column::Kind.eq("refresh"))
        .find_also_related(user::Entity)
        .one(&tx)
        .await?;
    let Some((token, Some(owner))) = found else {
        return Ok(Err(Refusal::BadCredentials));
    };
    let session = token.session.clone().unwrap_or_default();
    if token.revoked_at.is_some() {
        revoke_session(&tx, &session).await?;
        tx.commit().await?;
        return Ok(Err(Refusal::BadCredentials));
    }
    if token.expires_at.is_some_and(|at| at <= Utc::now()) || !owner.active {
        return Ok(Err(Refusal::BadCredentials));
    }
    let mut used: api_token::ActiveModel = token.into();
    used.revoked_at = Set(Some(Utc::now()));
    used.update(&tx).await?;
    let tokens = issue_pair(&tx, &owner, &session).await?;
    tx.commit().await?;
    Ok(Ok(tokens))
}

/// Revokes every token of the session the presented token belongs to (sign-out).
pub async fn end(db: &impl ConnectionTrait, token_id: Id) -> StoreResult<()> {
    let token = api_token::Entity::find_by_id(token_id)
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("token"))?;
    match token.session {
        Some(session) => revoke_session(db, &session).await,
        None => Err(StoreError::Conflict {
            code: "not_a_session",
            message: "this is an API token; revoke it through /tokens instead".into(),
        }),
    }
}

async fn revoke_session(db: &impl ConnectionTrait, session: &str) -> StoreResult<()> {
    api_token::Entity::update_many()
        .col_expr(api_token::Column::RevokedAt, Expr::value(Some(Utc::now())))
        .filter(api_token::Column::Session.eq(session))
        .filter(api_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Revokes the user's sign-in sessions, all but the one `keep_token` (a token of the caller's
/// own session) belongs to: on a new password, whoever signed in with the old one is signed
/// out; on deactivation, a later reactivation does not revive the sessions. Integration
/// tokens stay, so that a reset does not break integrations; they are revoked one by one
/// through `/tokens`.
pub async fn end_sessions_of(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    user_id: Id,
    keep_token: Option<Id>,
) -> StoreResult<()> {
    let kept = match keep_token {
        Some(id) => api_token::Entity::find_by_id(id)
            .one(db)
            .await?
            .and_then(|token| token.session),
        None => None,
    };
    let mut revoke = api_token::Entity::update_many()
        .col_expr(api_token::Column::RevokedAt, Expr::value(Some(Utc::now())))
        .filter(api_token::Column::TenantId.eq(tenant_id))
        .filter(api_token::Column::UserId.eq(user_id))
        .filter(api_token::Column::Session.is_not_null())
        .filter(api_token::Column::RevokedAt.is_null());
    if let Some(kept) = kept {
        revoke = revoke.filter(api_token::Column::Session.ne(kept));
    }
    revoke.exec(db).await?;
    Ok(())
}

/// Sets a user's password hash, which also lifts a lock and ends every sign-in session of the
/// user but `keep_token`'s. Run it in a transaction, so that both land together.
pub async fn set_password(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    user_id: Id,
    password_hash: String,
    keep_token: Option<Id>,
) -> StoreResult<()> {
    let updated = user::Entity::update_many()
        .col_expr(user::Column::PasswordHash, Expr::value(Some(password_hash)))
        .col_expr(user::Column::FailedLogins, Expr::value(0))
        .col_expr(
            user::Column::LockedUntil,
            Expr::value(None::<DateTime<Utc>>),
        )
        .col_expr(user::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(user::Column::Id.eq(user_id))
        .filter(user::Column::TenantId.eq(tenant_id))
        .exec(db)
        .await?;
    if updated.rows_affected == 0 {
        return Err(StoreError::NotFound("user"));
    }
    end_sessions_of(db, tenant_id, user_id, keep_token).await
}

/// The stored hash of a user of the tenant, if a password is set.
pub async fn password_hash(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    user_id: Id,
) -> StoreResult<Option<String>> {
    Ok(user::Entity::find_by_id(user_id)
        .filter(user::Column::TenantId.eq(tenant_id))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("user"))?
        .password_hash)
}
