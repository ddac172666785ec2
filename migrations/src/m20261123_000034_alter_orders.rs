use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Aggregates the orders of a page of customers (tenant and customer ids known) by index: without it SQLite answers `tenant_id = ? AND customer_id IN (…)` from the tenant's source index, reading every order of the tenant.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("ix_orders_tenant_customer_ordered")
                    .table(Orders::Table)
                    .col(Orders::TenantId)
                    .col(Orders::CustomerId)
                    .col(Orders::OrderedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_orders_tenant_customer_ordered")
                    .table(Orders::Table)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    TenantId,
    CustomerId,
    OrderedAt,
}
