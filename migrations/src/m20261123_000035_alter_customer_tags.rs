use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Reads the tags of a page of customers by index: without it SQLite answers `tenant_id = ? AND customer_id IN (…)` from the tenant-and-tag index, reading every tag of the tenant.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("ix_customer_tags_tenant_customer")
                    .table(CustomerTags::Table)
                    .col(CustomerTags::TenantId)
                    .col(CustomerTags::CustomerId)
                    .col(CustomerTags::Tag)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_customer_tags_tenant_customer")
                    .table(CustomerTags::Table)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum CustomerTags {
    Table,
    TenantId,
    CustomerId,
    Tag,
}
