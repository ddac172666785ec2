//! The customer-facing progress page of a ticket, behind its unguessable token: a small,
//! mobile-friendly HTML page at `/progress/{token}` and the same facts as JSON at
//! `/api/v1/progress/{token}`. Neither needs credentials; neither shows internal comments, staff
//! identities or anything of another ticket. An unknown token gets a 404 page.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiResult, ErrorBody};
use super::extract::ApiPath;
use crate::domain::ticket::PublicTicket;
use crate::store::{StoreError, tickets};

/// The JSON view, nested under `/api/v1`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(progress_json))
}

/// The HTML page, at the root.
pub fn page_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(progress_page))
}

/// A ticket's progress as its customer sees it.
#[utoipa::path(get, path = "/progress/{token}", tag = "progress", params(("token" = String, Path)),
    responses((status = 200, body = PublicTicket), (status = 404, body = ErrorBody)))]
async fn progress_json(
    State(state): State<AppState>,
    ApiPath(token): ApiPath<String>,
) -> ApiResult<Response> {
    let ticket = tickets::public_view(&state.db, &token).await?;
    Ok(private(Json(ticket).into_response()))
}

/// The progress page to send a customer: status, timeline and public answers.
#[utoipa::path(get, path = "/progress/{token}", tag = "progress", params(("token" = String, Path)),
    responses((status = 200, content_type = "text/html"), (status = 404, content_type = "text/html")))]
async fn progress_page(
    State(state): State<AppState>,
    axum::extract::Path(token): axum::extract::Path<String>,
) -> Response {
    let (status, markup) = match tickets::public_view(&state.db, &token).await {
        Ok(ticket) => (StatusCode::OK, ticket_page(&ticket)),
        Err(StoreError::NotFound(_)) => (StatusCode::NOT_FOUND, not_found_page()),
        Err(error) => {
            tracing::error!(%error, "rendering a progress page failed");
            (StatusCode::INTERNAL_SERVER_ERROR, unavailable_page())
        }
    };
    let mut response = (status, Html(markup.into_string())).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    private(response)
}

/// The token is a credential: keep the page out of caches, referrers and search engines.
fn private(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        HeaderName::from_static("x-robots-tag"),
        HeaderValue::from_static("noindex, nofollow"),
    );
    response
}

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;background:#f5f6f8;color:#1d2330;line-height:1.5}
main{max-width:40rem;margin:0 auto;padding:1rem}
header{background:#fff;border-radius:.75rem;padding:1rem 1.25rem;box-shadow:0 1px 3px #0002}
h1{font-size:1.25rem;margin:.25rem 0}
h2{font-size:1rem;margin:1.5rem 0 .5rem}
.reference{color:#5b6475;font-size:.875rem}
.status{display:inline-block;padding:.25rem .75rem;border-radius:1rem;background:#e7efff;color:#1f4fbf;font-weight:600}
ol{list-style:none;padding:0;margin:0}
li{background:#fff;border-radius:.5rem;padding:.75rem 1rem;margin:.5rem 0;box-shadow:0 1px 2px #0001}
time{display:block;color:#5b6475;font-size:.8125rem}
.comment p{margin:.25rem 0 0;white-space:pre-wrap;overflow-wrap:anywhere}
footer{color:#5b6475;font-size:.8125rem;margin:2rem 0 1rem;text-align:center}
";

fn layout(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex, nofollow";
                title { (title) }
                style { (maud::PreEscaped(STYLE)) }
            }
            body { main { (body) } }
        }
    }
}

fn when(at: DateTime<Utc>) -> Markup {
    html! { time datetime=(at.to_rfc3339()) { (at.format("%Y-%m-%d %H:%M UTC")) } }
}

fn ticket_page(ticket: &PublicTicket) -> Markup {
    let title = format!(
        "{} {} — {}",
        ticket.reference,
        ticket.subject,
        ticket.status.label()
    );
    layout(
        &title,
        html! {
            header {
                div class="reference" { "Request " (ticket.reference) }
                h1 id="subject" { (ticket.subject) }
                span class="status" id="status" data-status=(<&str>::from(ticket.status)) { (ticket.status.label()) }
            }
            h2 { "Progress" }
            ol id="timeline" {
                @for change in &ticket.timeline {
                    li class="step" data-status=(<&str>::from(change.status)) {
                        strong { (change.status.label()) }
                        (when(change.at))
                    }
                }
            }
            h2 { "Messages from our team" }
            @if ticket.comments.is_empty() {
                p id="no-comments" { "No messages yet. We will post updates here." }
            } @else {
                ol id="comments" {
                    @for comment in &ticket.comments {
                        li class="comment" { (when(comment.at)) p { (comment.body) } }
                    }
                }
            }
            footer { "Last updated " (when(ticket.updated_at)) }
        },
    )
}

fn not_found_page() -> Markup {
    layout(
        "Link not found",
        html! {
            header id="not-found" {
                h1 { "This link is not valid" }
                p { "The progress link may be mistyped or replaced by a newer one. Please ask us for a new link." }
            }
        },
    )
}

fn unavailable_page() -> Markup {
    layout(
        "Temporarily unavailable",
        html! { header { h1 { "We cannot show this page right now" } p { "Please try again in a few minutes." } } },
    )
}
