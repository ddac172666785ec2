//! Users of the caller's tenant.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::access::Access;
use super::audit;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath};
use crate::domain::Id;
use crate::domain::access::{DEFAULT_ROLE, Permission};
use crate::domain::identity::{Principal, User, UserInput, UserPatch};
use crate::store::{StoreError, access as policy, users};
use crate::store::{begin_write, commit};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user))
}

/// The authenticated user.
#[utoipa::path(get, path = "/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = User), (status = 401, body = ErrorBody)))]
async fn me(State(state): State<AppState>, principal: Principal) -> ApiResult<Json<User>> {
    Ok(Json(
        users::get(&state.db, principal.tenant_id, principal.user_id).await?,
    ))
}

#[utoipa::path(get, path = "/users", tag = "users", security(("bearer" = [])), responses((status = 200, body = [User])))]
async fn list_users(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Vec<User>>> {
    Ok(Json(users::list(&state.db, principal.tenant_id).await?))
}

/// Add a user to the tenant (tenant admin). Giving them a role (by default `account-manager`)
/// needs every permission of that role (403 `role_outranks_caller`).
#[utoipa::path(post, path = "/users", tag = "users", security(("bearer" = [])), request_body = UserInput,
    responses((status = 201, body = User), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_user(
    State(state): State<AppState>,
    access: Access,
    ApiJson(input): ApiJson<UserInput>,
) -> ApiResult<(StatusCode, Json<User>)> {
    let input = input.validate()?;
    let principal = &access.principal;
    let role = input.role.as_deref().unwrap_or(DEFAULT_ROLE);
    check_may_confer(&state, &access, role).await?;
    let tx = begin_write(&state.db).await?;
    let user = users::create(&tx, principal.tenant_id, input).await?;
    audit::record_change(&tx, principal, "create", "user", user.id, None, Some(&user)).await?;
    commit(tx).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

#[utoipa::path(get, path = "/users/{id}", tag = "users", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = User), (status = 404, body = ErrorBody)))]
async fn get_user(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<User>> {
    Ok(Json(users::get(&state.db, principal.tenant_id, id).await?))
}

/// Rename, move to a department, deactivate or reactivate a user. Roles change through
/// `PUT/DELETE /users/{id}/roles/{role}`. Users are never
/// deleted, so authorship of their records stays. Another user who holds a permission you do
/// not is out of reach (403 `user_outranks_caller`).
#[utoipa::path(patch, path = "/users/{id}", tag = "users", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = UserPatch, responses((status = 200, body = User), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_user(
    State(state): State<AppState>,
    access: Access,
    ApiPath(id): ApiPath<Id>,
    ApiJson(patch): ApiJson<UserPatch>,
) -> ApiResult<Json<User>> {
    let principal = &access.principal;
    let patch = patch.validate(id == principal.user_id)?;
    let before = users::get(&state.db, principal.tenant_id, id).await?;
    check_manages(&state, &access, id).await?;
    let tx = begin_write(&state.db).await?;
    let user = users::update(&tx, principal.tenant_id, id, patch).await?;
    audit::record_change(
        &tx,
        principal,
        "update",
        "user",
        id,
        Some(&before),
        Some(&user),
    )
    .await?;
    commit(tx).await?;
    Ok(Json(user))
}

/// Refuses to act on another user (reset their password, deactivate or edit them, issue them a
/// token) who holds a permission the caller does not: `users:update` alone must not open a
/// tenant admin's account to a user administrator, who could then act with the admin's
/// permissions.
pub(super) async fn check_manages(state: &AppState, access: &Access, user_id: Id) -> ApiResult<()> {
    if user_id == access.principal.user_id {
        return Ok(());
    }
    let tenant_id = access.principal.tenant_id;
    let held = policy::effective_permissions(&state.db, tenant_id, user_id).await?;
    refuse_beyond(
        access,
        &held.permissions,
        "user_outranks_caller",
        |beyond| {
            format!(
                "that user holds permissions you do not ({beyond}); only someone who holds them all may manage the account"
            )
        },
    )
}

/// Refuses to give a new user a role that grants more than the caller holds. An unknown role
/// passes here; creating the user reports it.
async fn check_may_confer(state: &AppState, access: &Access, role: &str) -> ApiResult<()> {
    let tenant_id = access.principal.tenant_id;
    let role = match policy::get_role(&state.db, tenant_id, role).await {
        Ok(role) => role,
        Err(StoreError::NotFound(_)) => return Ok(()),
        Err(error) => return Err(error.into()),
    };
    refuse_beyond(
        access,
        &role.permissions,
        "role_outranks_caller",
        |beyond| {
            format!(
                "role {} grants permissions you do not hold ({beyond})",
                role.name
            )
        },
    )
}

/// A 403 `code` when the caller does not hold all of `permissions`, explained with the list of
/// those it lacks. A line this version cannot read grants nothing, so it outranks no one.
fn refuse_beyond(
    access: &Access,
    permissions: &[String],
    code: &'static str,
    explain: impl FnOnce(&str) -> String,
) -> ApiResult<()> {
    let beyond: Vec<&str> = permissions
        .iter()
        .filter(|text| {
            text.parse::<Permission>()
                .is_ok_and(|permission| !access.holds(&permission))
        })
        .map(String::as_str)
        .collect();
    if beyond.is_empty() {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        code,
        explain(&beyond.join(", ")),
    ))
}
