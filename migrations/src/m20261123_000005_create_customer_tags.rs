use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CustomerTags::Table)
                    .if_not_exists()
                    .col(big_pk_auto(CustomerTags::Id))
                    .col(big_integer(CustomerTags::TenantId))
                    .col(big_integer(CustomerTags::CustomerId))
                    .col(string(CustomerTags::Tag))
                    .foreign_key(&mut crate::tenant_fk(
                        CustomerTags::Table,
                        CustomerTags::TenantId,
                    ))
                    .foreign_key(&mut crate::customer_fk(
                        CustomerTags::Table,
                        CustomerTags::CustomerId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_customer_tags_customer_tag")
                    .table(CustomerTags::Table)
                    .col(CustomerTags::CustomerId)
                    .col(CustomerTags::Tag)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_customer_tags_tenant_tag")
                    .table(CustomerTags::Table)
                    .col(CustomerTags::TenantId)
                    .col(CustomerTags::Tag)
                    .col(CustomerTags::CustomerId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CustomerTags::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum CustomerTags {
    Table,
    Id,
    TenantId,
    CustomerId,
    Tag,
}
