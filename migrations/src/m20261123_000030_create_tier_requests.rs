use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Customers waiting to be re-tiered after an event (order, interaction, survey response,
/// ticket). Each new event for a customer pushes `due_at` back, so a burst of events costs one
/// evaluation once it settles (the debounce).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TierRequests::Table)
                    .if_not_exists()
                    .col(big_pk_auto(TierRequests::Id))
                    .col(big_integer(TierRequests::TenantId))
                    .col(big_integer(TierRequests::CustomerId))
                    .col(timestamp_with_time_zone(TierRequests::DueAt))
                    .foreign_key(&mut crate::tenant_fk(
                        TierRequests::Table,
                        TierRequests::TenantId,
                    ))
                    .foreign_key(&mut crate::customer_fk(
                        TierRequests::Table,
                        TierRequests::CustomerId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_tier_requests_customer")
                    .table(TierRequests::Table)
                    .col(TierRequests::TenantId)
                    .col(TierRequests::CustomerId)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TierRequests::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum TierRequests {
    Table,
    Id,
    TenantId,
    CustomerId,
    DueAt,
}
