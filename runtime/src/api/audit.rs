//! The audit log: recording from handlers, and the tenant admin's query.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::access::Access;
use super::customers::Masking;
use super::error::{ApiResult, ErrorBody};
use super::extract::ApiQuery;
use crate::domain::Id;
use crate::domain::audit::{AuditEntry, AuditFilter, NewAuditEntry, changes};
use crate::domain::identity::Principal;
use crate::domain::masking;
use crate::domain::page::{Page, PageRequest};
use crate::store::{Connection, audit};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit_entries))
}

/// Appends an entry about something that is not a stored change (a sign-in attempt). A failure
/// to append is logged. Changes are recorded with [`record_change`] or [`record_action`] inside
/// the change's own transaction instead, so a change and its entry land together.
pub async fn record(state: &AppState, tenant_id: Id, entry: NewAuditEntry) {
    if let Err(error) = audit::append(&state.db, tenant_id, entry).await {
        tracing::error!(%error, tenant_id, "could not append to the audit log");
    }
}

/// Appends the entry of a create, update or delete of `entity`, with its changed fields.
pub async fn record_change<T: Serialize>(
    db: &impl Connection,
    principal: &Principal,
    action: &'static str,
    entity: &'static str,
    id: Id,
    before: Option<&T>,
    after: Option<&T>,
) -> ApiResult<()> {
    let snapshot = |value: Option<&T>| value.and_then(|v| serde_json::to_value(v).ok());
    let diff = changes(snapshot(before).as_ref(), snapshot(after).as_ref());
    let entry = NewAuditEntry::new(Some(principal.user_id), action, entity)
        .on(id)
        .with(diff);
    Ok(audit::append(db, principal.tenant_id, entry).await?)
}

/// Appends the entry of an action that is not a field change (a grant, a handover…).
pub async fn record_action(
    db: &impl Connection,
    principal: &Principal,
    action: &'static str,
    entity: &'static str,
    entity_id: impl ToString,
    details: Value,
) -> ApiResult<()> {
    let entry = NewAuditEntry::new(Some(principal.user_id), action, entity)
        .on(entity_id)
        .with(details);
    Ok(audit::append(db, principal.tenant_id, entry).await?)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    actor_id: Option<Id>,
    /// e.g. `update`, `login_failed`, `grant`.
    action: Option<String>,
    /// e.g. `customer`, `contact`, `role`.
    entity: Option<String>,
    entity_id: Option<String>,
    /// Entries at or after this instant (RFC 3339).
    since: Option<DateTime<Utc>>,
    /// Entries before this instant (RFC 3339).
    until: Option<DateTime<Utc>>,
    /// 1–200, default 50.
    limit: Option<u64>,
    cursor: Option<String>,
}

/// The tenant's audit log, newest first, with filters. Changes of custom fields the tenant's
/// schema marks sensitive are left out unless the caller may read `customer.sensitive_fields`.
#[utoipa::path(get, path = "/audit", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = Page<AuditEntry>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_audit_entries(
    State(state): State<AppState>,
    access: Access,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Page<AuditEntry>>> {
    let principal = &access.principal;
    let page = PageRequest::parse(query.limit, query.cursor.as_deref(), audit::SORT)?;
    let filter = AuditFilter {
        actor_id: query.actor_id,
        action: query.action,
        entity: query.entity,
        entity_id: query.entity_id,
        since: query.since,
        until: query.until,
    };
    let mut entries = audit::list(&state.db, principal.tenant_id, &filter, &page).await?;
    let Masking { fields, sensitive } = Masking::of(&state, &access).await?;
    for changes in entries
        .items
        .iter_mut()
        .filter_map(|entry| entry.changes.as_mut())
    {
        masking::audit_changes(changes, &fields, &sensitive);
    }
    Ok(Json(entries))
}
