use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Contacts::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Contacts::Id))
                    .col(big_integer(Contacts::TenantId))
                    .col(big_integer(Contacts::CustomerId))
                    .col(string(Contacts::Name))
                    .col(string_null(Contacts::Title))
                    .col(string_null(Contacts::Phone))
                    .col(string_null(Contacts::Email))
                    .col(string_null(Contacts::WechatId))
                    .col(boolean(Contacts::IsPrimary).default(false))
                    .col(timestamp_with_time_zone(Contacts::CreatedAt))
                    .col(timestamp_with_time_zone(Contacts::UpdatedAt))
                    .foreign_key(&mut crate::tenant_fk(Contacts::Table, Contacts::TenantId))
                    .foreign_key(&mut crate::customer_fk(
                        Contacts::Table,
                        Contacts::CustomerId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_contacts_customer")
                    .table(Contacts::Table)
                    .col(Contacts::CustomerId)
                    .col(Contacts::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Contacts::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum Contacts {
    Table,
    Id,
    TenantId,
    CustomerId,
    Name,
    Title,
    Phone,
    Email,
    WechatId,
    IsPrimary,
    CreatedAt,
    UpdatedAt,
}
