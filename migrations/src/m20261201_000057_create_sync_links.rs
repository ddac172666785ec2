use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Which CRM customer an external customer is: one row per (source, external id), made when a
/// synced customer was matched, created or linked from the review queue. `fingerprint` is a hash
/// of the record as last read, so a record read again unchanged writes nothing.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SyncLinks::Table)
                    .if_not_exists()
                    .col(big_pk_auto(SyncLinks::Id))
                    .col(big_integer(SyncLinks::TenantId))
                    .col(string(SyncLinks::Source))
                    .col(string(SyncLinks::ExternalId))
                    .col(big_integer(SyncLinks::CustomerId))
                    .col(string(SyncLinks::MatchedBy))
                    .col(string(SyncLinks::Fingerprint))
                    .col(timestamp_with_time_zone(SyncLinks::CreatedAt))
                    .col(timestamp_with_time_zone(SyncLinks::UpdatedAt))
                    .foreign_key(&mut crate::tenant_fk(SyncLinks::Table, SyncLinks::TenantId))
                    .foreign_key(&mut crate::customer_fk(
                        SyncLinks::Table,
                        SyncLinks::CustomerId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_sync_links_source_external")
                    .table(SyncLinks::Table)
                    .col(SyncLinks::TenantId)
                    .col(SyncLinks::Source)
                    .col(SyncLinks::ExternalId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_sync_links_customer")
                    .table(SyncLinks::Table)
                    .col(SyncLinks::CustomerId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SyncLinks::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum SyncLinks {
    Table,
    Id,
    TenantId,
    Source,
    ExternalId,
    CustomerId,
    MatchedBy,
    Fingerprint,
    CreatedAt,
    UpdatedAt,
}
