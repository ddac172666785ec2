//! Authentication and authorization of every request, in one middleware.
//!
//! [`REQUIREMENTS`] names what each route needs. A matched route missing from it is refused
//! (deny by default), and a unit test checks that the table and the router agree. The middleware
//! authenticates the bearer token, loads the tenant's policy (reloading it when another replica
//! changed it), checks the requirement, and leaves an [`Access`] for the handler: the principal,
//! the record scope it was granted and, on demand, what it may do with sensitive fields.

use std::sync::Arc;

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::Method;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;
use crate::authz::{self, TenantPolicy};
use crate::domain::access::{self as grants, FieldAccess, Scope, Visibility};
use crate::domain::identity::Principal;
use crate::store::tokens;

/// What a route needs from its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// Anyone, signed in or not.
    Public,
    /// Any signed-in user (self-service routes; handlers check further when acting on others).
    SignedIn,
    /// A grant of `resource:action`, with a scope for scoped resources.
    Permission(&'static str, &'static str),
}

use Requirement::{Permission, Public, SignedIn};

/// Every route, `(method, path pattern, requirement)`.
#[rustfmt::skip]
pub const REQUIREMENTS: &[(&str, &str, Requirement)] = &[
    ("GET", "/healthz", Public),
    ("GET", "/readyz", Public),
    ("GET", "/metrics", Public),
    ("POST", "/api/v1/auth/login", Public),
    ("POST", "/api/v1/auth/refresh", Public),
    ("POST", "/api/v1/auth/logout", SignedIn),
    ("GET", "/api/v1/me", SignedIn),
    ("PUT", "/api/v1/me/password", SignedIn),
    ("GET", "/api/v1/tokens", SignedIn),
    ("POST", "/api/v1/tokens", SignedIn),
    ("DELETE", "/api/v1/tokens/{id}", SignedIn),
    ("GET", "/api/v1/tenants", Permission("tenants", "manage")),
    ("POST", "/api/v1/tenants", Permission("tenants", "manage")),
    ("GET", "/api/v1/tenants/{id}", Permission("tenants", "manage")),
    ("GET", "/api/v1/tenant", Permission("tenant", "read")),
    ("PATCH", "/api/v1/tenant", Permission("tenant", "update")),
    ("GET", "/api/v1/users", Permission("users", "read")),
    ("POST", "/api/v1/users", Permission("users", "create")),
    ("GET", "/api/v1/users/{id}", Permission("users", "read")),
    ("PATCH", "/api/v1/users/{id}", Permission("users", "update")),
    ("PUT", "/api/v1/users/{id}/password", Permission("users", "update")),
    ("GET", "/api/v1/users/{id}/permissions", Permission("roles", "read")),
    ("PUT", "/api/v1/users/{id}/roles/{role}", Permission("roles", "manage")),
    ("DELETE", "/api/v1/users/{id}/roles/{role}", Permission("roles", "manage")),
    ("GET", "/api/v1/roles", Permission("roles", "read")),
    ("POST", "/api/v1/roles", Permission("roles", "manage")),
    ("GET", "/api/v1/roles/{name}", Permission("roles", "read")),
    ("DELETE", "/api/v1/roles/{name}", Permission("roles", "manage")),
    ("PUT", "/api/v1/roles/{name}/permissions/{permission}", Permission("roles", "manage")),
    ("DELETE", "/api/v1/roles/{name}/permissions/{permission}", Permission("roles", "manage")),
    ("GET", "/api/v1/departments", Permission("departments", "read")),
    ("POST", "/api/v1/departments", Permission("departments", "manage")),
    ("DELETE", "/api/v1/departments/{id}", Permission("departments", "manage")),
    ("GET", "/api/v1/audit", Permission("audit", "read")),
    ("GET", "/api/v1/customers", Permission("customers", "read")),
    ("POST", "/api/v1/customers", Permission("customers", "create")),
    ("GET", "/api/v1/customers/{id}", Permission("customers", "read")),
    ("PATCH", "/api/v1/customers/{id}", Permission("customers", "update")),
    ("DELETE", "/api/v1/customers/{id}", Permission("customers", "delete")),
    ("GET", "/api/v1/customers/{id}/360", Permission("customers", "read")),
    ("GET", "/api/v1/customers/{id}/tier-history", Permission("customers", "read")),
    ("POST", "/api/v1/tenant/tiering/runs", Permission("tenant-plugins", "invoke")),
    ("GET", "/api/v1/tenant/tier-policies", Permission("tenant", "read")),
    ("PUT", "/api/v1/tenant/tier-policies/{tier}", Permission("tenant", "update")),
    ("GET", "/api/v1/tasks", Permission("tasks", "read")),
    ("POST", "/api/v1/tasks", Permission("tasks", "create")),
    ("GET", "/api/v1/tasks/{id}", Permission("tasks", "read")),
    ("PATCH", "/api/v1/tasks/{id}", Permission("tasks", "update")),
    ("DELETE", "/api/v1/tasks/{id}", Permission("tasks", "delete")),
    ("GET", "/api/v1/automation/rules", Permission("automation", "read")),
    ("POST", "/api/v1/automation/rules", Permission("automation", "manage")),
    ("GET", "/api/v1/automation/rules/{id}", Permission("automation", "read")),
    ("PUT", "/api/v1/automation/rules/{id}", Permission("automation", "manage")),
    ("DELETE", "/api/v1/automation/rules/{id}", Permission("automation", "manage")),
    ("POST", "/api/v1/automation/rules/{id}/runs", Permission("automation", "manage")),
    ("GET", "/api/v1/automation/schedules", Permission("automation", "read")),
    ("PATCH", "/api/v1/automation/schedules/{job}", Permission("automation", "manage")),
    ("GET", "/api/v1/automation/events", Permission("automation", "read")),
    ("GET", "/progress/{token}", Public),
    ("GET", "/api/v1/progress/{token}", Public),
    ("GET", "/s/{token}", Public),
    ("POST", "/s/{token}", Public),
    ("POST", "/s/{token}/opt-out", Public),
    ("GET", "/surveys/dashboard", Public),
    ("GET", "/api/v1/surveys/public/{token}", Public),
    ("POST", "/api/v1/surveys/public/{token}", Public),
    ("POST", "/api/v1/surveys/inbound/{tenant_id}/{channel}", Public),
    ("GET", "/api/v1/sync/connectors", Permission("sync", "read")),
    ("GET", "/api/v1/sync/connectors/{plugin_id}", Permission("sync", "read")),
    ("PUT", "/api/v1/sync/connectors/{plugin_id}", Permission("sync", "manage")),
    ("POST", "/api/v1/sync/connectors/{plugin_id}/runs", Permission("sync", "run")),
    ("POST", "/api/v1/sync/connectors/{plugin_id}/check", Permission("sync", "run")),
    ("GET", "/api/v1/sync/runs", Permission("sync", "read")),
    ("GET", "/api/v1/sync/runs/{id}", Permission("sync", "read")),
    ("GET", "/api/v1/sync/reviews", Permission("sync", "read")),
    ("GET", "/api/v1/sync/reviews/{id}", Permission("sync", "read")),
    ("POST", "/api/v1/sync/reviews/{id}/resolution", Permission("sync", "review")),
    ("GET", "/api/v1/surveys/templates", Permission("survey-settings", "read")),
    ("GET", "/api/v1/surveys/templates/{key}", Permission("survey-settings", "read")),
    ("PUT", "/api/v1/surveys/templates/{key}", Permission("survey-settings", "manage")),
    ("GET", "/api/v1/surveys/settings", Permission("survey-settings", "read")),
    ("PUT", "/api/v1/surveys/settings", Permission("survey-settings", "manage")),
    ("GET", "/api/v1/surveys/campaigns", Permission("survey-settings", "read")),
    ("POST", "/api/v1/surveys/campaigns", Permission("survey-settings", "manage")),
    ("GET", "/api/v1/surveys/campaigns/{id}", Permission("survey-settings", "read")),
    ("DELETE", "/api/v1/surveys/campaigns/{id}", Permission("survey-settings", "manage")),
    ("POST", "/api/v1/surveys/campaigns/{id}/run", Permission("survey-settings", "manage")),
    ("POST", "/api/v1/surveys/send", Permission("surveys", "send")),
    ("GET", "/api/v1/surveys/deliveries", Permission("surveys", "read")),
    ("GET", "/api/v1/surveys/responses", Permission("surveys", "read")),
    ("PUT", "/api/v1/surveys/opt-outs/{contact_id}", Permission("surveys", "send")),
    ("DELETE", "/api/v1/surveys/opt-outs/{contact_id}", Permission("surveys", "send")),
    ("GET", "/api/v1/surveys/kpis", Permission("surveys", "read")),
    ("GET", "/api/v1/tickets", Permission("tickets", "read")),
    ("POST", "/api/v1/tickets", Permission("tickets", "create")),
    ("GET", "/api/v1/tickets/{id}", Permission("tickets", "read")),
    ("PATCH", "/api/v1/tickets/{id}", Permission("tickets", "update")),
    ("POST", "/api/v1/tickets/{id}/status", Permission("tickets", "update")),
    ("PUT", "/api/v1/tickets/{id}/assignment", Permission("tickets", "assign")),
    ("GET", "/api/v1/tickets/{id}/comments", Permission("tickets", "read")),
    ("POST", "/api/v1/tickets/{id}/comments", Permission("tickets", "update")),
    ("GET", "/api/v1/tickets/{id}/history", Permission("tickets", "read")),
    ("POST", "/api/v1/tickets/{id}/progress-link", Permission("tickets", "update")),
    ("POST", "/api/v1/tickets/{id}/article", Permission("knowledge", "write")),
    ("GET", "/api/v1/service/calendar", Permission("service", "read")),
    ("PUT", "/api/v1/service/calendar", Permission("service", "manage")),
    ("GET", "/api/v1/service/sla-policies", Permission("service", "read")),
    ("POST", "/api/v1/service/sla-policies", Permission("service", "manage")),
    ("GET", "/api/v1/service/sla-policies/{id}", Permission("service", "read")),
    ("PUT", "/api/v1/service/sla-policies/{id}", Permission("service", "manage")),
    ("DELETE", "/api/v1/service/sla-policies/{id}", Permission("service", "manage")),
    ("GET", "/api/v1/service/routing-rules", Permission("service", "read")),
    ("POST", "/api/v1/service/routing-rules", Permission("service", "manage")),
    ("GET", "/api/v1/service/routing-rules/{id}", Permission("service", "read")),
    ("PUT", "/api/v1/service/routing-rules/{id}", Permission("service", "manage")),
    ("DELETE", "/api/v1/service/routing-rules/{id}", Permission("service", "manage")),
    ("GET", "/api/v1/service/kpis", Permission("tickets", "read")),
    ("GET", "/api/v1/knowledge/articles", Permission("knowledge", "read")),
    ("POST", "/api/v1/knowledge/articles", Permission("knowledge", "write")),
    ("GET", "/api/v1/knowledge/articles/{id}", Permission("knowledge", "read")),
    ("PUT", "/api/v1/knowledge/articles/{id}", Permission("knowledge", "write")),
    ("DELETE", "/api/v1/knowledge/articles/{id}", Permission("knowledge", "write")),
    ("POST", "/api/v1/handovers", Permission("customers", "handover")),
    ("GET", "/api/v1/customers/{customer_id}/contacts", Permission("contacts", "read")),
    ("POST", "/api/v1/customers/{customer_id}/contacts", Permission("contacts", "create")),
    ("GET", "/api/v1/contacts/{id}", Permission("contacts", "read")),
    ("PATCH", "/api/v1/contacts/{id}", Permission("contacts", "update")),
    ("DELETE", "/api/v1/contacts/{id}", Permission("contacts", "delete")),
    ("GET", "/api/v1/customers/{customer_id}/orders", Permission("orders", "read")),
    ("POST", "/api/v1/customers/{customer_id}/orders", Permission("orders", "create")),
    ("GET", "/api/v1/orders/{id}", Permission("orders", "read")),
    ("PATCH", "/api/v1/orders/{id}", Permission("orders", "update")),
    ("DELETE", "/api/v1/orders/{id}", Permission("orders", "delete")),
    ("GET", "/api/v1/customers/{customer_id}/interactions", Permission("interactions", "read")),
    ("POST", "/api/v1/customers/{customer_id}/interactions", Permission("interactions", "create")),
    ("GET", "/api/v1/interactions/{id}", Permission("interactions", "read")),
    ("PATCH", "/api/v1/interactions/{id}", Permission("interactions", "update")),
    ("DELETE", "/api/v1/interactions/{id}", Permission("interactions", "delete")),
    ("GET", "/api/v1/customers/{customer_id}/satisfaction", Permission("satisfaction", "read")),
    ("POST", "/api/v1/customers/{customer_id}/satisfaction", Permission("satisfaction", "create")),
    ("GET", "/api/v1/satisfaction/{id}", Permission("satisfaction", "read")),
    ("PATCH", "/api/v1/satisfaction/{id}", Permission("satisfaction", "update")),
    ("DELETE", "/api/v1/satisfaction/{id}", Permission("satisfaction", "delete")),
    // Tenants browse the catalogue to choose what to enable; only the platform installs.
    ("GET", "/api/v1/plugins", Permission("tenant-plugins", "read")),
    ("POST", "/api/v1/plugins", Permission("plugins", "manage")),
    ("GET", "/api/v1/plugins/{plugin_id}/versions/{version}", Permission("tenant-plugins", "read")),
    ("GET", "/api/v1/tenant/plugins", Permission("tenant-plugins", "read")),
    ("GET", "/api/v1/tenant/plugins/{plugin_id}", Permission("tenant-plugins", "read")),
    ("PUT", "/api/v1/tenant/plugins/{plugin_id}", Permission("tenant-plugins", "manage")),
    ("POST", "/api/v1/tenant/plugins/{plugin_id}/upgrade", Permission("tenant-plugins", "manage")),
    ("POST", "/api/v1/tenant/plugins/{plugin_id}/rollback", Permission("tenant-plugins", "manage")),
    ("POST", "/api/v1/tenant/plugins/{plugin_id}/disable", Permission("tenant-plugins", "manage")),
    ("POST", "/api/v1/tenant/plugins/{plugin_id}/invoke", Permission("tenant-plugins", "invoke")),
    ("GET", "/api/v1/tenant/plugins/{plugin_id}/runs", Permission("tenant-plugins", "read")),
];

