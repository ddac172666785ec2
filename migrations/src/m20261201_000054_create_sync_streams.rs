use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Where each stream of a connector stands: the cursor committed with the last imported page
/// (in that page's transaction, which is what makes a sync resumable without loss or
/// duplicates), and when the stream last read to its end.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SyncStreams::Table)
                    .if_not_exists()
                    .col(big_pk_auto(SyncStreams::Id))
                    .col(big_integer(SyncStreams::TenantId))
                    .col(big_integer(SyncStreams::ConnectorId))
                    .col(string(SyncStreams::Stream))
                    .col(text_null(SyncStreams::Cursor))
                    .col(big_integer_null(SyncStreams::LastRunId))
                    .col(timestamp_with_time_zone_null(SyncStreams::LastSuccessAt))
                    .col(timestamp_with_time_zone(SyncStreams::UpdatedAt))
                    .foreign_key(&mut crate::tenant_fk(
                        SyncStreams::Table,
                        SyncStreams::TenantId,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SyncStreams::Table, SyncStreams::ConnectorId)
                            .to(SyncConnectors::Table, SyncConnectors::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_sync_streams_connector_stream")
                    .table(SyncStreams::Table)
                    .col(SyncStreams::ConnectorId)
                    .col(SyncStreams::Stream)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SyncStreams::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum SyncStreams {
    Table,
    Id,
    TenantId,
    ConnectorId,
    Stream,
    Cursor,
    LastRunId,
    LastSuccessAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SyncConnectors {
    Table,
    Id,
}
