use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Knowledge-base articles: a title, a markdown body and tags (a JSON array of strings).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(KnowledgeArticles::Table)
                    .if_not_exists()
                    .col(big_pk_auto(KnowledgeArticles::Id))
                    .col(big_integer(KnowledgeArticles::TenantId))
                    .col(string(KnowledgeArticles::Title))
                    .col(text(KnowledgeArticles::Body))
                    .col(text(KnowledgeArticles::Tags))
                    .col(big_integer_null(KnowledgeArticles::CreatedBy))
                    .col(timestamp_with_time_zone(KnowledgeArticles::CreatedAt))
                    .col(timestamp_with_time_zone(KnowledgeArticles::UpdatedAt))
                    .foreign_key(&mut crate::tenant_fk(
                        KnowledgeArticles::Table,
                        KnowledgeArticles::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_knowledge_articles_tenant")
                    .table(KnowledgeArticles::Table)
                    .col(KnowledgeArticles::TenantId)
                    .col(KnowledgeArticles::UpdatedAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(KnowledgeArticles::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum KnowledgeArticles {
    Table,
    Id,
    TenantId,
    Title,
    Body,
    Tags,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}
