use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The run log: recent invocations of each plugin per tenant, with outcome, cost and what the
/// plugin logged (secrets already redacted).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PluginRuns::Table)
                    .if_not_exists()
                    .col(big_pk_auto(PluginRuns::Id))
                    .col(big_integer(PluginRuns::TenantId))
                    .col(string(PluginRuns::PluginId))
                    .col(string(PluginRuns::Version))
                    .col(string(PluginRuns::Export))
                    .col(timestamp_with_time_zone(PluginRuns::StartedAt))
                    .col(big_integer(PluginRuns::DurationUs))
                    .col(string(PluginRuns::Outcome))
                    .col(text_null(PluginRuns::Error))
                    .col(big_integer_null(PluginRuns::FuelUsed))
                    .col(text(PluginRuns::Log))
                    .foreign_key(&mut crate::tenant_fk(
                        PluginRuns::Table,
                        PluginRuns::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_plugin_runs_tenant_plugin")
                    .table(PluginRuns::Table)
                    .col(PluginRuns::TenantId)
                    .col(PluginRuns::PluginId)
                    .col(PluginRuns::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PluginRuns::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum PluginRuns {
    Table,
    Id,
    TenantId,
    PluginId,
    Version,
    Export,
    StartedAt,
    DurationUs,
    Outcome,
    Error,
    FuelUsed,
    Log,
}
