use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tenants::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Tenants::Id))
                    .col(string_uniq(Tenants::Slug))
                    .col(string(Tenants::Name))
                    .col(boolean(Tenants::IsPlatform).default(false))
                    .col(string_len(Tenants::DefaultRegion, 2))
                    .col(string_len(Tenants::DefaultCurrency, 3))
                    .col(json_null(Tenants::CustomFieldSchema))
                    .col(timestamp_with_time_zone(Tenants::CreatedAt))
                    .col(timestamp_with_time_zone(Tenants::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Tenants::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    Slug,
    Name,
    IsPlatform,
    DefaultRegion,
    DefaultCurrency,
    CustomFieldSchema,
    CreatedAt,
    UpdatedAt,
}
