use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Ticket routing: the first rule (by position) matching a ticket's type, category and customer
/// tier sends it to a department, where it is assigned round-robin or to the least loaded member.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RoutingRules::Table)
                    .if_not_exists()
                    .col(big_pk_auto(RoutingRules::Id))
                    .col(big_integer(RoutingRules::TenantId))
                    .col(integer(RoutingRules::Position))
                    .col(string_null(RoutingRules::TicketType))
                    .col(string_null(RoutingRules::Category))
                    .col(string_null(RoutingRules::Tier))
                    .col(big_integer(RoutingRules::DepartmentId))
                    .col(string(RoutingRules::Strategy))
                    .col(big_integer_null(RoutingRules::LastAssigneeId))
                    .col(timestamp_with_time_zone(RoutingRules::CreatedAt))
                    .col(timestamp_with_time_zone(RoutingRules::UpdatedAt))
                    .foreign_key(&mut crate::tenant_fk(
                        RoutingRules::Table,
                        RoutingRules::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_routing_rules_tenant_position")
                    .table(RoutingRules::Table)
                    .col(RoutingRules::TenantId)
                    .col(RoutingRules::Position)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RoutingRules::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum RoutingRules {
    Table,
    Id,
    TenantId,
    Position,
    TicketType,
    Category,
    Tier,
    DepartmentId,
    Strategy,
    LastAssigneeId,
    CreatedAt,
    UpdatedAt,
}
