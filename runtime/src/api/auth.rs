//! Bearer-token authentication. The principal, and therefore the tenant of every query, comes
//! only from the presented token.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::AppState;
use super::error::ApiError;
use crate::domain::identity::{Principal, Role};
use crate::store::tokens;

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let secret = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|secret| !secret.is_empty() && secret.len() <= 256)
            .ok_or_else(ApiError::unauthorized)?;
        tokens::authenticate(&state.db, secret)
            .await?
            .ok_or_else(ApiError::unauthorized)
    }
}

pub fn require_tenant_admin(principal: &Principal) -> Result<(), ApiError> {
    if principal.is_tenant_admin() {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "this action needs the tenant-admin role",
        ))
    }
}

pub fn require_platform_admin(principal: &Principal) -> Result<(), ApiError> {
    if principal.role == Role::PlatformAdmin {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "this action needs the platform-admin role",
        ))
    }
}
