use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// One stream within a sync run: pages and records read, inserted, updated, unchanged and sent
/// to review, its duration and outcome. The counters move in each page's transaction, so they
/// always match what was committed.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SyncRunStreams::Table)
                    .if_not_exists()
                    .col(big_pk_auto(SyncRunStreams::Id))
                    .col(big_integer(SyncRunStreams::TenantId))
                    .col(big_integer(SyncRunStreams::RunId))
                    .col(string(SyncRunStreams::Stream))
                    .col(string(SyncRunStreams::Outcome))
                    .col(big_integer(SyncRunStreams::Pages))
                    .col(big_integer(SyncRunStreams::RecordsRead))
                    .col(big_integer(SyncRunStreams::Inserted))
                    .col(big_integer(SyncRunStreams::Updated))
                    .col(big_integer(SyncRunStreams::Unchanged))
                    .col(big_integer(SyncRunStreams::Unmatched))
                    .col(string_null(SyncRunStreams::ErrorCode))
                    .col(text_null(SyncRunStreams::ErrorMessage))
                    .col(timestamp_with_time_zone(SyncRunStreams::StartedAt))
                    .col(timestamp_with_time_zone_null(SyncRunStreams::FinishedAt))
                    .foreign_key(&mut crate::tenant_fk(
                        SyncRunStreams::Table,
                        SyncRunStreams::TenantId,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SyncRunStreams::Table, SyncRunStreams::RunId)
                            .to(SyncRuns::Table, SyncRuns::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_sync_run_streams_run_stream")
                    .table(SyncRunStreams::Table)
                    .col(SyncRunStreams::RunId)
                    .col(SyncRunStreams::Stream)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SyncRunStreams::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum SyncRunStreams {
    Table,
    Id,
    TenantId,
    RunId,
    Stream,
    Outcome,
    Pages,
    RecordsRead,
    Inserted,
    Updated,
    Unchanged,
    Unmatched,
    ErrorCode,
    ErrorMessage,
    StartedAt,
    FinishedAt,
}

#[derive(DeriveIden)]
enum SyncRuns {
    Table,
    Id,
}
