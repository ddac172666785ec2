//! Service tickets: creation (routed, with an SLA), the status workflow, reassignment, comments,
//! history, the progress link, and "save as article".

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::access::Access;
use super::audit;
use super::children::reach;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use crate::domain::Id;
use crate::domain::knowledge::{Article, ArticleInput, draft_from_ticket};
use crate::domain::page::{Page, PageRequest};
use crate::domain::ticket::{
    AssignmentInput, CommentInput, SlaState, StatusChange, Ticket, TicketChange, TicketComment,
    TicketFilter, TicketInput, TicketPatch, TicketStatus, TicketType,
};
use crate::store::{begin_write, commit, knowledge, tickets};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tickets, create_ticket))
        .routes(routes!(get_ticket, update_ticket))
        .routes(routes!(change_status))
        .routes(routes!(reassign))
        .routes(routes!(list_comments, add_comment))
        .routes(routes!(ticket_history))
        .routes(routes!(rotate_progress_link))
        .routes(routes!(save_as_article))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TicketListQuery {
    #[param(value_type = Option<String>)]
    status: Option<TicketStatus>,
    /// `true`: not resolved or closed; `false`: resolved or closed.
    open: Option<bool>,
    #[serde(rename = "type")]
    #[param(value_type = Option<String>, rename = "type")]
    ticket_type: Option<TicketType>,
    customer_id: Option<Id>,
    assignee_id: Option<Id>,
    /// Only the caller's tickets.
    mine: Option<bool>,
    department_id: Option<Id>,
    #[param(value_type = Option<String>)]
    sla_state: Option<SlaState>,
    /// 1–200, default 50.
    limit: Option<u64>,
    cursor: Option<String>,
}

/// Tickets within your scope (about a customer in it, or assigned within it), newest first.
#[utoipa::path(get, path = "/tickets", tag = "tickets", security(("bearer" = [])), params(TicketListQuery),
    responses((status = 200, body = Page<Ticket>), (status = 422, body = ErrorBody)))]
async fn list_tickets(
    State(state): State<AppState>,
    access: Access,
    ApiQuery(query): ApiQuery<TicketListQuery>,
) -> ApiResult<Json<Page<Ticket>>> {
    let page = PageRequest::parse(query.limit, query.cursor.as_deref(), tickets::SORT)?;
    let filter = TicketFilter {
        status: query.status,
        open: query.open,
        ticket_type: query.ticket_type,
        customer_id: query.customer_id,
        assignee_id: match query.mine {
            Some(true) => Some(access.principal.user_id),
            _ => query.assignee_id,
        },
        department_id: query.department_id,
        sla_state: query.sla_state,
    };
    let tenant_id = access.principal.tenant_id;
    Ok(Json(
        tickets::list(&state.db, tenant_id, access.visibility(), &filter, &page).await?,
    ))
}

