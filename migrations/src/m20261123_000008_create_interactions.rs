use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Interactions::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Interactions::Id))
                    .col(big_integer(Interactions::TenantId))
                    .col(big_integer(Interactions::CustomerId))
                    .col(string(Interactions::Channel))
                    .col(timestamp_with_time_zone(Interactions::OccurredAt))
                    .col(text(Interactions::Summary))
                    .col(text_null(Interactions::Feedback))
                    .col(big_integer_null(Interactions::LoggedBy))
                    .col(timestamp_with_time_zone(Interactions::CreatedAt))
                    .col(timestamp_with_time_zone(Interactions::UpdatedAt))
                    .foreign_key(&mut crate::tenant_fk(
                        Interactions::Table,
                        Interactions::TenantId,
                    ))
                    .foreign_key(&mut crate::customer_fk(
                        Interactions::Table,
                        Interactions::CustomerId,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Interactions::Table, Interactions::LoggedBy)
                            .to(crate::Users::Table, crate::Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_interactions_customer_occurred")
                    .table(Interactions::Table)
                    .col(Interactions::CustomerId)
                    .col(Interactions::OccurredAt)
                    .col(Interactions::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Interactions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum Interactions {
    Table,
    Id,
    TenantId,
    CustomerId,
    Channel,
    OccurredAt,
    Summary,
    Feedback,
    LoggedBy,
    CreatedAt,
    UpdatedAt,
}
