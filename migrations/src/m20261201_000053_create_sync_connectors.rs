use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A tenant's ERP connector as the sync engine runs it: the plugin, the `source` its orders and
/// customer links are filed under, the sync settings (JSON: schedule, page size, rate limit,
/// retries, matching), when it is next due, and the lease of the process running it now. The
/// plugin's own configuration stays in `tenant_plugins`.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SyncConnectors::Table)
                    .if_not_exists()
                    .col(big_pk_auto(SyncConnectors::Id))
                    .col(big_integer(SyncConnectors::TenantId))
                    .col(string(SyncConnectors::PluginId))
                    .col(string(SyncConnectors::Source))
                    .col(text(SyncConnectors::Settings))
                    .col(boolean(SyncConnectors::Enabled))
                    .col(timestamp_with_time_zone_null(SyncConnectors::NextRunAt))
                    .col(string_null(SyncConnectors::LeaseOwner))
                    .col(timestamp_with_time_zone_null(SyncConnectors::LeaseUntil))
                    .col(timestamp_with_time_zone(SyncConnectors::CreatedAt))
                    .col(timestamp_with_time_zone(SyncConnectors::UpdatedAt))
                    .foreign_key(&mut crate::tenant_fk(
                        SyncConnectors::Table,
                        SyncConnectors::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("ux_sync_connectors_plugin", SyncConnectors::PluginId),
            ("ux_sync_connectors_source", SyncConnectors::Source),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(SyncConnectors::Table)
                        .col(SyncConnectors::TenantId)
                        .col(column)
                        .unique()
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("ix_sync_connectors_due")
                    .table(SyncConnectors::Table)
                    .col(SyncConnectors::NextRunAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SyncConnectors::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum SyncConnectors {
    Table,
    Id,
    TenantId,
    PluginId,
    Source,
    Settings,
    Enabled,
    NextRunAt,
    LeaseOwner,
    LeaseUntil,
    CreatedAt,
    UpdatedAt,
}
