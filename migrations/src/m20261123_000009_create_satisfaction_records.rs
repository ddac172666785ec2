use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SatisfactionRecords::Table)
                    .if_not_exists()
                    .col(big_pk_auto(SatisfactionRecords::Id))
                    .col(big_integer(SatisfactionRecords::TenantId))
                    .col(big_integer(SatisfactionRecords::CustomerId))
                    .col(string(SatisfactionRecords::Kind))
                    .col(double(SatisfactionRecords::Value))
                    .col(string(SatisfactionRecords::Source))
                    .col(text_null(SatisfactionRecords::Note))
                    .col(timestamp_with_time_zone(SatisfactionRecords::RecordedAt))
                    .col(timestamp_with_time_zone(SatisfactionRecords::CreatedAt))
                    .foreign_key(&mut crate::tenant_fk(
                        SatisfactionRecords::Table,
                        SatisfactionRecords::TenantId,
                    ))
                    .foreign_key(&mut crate::customer_fk(
                        SatisfactionRecords::Table,
                        SatisfactionRecords::CustomerId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_satisfaction_customer_recorded")
                    .table(SatisfactionRecords::Table)
                    .col(SatisfactionRecords::CustomerId)
                    .col(SatisfactionRecords::RecordedAt)
                    .col(SatisfactionRecords::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SatisfactionRecords::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum SatisfactionRecords {
    Table,
    Id,
    TenantId,
    CustomerId,
    Kind,
    Value,
    Source,
    Note,
    RecordedAt,
    CreatedAt,
}
