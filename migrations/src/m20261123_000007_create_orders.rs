use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Orders::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Orders::Id))
                    .col(big_integer(Orders::TenantId))
                    .col(big_integer(Orders::CustomerId))
                    .col(string(Orders::Source))
                    .col(string(Orders::ExternalId))
                    // Money is stored exactly, as an integer count of 1/10,000 of the currency
                    // unit, so sums stay exact on every backend (SQLite has no decimal type).
                    .col(big_integer(Orders::AmountE4))
                    .col(string_len(Orders::Currency, 3))
                    .col(string_null(Orders::Product))
                    .col(string_null(Orders::Category))
                    .col(timestamp_with_time_zone(Orders::OrderedAt))
                    .col(string(Orders::Status))
                    .col(timestamp_with_time_zone(Orders::CreatedAt))
                    .col(timestamp_with_time_zone(Orders::UpdatedAt))
                    .foreign_key(&mut crate::tenant_fk(Orders::Table, Orders::TenantId))
                    .foreign_key(&mut crate::customer_fk(Orders::Table, Orders::CustomerId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_orders_tenant_source_external")
                    .table(Orders::Table)
                    .col(Orders::TenantId)
                    .col(Orders::Source)
                    .col(Orders::ExternalId)
                    .unique()
                    .to_owned(),
            )
            .await?;
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

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Orders::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum Orders {
    Table,
    Id,
    TenantId,
    CustomerId,
    Source,
    ExternalId,
    AmountE4,
    Currency,
    Product,
    Category,
    OrderedAt,
    Status,
    CreatedAt,
    UpdatedAt,
}
