use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tickets an article was written from or applies to.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(KnowledgeArticleTickets::Table)
                    .if_not_exists()
                    .col(big_pk_auto(KnowledgeArticleTickets::Id))
                    .col(big_integer(KnowledgeArticleTickets::TenantId))
                    .col(big_integer(KnowledgeArticleTickets::ArticleId))
                    .col(big_integer(KnowledgeArticleTickets::TicketId))
                    .foreign_key(&mut crate::tenant_fk(
                        KnowledgeArticleTickets::Table,
                        KnowledgeArticleTickets::TenantId,
                    ))
                    .foreign_key(&mut crate::ticket_fk(
                        KnowledgeArticleTickets::Table,
                        KnowledgeArticleTickets::TicketId,
                    ))
                    .foreign_key(&mut crate::article_fk(
                        KnowledgeArticleTickets::Table,
                        KnowledgeArticleTickets::ArticleId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_knowledge_article_tickets")
                    .table(KnowledgeArticleTickets::Table)
                    .col(KnowledgeArticleTickets::ArticleId)
                    .col(KnowledgeArticleTickets::TicketId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_knowledge_article_tickets_ticket")
                    .table(KnowledgeArticleTickets::Table)
                    .col(KnowledgeArticleTickets::TicketId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(KnowledgeArticleTickets::Table)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum KnowledgeArticleTickets {
    Table,
    Id,
    TenantId,
    ArticleId,
    TicketId,
}
