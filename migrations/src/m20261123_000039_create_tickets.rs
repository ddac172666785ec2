use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Service tickets: a customer's complaint, requirement, inquiry or after-sales request, its
/// routing, its SLA clock (`sla_*`, deadlines, `next_sla_check_at` for the scheduler), its
/// resolution and the unguessable token of its public progress page.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tickets::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Tickets::Id))
                    .col(big_integer(Tickets::TenantId))
                    .col(big_integer(Tickets::CustomerId))
                    .col(big_integer_null(Tickets::ContactId))
                    .col(string(Tickets::TicketType))
                    .col(string(Tickets::Priority))
                    .col(string_null(Tickets::Category))
                    .col(string(Tickets::Subject))
                    .col(text(Tickets::Description))
                    .col(string(Tickets::Status))
                    .col(big_integer_null(Tickets::DepartmentId))
                    .col(big_integer_null(Tickets::AssigneeId))
                    .col(big_integer_null(Tickets::SlaPolicyId))
                    .col(string(Tickets::SlaState))
                    .col(big_integer(Tickets::SlaConsumedSeconds))
                    .col(timestamp_with_time_zone_null(Tickets::SlaRunningSince))
                    .col(timestamp_with_time_zone_null(Tickets::FirstResponseDueAt))
                    .col(timestamp_with_time_zone_null(Tickets::ResolutionDueAt))
                    .col(timestamp_with_time_zone_null(Tickets::NextSlaCheckAt))
                    .col(timestamp_with_time_zone_null(Tickets::FirstRespondedAt))
                    .col(timestamp_with_time_zone_null(Tickets::ResolvedAt))
                    .col(timestamp_with_time_zone_null(Tickets::ClosedAt))
                    .col(timestamp_with_time_zone_null(Tickets::EscalatedAt))
                    .col(string_null(Tickets::ResolutionResult))
                    .col(text_null(Tickets::ResolutionNote))
                    .col(string(Tickets::PublicToken))
                    .col(big_integer_null(Tickets::CreatedBy))
                    .col(timestamp_with_time_zone(Tickets::CreatedAt))
                    .col(timestamp_with_time_zone(Tickets::UpdatedAt))
                    .foreign_key(&mut crate::tenant_fk(Tickets::Table, Tickets::TenantId))
                    .foreign_key(&mut crate::customer_fk(Tickets::Table, Tickets::CustomerId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_tickets_tenant_status")
                    .table(Tickets::Table)
                    .col(Tickets::TenantId)
                    .col(Tickets::Status)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_tickets_tenant_assignee")
                    .table(Tickets::Table)
                    .col(Tickets::TenantId)
                    .col(Tickets::AssigneeId)
                    .col(Tickets::Status)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_tickets_tenant_customer")
                    .table(Tickets::Table)
                    .col(Tickets::TenantId)
                    .col(Tickets::CustomerId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_tickets_next_sla_check")
                    .table(Tickets::Table)
                    .col(Tickets::NextSlaCheckAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_tickets_public_token")
                    .table(Tickets::Table)
                    .col(Tickets::PublicToken)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Tickets::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Tickets {
    Table,
    Id,
    TenantId,
    CustomerId,
    ContactId,
    TicketType,
    Priority,
    Category,
    Subject,
    Description,
    Status,
    DepartmentId,
    AssigneeId,
    SlaPolicyId,
    SlaState,
    SlaConsumedSeconds,
    SlaRunningSince,
    FirstResponseDueAt,
    ResolutionDueAt,
    NextSlaCheckAt,
    FirstRespondedAt,
    ResolvedAt,
    ClosedAt,
    EscalatedAt,
    ResolutionResult,
    ResolutionNote,
    PublicToken,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}
