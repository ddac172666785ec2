use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The review queue: synced records the engine could not place (no matching customer, several,
/// an order of an unplaced customer, an invalid record), kept whole until someone links,
/// creates or dismisses them. One row per (source, kind, external id): a record read again
/// refreshes its row instead of queueing twice.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SyncReviews::Table)
                    .if_not_exists()
                    .col(big_pk_auto(SyncReviews::Id))
                    .col(big_integer(SyncReviews::TenantId))
                    .col(big_integer(SyncReviews::ConnectorId))
                    .col(string(SyncReviews::Source))
                    .col(string(SyncReviews::Kind))
                    .col(string(SyncReviews::ExternalId))
                    .col(string_null(SyncReviews::CustomerExternalId))
                    .col(text(SyncReviews::Record))
                    .col(string(SyncReviews::Reason))
                    .col(text(SyncReviews::Detail))
                    .col(string(SyncReviews::Status))
                    .col(big_integer_null(SyncReviews::CustomerId))
                    .col(big_integer_null(SyncReviews::ResolvedBy))
                    .col(timestamp_with_time_zone(SyncReviews::CreatedAt))
                    .col(timestamp_with_time_zone(SyncReviews::UpdatedAt))
                    .foreign_key(&mut crate::tenant_fk(
                        SyncReviews::Table,
                        SyncReviews::TenantId,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SyncReviews::Table, SyncReviews::ConnectorId)
                            .to(SyncConnectors::Table, SyncConnectors::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_sync_reviews_record")
                    .table(SyncReviews::Table)
                    .col(SyncReviews::TenantId)
                    .col(SyncReviews::Source)
                    .col(SyncReviews::Kind)
                    .col(SyncReviews::ExternalId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_sync_reviews_status")
                    .table(SyncReviews::Table)
                    .col(SyncReviews::TenantId)
                    .col(SyncReviews::Status)
                    .col(SyncReviews::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_sync_reviews_waiting_orders")
                    .table(SyncReviews::Table)
                    .col(SyncReviews::TenantId)
                    .col(SyncReviews::Source)
                    .col(SyncReviews::CustomerExternalId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SyncReviews::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum SyncReviews {
    Table,
    Id,
    TenantId,
    ConnectorId,
    Source,
    Kind,
    ExternalId,
    CustomerExternalId,
    Record,
    Reason,
    Detail,
    Status,
    CustomerId,
    ResolvedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SyncConnectors {
    Table,
    Id,
}
