//! The knowledge base: articles with search.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::audit;
use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use crate::domain::Id;
use crate::domain::identity::Principal;
use crate::domain::knowledge::{Article, ArticleFilter, ArticleInput};
use crate::domain::page::{Page, PageRequest};
use crate::store::{begin_write, commit, knowledge};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search_articles, create_article))
        .routes(routes!(get_article, replace_article, delete_article))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ArticleQuery {
    /// Words that must all appear in the title, body or tags (case-insensitive).
    q: Option<String>,
    /// Only articles with this tag.
    tag: Option<String>,
    /// Only articles linked to this ticket.
    ticket_id: Option<Id>,
    /// 1–200, default 50.
    limit: Option<u64>,
    cursor: Option<String>,
}

/// Search the knowledge base, newest first.
#[utoipa::path(get, path = "/knowledge/articles", tag = "knowledge", security(("bearer" = [])),
    params(ArticleQuery), responses((status = 200, body = Page<Article>), (status = 422, body = ErrorBody)))]
async fn search_articles(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<ArticleQuery>,
) -> ApiResult<Json<Page<Article>>> {
    let page = PageRequest::parse(query.limit, query.cursor.as_deref(), knowledge::SORT)?;
    let filter = ArticleFilter::new(query.q.as_deref(), query.tag.as_deref(), query.ticket_id);
    Ok(Json(
        knowledge::search(&state.db, principal.tenant_id, &filter, &page).await?,
    ))
}

/// Write an article: a title, a markdown body, tags and the tickets it answers.
#[utoipa::path(post, path = "/knowledge/articles", tag = "knowledge", security(("bearer" = [])),
    request_body = ArticleInput,
    responses((status = 201, body = Article), (status = 422, body = ErrorBody)))]
async fn create_article(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(input): ApiJson<ArticleInput>,
) -> ApiResult<(StatusCode, Json<Article>)> {
    let fields = input.validate()?;
    let tx = begin_write(&state.db).await?;
    let article =
        knowledge::create(&tx, principal.tenant_id, fields, Some(principal.user_id)).await?;
    audit::record_change(
        &tx,
        &principal,
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

#[utoipa::path(get, path = "/knowledge/articles/{id}", tag = "knowledge", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = Article), (status = 404, body = ErrorBody)))]
async fn get_article(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<Article>> {
    Ok(Json(
        knowledge::get(&state.db, principal.tenant_id, id).await?,
    ))
}

#[utoipa::path(put, path = "/knowledge/articles/{id}", tag = "knowledge", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = ArticleInput,
    responses((status = 200, body = Article), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn replace_article(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
    ApiJson(input): ApiJson<ArticleInput>,
) -> ApiResult<Json<Article>> {
    let fields = input.validate()?;
    let tx = begin_write(&state.db).await?;
    let before = knowledge::get(&tx, principal.tenant_id, id).await?;
    let article = knowledge::update(&tx, principal.tenant_id, id, fields).await?;
    audit::record_change(
        &tx,
        &principal,
        "update",
        "article",
        id,
        Some(&before),
        Some(&article),
    )
    .await?;
    commit(tx).await?;
    Ok(Json(article))
}

#[utoipa::path(delete, path = "/knowledge/articles/{id}", tag = "knowledge", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_article(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<StatusCode> {
    let tx = begin_write(&state.db).await?;
    let before = knowledge::get(&tx, principal.tenant_id, id).await?;
    knowledge::delete(&tx, principal.tenant_id, id).await?;
    audit::record_change(
        &tx,
        &principal,
        "delete",
        "article",
        id,
        Some(&before),
        None,
    )
    .await?;
    commit(tx).await?;
    Ok(StatusCode::NO_CONTENT)
}
