//! Password sign-in: login, refresh, logout, and setting passwords. A wrong tenant, e-mail or
//! password, a user without a password and a deactivated user all get the same 401.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::RETRY_AFTER;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::access::Access;
use super::audit;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath};
use super::users::check_manages;
use crate::domain::Id;
use crate::domain::ValidationErrors;
use crate::domain::audit::NewAuditEntry;
use crate::domain::identity::{LoginInput, PasswordInput, Principal, RefreshInput, SessionTokens};
use crate::passwords;
use crate::store::sessions::{self, Refusal};
use crate::store::{audit as audit_log, begin_write, commit};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(set_own_password))
        .routes(routes!(set_user_password))
}

fn bad_credentials() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        "the tenant, e-mail or password is wrong",
    )
}

fn refused(refusal: Refusal) -> Response {
    match refusal {
        Refusal::BadCredentials => bad_credentials().into_response(),
        Refusal::Locked { until } => {
            let seconds = (until - Utc::now()).num_seconds().max(1);
            let error = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "login_locked",
                format!("too many failed sign-ins; try again in {seconds} s"),
            );
            ([(RETRY_AFTER, seconds.to_string())], error).into_response()
        }
    }
}

/// Runs password hashing off the async workers: it costs tens of milliseconds on purpose.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| ApiError::internal(&error))
}

/// Sign in with a password; returns an access token (15 min) and a refresh token (30 days).
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginInput,
    responses((status = 200, body = SessionTokens), (status = 401, body = ErrorBody),
        (status = 429, body = ErrorBody, description = "locked after repeated failures")))]
async fn login(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<LoginInput>,
) -> Result<Json<SessionTokens>, Response> {
    let candidate = sessions::login_candidate(&state.db, &input.tenant, &input.email)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    let stored = candidate
        .as_ref()
        .and_then(|user| user.password_hash.clone())
        .unwrap_or_else(|| passwords::decoy().to_owned());
    let password = input.password;
    let matches = blocking(move || passwords::verify(&password, &stored))
        .await
        .map_err(IntoResponse::into_response)?;
    let Some(user) = candidate.filter(|user| user.password_hash.is_some()) else {
        return Err(refused(Refusal::BadCredentials));
    };
    if let Some(until) = user.locked_until.filter(|until| *until > Utc::now()) {
        return Err(refused(Refusal::Locked { until }));
    }
    if !matches {
        sessions::record_failure(&state.db, &user)
            .await
            .map_err(|e| ApiError::from(e).into_response())?;
        let entry = NewAuditEntry::new(Some(user.id), "login_failed", "session").on(user.id);
        audit::record(&state, user.tenant_id, entry).await;
        return Err(refused(Refusal::BadCredentials));
    }
    let tokens = sessions::start(&state.db, &user)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    let entry = NewAuditEntry::new(Some(user.id), "login", "session").on(user.id);
    audit::record(&state, user.tenant_id, entry).await;
    Ok(Json(tokens))
}

/// Trade a refresh token for a new pair; the old refresh token stops working. Presenting a
/// refresh token twice revokes its whole session.
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = RefreshInput,
    responses((status = 200, body = SessionTokens), (status = 401, body = ErrorBody)))]
async fn refresh(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<RefreshInput>,
) -> Result<Json<SessionTokens>, Response> {
    match sessions::refresh(&state.db, &input.refresh_token).await {
        Ok(Ok(tokens)) => Ok(Json(tokens)),
        Ok(Err(refusal)) => Err(refused(refusal)),
        Err(error) => Err(ApiError::from(error).into_response()),
    }
}

/// Sign out: revokes the session's access and refresh tokens.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn logout(State(state): State<AppState>, principal: Principal) -> ApiResult<StatusCode> {
    sessions::end(&state.db, principal.token_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Set or change one's own password; changing an existing one needs the current one. Every other
/// session of the user ends; this one goes on.
#[utoipa::path(put, path = "/me/password", tag = "auth", security(("bearer" = [])), request_body = PasswordInput,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_own_password(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(input): ApiJson<PasswordInput>,
) -> ApiResult<StatusCode> {
    if principal.token_scopes.is_some() {
        return Err(ApiError::forbidden(
            "a token limited by scopes cannot change its user's password",
        ));
    }
    let input = input.validate()?;
    let current =
        sessions::password_hash(&state.db, principal.tenant_id, principal.user_id).await?;
    if let Some(current) = current {
        let given = input.current_password.clone().unwrap_or_default();
        if !blocking(move || passwords::verify(&given, &current)).await? {
            return Err(ValidationErrors::single(
                "current_password",
                "mismatch",
                "the current password is wrong",
            )
            .into());
        }
    }
    let hash = hashed(input.new_password).await?;
    let (tenant_id, user_id) = (principal.tenant_id, principal.user_id);
    let tx = begin_write(&state.db).await?;
    sessions::set_password(&tx, tenant_id, user_id, hash, Some(principal.token_id)).await?;
    commit(tx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Set another user's password, which also lifts a sign-in lock and ends every session of that
/// user (tenant admin). A user who holds a permission you do not is out of reach (403
/// `user_outranks_caller`).
#[utoipa::path(put, path = "/users/{id}/password", tag = "auth", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = PasswordInput,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_user_password(
    State(state): State<AppState>,
    access: Access,
    ApiPath(id): ApiPath<Id>,
    ApiJson(input): ApiJson<PasswordInput>,
) -> ApiResult<StatusCode> {
    let input = input.validate()?;
    let principal = &access.principal;
    check_manages(&state, &access, id).await?;
    let hash = hashed(input.new_password).await?;
    let tenant_id = principal.tenant_id;
    // Resetting one's own password this way keeps the session that did it, as `/me/password` does.
    let keep = (id == principal.user_id).then_some(principal.token_id);
    // The password, the end of the old sessions and the entry land together or not at all.
    let tx = begin_write(&state.db).await?;
    sessions::set_password(&tx, tenant_id, id, hash, keep).await?;
    let entry = NewAuditEntry::new(Some(principal.user_id), "password_reset", "user").on(id);
    audit_log::append(&tx, tenant_id, entry).await?;
    commit(tx).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn hashed(password: String) -> ApiResult<String> {
    blocking(move || passwords::hash(&password)).await
}