pub fn requirement(method: &Method, path: &str) -> Option<Requirement> {
    REQUIREMENTS
        .iter()
        .find(|(m, p, _)| *p == path && *m == method.as_str())
        .map(|(_, _, requirement)| *requirement)
}

/// The permission string a route needs, as the OpenAPI document shows it (`x-permission`).
pub fn describe(requirement: Requirement) -> String {
    match requirement {
        Public => "public".to_owned(),
        SignedIn => "signed-in".to_owned(),
        Permission(resource, action) => format!("{resource}:{action}"),
    }
}

/// The authorized caller of a request.
#[derive(Clone)]
pub struct Access {
    pub principal: Principal,
    policy: Arc<TenantPolicy>,
    /// The scope granted for the route's requirement, for scoped resources.
    pub scope: Option<Scope>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("principal", &self.principal)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl Access {
    /// Whether the caller holds an unscoped `resource:action`.
    pub fn may(&self, resource: &str, action: &str) -> bool {
        self.policy.allows(self.principal.user_id, resource, action)
            && authz::token_allows(self.principal.token_scopes.as_deref(), resource, action)
    }

    /// The widest scope in which the caller may `action` on a scoped `resource`.
    pub fn scope_of(&self, resource: &str, action: &str) -> Option<Scope> {
        let granted = self
            .policy
            .scope(self.principal.user_id, resource, action)?;
        let token = authz::token_scope(self.principal.token_scopes.as_deref(), resource, action)?;
        Some(granted.min(token))
    }

    /// Whether the caller holds `permission`: the same action, in at least its scope.
    pub fn holds(&self, permission: &grants::Permission) -> bool {
        let (resource, action) = (permission.resource.as_str(), permission.action.as_str());
        match permission.scope {
            Some(needed) => self.scope_of(resource, action) >= Some(needed),
            None => self.may(resource, action),
        }
    }

    /// The records the route's scope reaches.
    pub fn visibility(&self) -> Visibility {
        self.visibility_for(self.scope.unwrap_or(Scope::Own))
    }

    pub fn visibility_for(&self, scope: Scope) -> Visibility {
        Visibility::of(scope, self.principal.user_id, self.principal.department_id)
    }

    /// What the caller may read and write of sensitive fields.
    pub fn fields(&self) -> FieldAccess {
        let mut fields = self.policy.field_access(self.principal.user_id);
        if let Some(scopes) = self.principal.token_scopes.as_deref() {
            fields
                .readable
                .retain(|field| authz::token_allows(Some(scopes), field.resource(), "read"));
            fields
                .writable
                .retain(|field| authz::token_allows(Some(scopes), field.resource(), "write"));
        }
        fields
    }
}

fn bearer_secret(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|secret| !secret.is_empty() && secret.len() <= 256)
}

