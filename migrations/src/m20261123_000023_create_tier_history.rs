use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A customer's tier changes: one row each time a policy moves the customer to another tier,
/// with the score and reasons of that decision and the policy that made it.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TierHistory::Table)
                    .if_not_exists()
                    .col(big_pk_auto(TierHistory::Id))
                    .col(big_integer(TierHistory::TenantId))
                    .col(big_integer(TierHistory::CustomerId))
                    .col(string_null(TierHistory::FromTier))
                    .col(string(TierHistory::ToTier))
                    .col(double(TierHistory::Score))
                    .col(text(TierHistory::Reasons))
                    .col(string(TierHistory::PluginId))
                    .col(string(TierHistory::PluginVersion))
                    .col(timestamp_with_time_zone(TierHistory::ChangedAt))
                    .foreign_key(&mut crate::tenant_fk(
                        TierHistory::Table,
                        TierHistory::TenantId,
                    ))
                    .foreign_key(&mut crate::customer_fk(
                        TierHistory::Table,
                        TierHistory::CustomerId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_tier_history_customer")
                    .table(TierHistory::Table)
                    .col(TierHistory::CustomerId)
                    .col(TierHistory::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TierHistory::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum TierHistory {
    Table,
    Id,
    TenantId,
    CustomerId,
    FromTier,
    ToTier,
    Score,
    Reasons,
    PluginId,
    PluginVersion,
    ChangedAt,
}
