use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// One sync of a connector: what started it, which process ran it, how it ended (`running`,
/// `succeeded`, `failed`, `interrupted` when its process died), the error that ended it, and
/// how many reads were retried.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SyncRuns::Table)
                    .if_not_exists()
                    .col(big_pk_auto(SyncRuns::Id))
                    .col(big_integer(SyncRuns::TenantId))
                    .col(big_integer(SyncRuns::ConnectorId))
                    .col(string(SyncRuns::PluginId))
                    .col(string(SyncRuns::Trigger))
                    .col(string(SyncRuns::RunBy))
                    .col(string(SyncRuns::Outcome))
                    .col(integer(SyncRuns::Retries))
                    .col(string_null(SyncRuns::ErrorCode))
                    .col(text_null(SyncRuns::ErrorMessage))
                    .col(timestamp_with_time_zone(SyncRuns::StartedAt))
                    .col(timestamp_with_time_zone_null(SyncRuns::FinishedAt))
                    .foreign_key(&mut crate::tenant_fk(SyncRuns::Table, SyncRuns::TenantId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SyncRuns::Table, SyncRuns::ConnectorId)
                            .to(SyncConnectors::Table, SyncConnectors::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_sync_runs_connector")
                    .table(SyncRuns::Table)
                    .col(SyncRuns::TenantId)
                    .col(SyncRuns::ConnectorId)
                    .col(SyncRuns::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SyncRuns::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum SyncRuns {
    Table,
    Id,
    TenantId,
    ConnectorId,
    PluginId,
    Trigger,
    RunBy,
    Outcome,
    Retries,
    ErrorCode,
    ErrorMessage,
    StartedAt,
    FinishedAt,
}

#[derive(DeriveIden)]
enum SyncConnectors {
    Table,
    Id,
}
