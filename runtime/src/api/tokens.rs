//! API tokens: issue (secret shown once), list and revoke.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{Duration, Utc};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::access::Access;
use super::audit;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath};
use crate::domain::Id;
use crate::domain::identity::{ApiToken, ApiTokenInput, IssuedToken};
use crate::store::{begin_write, commit};
use crate::store::{tokens, users};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
}

/// The caller's tokens; a tenant admin sees every token of the tenant.
#[utoipa::path(get, path = "/tokens", tag = "tokens", security(("bearer" = [])), responses((status = 200, body = [ApiToken])))]
async fn list_tokens(
    State(state): State<AppState>,
    access: Access,
) -> ApiResult<Json<Vec<ApiToken>>> {
    let principal = &access.principal;
    let owner = (!access.may("tokens", "manage")).then_some(principal.user_id);
    Ok(Json(
        tokens::list(&state.db, principal.tenant_id, owner).await?,
    ))
}

/// Issue a token for the caller, or for another user of the tenant (tenant admin) who holds no
/// permission the caller does not (else 403 `user_outranks_caller`).
#[utoipa::path(post, path = "/tokens", tag = "tokens", security(("bearer" = [])), request_body = ApiTokenInput,
    responses((status = 201, body = IssuedToken), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_token(
    State(state): State<AppState>,
    access: Access,
    ApiJson(input): ApiJson<ApiTokenInput>,
) -> ApiResult<(StatusCode, Json<IssuedToken>)> {
    let mut input = input.validate()?;
    narrow_to_caller(&access, &mut input.scopes)?;
    let principal = &access.principal;
    let user_id = input.user_id.unwrap_or(principal.user_id);
    if user_id != principal.user_id {
        if !access.may("tokens", "manage") {
            return Err(ApiError::forbidden(
                "issuing tokens for others needs tokens:manage",
            ));
        }
        users::get(&state.db, principal.tenant_id, user_id).await?;
        // A token carries its user's permissions: one for a user who holds more than the
        // caller would hand the caller those permissions.
        super::users::check_manages(&state, &access, user_id).await?;
    }
    let expires_at = input
        .expires_in_days
        .map(|days| Utc::now() + Duration::days(i64::from(days)));
    let token = tokens::NewToken {
        name: &input.name,
        expires_at,
        scopes: input.scopes,
    };
    let tx = begin_write(&state.db).await?;
    let issued = tokens::issue_with(&tx, principal.tenant_id, user_id, token, None).await?;
    let details = serde_json::json!({"user_id": user_id, "scopes": issued.token.scopes});
    audit::record_action(&tx, principal, "create", "token", issued.token.id, details).await?;
    commit(tx).await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

/// Revoke a token: it stops working on the next request.
#[utoipa::path(delete, path = "/tokens/{id}", tag = "tokens", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = ApiToken), (status = 404, body = ErrorBody)))]
async fn revoke_token(
    State(state): State<AppState>,
    access: Access,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<ApiToken>> {
    let principal = &access.principal;
    let owner = (!access.may("tokens", "manage")).then_some(principal.user_id);
    let tx = begin_write(&state.db).await?;
    let token = tokens::revoke(&tx, principal.tenant_id, id, owner).await?;
    let details = serde_json::json!({"user_id": token.user_id});
    audit::record_action(&tx, principal, "revoke", "token", id, details).await?;
    commit(tx).await?;
    Ok(Json(token))
}

/// A token limited by scopes can only issue tokens limited to (some of) the same scopes, so a
/// narrow integration token cannot mint a wider one.
fn narrow_to_caller(access: &Access, requested: &mut Option<Vec<String>>) -> ApiResult<()> {
    let Some(own) = access.principal.token_scopes.as_deref() else {
        return Ok(());
    };
    let own: Vec<String> = own.iter().map(ToString::to_string).collect();
    match requested {
        None => *requested = Some(own),
        Some(asked) if asked.iter().all(|scope| own.contains(scope)) => {}
        Some(_) => {
            return Err(ApiError::forbidden(
                "a token limited by scopes can only issue tokens within those scopes",
            ));
        }
    }
    Ok(())
}
