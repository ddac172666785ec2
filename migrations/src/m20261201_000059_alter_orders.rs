use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Drops the customer index that `ix_orders_tenant_customer_ordered` already covers (every
/// order query names its tenant, and SQLite keeps the row id in each index entry, PostgreSQL
/// sorts the few ties): each index on the customer puts one more scattered page into every
/// write, and a bulk ERP import touches a page per customer.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_orders_customer_ordered")
                    .table(Orders::Table)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("ix_orders_customer_ordered")
                    .table(Orders::Table)
                    .col(Orders::CustomerId)
                    .col(Orders::OrderedAt)
                    .col(Orders::Id)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    Id,
    CustomerId,
    OrderedAt,
}
