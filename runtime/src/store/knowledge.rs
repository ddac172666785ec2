//! Knowledge-base articles and the tickets they link to. Search matches every word of the query
//! against title, body and tags, case-insensitively, on both backends.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::sea_query::{Expr, Func, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::entity::{knowledge_article, knowledge_article_ticket, ticket};
use super::{StoreError, StoreResult};
use crate::domain::knowledge::{Article, ArticleFields, ArticleFilter};
use crate::domain::page::{Cursor, Page, PageRequest};
use crate::domain::{Id, ValidationErrors};

/// Most recently updated first is what a reader wants; the cursor pages by id, newest first.
pub const SORT: &str = "-id";

fn to_domain(row: knowledge_article::Model, ticket_ids: Vec<Id>) -> StoreResult<Article> {
    let tags: Vec<String> = serde_json::from_str(&row.tags)
        .map_err(|error| StoreError::Corrupt(format!("knowledge_articles.tags: {error}")))?;
    Ok(Article {
        id: row.id,
        title: row.title,
        body: row.body,
        tags,
        ticket_ids,
        created_by: row.created_by,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

async fn links_of(
    db: &impl ConnectionTrait,
    article_ids: &[Id],
) -> StoreResult<HashMap<Id, Vec<Id>>> {
    let mut links: HashMap<Id, Vec<Id>> = HashMap::new();
    if article_ids.is_empty() {
        return Ok(links);
    }
    let rows = knowledge_article_ticket::Entity::find()
        .filter(knowledge_article_ticket::Column::ArticleId.is_in(article_ids.iter().copied()))
        .order_by_asc(knowledge_article_ticket::Column::TicketId)
        .all(db)
        .await?;
    for row in rows {
        links.entry(row.article_id).or_default().push(row.ticket_id);
    }
    Ok(links)
}

async fn check_tickets(db: &impl ConnectionTrait, tenant_id: Id, ids: &[Id]) -> StoreResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let found = ticket::Entity::find()
        .filter(ticket::Column::TenantId.eq(tenant_id))
        .filter(ticket::Column::Id.is_in(ids.iter().copied()))
        .count(db)
        .await?;
    if found != ids.len() as u64 {
        return Err(ValidationErrors::single(
            "ticket_ids",
            "unknown_ticket",
            "ticket_ids names a ticket this tenant does not have",
        )
        .into());
    }
    Ok(())
}

async fn replace_links(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    article_id: Id,
    ticket_ids: &[Id],
) -> StoreResult<()> {
    knowledge_article_ticket::Entity::delete_many()
        .filter(knowledge_article_ticket::Column::ArticleId.eq(article_id))
        .exec(db)
        .await?;
    if ticket_ids.is_empty() {
        return Ok(());
    }
    let rows = ticket_ids
        .iter()
        .map(|ticket_id| knowledge_article_ticket::ActiveModel {
            tenant_id: Set(tenant_id),
            article_id: Set(article_id),
            ticket_id: Set(*ticket_id),
            ..Default::default()
        });
    knowledge_article_ticket::Entity::insert_many(rows)
        .exec(db)
        .await?;
    Ok(())
}

fn tags_json(tags: &[String]) -> String {
    serde_json::to_string(tags).expect("strings serialise")
}

pub async fn create(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    fields: ArticleFields,
    created_by: Option<Id>,
) -> StoreResult<Article> {
    check_tickets(db, tenant_id, &fields.ticket_ids).await?;
    let now = Utc::now();
    let row = knowledge_article::ActiveModel {
        tenant_id: Set(tenant_id),
        title: Set(fields.title),
        body: Set(fields.body),
        tags: Set(tags_json(&fields.tags)),
        created_by: Set(created_by),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    replace_links(db, tenant_id, row.id, &fields.ticket_ids).await?;
    to_domain(row, fields.ticket_ids)
}

async fn find(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    id: Id,
) -> StoreResult<knowledge_article::Model> {
    knowledge_article::Entity::find_by_id(id)
        .filter(knowledge_article::Column::TenantId.eq(tenant_id))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("article"))
}

pub async fn get(db: &impl ConnectionTrait, tenant_id: Id, id: Id) -> StoreResult<Article> {
    let row = find(db, tenant_id, id).await?;
    let links = links_of(db, &[row.id])
        .await?
        .remove(&row.id)
        .unwrap_or_default();
    to_domain(row, links)
}

pub async fn update(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    id: Id,
    fields: ArticleFields,
) -> StoreResult<Article> {
    let row = find(db, tenant_id, id).await?;
    check_tickets(db, tenant_id, &fields.ticket_ids).await?;
    let mut update: knowledge_article::ActiveModel = row.into();
    update.title = Set(fields.title);
    update.body = Set(fields.body);
    update.tags = Set(tags_json(&fields.tags));
    update.updated_at = Set(Utc::now());
    let row = update.update(db).await?;
    replace_links(db, tenant_id, row.id, &fields.ticket_ids).await?;
    to_domain(row, fields.ticket_ids)
}

pub async fn delete(db: &impl ConnectionTrait, tenant_id: Id, id: Id) -> StoreResult<()> {
    let row = find(db, tenant_id, id).await?;
    knowledge_article::Entity::delete_by_id(row.id)
        .exec(db)
        .await?;
    Ok(())
}

/// `LIKE` wildcards in a user's words match themselves.
fn like_pattern(word: &str) -> String {
    let escaped = word
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

fn contains(column: knowledge_article::Column, word: &str) -> Condition {
    use sea_orm::sea_query::ExprTrait as _;
    let lowered = Expr::expr(Func::lower(Expr::col(column)));
    Condition::all()
        .add(lowered.like(sea_orm::sea_query::LikeExpr::new(like_pattern(word)).escape('\\')))
}

fn search_condition(tenant_id: Id, filter: &ArticleFilter) -> Condition {
    let mut condition = Condition::all().add(knowledge_article::Column::TenantId.eq(tenant_id));
    for word in &filter.words {
        condition = condition.add(
            Condition::any()
                .add(contains(knowledge_article::Column::Title, word))
                .add(contains(knowledge_article::Column::Body, word))
                .add(contains(knowledge_article::Column::Tags, word)),
        );
    }
    if let Some(tag) = &filter.tag {
        // Tags are stored as a JSON array of strings: the quoted tag matches exactly one tag.
        let quoted = serde_json::to_string(tag).expect("strings serialise");
        condition = condition.add(contains(knowledge_article::Column::Tags, &quoted));
    }
    if let Some(ticket_id) = filter.ticket_id {
        let linked = Query::select()
            .column(knowledge_article_ticket::Column::ArticleId)
            .from(knowledge_article_ticket::Entity)
            .and_where(knowledge_article_ticket::Column::TicketId.eq(ticket_id))
            .to_owned();
        condition = condition.add(knowledge_article::Column::Id.in_subquery(linked));
    }
    condition
}

/// Articles matching `filter`, newest first.
pub async fn search(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    filter: &ArticleFilter,
    page: &PageRequest,
) -> StoreResult<Page<Article>> {
    let mut condition = search_condition(tenant_id, filter);
    if let Some(cursor) = &page.after {
        condition = condition.add(knowledge_article::Column::Id.lt(cursor.id));
    }
    let rows = knowledge_article::Entity::find()
        .filter(condition)
        .order_by_desc(knowledge_article::Column::Id)
        .limit(page.limit + 1)
        .all(db)
        .await?;
    let ids: Vec<Id> = rows.iter().map(|row| row.id).collect();
    let mut links = links_of(db, &ids).await?;
    let articles = rows
        .into_iter()
        .map(|row| {
            let linked = links.remove(&row.id).unwrap_or_default();
            to_domain(row, linked)
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_rows(articles, page.limit, |article| Cursor {
        sort: SORT.to_owned(),
        value: article.id.to_string(),
        id: article.id,
    }))
}
