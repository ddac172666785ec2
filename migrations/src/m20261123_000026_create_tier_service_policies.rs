use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// How a tenant serves each tier: the revisit cadence and the ticket response and resolution
/// targets. Tiers without a row use the defaults of the seed material.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TierServicePolicies::Table)
                    .if_not_exists()
                    .col(big_pk_auto(TierServicePolicies::Id))
                    .col(big_integer(TierServicePolicies::TenantId))
                    .col(string(TierServicePolicies::Tier))
                    .col(integer(TierServicePolicies::RevisitEveryDays))
                    .col(integer(TierServicePolicies::FirstResponseHours))
                    .col(integer(TierServicePolicies::ResolutionHours))
                    .col(timestamp_with_time_zone(TierServicePolicies::UpdatedAt))
                    .foreign_key(&mut crate::tenant_fk(
                        TierServicePolicies::Table,
                        TierServicePolicies::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_tier_service_policies_tenant_tier")
                    .table(TierServicePolicies::Table)
                    .col(TierServicePolicies::TenantId)
                    .col(TierServicePolicies::Tier)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TierServicePolicies::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum TierServicePolicies {
    Table,
    Id,
    TenantId,
    Tier,
    RevisitEveryDays,
    FirstResponseHours,
    ResolutionHours,
    UpdatedAt,
}