/// Authenticates and authorizes the request before its handler runs.
pub async fn authorize(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let Some(path) = parts.extensions.get::<MatchedPath>().cloned() else {
        return next.run(Request::from_parts(parts, body)).await;
    };
    let Some(requirement) = requirement(&parts.method, path.as_str()) else {
        tracing::error!(method = %parts.method, route = path.as_str(), "route has no access requirement; denied");
        return refuse(
            body,
            ApiError::forbidden("this route is not open to anyone"),
        )
        .await;
    };
    if requirement == Public {
        return next.run(Request::from_parts(parts, body)).await;
    }
    match check(&state, &parts, requirement).await {
        Ok(access) => {
            parts.extensions.insert(access.principal.clone());
            parts.extensions.insert(access);
            next.run(Request::from_parts(parts, body)).await
        }
        Err(error) => refuse(body, error).await,
    }
}

/// Answers a refused request after reading its body (within the body limit), so that a client
/// still sending a large upload gets the answer instead of a reset connection.
async fn refuse(body: axum::body::Body, error: ApiError) -> Response {
    let _ = axum::body::to_bytes(body, super::MAX_BODY_BYTES).await;
    error.into_response()
}

async fn check(
    state: &AppState,
    parts: &Parts,
    requirement: Requirement,
) -> Result<Access, ApiError> {
    let secret = bearer_secret(parts).ok_or_else(ApiError::unauthorized)?;
    let principal = tokens::authenticate(&state.db, secret)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    let policy = state
        .authorizer
        .policy(principal.tenant_id)
        .await
        .map_err(|error| ApiError::internal(&error))?;
    let mut access = Access {
        principal,
        policy,
        scope: None,
    };
    if let Permission(resource, action) = requirement {
        let scoped = crate::domain::access::find_resource(resource).is_some_and(|r| r.scoped);
        let granted = if scoped {
            access.scope = access.scope_of(resource, action);
            access.scope.is_some()
        } else {
            access.may(resource, action)
        };
        if !granted {
            return Err(ApiError::forbidden(format!(
                "your roles do not grant {resource}:{action}"
            )));
        }
    }
    Ok(access)
}

