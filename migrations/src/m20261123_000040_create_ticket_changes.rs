use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Every change of a ticket (status, priority, assignment, SLA state): who, when, from, to.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TicketChanges::Table)
                    .if_not_exists()
                    .col(big_pk_auto(TicketChanges::Id))
                    .col(big_integer(TicketChanges::TenantId))
                    .col(big_integer(TicketChanges::TicketId))
                    .col(big_integer_null(TicketChanges::ActorId))
                    .col(string(TicketChanges::Field))
                    .col(string_null(TicketChanges::FromValue))
                    .col(string_null(TicketChanges::ToValue))
                    .col(text_null(TicketChanges::Note))
                    .col(timestamp_with_time_zone(TicketChanges::CreatedAt))
                    .foreign_key(&mut crate::tenant_fk(
                        TicketChanges::Table,
                        TicketChanges::TenantId,
                    ))
                    .foreign_key(&mut crate::ticket_fk(
                        TicketChanges::Table,
                        TicketChanges::TicketId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_ticket_changes_ticket")
                    .table(TicketChanges::Table)
                    .col(TicketChanges::TicketId)
                    .col(TicketChanges::Id)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TicketChanges::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum TicketChanges {
    Table,
    Id,
    TenantId,
    TicketId,
    ActorId,
    Field,
    FromValue,
    ToValue,
    Note,
    CreatedAt,
}
