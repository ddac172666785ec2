use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A tenant's use of a plugin: the active version, the one before it (for rollback), the
/// configuration (secrets sealed separately) and the HTTP hosts the tenant granted.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TenantPlugins::Table)
                    .if_not_exists()
                    .col(big_pk_auto(TenantPlugins::Id))
                    .col(big_integer(TenantPlugins::TenantId))
                    .col(string(TenantPlugins::PluginId))
                    .col(string(TenantPlugins::Version))
                    .col(string_null(TenantPlugins::PreviousVersion))
                    .col(boolean(TenantPlugins::Enabled))
                    .col(text(TenantPlugins::Config))
                    .col(text_null(TenantPlugins::SealedSecrets))
                    .col(text(TenantPlugins::GrantedHosts))
                    .col(timestamp_with_time_zone(TenantPlugins::CreatedAt))
                    .col(timestamp_with_time_zone(TenantPlugins::UpdatedAt))
                    .foreign_key(&mut crate::tenant_fk(
                        TenantPlugins::Table,
                        TenantPlugins::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_tenant_plugins_tenant_plugin")
                    .table(TenantPlugins::Table)
                    .col(TenantPlugins::TenantId)
                    .col(TenantPlugins::PluginId)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TenantPlugins::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum TenantPlugins {
    Table,
    Id,
    TenantId,
    PluginId,
    Version,
    PreviousVersion,
    Enabled,
    Config,
    SealedSecrets,
    GrantedHosts,
    CreatedAt,
    UpdatedAt,
}
