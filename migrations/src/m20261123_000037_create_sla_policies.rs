use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// SLA policies: first-response and resolution targets for tickets matching a type, priority and
/// customer tier (each criterion optional), counted on the business or the around-the-clock clock.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SlaPolicies::Table)
                    .if_not_exists()
                    .col(big_pk_auto(SlaPolicies::Id))
                    .col(big_integer(SlaPolicies::TenantId))
                    .col(string_null(SlaPolicies::Key))
                    .col(string(SlaPolicies::Name))
                    .col(string_null(SlaPolicies::TicketType))
                    .col(string_null(SlaPolicies::Priority))
                    .col(string_null(SlaPolicies::Tier))
                    .col(string(SlaPolicies::Clock))
                    .col(integer_null(SlaPolicies::FirstResponseMinutes))
                    .col(integer_null(SlaPolicies::ResolutionMinutes))
                    .col(integer(SlaPolicies::AtRiskPercent))
                    .col(timestamp_with_time_zone(SlaPolicies::CreatedAt))
                    .col(timestamp_with_time_zone(SlaPolicies::UpdatedAt))
                    .foreign_key(&mut crate::tenant_fk(
                        SlaPolicies::Table,
                        SlaPolicies::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_sla_policies_tenant")
                    .table(SlaPolicies::Table)
                    .col(SlaPolicies::TenantId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_sla_policies_tenant_key")
                    .table(SlaPolicies::Table)
                    .col(SlaPolicies::TenantId)
                    .col(SlaPolicies::Key)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SlaPolicies::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum SlaPolicies {
    Table,
    Id,
    TenantId,
    Key,
    Name,
    TicketType,
    Priority,
    Tier,
    Clock,
    FirstResponseMinutes,
    ResolutionMinutes,
    AtRiskPercent,
    CreatedAt,
    UpdatedAt,
}