impl FromRequestParts<AppState> for Access {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Access>()
            .cloned()
            .ok_or_else(ApiError::unauthorized)
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(ApiError::unauthorized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_has_a_requirement_and_every_requirement_a_route() {
        let openapi = super::super::openapi();
        let mut served = Vec::new();
        for (path, item) in &openapi.paths.paths {
            for (method, operation) in [
                ("GET", &item.get),
                ("POST", &item.post),
                ("PUT", &item.put),
                ("PATCH", &item.patch),
                ("DELETE", &item.delete),
            ] {
                if operation.is_some() {
                    served.push((method.to_owned(), path.clone()));
                }
            }
        }
        for (method, path) in &served {
            let method: Method = method.parse().unwrap();
            assert!(
                requirement(&method, path).is_some(),
                "{method} {path} has no requirement"
            );
        }
        for (method, path, _) in REQUIREMENTS {
            assert!(
                served.iter().any(|(m, p)| m == method && p == path),
                "{method} {path} is not served"
            );
        }
    }

    #[test]
    fn every_permission_requirement_names_a_known_grant() {
        for (_, path, requirement) in REQUIREMENTS {
            if let Permission(resource, action) = requirement {
                let known = crate::domain::access::find_resource(resource)
                    .is_some_and(|r| r.actions.contains(action));
                assert!(known, "{path}: {resource}:{action}");
            }
        }
    }
}
