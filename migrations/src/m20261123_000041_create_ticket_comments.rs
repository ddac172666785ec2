use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Comments on tickets; only public ones reach the customer's progress page.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TicketComments::Table)
                    .if_not_exists()
                    .col(big_pk_auto(TicketComments::Id))
                    .col(big_integer(TicketComments::TenantId))
                    .col(big_integer(TicketComments::TicketId))
                    .col(big_integer_null(TicketComments::AuthorId))
                    .col(boolean(TicketComments::Public))
                    .col(text(TicketComments::Body))
                    .col(timestamp_with_time_zone(TicketComments::CreatedAt))
                    .foreign_key(&mut crate::tenant_fk(
                        TicketComments::Table,
                        TicketComments::TenantId,
                    ))
                    .foreign_key(&mut crate::ticket_fk(
                        TicketComments::Table,
                        TicketComments::TicketId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_ticket_comments_ticket")
                    .table(TicketComments::Table)
                    .col(TicketComments::TicketId)
                    .col(TicketComments::Id)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TicketComments::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum TicketComments {
    Table,
    Id,
    TenantId,
    TicketId,
    AuthorId,
    Public,
    Body,
    CreatedAt,
}