/// Open a ticket for a customer in your scope. It is routed at once (department and assignee
/// from the first matching routing rule) and runs on the most specific matching SLA policy, if
/// any; `progress_url` is the link to send the customer.
#[utoipa::path(post, path = "/tickets", tag = "tickets", security(("bearer" = [])), request_body = TicketInput,
    responses((status = 201, body = Ticket), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_ticket(
    State(state): State<AppState>,
    access: Access,
    ApiJson(input): ApiJson<TicketInput>,
) -> ApiResult<(StatusCode, Json<Ticket>)> {
    let new = input.validate()?;
    reach(&state, &access, new.customer_id).await?;
    let principal = &access.principal;
    let tx = begin_write(&state.db).await?;
    let ticket = tickets::create(&tx, principal.tenant_id, new, Some(principal.user_id)).await?;
    audit::record_change(
        &tx,
        principal,
        "create",
        "ticket",
        ticket.id,
        None,
        Some(&ticket),
    )
    .await?;
    commit(tx).await?;
    Ok((StatusCode::CREATED, Json(ticket)))
}

#[utoipa::path(get, path = "/tickets/{id}", tag = "tickets", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = Ticket), (status = 404, body = ErrorBody)))]
async fn get_ticket(
    State(state): State<AppState>,
    access: Access,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<Ticket>> {
    let tenant_id = access.principal.tenant_id;
    Ok(Json(
        tickets::get(&state.db, tenant_id, id, access.visibility()).await?,
    ))
}

/// Edit subject, description, category, priority or contact. Status and assignment have their
/// own routes.
#[utoipa::path(patch, path = "/tickets/{id}", tag = "tickets", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = TicketPatch,
    responses((status = 200, body = Ticket), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_ticket(
    State(state): State<AppState>,
    access: Access,
    ApiPath(id): ApiPath<Id>,
    ApiJson(patch): ApiJson<TicketPatch>,
) -> ApiResult<Json<Ticket>> {
    let principal = &access.principal;
    let visibility = access.visibility();
    let tx = begin_write(&state.db).await?;
    let current = tickets::get(&tx, principal.tenant_id, id, visibility).await?;
    let content = patch.apply(&current)?;
    let ticket = tickets::update_content(
        &tx,
        principal.tenant_id,
        id,
        visibility,
        content,
        principal.user_id,
    )
    .await?;
    audit::record_change(
        &tx,
        principal,
        "update",
        "ticket",
        id,
        Some(&current),
        Some(&ticket),
    )
    .await?;
    commit(tx).await?;
    Ok(Json(ticket))
}

/// Move the ticket through its workflow: new → assigned → in_progress → waiting_on_customer →
/// resolved → closed; `in_progress` from resolved or closed reopens. Resolving needs a
/// `resolution` (`resolved`, `customer_satisfied`, `needs_follow_up`) and gives the account
/// owner a revisit task due within 24 hours; `needs_follow_up` adds a follow-up task that must be
/// done before the ticket closes. Waiting on the customer pauses the SLA clock.
#[utoipa::path(post, path = "/tickets/{id}/status", tag = "tickets", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = StatusChange,
    responses((status = 200, body = Ticket), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn change_status(
    State(state): State<AppState>,
    access: Access,
    ApiPath(id): ApiPath<Id>,
    ApiJson(change): ApiJson<StatusChange>,
) -> ApiResult<Json<Ticket>> {
    let principal = &access.principal;
    let visibility = access.visibility();
    let tx = begin_write(&state.db).await?;
    let current = tickets::get(&tx, principal.tenant_id, id, visibility).await?;
    let ticket = tickets::change_status(
        &tx,
        principal.tenant_id,
        id,
        visibility,
        &change,
        principal.user_id,
    )
    .await?;
    audit::record_change(
        &tx,
        principal,
        "update",
        "ticket",
        id,
        Some(&current),
        Some(&ticket),
    )
    .await?;
    commit(tx).await?;
    Ok(Json(ticket))
}

/// Reassign by hand: another department and/or another assignee (`null` unassigns).
#[utoipa::path(put, path = "/tickets/{id}/assignment", tag = "tickets", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = AssignmentInput,
    responses((status = 200, body = Ticket), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn reassign(
    State(state): State<AppState>,
    access: Access,
    ApiPath(id): ApiPath<Id>,
    ApiJson(input): ApiJson<AssignmentInput>,
) -> ApiResult<Json<Ticket>> {
    let principal = &access.principal;
    let visibility = access.visibility();
    let tx = begin_write(&state.db).await?;
    let current = tickets::get(&tx, principal.tenant_id, id, visibility).await?;
    let ticket = tickets::assign(
        &tx,
        principal.tenant_id,
        id,
        visibility,
        input.department_id,
        input.assignee_id,
        Some(principal.user_id),
    )
    .await?;
    audit::record_change(
        &tx,
        principal,
        "update",
        "ticket",
        id,
        Some(&current),
        Some(&ticket),
    )
    .await?;
    commit(tx).await?;
    Ok(Json(ticket))
}

/// Every comment, public and internal, oldest first.
#[utoipa::path(get, path = "/tickets/{id}/comments", tag = "tickets", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = [TicketComment]), (status = 404, body = ErrorBody)))]
async fn list_comments(
    State(state): State<AppState>,
    access: Access,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<Vec<TicketComment>>> {
    let tenant_id = access.principal.tenant_id;
    Ok(Json(
        tickets::comments(&state.db, tenant_id, id, access.visibility()).await?,
    ))
}

/// Comment on a ticket. Internal by default; a public comment shows on the progress page, and the
/// first one is the ticket's first response.
#[utoipa::path(post, path = "/tickets/{id}/comments", tag = "tickets", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = CommentInput,
    responses((status = 201, body = TicketComment), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_comment(
    State(state): State<AppState>,
    access: Access,
    ApiPath(id): ApiPath<Id>,
    ApiJson(input): ApiJson<CommentInput>,
) -> ApiResult<(StatusCode, Json<TicketComment>)> {
    let input = input.validate()?;
    let principal = &access.principal;
    let tx = begin_write(&state.db).await?;
    let comment = tickets::add_comment(
        &tx,
        principal.tenant_id,
        id,
        access.visibility(),
        input.body,
        input.public,
        principal.user_id,
    )
    .await?;
    commit(tx).await?;
    Ok((StatusCode::CREATED, Json(comment)))
}

/// Every change of the ticket: who, when, from, to.
#[utoipa::path(get, path = "/tickets/{id}/history", tag = "tickets", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = [TicketChange]), (status = 404, body = ErrorBody)))]
async fn ticket_history(
    State(state): State<AppState>,
    access: Access,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<Vec<TicketChange>>> {
    let tenant_id = access.principal.tenant_id;
    Ok(Json(
        tickets::history(&state.db, tenant_id, id, access.visibility()).await?,
    ))
}

/// Replace the ticket's progress link; the old one answers 404 from now on.
#[utoipa::path(post, path = "/tickets/{id}/progress-link", tag = "tickets", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = Ticket), (status = 404, body = ErrorBody)))]
async fn rotate_progress_link(
    State(state): State<AppState>,
    access: Access,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<Ticket>> {
    let principal = &access.principal;
    let tx = begin_write(&state.db).await?;
    let ticket =
        tickets::rotate_public_token(&tx, principal.tenant_id, id, access.visibility()).await?;
    audit::record_action(
        &tx,
        principal,
        "rotate_progress_link",
        "ticket",
        &id.to_string(),
        serde_json::Value::Null,
    )
    .await?;
    commit(tx).await?;
    Ok(Json(ticket))
}

/// Save a resolved ticket as a knowledge-base article: its subject, question, resolution note and
/// public answers, linked to the ticket. Fields given in the body replace the draft's (`{}`
/// keeps the draft).
#[utoipa::path(post, path = "/tickets/{id}/article", tag = "tickets", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = SaveAsArticle,
    responses((status = 201, body = Article), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn save_as_article(
    State(state): State<AppState>,
    access: Access,
    ApiPath(id): ApiPath<Id>,
    ApiJson(overrides): ApiJson<SaveAsArticle>,
) -> ApiResult<(StatusCode, Json<Article>)> {
    let principal = &access.principal;
    let Some(scope) = access.scope_of("tickets", "read") else {
        return Err(ApiError::not_found("ticket"));
    };
    let visibility = access.visibility_for(scope);
    let ticket = tickets::get(&state.db, principal.tenant_id, id, visibility).await?;
    if ticket.status.is_open() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "ticket_not_resolved",
            "only a resolved or closed ticket can be saved as an article",
        ));
    }
    let comments = tickets::comments(&state.db, principal.tenant_id, id, visibility).await?;
    let answers: Vec<String> = comments
        .into_iter()
        .filter(|c| c.public)
        .map(|c| c.body)
        .collect();
    let note = ticket.resolution.as_ref().and_then(|r| r.note.as_deref());
    let (title, draft) = draft_from_ticket(&ticket.subject, &ticket.description, note, &answers);
    let input = ArticleInput {
        title: overrides.title.unwrap_or(title),
        body: overrides.body.unwrap_or(draft),
        tags: overrides
            .tags
            .unwrap_or_else(|| ticket.category.iter().cloned().collect()),
        ticket_ids: vec![id],
    };
    let fields = input.validate()?;
    let tx = begin_write(&state.db).await?;
    let article =
        knowledge::create(&tx, principal.tenant_id, fields, Some(principal.user_id)).await?;
    audit::record_change(
        &tx,
        principal,
        "create",
        "article",
        article.id,
        None,
        Some(&article),
    )
    .await?;
    commit(tx).await?;
    Ok((StatusCode::CREATED, Json(article)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveAsArticle {
    pub title: Option<String>,
    pub body: Option<String>,
    pub tags: Option<Vec<String>>,
}
